import { Command } from 'commander';
import type { CliContext } from './context.js';

export function inspectCommand(_ctx: CliContext): Command {
  return new Command('inspect').description('(not yet implemented)');
}
