/**
 * The CLI entry: builds the command tree, runs one command, returns its exit code. Only bin/mtlsgate.js exits.
 * Each command lives in its own file (parse -> call the library -> render).
 */
import { Command, CommanderError } from 'commander';
import { isUserError } from '../errors.js';
import type { Io } from './io.js';
import type { CliContext } from './context.js';
import { VERSION } from '../version.js';

type MakeCommand = (ctx: CliContext) => Command;

/**
 * Each command's file, by name, in the order --help lists them. Only the command being run is imported (a file
 * imports its library: `serve --check` does not load the doctor's); --help and a mistyped name load them all.
 */
export const COMMANDS: ReadonlyArray<readonly [string, () => Promise<MakeCommand>]> = [
  ['serve', async () => (await import('./serve.js')).serveCommand],
  ['demo', async () => (await import('./demo.js')).demoCommand],
  ['health', async () => (await import('./health.js')).healthCommand],
  ['doctor', async () => (await import('./doctor.js')).doctorCommand],
  ['inspect', async () => (await import('./inspect.js')).inspectCommand],
  ['pki', async () => (await import('./pki.js')).pkiCommand],
  ['truststore', async () => (await import('./truststore.js')).truststoreCommand],
  ['crl', async () => (await import('./crl.js')).crlCommand],
];

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
  const named = COMMANDS.find(([name]) => name === argv[0]);
  const makers = await Promise.all((named ? [named] : COMMANDS).map(([, load]) => load()));
  for (const make of makers) program.addCommand(make(ctx));
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
