/**
 * Several worker processes on one listener (`serve --workers N`). Workers accept connections themselves
 * (cluster.SCHED_NONE: the kernel spreads them; round-robin through the primary cost 14-24 % per core in the
 * reference run). The primary forks and restarts workers, forwards SIGHUP and SIGTERM, and runs the admin
 * listener: it asks every worker over IPC for its admin data (counters and domain states as data) or to reload, and
 * answers with admin.ts's renderer over all of them, so /reload reloads every worker and /metrics counts them all.
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { handleAdmin, type AdminSnapshot, type AdminSource } from './admin.js';
import { uiAssets } from './admin-ui.js';
import type { CertsPage, CertsQuery, DenialView } from './admin-views.js';
import { loadConfig, type GatewayConfig } from './config.js';
import type { Logger } from './log.js';
import type { ReloadResult } from './reload.js';
import type { Gateway } from './server.js';
import { drainDelayFor } from './shutdown.js';
import { TICKET_KEYS_ENV, randomTicketKeys } from './ticket-keys.js';
import { watchedPaths, watchFiles } from './watch.js';

/** What the primary asks a worker for: its admin data, a reload whose result it reports, or a view. */
export type Question =
  { kind: 'snapshot' } | { kind: 'reload' } | { kind: 'certs'; query: CertsQuery } | { kind: 'denials'; limit: number };

export type ToWorker =
  | { type: 'ask'; id: number; question: Question }
  | { type: 'reload'; changedFiles?: string[] }
  | { type: 'stop'; deadlineMs: number; drainDelayMs: number };
export type ToPrimary =
  | { type: 'ready'; port: number }
  | { type: 'start-error'; message: string }
  | { type: 'snapshot'; id: number; snapshot: AdminSnapshot }
  | { type: 'reloaded'; id: number; result: ReloadResult }
  | { type: 'view'; id: number; view: CertsPage | DenialView[] };

const isToWorker = (m: unknown): m is ToWorker =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';

/** In a worker: answer the primary's admin questions, reload and stop on its word. Resolves once stopped. */
export function serveAsWorker(gw: Gateway, reload: () => void): Promise<void> {
  // The primary orchestrates: signals sent to the whole process group (Ctrl-C) must not kill a worker mid-request.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {});
  process.send!({ type: 'ready', port: gw.address().port } satisfies ToPrimary);
  return new Promise((resolve) => {
    // The primary is gone (killed): drain and end rather than serve orphaned.
    process.once('disconnect', () => void gw.close(5_000).then(resolve));
    process.on('message', (m: unknown) => {
      if (!isToWorker(m)) return;
      // A watched file changed (the primary watches): only what reads it is built again.
      if (m.type === 'reload' && m.changedFiles) void gw.reload({ changedFiles: m.changedFiles });
      else if (m.type === 'reload') reload();
      else if (m.type === 'ask') answer(gw, m.id, m.question);
      else if (m.type === 'stop') {
        void gw.close(m.deadlineMs, { drainDelayMs: m.drainDelayMs }).then(() => {
          process.disconnect?.();
          resolve();
        });
      }
    });
  });
}

function answer(gw: Gateway, id: number, q: Question): void {
  const send = (m: ToPrimary): void => void process.send?.(m);
  if (q.kind === 'snapshot') send({ type: 'snapshot', id, snapshot: gw.adminSnapshot() });
  else if (q.kind === 'reload') void gw.reload().then((result) => send({ type: 'reloaded', id, result }));
  else if (q.kind === 'certs') send({ type: 'view', id, view: gw.certs(q.query) });
  else void gw.denials(q.limit).then((view) => send({ type: 'view', id, view }));
}

export interface PrimaryOptions {
  workers: number;
  cfg: GatewayConfig;
  /** The config file (watched with watch.enabled, and read again to follow the files it names). */
  configPath: string;
  log: Logger;
  /** Worker start-up failures, reported as the CLI's one-line error. */
  onStartError: (message: string) => Error;
}

const RESTARTS_PER_MINUTE = 5;
const ADMIN_TIMEOUT_MS = 15_000;

/** In the primary: fork the workers, run until SIGTERM/SIGINT. Rejects (with onStartError) if a worker cannot start. */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  const restarts: number[] = [];
  let nextId = 0;
  const pending = new Map<number, { answers: unknown[]; expected: number; done: (a: unknown[]) => void }>();

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
  // One set of session ticket keys for every worker, restarted ones included, so that a session resumes on whichever
  // worker the kernel hands the connection to (tls.ticketKeyFile, when set, is read by each worker instead).
  const env = o.cfg.tls.ticketKeyFile ? {} : { [TICKET_KEYS_ENV]: randomTicketKeys().toString('hex') };
  const fork = (): Worker => {
    const w = cluster.fork(env);
    w.on('message', onMessage);
    return w;
  };

  // Start: every worker must come up, or the whole start fails with the first worker's reason.
  const first = await Promise.all(
    Array.from({ length: o.workers }, () => {
      const w = fork();
      return new Promise<{ w: Worker; error: string | null }>((resolve) => {
        w.on('message', (m: ToPrimary) => {
          if (m.type === 'ready') resolve({ w, error: null });
          else if (m.type === 'start-error') resolve({ w, error: m.message });
        });
        w.once('exit', (code) => resolve({ w, error: `a worker exited during start-up (code ${code})` }));
      });
    }),
  );
  const failed = first.find((r) => r.error !== null);
  if (failed) {
    for (const r of first) r.w.process.kill('SIGKILL');
    throw o.onStartError(failed.error!);
  }
  o.log.info({ workers: o.workers }, 'workers started');

  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    o.log.error({ worker: w.id, code, signal }, 'worker exited; starting another');
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0]! < now - 60_000) restarts.shift();
    if (restarts.length > RESTARTS_PER_MINUTE) {
      o.log.error(`more than ${RESTARTS_PER_MINUTE} worker restarts in a minute: stopping`);
      process.kill(process.pid, 'SIGTERM');
      return;
    }
    fork();
  });

  const live = (): Worker[] =>
    Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  /** Every live worker's answer (or the first one's, with `one`), or those that came within ADMIN_TIMEOUT_MS. */
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
      for (const w of workers) w.send({ type: 'ask', id, question } satisfies ToWorker);
    });
  };
  const source: AdminSource = {
    snapshots: () => ask({ kind: 'snapshot' }) as Promise<AdminSnapshot[]>,
    reloads: () => ask({ kind: 'reload' }) as Promise<ReloadResult[]>,
    // Every worker loads the same config and truststores: one worker's certificates are all of them.
    certs: async (query) => ((await ask({ kind: 'certs', query }, true))[0] as CertsPage | undefined) ?? null,
    denials: (limit) => ask({ kind: 'denials', limit }) as Promise<DenialView[][]>,
    workers: o.workers,
    draining: () => stopping,
  };

  let admin: http.Server | null = null;
  if (o.cfg.admin) {
    const options = { source, token: o.cfg.admin.token, ui: uiAssets() };
    admin = http.createServer((req, res) => void handleAdmin(req, res, options));
    await new Promise<void>((resolve, reject) => {
      admin!.once('error', reject);
      admin!.listen(o.cfg.admin!.port, o.cfg.admin!.host, () => resolve());
    });
    o.log.info({ address: admin.address() as AddressInfo }, 'admin listening');
  }

  // The primary watches (one watcher, and every worker reloads the same files at once, as with SIGHUP).
  const configPath = resolve(o.configPath);
  const followConfig = async (): Promise<void> => {
    let next: GatewayConfig;
    try {
      next = await loadConfig(configPath);
    } catch {
      return; // each worker's reload reports the config error; the files watched stay those of the last good one
    }
    await watch?.setPaths(watchedPaths(next, configPath));
  };
  const watch = o.cfg.watch.enabled
    ? await watchFiles({
        paths: watchedPaths(o.cfg, configPath),
        debounceMs: o.cfg.watch.debounceMs,
        log: o.log,
        onChange: (files) => {
          o.log.info({ files }, 'watched files changed: reloading what reads them');
          live().forEach((w) => w.send({ type: 'reload', changedFiles: files } satisfies ToWorker));
          if (files.includes(configPath)) void followConfig();
        },
      })
    : null;

  await new Promise<void>((resolve) => {
    const onHup = (): void => {
      live().forEach((w) => w.send({ type: 'reload' } satisfies ToWorker));
      if (watch) void followConfig();
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
      // A worker that does not stop within the deadline (+ slack) is killed, so the primary always exits.
      const deadlineMs = o.cfg.timeouts.shutdownMs;
      const killer = setTimeout(
        () => workers.forEach((w) => w.process.kill('SIGKILL')),
        drainDelayMs + deadlineMs + 5_000,
      );
      for (const w of workers) {
        w.once('exit', () => {
          if (--left === 0) {
            clearTimeout(killer);
            resolve();
          }
        });
        w.send({ type: 'stop', deadlineMs, drainDelayMs } satisfies ToWorker);
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
