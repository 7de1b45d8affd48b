/**
 * Loaded with `node --expose-gc --import` into a server that bench/conn-memory.mjs measures: on SIGUSR2 it runs a
 * full GC and writes the process's memory figures (and, if CONN_MEMORY_SNAPSHOT is set, a heap snapshot) to
 * $CONN_MEMORY_DIR/<pid>-<n>.json, so the tool reads the same figures from a bare Node server and from mtlsgate.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

const dir = process.env.CONN_MEMORY_DIR;
if (dir) {
  let n = 0;
  process.on('SIGUSR2', () => {
    const tag = `${process.pid}-${n++}`;
    const rssBeforeGc = process.memoryUsage.rss();
    globalThis.gc?.();
    const m = process.memoryUsage();
    const snapshot = process.env.CONN_MEMORY_SNAPSHOT
      ? v8.writeHeapSnapshot(path.join(dir, `${tag}.heapsnapshot`))
      : null;
    const out = { pid: process.pid, rssBeforeGc, ...m, snapshot };
    fs.writeFileSync(path.join(dir, `${tag}.tmp`), JSON.stringify(out));
    fs.renameSync(path.join(dir, `${tag}.tmp`), path.join(dir, `${tag}.json`));
  });
}
