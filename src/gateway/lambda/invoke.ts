/**
 * Running Lambda handlers: a local module's export, in this process, or an HTTP endpoint that takes the event as
 * JSON. In-process rather than in worker threads: a handler is the operator's own code, an invocation then costs a
 * function call (a worker costs a structured clone each way), and what a handler can do wrong with its answer is
 * bounded here: a throw or rejection is an error, a promise that never settles meets the timeout, and the result
 * must serialise to JSON within Lambda's 6 MB response limit. What is not bounded: a handler that blocks the event
 * loop (a synchronous endless loop) or throws from its own timers stops the gateway, as it would stop its Lambda.
 */
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { splitHandler } from './config.js';
import { newInvocationId } from './events.js';

/** Lambda's synchronous invocation response limit. */
export const MAX_RESULT_BYTES = 6 * 1024 * 1024;

export type HandlerFn = (
  event: unknown,
  context: unknown,
  callback: (err?: unknown, result?: unknown) => void,
) => unknown;

export interface LoadedHandler {
  /** The resolved `FILE#EXPORT`. */
  spec: string;
  fn: HandlerFn;
  /** The file's mtime and size when it was imported: a reload imports it again only when they changed. */
  stamp: string;
}

/**
 * Import a handler module. ESM caches modules by URL for the life of the process, so a changed file is imported
 * under a new query string (`?mtlsgate=STAMP`); the old instance is never freed, which is why an unchanged file
 * (same mtime and size) is not imported again. Modules it imports itself are not reloaded.
 */
export async function loadHandler(spec: string, previous: LoadedHandler | null): Promise<LoadedHandler> {
  const s = splitHandler(spec)!;
  let st;
  try {
    st = await stat(s.file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${s.file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!st.isFile()) throw new Error(`${s.file}: not a file`);
  const stamp = `${st.mtimeMs}-${st.size}`;
  if (previous !== null && previous.spec === spec && previous.stamp === stamp) return previous;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`${pathToFileURL(s.file).href}?mtlsgate=${encodeURIComponent(stamp)}`)) as Record<
      string,
      unknown
    >;
  } catch (e) {
    throw new Error(`${s.file}: cannot be imported: ${firstLine(e)}`);
  }
  const fn = mod[s.exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
    throw new Error(
      `${s.file}: no function exported as "${s.exportName}"${names.length ? ` (functions: ${names.join(', ')})` : ''}`,
    );
  }
  return { spec, fn: fn as HandlerFn, stamp };
}

export class InvokeError extends Error {
  constructor(
    message: string,
    readonly kind: 'error' | 'timeout' | 'too-large' | 'not-json',
    /** What the handler failed with (its message), e.g. `Unauthorized`. */
    readonly handlerMessage: string | null = null,
  ) {
    super(message);
  }
}

/**
 * Call a handler as Lambda's Node.js runtime does: a promise it returns, or the callback it calls (callback style,
 * three parameters), settles the invocation. Resolves with the result passed through JSON (what Lambda would send);
 * rejects with an InvokeError.
 */
export function invokeHandler(o: {
  fn: HandlerFn;
  event: unknown;
  timeoutMs: number;
  functionName: string;
}): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
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
        resolve(throughJson(result));
      } catch (e) {
        reject(e);
      }
    }
    const callback = (err?: unknown, result?: unknown): void => finish(err ?? null, result);
    const context = {
      functionName: o.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${o.functionName}`,
      memoryLimitInMB: '128',
      awsRequestId: newInvocationId(),
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

/** The result as Lambda would carry it: JSON, at most MAX_RESULT_BYTES. */
function throughJson(v: unknown): unknown {
  if (v === undefined) return null;
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch (e) {
    throw new InvokeError(`result is not JSON: ${firstLine(e)}`, 'not-json');
  }
  if (text === undefined) return null;
  if (text.length > MAX_RESULT_BYTES || Buffer.byteLength(text) > MAX_RESULT_BYTES)
    throw new InvokeError(`result larger than ${MAX_RESULT_BYTES} bytes`, 'too-large');
  return JSON.parse(text) as unknown;
}

/**
 * An HTTP authorizer endpoint: POST the event as JSON. 200 with a JSON body is the result; 401 is `Unauthorized`
 * (as a handler throwing it); anything else is an error.
 */
export async function invokeUrl(o: { url: string; event: unknown; timeoutMs: number }): Promise<unknown> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  let res;
  try {
    res = await request(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(o.event),
      signal,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    });
  } catch (e) {
    if (signal.aborted) throw new InvokeError(`timed out after ${o.timeoutMs} ms`, 'timeout');
    throw new InvokeError(`request failed: ${firstLine(e)}`, 'error');
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const c of res.body) {
      bytes += (c as Buffer).length;
      if (bytes > MAX_RESULT_BYTES) {
        res.body.destroy();
        throw new InvokeError(`result larger than ${MAX_RESULT_BYTES} bytes`, 'too-large');
      }
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof InvokeError) throw e;
    if (signal.aborted) throw new InvokeError(`timed out after ${o.timeoutMs} ms`, 'timeout');
    throw new InvokeError(`reading the answer failed: ${firstLine(e)}`, 'error');
  }
  if (res.statusCode === 401) throw new InvokeError('handler failed: Unauthorized', 'error', 'Unauthorized');
  if (res.statusCode !== 200) throw new InvokeError(`answered HTTP ${res.statusCode}`, 'error');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new InvokeError('answer is not JSON', 'not-json');
  }
}

function firstLine(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

/** A handler's message in a log line: one line, at most 200 characters. */
function oneLine(s: string): string {
  const line = (s.split('\n')[0] ?? '').replace(/[\x00-\x1f\x7f]/g, ' ');
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
