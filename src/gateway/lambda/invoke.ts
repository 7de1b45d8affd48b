/**
 * Lambda's Node.js runtime, as far as a handler can tell: importing the module and finding its export, then calling
 * it with `(event, context, callback)` and taking its answer through JSON within Lambda's 6 MB response limit. This
 * runs inside a handler's worker thread (worker.ts), never in the gateway's own thread: there a handler that blocks
 * its event loop, throws from its own timers, calls process.exit() or runs out of heap stops only its worker, which
 * the pool (pool.ts) replaces. Kept free of the gateway's other modules, so a worker loads little.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

/** Lambda's synchronous invocation response limit. */
export const MAX_RESULT_BYTES = 6 * 1024 * 1024;

export type HandlerFn = (
  event: unknown,
  context: unknown,
  callback: (err?: unknown, result?: unknown) => void,
) => unknown;

export class InvokeError extends Error {
  constructor(
    message: string,
    /** `throttled`: every worker of the handler busy and its queue full (failed at once, not logged per call). */
    readonly kind: 'error' | 'timeout' | 'too-large' | 'not-json' | 'throttled',
    /** What the handler failed with (its message), e.g. `Unauthorized`. */
    readonly handlerMessage: string | null = null,
  ) {
    super(message);
  }
}

/**
 * Import a handler module and find its export. The errors are the one-line load errors the gateway reports at start
 * and on reload: `./app.mjs: no function exported as "handler" (functions: main)`.
 */
export async function importHandler(file: string, exportName: string): Promise<HandlerFn> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: cannot be imported: ${firstLine(e)}`);
  }
  const fn = mod[exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new Error(
      `${file}: no function exported as "${exportName}"${names.length ? ` (functions: ${names.join(', ')})` : ''}`,
    );
  }
  return fn as HandlerFn;
}

/**
 * Call a handler as Lambda's Node.js runtime does: a promise it returns, or the callback it calls (callback style,
 * three parameters), settles the invocation. Resolves with the result as the JSON text Lambda would send (`null`
 * for none); rejects with an InvokeError.
 */
export function invokeHandler(o: {
  fn: HandlerFn;
  event: unknown;
  timeoutMs: number;
  functionName: string;
  memoryLimitInMB?: number;
}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const deadline = Date.now() + o.timeoutMs;
    let done = false;
    const timer = setTimeout(
      () => finish(new InvokeError(`timed out after ${o.timeoutMs} ms`, 'timeout')),
      o.timeoutMs,
    );
    function finish(err: unknown, result?: unknown): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err !== null && err !== undefined) {
        if (err instanceof InvokeError) return reject(err);
        const msg = typeof err === 'string' ? err : err instanceof Error ? err.message : String(err);
        return reject(new InvokeError(`handler failed: ${oneLine(msg)}`, 'error', msg));
      }
      try {
        resolve(jsonText(result));
      } catch (e) {
        reject(e);
      }
    }
    const callback = (err?: unknown, result?: unknown): void => finish(err ?? null, result);
    const context = {
      functionName: o.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${o.functionName}`,
      memoryLimitInMB: String(o.memoryLimitInMB ?? 128),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${o.functionName}`,
      logStreamName: 'mtlsgate',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: callback,
      succeed: (result: unknown) => finish(null, result),
      fail: (err: unknown) => finish(err ?? 'failed'),
    };
    try {
      const r = o.fn(o.event, context, callback);
      if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(
          (v) => finish(null, v),
          (e: unknown) => finish(e ?? 'rejected'),
        );
      } else if (o.fn.length < 3) {
        // Neither a promise nor a callback to wait for: the value returned is the result.
        finish(null, r);
      }
    } catch (e) {
      finish(e);
    }
  });
}

/** The result as Lambda would carry it: JSON text, at most MAX_RESULT_BYTES. */
function jsonText(v: unknown): string {
  if (v === undefined) return 'null';
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch (e) {
    throw new InvokeError(`result is not JSON: ${firstLine(e)}`, 'not-json');
  }
  if (text === undefined) return 'null';
  if (text.length > MAX_RESULT_BYTES || Buffer.byteLength(text) > MAX_RESULT_BYTES)
    throw new InvokeError(`result larger than ${MAX_RESULT_BYTES} bytes`, 'too-large');
  return text;
}

export function firstLine(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

/** A handler's message in a log line: one line, at most 200 characters. */
export function oneLine(s: string): string {
  const line = (s.split('\n')[0] ?? '').replace(/[\x00-\x1f\x7f]/g, ' ');
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
