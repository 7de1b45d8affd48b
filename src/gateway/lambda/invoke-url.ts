/** A `url:` authorizer: the event POSTed as JSON to an HTTP endpoint, in the gateway's own thread. */
import { firstLine, InvokeError, MAX_RESULT_BYTES } from './invoke.js';

/**
 * POST the event as JSON. 200 with a JSON body is the result; 401 is `Unauthorized` (as a handler throwing it);
 * anything else is an error.
 */
export async function invokeUrl(o: { url: string; event: unknown; timeoutMs: number }): Promise<unknown> {
  // Loaded on the first call: undici's whole index costs each gateway thread ~14 MiB that no other route needs.
  const { request } = await import('undici');
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
