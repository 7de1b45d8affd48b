/**
 * Runs CLI commands (src/cli/main.ts, as bin/mtlsgate.js does) in a child process for the resource-limit tests,
 * so a crash, an abort or a hang is contained and killable, and measures each: exit code, output, CPU time,
 * bytes read from files (/proc/self/io rchar) and, at the end, the peak resident memory.
 *
 *   node --import tsx test/fuzz/cli-child.ts '<JSON array of argv arrays>'   ->  JSON lines on stdout (ChildLine)
 *
 * An exception escaping main() is what bin/mtlsgate.js prints as "internal error" with a stack trace (exit 3);
 * it is recorded the same way here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { bufferIo } from '../helpers/io.js';
import { stackText } from './check.js';

export interface CliRun {
  argv: string[];
  code: number;
  /** stdout, its middle cut out when over 1 MiB (outLength is the real size; outStack is checked on all of it). */
  out: string;
  outLength: number;
  /** The stack-trace pattern found anywhere in stdout or stderr, or null. */
  stack: string | null;
  err: string;
  cpuMs: number;
  wallMs: number;
  /** Bytes the process read through read(2) while the command ran; null without /proc/self/io. */
  readBytes: number | null;
}

/**
 * The child's output lines: `{ start: i }` before command i, `{ run }` after it, `{ maxRssMb }` (peak resident set) at
 * the end.
 */
export type ChildLine = { start: number } | { run: CliRun } | { maxRssMb: number };

function rchar(): number | null {
  if (!existsSync('/proc/self/io')) return null;
  const m = /^rchar:\s*(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : null;
}

async function run(argv: string[]): Promise<CliRun> {
  const b = bufferIo({ NO_COLOR: '1' });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r0 = rchar();
  let code: number;
  let internal = '';
  try {
    code = await main(argv, b.io);
  } catch (e) {
    internal = `mtlsgate: internal error: ${(e as Error)?.stack ?? String(e)}\n`;
    code = 3;
  }
  const r1 = rchar();
  const cpu = process.cpuUsage(cpu0);
  // The readBytes figure includes reading /proc/self/io itself (a few hundred bytes).
  const out = b.out();
  const err = b.err() + internal;
  const cut =
    out.length > 1 << 20 ? `${out.slice(0, 1 << 20)}\n... (${out.length} characters) ...\n${out.slice(-65536)}` : out;
  return {
    argv,
    code,
    out: cut,
    outLength: out.length,
    stack: stackText(out) ?? stackText(err),
    err,
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs: performance.now() - t0,
    readBytes: r0 === null || r1 === null ? null : r1 - r0,
  };
}

/**
 * One JSON line per event, written as it happens, so the parent knows which command was running if this process dies.
 */
const emit = (x: unknown): Promise<void> =>
  new Promise((resolve) => process.stdout.write(JSON.stringify(x) + '\n', () => resolve()));

if (process.argv[2] !== undefined) {
  const commands = JSON.parse(process.argv[2]) as string[][];
  for (let i = 0; i < commands.length; i++) {
    await emit({ start: i });
    await emit({ run: await run(commands[i]!) });
  }
  await emit({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
}
