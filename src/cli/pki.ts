import { Command } from 'commander';
import type { CliContext } from './context.js';

export function pkiCommand(_ctx: CliContext): Command {
  return new Command('pki').description('(not yet implemented)');
}
