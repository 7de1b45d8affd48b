import { Command } from 'commander';
import type { CliContext } from './context.js';

export function doctorCommand(_ctx: CliContext): Command {
  return new Command('doctor').description('(not yet implemented)');
}
