/**
 * Reading a user-named file with a size cap. Only regular files are read: a FIFO, a socket, /dev/zero or a
 * directory is refused from fstat, before any read, so nothing can hang or fill memory.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { LoadProblem } from './types.js';

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

/** Problems listed one by one; past this, one more problem counts the rest. */
export const MAX_PROBLEMS = 100;

export interface ReadFile {
  bytes: Buffer;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  size: number;
}

export function isLoadProblem(x: unknown): x is LoadProblem {
  return typeof x === 'object' && x !== null && 'kind' in x && 'message' in x;
}

/** Reads at most `maxBytes` of a regular file; every failure is a LoadProblem, never a throw. */
export async function readCapped(path: string, maxBytes: number = DEFAULT_MAX_BYTES): Promise<ReadFile | LoadProblem> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise block before we can fstat it.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return openProblem(e);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return { kind: 'unreadable', message: 'is a directory, not a file (EISDIR)' };
    if (!st.isFile()) return { kind: 'unreadable', message: `not a regular file (${fileKind(st)})` };
    if (st.size > maxBytes) return tooLarge(maxBytes, st.size);
    const bytes = await readUpTo(fh, maxBytes + 1, st.size);
    if (bytes.length > maxBytes) return tooLarge(maxBytes, null);
    if (bytes.length === 0) return { kind: 'empty', message: 'the file is empty' };
    return { bytes, mode: st.mode & 0o7777, size: bytes.length };
  } catch (e) {
    return { kind: 'unreadable', message: `read error: ${errorCode(e)}` };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Reads until EOF or `limit` bytes; the stat size is only a hint (procfs files report 0). */
async function readUpTo(fh: FileHandle, limit: number, sizeHint: number): Promise<Buffer> {
  let buf = Buffer.allocUnsafe(Math.min(limit, Math.max(sizeHint + 1, 64 * 1024)));
  let total = 0;
  for (;;) {
    if (total === buf.length) {
      if (buf.length >= limit) break;
      const bigger = Buffer.allocUnsafe(Math.min(limit, buf.length * 2));
      buf.copy(bigger, 0, 0, total);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
    if (bytesRead === 0) break;
    total += bytesRead;
  }
  return buf.subarray(0, total);
}

function openProblem(e: unknown): LoadProblem {
  const code = errorCode(e);
  switch (code) {
    case 'ENOENT':
      return { kind: 'not-found', message: 'no such file' };
    case 'ENOTDIR':
      return { kind: 'not-found', message: 'no such file (a parent in the path is not a directory)' };
    case 'EACCES':
    case 'EPERM':
      return { kind: 'unreadable', message: `permission denied (${code})` };
    case 'EISDIR':
      return { kind: 'unreadable', message: 'is a directory, not a file (EISDIR)' };
    case 'ELOOP':
      return { kind: 'unreadable', message: 'too many symbolic links (ELOOP)' };
    default:
      return { kind: 'unreadable', message: `cannot open: ${code}` };
  }
}

function tooLarge(cap: number, size: number | null): LoadProblem {
  const seen = size === null ? 'more than that' : mib(size);
  return {
    kind: 'too-large',
    message: `larger than the ${mib(cap)} read cap (${seen}); not a certificate or key file?`,
  };
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${+(n / 1024 / 1024).toFixed(1)} MiB` : `${n} bytes`;
}

function fileKind(st: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (st.isFIFO()) return 'a fifo';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'special file';
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message.split('\n')[0]! : 'unknown error';
}
