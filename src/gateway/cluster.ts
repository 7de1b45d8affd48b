/**
 * Several worker processes on one listener (`serve --workers N`). Workers accept connections themselves
 * (cluster.SCHED_NONE: the kernel spreads them; round-robin through the primary cost 14-24 % per core in the
 * reference run). The primary forks and restarts workers, forwards SIGHUP and SIGTERM, and runs the admin
 * listener, asking every worker over IPC and merging the answers so /reload reloads all of them and /metrics
 * counts all of them.
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminAnswer, writeAnswer, type AdminAnswer } from './admin.js';
import type { GatewayConfig } from './config.js';
import type { Logger } from './log.js';
import type { Gateway } from './server.js';
import { TICKET_KEYS_ENV, randomTicketKeys } from './ticket-keys.js';

export type ToWorker = { type: 'admin'; id: number; method: string; url: string } | { type: 'reload' } | { type: 'stop'; deadlineMs: number };
export type ToPrimary = { type: 'ready'; port: number } | { type: 'start-error'; message: string } | { type: 'admin-reply'; id: number; answer: AdminAnswer };

const isToWorker = (m: unknown): m is ToWorker => typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';

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
      if (m.type === 'reload') reload();
      else if (m.type === 'admin') {
        void adminAnswer(m.method, m.url, gw.admin).then((answer) => process.send?.({ type: 'admin-reply', id: m.id, answer } satisfies ToPrimary));
      } else if (m.type === 'stop') {
        void gw.close(m.deadlineMs).then(() => {
          process.disconnect?.();
          resolve();
        });
      }
    });
  });
}

export interface PrimaryOptions {
  workers: number;
  cfg: GatewayConfig;
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
  const pending = new Map<number, { answers: AdminAnswer[]; expected: number; done: (a: AdminAnswer[]) => void }>();

  const onMessage = (m: ToPrimary): void => {
    if (m.type !== 'admin-reply') return;
    const p = pending.get(m.id);
    if (!p) return;
    p.answers.push(m.answer);
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

  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const ask = (method: string, url: string): Promise<AdminAnswer[]> => {
    const workers = live();
    const id = ++nextId;
    return new Promise((resolve) => {
      if (workers.length === 0) return resolve([]);
      const timer = setTimeout(() => {
        const p = pending.get(id);
        pending.delete(id);
        resolve(p?.answers ?? []);
      }, ADMIN_TIMEOUT_MS);
      pending.set(id, { answers: [], expected: workers.length, done: (a) => (clearTimeout(timer), resolve(a)) });
      for (const w of workers) w.send({ type: 'admin', id, method, url } satisfies ToWorker);
    });
  };

  let admin: http.Server | null = null;
  if (o.cfg.admin) {
    admin = http.createServer((req, res) => {
      void ask(req.method ?? 'GET', req.url ?? '/').then((answers) => writeAnswer(res, mergeAnswers(req.method ?? 'GET', req.url ?? '/', answers, o.workers)));
    });
    await new Promise<void>((resolve, reject) => {
      admin!.once('error', reject);
      admin!.listen(o.cfg.admin!.port, o.cfg.admin!.host, () => resolve());
    });
    o.log.info({ address: admin.address() as AddressInfo }, 'admin listening');
  }

  await new Promise<void>((resolve) => {
    const onHup = (): void => live().forEach((w) => w.send({ type: 'reload' } satisfies ToWorker));
    const onStop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      o.log.info({ signal }, 'draining and stopping');
      process.off('SIGHUP', onHup);
      const workers = live();
      let left = workers.length;
      if (left === 0) return resolve();
      // A worker that does not stop within the deadline (+ slack) is killed, so the primary always exits.
      const deadlineMs = o.cfg.timeouts.shutdownMs;
      const killer = setTimeout(() => workers.forEach((w) => w.process.kill('SIGKILL')), deadlineMs + 5_000);
      for (const w of workers) {
        w.once('exit', () => {
          if (--left === 0) {
            clearTimeout(killer);
            resolve();
          }
        });
        w.send({ type: 'stop', deadlineMs } satisfies ToWorker);
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

/** One admin answer from every worker's: readiness and reload must hold for all of them, counters add up. */
export function mergeAnswers(method: string, url: string, answers: AdminAnswer[], expected: number): AdminAnswer {
  const path = url.split('?')[0];
  const json = (status: number, body: unknown): AdminAnswer => ({ status, contentType: 'application/json', body: JSON.stringify(body, null, 2) + '\n' });
  if (path === '/healthz' && method === 'GET') return json(200, { status: 'ok', workers: answers.length });
  if (answers.length === 0) return json(503, { message: 'no worker answered' });
  const missing = expected - answers.length;
  if (path === '/metrics' && method === 'GET') return { status: 200, contentType: answers[0]!.contentType, body: mergeMetrics(answers.map((a) => a.body)) };
  if (path === '/readyz' && method === 'GET') {
    const bodies = answers.map((a) => JSON.parse(a.body) as { ready: boolean; degraded: boolean; domains: unknown });
    const ready = missing === 0 && bodies.every((b) => b.ready);
    return json(ready ? 200 : 503, { ready, degraded: bodies.some((b) => b.degraded), workers: answers.length, domains: bodies[0]!.domains });
  }
  if (path === '/reload' && method === 'POST') {
    const bodies = answers.map((a) => JSON.parse(a.body) as { ok: boolean; errors: unknown[]; warnings: string[] });
    const ok = missing === 0 && bodies.every((b) => b.ok);
    return json(ok ? 200 : 500, { ok, workers: answers.length, errors: bodies.flatMap((b) => b.errors), warnings: [...new Set(bodies.flatMap((b) => b.warnings))] });
  }
  return answers[0]!; // /domains and the rest: every worker loads the same config
}

/** Prometheus text from several workers: samples with the same name and labels are summed; gauges take the worst. */
export function mergeMetrics(texts: string[]): string {
  const families = new Map<string, { type: string | null; samples: Map<string, number> }>();
  const family = (name: string): { type: string | null; samples: Map<string, number> } => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: null, samples: new Map() }));
    return f;
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.startsWith('# TYPE ')) {
        family(line.split(' ')[2]!).type ??= line;
      } else if (line !== '' && !line.startsWith('#')) {
        const at = line.lastIndexOf(' ');
        const key = line.slice(0, at);
        const name = key.split('{')[0]!;
        const v = Number(line.slice(at + 1));
        const samples = family(name).samples;
        const prev = samples.get(key);
        samples.set(key, prev === undefined ? v : name === 'mtlsgate_ready' ? Math.min(prev, v) : name === 'mtlsgate_degraded' ? Math.max(prev, v) : prev + v);
      }
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    if (f.type) out.push(f.type);
    for (const [k, v] of f.samples) out.push(`${k} ${v}`);
  }
  return out.join('\n') + '\n';
}
