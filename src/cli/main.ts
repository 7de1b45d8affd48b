/**
 * The CLI entry: builds the command tree, runs one command, returns its exit code. Only bin/mtlsgate.js exits.
 * Each command lives in its own file (parse -> call the library -> render).
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../errors.js';
import type { Io } from './io.js';
import type { CliContext } from './context.js';
import { inspectCommand } from './inspect.js';
import { pkiCommand } from './pki.js';
import { truststoreCommand } from './truststore.js';
import { crlCommand } from './crl.js';
import { doctorCommand } from './doctor.js';
import { serveCommand } from './serve.js';
import { demoCommand } from './demo.js';
import { healthCommand } from './health.js';
import { VERSION } from '../version.js';

export async function main(argv: string[], io: Io): Promise<number> {
  let exitCode = 0;
  const ctx: CliContext = {
    io,
    setExitCode(code) {
      exitCode = Math.max(exitCode, code);
    },
  };
  const program = new Command('mtlsgate')
    .description('mutual-TLS gateway and certificate doctor')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  const commands = [
    serveCommand,
    demoCommand,
    healthCommand,
    doctorCommand,
    inspectCommand,
    pkiCommand,
    truststoreCommand,
    crlCommand,
  ];
  for (const make of commands) {
    program.addCommand(make(ctx));
  }
  // Sub-commands inherit output routing and exitOverride so nothing calls process.exit.
  const wire = (cmd: Command): void => {
    cmd.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) }).exitOverride();
    cmd.commands.forEach(wire);
  };
  program.commands.forEach(wire);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version end with exit code 0; every other commander error is a usage error.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isUserError(e)) {
      io.stderr.write(`mtlsgate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return exitCode;
}
