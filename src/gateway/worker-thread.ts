/**
 * A worker thread of `serve --workers N` (workers.ts): given the config, runs a whole gateway listening with
 * SO_REUSEPORT beside its siblings, answers the main thread's admin questions, reloads and stops on its word.
 * The admin listener and the file watch are the main thread's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { coalescedReload } from '../cli/signals.js';
import { makeLogger } from './log.js';
import { startGateway, type Gateway } from './server.js';
import type { Question, ToPrimary, ToWorker, WorkerData } from './workers.js';

const port = parentPort!;
const send = (m: ToPrimary): void => port.postMessage(m);

async function main(d: WorkerData): Promise<void> {
  let gw: Gateway;
  try {
    const cfg = d.config;
    if (d.logFormat !== undefined) cfg.logs.format = d.logFormat;
    const log = makeLogger(cfg.logs.format, cfg.logs.level);
    const listen = { ...cfg.listen, port: d.port ?? cfg.listen.port };
    gw = await startGateway({ ...cfg, listen, admin: undefined }, log, d.configPath, {
      ticketKeys: d.ticketKeys ? Buffer.from(d.ticketKeys) : undefined,
      // Kept for the main thread's /denials, though this thread runs no admin listener.
      denialsBuffer: cfg.admin?.denialsBuffer,
      watchFiles: false,
      reusePort: true,
    });
  } catch (e) {
    send({ type: 'start-error', message: (e as Error).message });
    return;
  }
  const reload = coalescedReload(gw);
  port.on('message', (m: ToWorker) => {
    // A watched file changed (the main thread watches): only what reads it is built again.
    if (m.type === 'reload' && m.changedFiles) void gw.reload({ changedFiles: m.changedFiles });
    else if (m.type === 'reload') reload();
    else if (m.type === 'ask') answer(gw, m.id, m.question);
    else if (m.type === 'stop') {
      void gw.close(m.deadlineMs, { drainDelayMs: m.drainDelayMs }).then(() => send({ type: 'stopped' }));
    }
  });
  send({ type: 'ready', port: gw.address().port });
}

function answer(gw: Gateway, id: number, q: Question): void {
  if (q.kind === 'snapshot') send({ type: 'snapshot', id, snapshot: gw.adminSnapshot() });
  else if (q.kind === 'reload') void gw.reload().then((result) => send({ type: 'reloaded', id, result }));
  else if (q.kind === 'certs') send({ type: 'view', id, view: gw.certs(q.query) });
  else void gw.denials(q.limit).then((view) => send({ type: 'view', id, view }));
}

void main(workerData as WorkerData);
