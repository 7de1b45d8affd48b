import { Command } from 'commander';
import type { CliContext } from './context.js';

export function truststoreCommand(_ctx: CliContext): Command {
  return new Command('truststore').description('(not yet implemented)');
}
