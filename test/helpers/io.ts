/** Buffer-backed Io for CLI tests: call main(argv, io) and read what it printed. */
import type { Io } from '../../src/cli/io.js';

export function bufferIo(env: Record<string, string | undefined> = {}): { io: Io; out(): string; err(): string } {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: { write: (s: string) => ((out += s), true), isTTY: false },
    stderr: { write: (s: string) => ((err += s), true), isTTY: false },
    env,
  };
  return { io, out: () => out, err: () => err };
}
