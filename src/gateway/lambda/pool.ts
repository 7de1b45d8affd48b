/**
 * Handler pools: each local handler module (`FILE#EXPORT`) runs in worker threads of its own, as a Lambda function
 * runs in execution environments of its own. A pool is started by loading (its first worker imports the module: an
 * import error is the load error), grows on demand up to `lambda.workersPerHandler`, keeps its workers warm between
 * calls, queues calls while all are busy (at most `lambda.queuePerHandler`; beyond that a call fails at once), and
 * replaces a worker that timed out (terminated: this also stops a synchronous endless loop), crashed (an uncaught
 * exception, an unhandled rejection, process.exit()) or ran out of its heap (`lambda.memoryMb`). A pool per handler
 * rather than one shared: a handler that crashes, loops or leaks costs only its own calls, and each keeps its
 * module's warm state, as Lambda does per function. The gateway instance owns its pools (HandlerHost) and ends them
 * on reload (a replaced handler's once its calls are done) and at close.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { splitHandler } from './target.js';
import { InvokeError, oneLine } from './invoke.js';
import type { InvokeRequest, WorkerData, WorkerMessage } from './worker.js';
import { workerEntry } from '../worker-entry.js';

export interface HandlerSettings {
  workersPerHandler: number;
  queuePerHandler: number;
  memoryMb: number;
}

/** What a gateway instance owns of its handlers: every pool not closed yet, serving or finishing after a reload. */
export interface HandlerHost {
  readonly log: Logger;
  readonly pools: Set<HandlerPool>;
}

export function handlerHost(log: Logger): HandlerHost {
  return { log, pools: new Set() };
}

/** Lambda's limit on a function's init phase: a module that takes longer to import does not load. */
const LOAD_TIMEOUT_MS = 10_000;
/** A longer line of handler output is logged in pieces. */
const MAX_OUTPUT_LINE = 8192;

interface Job {
  id: number;
  /** The event as JSON text. */
  event: string;
  functionName: string;
  timeoutMs: number;
  deadline: number;
  timer: NodeJS.Timeout | null;
  slot: Slot | null;
  resolve: (result: unknown) => void;
  reject: (e: InvokeError) => void;
}

interface Slot {
  worker: Worker;
  /** The module is imported: it takes calls. */
  ready: boolean;
  job: Job | null;
  /** Ended by the pool (timeout, close): its exit is expected. */
  ended: boolean;
  /** Its `error` event (uncaught exception, out of memory), for the exit that follows. */
  crash: Error | null;
}

export interface HandlerPool {
  /** The resolved `FILE#EXPORT`. */
  readonly spec: string;
  readonly file: string;
  readonly exportName: string;
  /** The file's mtime and size when it was loaded: a reload starts a new pool only when they changed. */
  readonly stamp: string;
  readonly settings: HandlerSettings;
  /** `app.mjs#handler`: how log lines name it. */
  readonly label: string;
  readonly host: HandlerHost;
  readonly slots: Set<Slot>;
  readonly idle: Slot[];
  readonly queue: Job[];
  nextId: number;
  /** Its first worker has imported the module. */
  loaded: boolean;
  /** `retiring`: replaced by a reload; it ends once its calls are done. */
  phase: 'serving' | 'retiring' | 'closed';
  /** Calls refused since the queue last emptied: the first is logged, the count when it empties. */
  refused: number;
}

/**
 * The pool for a handler: the previous one while the file (mtime and size) and the settings are unchanged, else a
 * new one whose first worker has imported the module. Rejects with the load error (`FILE: no such file`, `FILE:
 * cannot be imported: ...`, `FILE: no function exported as "x" (functions: ...)`).
 */
export async function loadHandler(o: {
  spec: string;
  previous: HandlerPool | null;
  settings: HandlerSettings;
  host: HandlerHost;
}): Promise<HandlerPool> {
  const s = splitHandler(o.spec)!;
  let st;
  try {
    st = await stat(s.file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${s.file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!st.isFile()) throw new Error(`${s.file}: not a file`);
  const stamp = `${st.mtimeMs}-${st.size}`;
  const p = o.previous;
  if (p !== null && p.phase === 'serving' && p.spec === o.spec && p.stamp === stamp && same(p.settings, o.settings))
    return p;
  const pool: HandlerPool = {
    spec: o.spec,
    file: s.file,
    exportName: s.exportName,
    stamp,
    settings: o.settings,
    label: `${basename(s.file)}#${s.exportName}`,
    host: o.host,
    slots: new Set(),
    idle: [],
    queue: [],
    nextId: 1,
    loaded: false,
    phase: 'serving',
    refused: 0,
  };
  o.host.pools.add(pool);
  try {
    await spawn(pool);
    pool.loaded = true;
  } catch (e) {
    await closePool(pool, 'not loaded');
    throw e;
  }
  return pool;
}

const same = (a: HandlerSettings, b: HandlerSettings): boolean =>
  a.workersPerHandler === b.workersPerHandler && a.queuePerHandler === b.queuePerHandler && a.memoryMb === b.memoryMb;

/**
 * Run one call on a worker of the pool. Resolves with the handler's result (through JSON); rejects with an
 * InvokeError: the handler's own failure, a timeout (the wait in the queue counts), a crash of its worker, or
 * `throttled` when every worker is busy and the queue is full.
 */
export function invokePool(
  pool: HandlerPool,
  o: { event: unknown; timeoutMs: number; functionName: string },
): Promise<unknown> {
  if (pool.phase === 'closed') return Promise.reject(new InvokeError(`${pool.label} is stopped`, 'error'));
  const slot = pool.idle.pop();
  if (slot === undefined && isFull(pool)) {
    if (pool.refused++ === 0) {
      const { workersPerHandler, queuePerHandler } = pool.settings;
      pool.host.log.warn(
        { function: pool.label, workersPerHandler, queuePerHandler },
        'lambda handler busy: calls refused until its queue has room',
      );
    }
    return Promise.reject(
      new InvokeError(
        `too many calls at once (${pool.settings.workersPerHandler} running, ${pool.settings.queuePerHandler} waiting)`,
        'throttled',
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const job: Job = {
      id: pool.nextId++,
      event: JSON.stringify(o.event),
      functionName: o.functionName,
      timeoutMs: o.timeoutMs,
      deadline: Date.now() + o.timeoutMs,
      timer: null,
      slot: null,
      resolve,
      reject,
    };
    job.timer = setTimeout(() => expire(pool, job), o.timeoutMs);
    if (slot !== undefined) run(slot, job);
    else {
      pool.queue.push(job);
      dispatch(pool);
    }
  });
}

/** No worker free, none to start, and the queue full (workers still starting take a queued call each). */
function isFull(pool: HandlerPool): boolean {
  if (pool.slots.size < pool.settings.workersPerHandler) return false;
  let starting = 0;
  for (const s of pool.slots) if (!s.ready) starting++;
  return pool.queue.length >= pool.settings.queuePerHandler + starting;
}

function run(slot: Slot, job: Job): void {
  slot.job = job;
  job.slot = slot;
  const request: InvokeRequest = {
    id: job.id,
    event: job.event,
    // What is left after the wait in the queue: the handler's getRemainingTimeInMillis() counts from it.
    timeoutMs: Math.max(1, job.deadline - Date.now()),
    functionName: job.functionName,
  };
  slot.worker.postMessage(request);
}

/** Hand queued calls to free workers, start workers for the rest, end a retired pool whose work is done. */
function dispatch(pool: HandlerPool): void {
  while (pool.queue.length > 0 && pool.idle.length > 0) run(pool.idle.pop()!, pool.queue.shift()!);
  if (pool.phase === 'closed') return;
  let starting = 0;
  let busy = 0;
  for (const s of pool.slots) {
    if (!s.ready) starting++;
    else if (s.job !== null) busy++;
  }
  while (pool.queue.length > starting && pool.slots.size < pool.settings.workersPerHandler) {
    spawn(pool).catch(() => undefined);
    starting++;
  }
  if (pool.queue.length === 0 && pool.refused > 0) {
    pool.host.log.warn({ function: pool.label, refused: pool.refused }, 'lambda handler has room again');
    pool.refused = 0;
  }
  if (pool.phase === 'retiring' && pool.queue.length === 0 && busy === 0 && starting === 0)
    void closePool(pool, 'replaced');
}

/** Start a worker; resolves once it has imported the module, rejects with the load error. */
function spawn(pool: HandlerPool): Promise<void> {
  const data: WorkerData = { file: pool.file, exportName: pool.exportName, memoryMb: pool.settings.memoryMb };
  const entry = workerEntry(import.meta.url, 'worker');
  const worker = new Worker(entry.url, {
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: pool.settings.memoryMb },
    // Read and logged here, never mixed into the gateway's stdout (its JSON log).
    stdout: true,
    stderr: true,
    ...(entry.execArgv && { execArgv: entry.execArgv }),
  });
  // Idle workers do not keep the process alive; a load or a call in progress does, with its timer.
  worker.unref();
  const slot: Slot = { worker, ready: false, job: null, ended: false, crash: null };
  pool.slots.add(slot);
  const log = pool.host.log;
  logLines(worker.stdout, (text) => log.info({ function: pool.label, text }, 'lambda output'));
  logLines(worker.stderr, (text) => log.warn({ function: pool.label, stream: 'stderr', text }, 'lambda output'));
  return new Promise<void>((resolve, reject) => {
    const loadTimer = setTimeout(() => {
      if (slot.ready || slot.ended) return;
      void end(pool, slot);
      notLoaded(`${pool.file}: not loaded within ${LOAD_TIMEOUT_MS} ms (Lambda's init limit)`);
      dispatch(pool);
    }, LOAD_TIMEOUT_MS);
    // The slot is gone already. The first worker's failure is the load error; a later one's is logged here.
    const notLoaded = (message: string): void => {
      clearTimeout(loadTimer);
      reject(new Error(message));
      if (pool.loaded) log.warn({ function: pool.label, error: message }, 'lambda worker not started');
      // Calls waiting for a worker that cannot start fail now, unless a started one will take them.
      for (const s of pool.slots) if (s.ready) return;
      failQueue(pool, message);
    };
    worker.on('message', (m: WorkerMessage) => {
      if (slot.ended) return;
      if (m.type === 'ready') {
        clearTimeout(loadTimer);
        slot.ready = true;
        resolve();
        free(pool, slot);
      } else if (m.type === 'load-error') {
        void end(pool, slot);
        notLoaded(m.message);
        dispatch(pool);
      } else settle(pool, slot, m);
    });
    worker.on('error', (e: Error) => {
      slot.crash = e;
    });
    worker.on('exit', (code: number) => {
      if (slot.ended) return;
      slot.ended = true;
      pool.slots.delete(slot);
      removeIdle(pool, slot);
      const why = stopReason(slot.crash, code, pool.settings.memoryMb);
      const job = slot.job;
      if (!slot.ready) notLoaded(`${pool.file}: the worker stopped while loading: ${why}`);
      else if (job !== null) finish(job, new InvokeError(`the handler's worker stopped: ${why}`, 'error'));
      else log.warn({ function: pool.label, error: why }, 'lambda worker stopped between calls');
      dispatch(pool);
    });
  });
}

/** A worker's answer to its call. */
function settle(pool: HandlerPool, slot: Slot, m: Exclude<WorkerMessage, { type: 'ready' | 'load-error' }>): void {
  const job = slot.job;
  if (job === null || job.id !== m.id) return;
  slot.job = null;
  if (m.type === 'result') finish(job, null, JSON.parse(m.json) as unknown);
  else finish(job, new InvokeError(m.message, m.kind, m.handlerMessage));
  // As Lambda after a timeout: the environment is not reused (the handler may still be running).
  if (m.type === 'failed' && m.kind === 'timeout') {
    void end(pool, slot);
    dispatch(pool);
  } else free(pool, slot);
}

function free(pool: HandlerPool, slot: Slot): void {
  if (pool.phase === 'closed') {
    void end(pool, slot);
    return;
  }
  pool.idle.push(slot);
  dispatch(pool);
}

/** The call's time is up: out of the queue, or its worker terminated (a synchronous loop stops only so). */
function expire(pool: HandlerPool, job: Job): void {
  job.timer = null;
  const slot = job.slot;
  if (slot === null) {
    const i = pool.queue.indexOf(job);
    if (i !== -1) pool.queue.splice(i, 1);
  } else {
    slot.job = null;
    void end(pool, slot);
  }
  finish(job, new InvokeError(`timed out after ${job.timeoutMs} ms`, 'timeout'));
  dispatch(pool);
}

function finish(job: Job, err: InvokeError | null, result?: unknown): void {
  if (job.timer !== null) clearTimeout(job.timer);
  job.timer = null;
  if (err !== null) job.reject(err);
  else job.resolve(result);
}

function failQueue(pool: HandlerPool, message: string): void {
  for (const job of pool.queue.splice(0)) finish(job, new InvokeError(message, 'error'));
}

function end(pool: HandlerPool, slot: Slot): Promise<unknown> {
  slot.ended = true;
  pool.slots.delete(slot);
  removeIdle(pool, slot);
  return slot.worker.terminate();
}

function removeIdle(pool: HandlerPool, slot: Slot): void {
  const i = pool.idle.indexOf(slot);
  if (i !== -1) pool.idle.splice(i, 1);
}

/** Replaced by a reload: it takes what is still sent to it, and ends once nothing is running or waiting. */
export function retirePool(pool: HandlerPool): void {
  if (pool.phase !== 'serving') return;
  pool.phase = 'retiring';
  dispatch(pool);
}

/** Fail what is running or waiting and terminate every worker. */
export async function closePool(pool: HandlerPool, why: string): Promise<void> {
  if (pool.phase === 'closed') return;
  pool.phase = 'closed';
  pool.host.pools.delete(pool);
  const stopped = new InvokeError(`${pool.label} is stopped (${why})`, 'error');
  for (const job of pool.queue.splice(0)) finish(job, stopped);
  const ends: Promise<unknown>[] = [];
  for (const slot of [...pool.slots]) {
    if (slot.job !== null) finish(slot.job, stopped);
    slot.job = null;
    ends.push(end(pool, slot));
  }
  await Promise.all(ends);
}

/** At the gateway's close: every pool it still has. */
export async function closeHost(host: HandlerHost): Promise<void> {
  await Promise.all([...host.pools].map((p) => closePool(p, 'the gateway is stopping')));
}

function stopReason(crash: Error | null, code: number, memoryMb: number): string {
  if (crash === null) return `exited with code ${code} (process.exit)`;
  if ((crash as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY')
    return `out of memory (lambda.memoryMb: ${memoryMb})`;
  return `uncaught ${crash.name}: ${oneLine(crash.message)}`;
}

/** Each line a stream carries, at most MAX_OUTPUT_LINE characters at a time. */
function logLines(stream: Readable, emit: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      emit(buf.slice(0, nl > 0 && buf[nl - 1] === '\r' ? nl - 1 : nl));
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_OUTPUT_LINE) {
      emit(buf.slice(0, MAX_OUTPUT_LINE));
      buf = buf.slice(MAX_OUTPUT_LINE);
    }
  });
  stream.on('end', () => {
    if (buf !== '') emit(buf);
  });
}
