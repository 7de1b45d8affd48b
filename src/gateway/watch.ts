/**
 * Watching the files the config names (`watch.enabled`), so that a Kubernetes Secret or ConfigMap update reaches
 * the gateway without a signal. The kubelet updates a mounted volume atomically: it writes the new files into a
 * fresh `..TIMESTAMP/` directory, points a `..data_tmp` symlink at it, renames that over `..data`, and removes the
 * old directory; the visible `name` is a symlink to `..data/name` and never changes itself. So the directory is
 * watched, not the file (a watch on the file would follow the old inode forever, and `subPath` mounts are never
 * updated at all: kubernetes#50345). Any event in a watched directory starts a debounce; then every watched file is
 * hashed, and the files whose content changed are handed on. Events that change nothing (the kubelet's
 * intermediate steps, a file beside ours) cost a hash of each file and nothing more.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isLoadProblem, readCapped } from '../pki/read.js';
import { MAX_TRUSTSTORE_BYTES } from '../trust/sources/source.js';
import type { DomainConfig, GatewayConfig } from './config.js';
import type { Logger } from './log.js';

export interface FileWatch {
  /** Watch these files from now on (after a reload that changed the config); their current content is the base. */
  setPaths(paths: readonly string[]): Promise<void>;
  close(): void;
}

export interface WatchOptions {
  paths: readonly string[];
  debounceMs: number;
  log: Logger;
  /** The files whose content differs from what was last seen, absolute paths, once per debounced burst. */
  onChange: (files: string[]) => void;
}

/** Every local file the config reads: the config itself, server certificates and keys, file:// sources, ticket keys. */
export function watchedPaths(cfg: GatewayConfig, configPath: string | null): string[] {
  const paths = new Set(cfg.domains.flatMap(domainPaths));
  if (configPath !== null) paths.add(resolve(configPath));
  if (cfg.tls.ticketKeyFile !== undefined) paths.add(resolve(cfg.tls.ticketKeyFile));
  return [...paths].sort();
}

/** The local files a domain reads (a change to one of them rebuilds that domain). */
export function domainPaths(d: DomainConfig): string[] {
  const local = [d.mutualTls.truststoreUri, ...(d.mutualTls.revocation?.crl.sources ?? [])]
    .filter((u) => u.startsWith('file://'))
    .map((u) => resolve(decodeURIComponent(u.slice('file://'.length))));
  return [resolve(d.certificate.cert), resolve(d.certificate.key), ...local];
}

export async function watchFiles(o: WatchOptions): Promise<FileWatch> {
  const digests = new Map<string, string>();
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | null = null;
  let checking: Promise<void> | null = null;
  let again = false;
  let closed = false;

  const check = async (): Promise<void> => {
    const changed: string[] = [];
    for (const [path, before] of digests) {
      const now = await digestOf(path);
      if (closed || !digests.has(path)) return;
      if (now !== before) {
        digests.set(path, now);
        changed.push(path);
      }
    }
    if (changed.length > 0) o.onChange(changed);
  };

  // One check at a time; an event during a check runs one more after it (it may have read the old content).
  const runCheck = (): void => {
    if (checking) {
      again = true;
      return;
    }
    checking = check()
      .catch((e: unknown) => o.log.error({ error: (e as Error).message }, 'watch: could not check the files'))
      .finally(() => {
        checking = null;
        if (again && !closed) {
          again = false;
          runCheck();
        }
      });
  };

  const onEvent = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      runCheck();
    }, o.debounceMs);
  };

  const watchDir = (dir: string): void => {
    try {
      const w = watch(dir, { persistent: false }, onEvent);
      w.on('error', (e) => {
        // The directory itself went away (an unmounted volume): say so once; a later setPaths watches it again.
        o.log.warn({ dir, error: e.message }, 'watch: stopped watching a directory');
        w.close();
        watchers.delete(dir);
      });
      watchers.set(dir, w);
    } catch (e) {
      o.log.warn({ dir, error: (e as Error).message }, 'watch: cannot watch a directory');
    }
  };

  const setPaths = async (paths: readonly string[]): Promise<void> => {
    // A reload that ends after close() (at shutdown) must not start watching again.
    if (closed) return;
    const wanted = new Set(paths.map((p) => resolve(p)));
    for (const p of [...digests.keys()]) if (!wanted.has(p)) digests.delete(p);
    for (const p of wanted) if (!digests.has(p)) digests.set(p, await digestOf(p));
    if (closed) return;
    const dirs = new Set([...wanted].map((p) => dirname(p)));
    for (const [dir, w] of watchers)
      if (!dirs.has(dir)) {
        w.close();
        watchers.delete(dir);
      }
    for (const dir of dirs) if (!watchers.has(dir)) watchDir(dir);
  };

  await setPaths(o.paths);
  o.log.info({ directories: [...watchers.keys()], files: digests.size, debounceMs: o.debounceMs }, 'watching files');
  return {
    setPaths,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/** SHA-256 of the file's content, through symlinks (`name -> ..data/name`); a file that cannot be read: why. */
async function digestOf(path: string): Promise<string> {
  const read = await readCapped(path, MAX_TRUSTSTORE_BYTES);
  if (isLoadProblem(read)) return `unreadable: ${read.message}`;
  return createHash('sha256').update(read.bytes).digest('hex');
}
