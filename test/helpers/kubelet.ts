/**
 * A Secret or ConfigMap volume as the kubelet lays it out and updates it (kubernetes pkg/volume/util/atomic_writer.go,
 * `AtomicWriter.Write`): the files live in a timestamped directory `..2026_12_07_10_00_00.123456789/`, `..data` is a
 * symlink to it, and each visible `name` is a symlink to `..data/name`. An update writes a new timestamped directory,
 * creates a `..data_tmp` symlink to it, renames that over `..data` (the one atomic step), adds the visible links of
 * new names, removes those of names no longer there, then removes the old timestamped directory.
 */
import {
  existsSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

let sequence = 0;

/** The kubelet's directory name for a payload written now: `..YYYY_MM_DD_HH_MM_SS.NNNNNNNNN`. */
function timestampDir(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const stamp =
    `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_` +
    `${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
  // Nanoseconds in the kubelet's name; a counter here keeps two writes in one millisecond apart.
  return `..${stamp}.${p(d.getUTCMilliseconds(), 3)}${p(++sequence, 6)}`;
}

/** Write `files` (name -> content) into the volume at `dir` as the kubelet does, replacing what it held. */
export function kubeletWrite(dir: string, files: Record<string, string | Buffer>): void {
  mkdirSync(dir, { recursive: true });
  const data = join(dir, '..data');
  const old = existsSync(data) ? readlinkSync(data) : null;
  const oldNames = old ? readdirSync(join(dir, old)) : [];
  // 1. The new payload, whole, in a directory of its own.
  const fresh = timestampDir();
  mkdirSync(join(dir, fresh));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, fresh, name), content, { mode: 0o644 });
  // 2. ..data_tmp -> the new directory, renamed over ..data: readers through ..data see the old set or the new.
  symlinkSync(fresh, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), data);
  // 3. The visible links: new names get one, names gone lose theirs.
  for (const name of Object.keys(files))
    if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  for (const name of oldNames) if (!(name in files)) unlinkSync(join(dir, name));
  // 4. The old payload goes.
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}
