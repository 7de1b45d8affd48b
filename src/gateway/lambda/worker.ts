/**
 * A handler's worker thread (the entry pool.ts starts): it imports the handler module once, says `ready` (or why it
 * cannot load), then runs one invocation at a time with invoke.ts's Lambda semantics. The pool owns everything
 * else: the timeout (it terminates this thread), crashes, the queue. What the handler prints goes to this thread's
 * stdout and stderr, which the pool reads and logs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { importHandler, invokeHandler, InvokeError, type HandlerFn } from './invoke.js';

export interface WorkerData {
  file: string;
  exportName: string;
  memoryMb: number;
}

/** The pool's request: the event as JSON text (what Lambda would receive). */
export interface InvokeRequest {
  id: number;
  event: string;
  timeoutMs: number;
  functionName: string;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; json: string }
  | { type: 'failed'; id: number; message: string; kind: InvokeError['kind']; handlerMessage: string | null };

const port = parentPort!;
const data = workerData as WorkerData;
const post = (m: WorkerMessage): void => port.postMessage(m);

let fn: HandlerFn | null = null;
try {
  fn = await importHandler(data.file, data.exportName);
} catch (e) {
  post({ type: 'load-error', message: (e as Error).message });
}
if (fn !== null) {
  const handler = fn;
  port.on('message', (m: InvokeRequest) => {
    invokeHandler({
      fn: handler,
      event: JSON.parse(m.event),
      timeoutMs: m.timeoutMs,
      functionName: m.functionName,
      memoryLimitInMB: data.memoryMb,
    }).then(
      (json) => post({ type: 'result', id: m.id, json }),
      (e: unknown) => {
        const err = e instanceof InvokeError ? e : new InvokeError(String(e), 'error');
        // The pool compares it with `Unauthorized`; a megabyte of message need not cross.
        const handlerMessage = err.handlerMessage?.slice(0, 1024) ?? null;
        post({ type: 'failed', id: m.id, message: err.message, kind: err.kind, handlerMessage });
      },
    );
  });
  post({ type: 'ready' });
}
