/**
 * Several worker threads on one listener (`serve --workers N`). Each thread runs a whole gateway and listens with
 * SO_REUSEPORT on the same address, so the kernel spreads connections over them. The main thread loads no gateway:
 * it starts and restarts the threads, turns SIGHUP and SIGTERM into messages, watches the files and runs the admin
 * listener, asking every thread for its admin data (counters and domain states as data) or to reload, and answers
 * with admin.ts's renderer over all of them, so /reload reloads every thread and /metrics counts them all.
 * Threads cost a fraction of a process each (one runtime, one copy of the shared libraries); the price is that a
 * native crash ends every thread at once (docs/config.md), where a JavaScript error or an out-of-heap ends one.
 */
import type { Server } from 'node:http';
import { http } from '../node-http.js';
import net, { type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { handleAdmin, type AdminSnapshot, type AdminSource } from './admin.js';
import { uiAssets } from './admin-ui.js';
import { listen } from './bind.js';
import type { CertsPage, CertsQuery, DenialView } from './admin-views.js';
import { loadConfig, type GatewayConfig } from './config.js';
import type { Logger } from './log.js';
import type { ReloadResult } from './reload.js';
import { drainDelayFor } from './shutdown.js';
import { randomTicketKeys } from './ticket-keys.js';
import { watchedPaths, watchFiles, type FileWatch } from './watch.js';

/** What the main thread asks a worker for: its admin data, a reload whose result it reports, or a view. */
export type Question =
  { kind: 'snapshot' } | { kind: 'reload' } | { kind: 'certs'; query: CertsQuery } | { kind: 'denials'; limit: number };

export type ToWorker =
  | { type: 'ask'; id: number; question: Question }
  | { type: 'reload'; changedFiles?: string[] }
  | { type: 'stop'; deadlineMs: number; drainDelayMs: number };
export type ToPrimary =
  | { type: 'ready'; port: number }
  | { type: 'start-error'; message: string }
  | { type: 'stopped' }
  | { type: 'snapshot'; id: number; snapshot: AdminSnapshot }
  | { type: 'reloaded'; id: number; result: ReloadResult }
  | { type: 'view'; id: number; view: CertsPage | DenialView[] };

/** What a worker thread is started with (worker-thread.ts). */
export interface WorkerData {
  configPath: string;
  /**
   * The config to start with, read and validated here: a thread then loads no config parser (zod, yaml: ~10 MiB a
   * thread) until a reload reads the file again. A restarted thread gets the one of the last reload.
   */
  config: GatewayConfig;
  logFormat: 'json' | 'pretty' | undefined;
  /** The listen port when the config's is 0: the one the first thread got, for every other thread to share. */
  port: number | null;
  ticketKeys: Uint8Array | null;
}

export interface PrimaryOptions {
  workers: number;
  cfg: GatewayConfig;
  /** The config file (watched with watch.enabled, and read again by each thread and to follow the files it names). */
  configPath: string;
  /** --log-format, which each thread applies over its config's logs.format. */
  logFormat: 'json' | 'pretty' | undefined;
  /** Each thread's V8 heap limit: past it, that thread ends (and is restarted), not the process. */
  heapMb: number | undefined;
  log: Logger;
  /** Worker start-up failures, reported as the CLI's one-line error. */
  onStartError: (message: string) => Error;
}

const RESTARTS_PER_MINUTE = 5;
const ADMIN_TIMEOUT_MS = 15_000;
const MIB = 1024 * 1024;

/** The heap limit a thread gets unless told: the one this process's main thread has. */
export const defaultHeapMb = (): number => Math.round(getHeapStatistics().heap_size_limit / MIB);

/** In the main thread: start the workers, run until SIGTERM/SIGINT. Rejects (with onStartError) if one cannot start. */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  let stopping = false;
  const restarts: number[] = [];
  let nextId = 0;
  const pending = new Map<number, { answers: unknown[]; expected: number; done: (a: unknown[]) => void }>();
  /** Threads that said ready and have not exited. */
  const ready = new Set<Worker>();

  const onMessage = (m: ToPrimary): void => {
    if (m.type !== 'snapshot' && m.type !== 'reloaded' && m.type !== 'view') return;
    const p = pending.get(m.id);
    if (!p) return;
    p.answers.push(m.type === 'snapshot' ? m.snapshot : m.type === 'reloaded' ? m.result : m.view);
    if (p.answers.length === p.expected) {
      pending.delete(m.id);
      p.done(p.answers);
    }
  };
  // SO_REUSEPORT lets a second gateway (same user) share a busy port silently: a plain bind first says it is taken.
  if (o.cfg.listen.port !== 0) await probePort({ ...o.cfg.listen, onError: o.onStartError });
  // One set of session ticket keys for every thread, restarted ones included, so that a session resumes on whichever
  // thread the kernel hands the connection to (tls.ticketKeyFile, when set, is read by each thread instead).
  const ticketKeys = o.cfg.tls.ticketKeyFile ? null : new Uint8Array(randomTicketKeys());
  let port: number | null = o.cfg.listen.port === 0 ? null : o.cfg.listen.port;
  const heapMb = o.heapMb ?? defaultHeapMb();
  let latest = o.cfg;
  const spawn = (): Worker => {
    const workerData: WorkerData = {
      configPath: o.configPath,
      config: latest,
      logFormat: o.logFormat,
      port,
      ticketKeys,
    };
    const w = new Worker(new URL('./worker-thread.js', import.meta.url), {
      workerData,
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    w.on('message', (m: ToPrimary) => {
      if (m.type === 'ready') ready.add(w);
      onMessage(m);
    });
    // An uncaught exception or ERR_WORKER_OUT_OF_MEMORY: the thread ends ('exit' follows); say why.
    const worker = w.threadId; // -1 once it has exited
    w.on('error', (e) => o.log.error({ worker, err: e.message }, 'worker failed'));
    w.once('exit', () => ready.delete(w));
    return w;
  };
  const started = (w: Worker): Promise<string | null> =>
    new Promise((resolve) => {
      w.on('message', (m: ToPrimary) => {
        if (m.type === 'ready') {
          port ??= m.port;
          resolve(null);
        } else if (m.type === 'start-error') resolve(m.message);
      });
      w.once('exit', (code) => resolve(`a worker exited during start-up (code ${code})`));
    });

  // Start: every thread must come up, or the whole start fails with the first one's reason. The first binds (and,
  // with port 0, picks the port), the others then bind beside it.
  const firstWorker = spawn();
  const firstError = await started(firstWorker);
  const rest = firstError === null ? Array.from({ length: o.workers - 1 }, spawn) : [];
  const errors = [firstError, ...(await Promise.all(rest.map(started)))];
  const failed = errors.find((e) => e !== null);
  if (failed) {
    await Promise.all([firstWorker, ...rest].map((w) => w.terminate()));
    throw o.onStartError(failed);
  }
  o.log.info({ workers: o.workers }, 'workers started');

  const onExit = (worker: number, code: number): void => {
    if (stopping) return;
    o.log.error({ worker, code }, 'worker exited; starting another');
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0]! < now - 60_000) restarts.shift();
    if (restarts.length > RESTARTS_PER_MINUTE) {
      o.log.error(`more than ${RESTARTS_PER_MINUTE} worker restarts in a minute: stopping`);
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    watchExit(spawn());
  };
  const watchExit = (w: Worker): void => {
    const worker = w.threadId;
    w.once('exit', (code) => onExit(worker, code));
  };
  [firstWorker, ...rest].forEach(watchExit);

  const live = (): Worker[] => [...ready];
  /** Every live thread's answer (or the first one's, with `one`), or those that came within ADMIN_TIMEOUT_MS. */
  const ask = (question: Question, one = false): Promise<unknown[]> => {
    const workers = one ? live().slice(0, 1) : live();
    const id = ++nextId;
    return new Promise((resolve) => {
      if (workers.length === 0) return resolve([]);
      const timer = setTimeout(() => {
        const p = pending.get(id);
        pending.delete(id);
        resolve(p?.answers ?? []);
      }, ADMIN_TIMEOUT_MS);
      const done = (a: unknown[]): void => {
        clearTimeout(timer);
        resolve(a);
      };
      pending.set(id, { answers: [], expected: workers.length, done });
      for (const w of workers) w.postMessage({ type: 'ask', id, question } satisfies ToWorker);
    });
  };
  const configPath = resolve(o.configPath);
  let watch: FileWatch | null = null;
  /** On each reload: the config a restarted thread starts with, and the files to watch. */
  const followConfig = async (): Promise<void> => {
    try {
      latest = await loadConfig(configPath);
    } catch {
      return; // each thread's reload reports the config error; the last good config and its files stay
    }
    await watch?.setPaths(watchedPaths(latest, configPath));
  };
  const source: AdminSource = {
    snapshots: () => ask({ kind: 'snapshot' }) as Promise<AdminSnapshot[]>,
    reloads: () => {
      void followConfig();
      return ask({ kind: 'reload' }) as Promise<ReloadResult[]>;
    },
    // Every thread loads the same config and truststores: one thread's certificates are all of them.
    certs: async (query) => ((await ask({ kind: 'certs', query }, true))[0] as CertsPage | undefined) ?? null,
    denials: (limit) => ask({ kind: 'denials', limit }) as Promise<DenialView[][]>,
    workers: o.workers,
    draining: () => stopping,
  };

  let admin: Server | null = null;
  if (o.cfg.admin) {
    const options = { source, token: o.cfg.admin.token, ui: uiAssets() };
    admin = http.createServer((req, res) => void handleAdmin(req, res, options));
    try {
      await listen({ server: admin, ...o.cfg.admin, onError: o.onStartError });
    } catch (e) {
      // The threads serve already: end them, or the process would stay up without its admin listener.
      stopping = true;
      await Promise.all([...ready].map((w) => w.terminate()));
      throw e;
    }
    o.log.info({ address: admin.address() as AddressInfo }, 'admin listening');
  }

  // The main thread watches (one watcher, and every thread reloads the same files at once, as with SIGHUP).
  watch = o.cfg.watch.enabled
    ? await watchFiles({
        paths: watchedPaths(o.cfg, configPath),
        debounceMs: o.cfg.watch.debounceMs,
        log: o.log,
        onChange: (files) => {
          o.log.info({ files }, 'watched files changed: reloading what reads them');
          live().forEach((w) => w.postMessage({ type: 'reload', changedFiles: files } satisfies ToWorker));
          if (files.includes(configPath)) void followConfig();
        },
      })
    : null;

  await new Promise<void>((resolve) => {
    const onHup = (): void => {
      live().forEach((w) => w.postMessage({ type: 'reload' } satisfies ToWorker));
      void followConfig();
    };
    const onStop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      const drainDelayMs = drainDelayFor(signal, o.cfg.shutdown.drainDelayMs);
      o.log.info({ signal, drainDelayMs }, 'draining and stopping');
      process.off('SIGHUP', onHup);
      watch?.close();
      const workers = live();
      let left = workers.length;
      if (left === 0) return resolve();
      // A thread that does not stop within the deadline (+ slack) is terminated, so the process always exits.
      const deadlineMs = o.cfg.timeouts.shutdownMs;
      const killer = setTimeout(() => workers.forEach((w) => void w.terminate()), drainDelayMs + deadlineMs + 5_000);
      for (const w of workers) {
        w.once('exit', () => {
          if (--left === 0) {
            clearTimeout(killer);
            resolve();
          }
        });
        // Drained: end the thread (its idle handles, such as a lambda pool's timers, need not run down).
        w.on('message', (m: ToPrimary) => void (m.type === 'stopped' && w.terminate()));
        w.postMessage({ type: 'stop', deadlineMs, drainDelayMs } satisfies ToWorker);
      }
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
  admin?.close();
  admin?.closeAllConnections();
  o.log.info('stopped');
}

/** A plain bind (no SO_REUSEPORT) and close: whether the address is free for this gateway's threads. */
async function probePort(o: { host: string; port: number; onError: (message: string) => Error }): Promise<void> {
  const s = net.createServer();
  await listen({ server: s, ...o });
  await new Promise((resolve) => s.close(resolve));
}
