/**
 * The mtlsgate command line, run from the tests:
 *
 * - in process: cli(argv, { env, stdin }) and mtlsgate(...argv) call main(argv, io) with buffers for stdout and
 *   stderr (helpers/io.ts) and resolve with the exit code and what was printed;
 * - as a process: runBin(args) spawns `node bin/mtlsgate.js ARGS` (building dist/ first when it is stale), and
 *   runServe(args) is `mtlsgate serve ARGS --workers 1` expected to exit by itself (bad config, --check).
 */
import { Readable } from 'node:stream';
import { BIN, REPO, ensureBuilt } from './build.js';
import { bufferIo } from './io.js';
import { tmpDir } from './pki.js';
import { run, type ProcResult } from './proc.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** out, then err. */
  text: string;
}

/**
 * main(argv) in this process. The environment it sees is `env` over NO_COLOR=1 (nothing of process.env); `stdin`,
 * when given, is what a command reading standard input (doctor curl --line -) gets.
 */
export async function cli(
  argv: string[],
  o: { env?: Record<string, string | undefined>; stdin?: string } = {},
): Promise<CliRun> {
  const b = bufferIo({ NO_COLOR: '1', ...o.env });
  if (o.stdin !== undefined) Object.assign(b.io, { stdin: Readable.from([Buffer.from(o.stdin)]) });
  // Imported here, not at the top: files that only spawn the bin do not load every command.
  const { main } = await import('../../src/cli/main.js');
  const code = await main(argv, b.io);
  return { code, out: b.out(), err: b.err(), text: b.out() + b.err() };
}

/** `mtlsgate ARGV...` in this process, as cli(argv). */
export const mtlsgate = (...argv: string[]): Promise<CliRun> => cli(argv);

/** `node bin/mtlsgate.js ARGS` as a child process (dist/ built first); cwd defaults to the repository. */
export async function runBin(
  args: string[],
  o: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<ProcResult> {
  await ensureBuilt();
  return run(process.execPath, [BIN, ...args], { cwd: REPO, ...o });
}

export interface ServeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `mtlsgate serve ARGS` that is expected to exit by itself (bad config, --check), in a fresh temp directory unless
 * `cwd` is given; one process unless the test asks for workers (the default is one per core). SIGKILL after
 * `timeoutMs` (15 s).
 */
export async function runServe(
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ServeRun> {
  const workers = args.includes('--workers') ? [] : ['--workers', '1'];
  const r = await runBin(['serve', ...args, ...workers], {
    cwd: o.cwd ?? tmpDir(),
    env: o.env,
    timeoutMs: o.timeoutMs ?? 15_000,
  });
  return { ...r, stdout: r.stdout.toString('utf8') };
}
