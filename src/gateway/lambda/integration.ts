/**
 * The Lambda proxy integration: for a `lambda:` target, the request becomes API Gateway's proxy event (payload
 * 1.0 or 2.0), the handler's result becomes the response. A handler that throws, times out (timeouts.backendMs)
 * or answers something that is not a proxy result gives API Gateway's 502 `{"message": "Internal server error"}`.
 */
import type { RequestContext, Runtime } from '../context.js';
import { requestFacts, sendWithErrorType } from './authorizer.js';
import { eventBody, proxyEventV1, proxyEventV2 } from './events.js';
import { InvokeError } from './invoke.js';
import { invokePool } from './pool.js';
import { countBackendError } from '../metrics.js';

/** API Gateway's payload limit. */
export const MAX_REQUEST_BODY = 10 * 1024 * 1024;

const NEXT = 0;
type Step = typeof NEXT | Promise<number>;

const INTERNAL = { message: 'Internal server error' };
const TOO_LARGE = { message: 'Request Entity Too Large' };

/** The stage: a route with a `lambda:` target is answered here; any other goes on to the proxy. */
export function invokeLambda(ctx: RequestContext, rt: Runtime): Step {
  const target = ctx.match!.route.lambda;
  if (target === null) return NEXT;
  ctx.outcome = 'proxied';
  return integrate(ctx, rt, target);
}

async function integrate(
  ctx: RequestContext,
  rt: Runtime,
  target: { spec: string; payloadFormatVersion: '1.0' | '2.0' },
): Promise<number> {
  if (!rt.state.lambda.functions.has(target.spec))
    return failed(ctx, rt, 'the handler is not loaded (see the reload errors)', 0);
  const bytes = await readBody(ctx);
  if (bytes === 'too-large') {
    // A client still sending when the connection closes under it never reads the 413 (curl: "Broken pipe"), so
    // a body declared up to twice the limit is read and dropped first; anything larger gets the answer and the
    // connection closes.
    const declared = Number(ctx.headers['content-length']);
    const drain = Number.isFinite(declared) && declared <= 2 * MAX_REQUEST_BODY;
    ctx.body.resume();
    if (!ctx.sink.headersSent) {
      const text = JSON.stringify(TOO_LARGE);
      ctx.sink.writeHead(413, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...(!drain && { connection: 'close' }),
        'x-request-id': ctx.requestId,
      });
      ctx.sink.end(text);
    }
    return 413;
  }
  // Looked up after the body is in: a reload meanwhile may have replaced the handler (and ended the old pool).
  const lambda = rt.state.lambda;
  const handler = lambda.functions.get(target.spec);
  if (handler === undefined) return failed(ctx, rt, 'the handler is not loaded (see the reload errors)', 0);
  const ct = ctx.headers['content-type'];
  const body = eventBody(bytes, typeof ct === 'string' ? ct : undefined);
  const facts = requestFacts(ctx, lambda);
  const auth = ctx.authorization;
  const v2 = target.payloadFormatVersion === '2.0';
  const authorizer =
    auth === null ? undefined : v2 ? auth.context : { principalId: auth.principalId ?? undefined, ...auth.context };
  const event = v2 ? proxyEventV2(facts, body, authorizer) : proxyEventV1(facts, body, authorizer);
  const started = performance.now();
  let result: unknown;
  try {
    result = await invokePool(handler, {
      event,
      timeoutMs: rt.state.config.timeouts.backendMs,
      functionName: handler.label,
    });
  } catch (e) {
    // A call refused by a full queue is logged once per burst, by its pool.
    const quiet = e instanceof InvokeError && e.kind === 'throttled';
    return failed(ctx, rt, (e as Error).message, elapsed(started), quiet);
  }
  const res = v2 ? responseV2(result) : responseV1(result);
  if (typeof res === 'string') return failed(ctx, rt, `bad result: ${res}`, elapsed(started));
  if (ctx.sink.headersSent) return res.status;
  try {
    res.headers.push('x-request-id', ctx.requestId);
    ctx.sink.writeHead(res.status, res.headers);
  } catch (e) {
    // A header name or value Node refuses.
    return failed(ctx, rt, `bad result: ${(e as Error).message}`, elapsed(started));
  }
  if (res.body.length > 0) ctx.sink.write(res.body);
  ctx.sink.end();
  return res.status;
}

function failed(ctx: RequestContext, rt: Runtime, error: string, latencyMs: number, quiet = false): number {
  countBackendError(rt.metrics, ctx.domain!.name, 'lambda');
  if (!quiet)
    rt.log.warn(
      { requestId: ctx.requestId, domain: ctx.domain!.name, target: ctx.match!.route.lambda?.spec, error, latencyMs },
      'lambda integration error',
    );
  sendWithErrorType(ctx.sink, 502, INTERNAL, ctx.requestId, 'InternalServerErrorException');
  return 502;
}

/** The whole request body, or null without one; 'too-large' past MAX_REQUEST_BODY. */
async function readBody(ctx: RequestContext): Promise<Buffer | null | 'too-large'> {
  const h = ctx.headers;
  if (h['content-length'] === undefined && h['transfer-encoding'] === undefined) return null;
  if (Number(h['content-length']) > MAX_REQUEST_BODY) return 'too-large';
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer): void => {
      n += c.length;
      if (n <= MAX_REQUEST_BODY) chunks.push(c);
      else {
        // Not destroyed: that would cut the connection before the 413 is out.
        ctx.body.off('data', onData);
        ctx.body.off('end', onEnd);
        ctx.body.off('error', reject);
        resolve('too-large');
      }
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    ctx.body.on('data', onData);
    ctx.body.once('end', onEnd);
    ctx.body.once('error', reject);
  });
}

interface Response {
  status: number;
  headers: string[];
  body: Buffer;
}

/** Not relayed from a handler: hop-by-hop, and what the gateway sets itself. */
const DROP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'x-request-id']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const scalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

function headerList(single: unknown, multi: unknown): string[] | string {
  const out: string[] = [];
  const seen = new Set<string>();
  if (single !== undefined && single !== null) {
    if (typeof single !== 'object' || Array.isArray(single)) return 'headers is not an object';
    for (const [k, v] of Object.entries(single)) {
      if (!TOKEN.test(k) || !scalar(v)) return `headers.${k} is not a header`;
      seen.add(k.toLowerCase());
      if (!DROP.has(k.toLowerCase())) out.push(k.toLowerCase(), String(v));
    }
  }
  if (multi !== undefined && multi !== null) {
    if (typeof multi !== 'object' || Array.isArray(multi)) return 'multiValueHeaders is not an object';
    for (const [k, vs] of Object.entries(multi)) {
      if (!TOKEN.test(k) || !Array.isArray(vs) || !vs.every(scalar)) return `multiValueHeaders.${k} is not a header`;
      if (seen.has(k.toLowerCase()) || DROP.has(k.toLowerCase())) continue;
      for (const v of vs) out.push(k.toLowerCase(), String(v));
    }
  }
  return out;
}

function bodyOf(body: unknown, base64: unknown): Buffer | string {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body !== 'string') return 'body is not a string';
  return base64 === true ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

function withContentType(headers: string[]): string[] {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-type') return headers;
  headers.push('content-type', 'application/json');
  return headers;
}

/** A REST proxy result `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}`, or why it is not one. */
export function responseV1(r: unknown): Response | string {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'result is not an object';
  const o = r as Record<string, unknown>;
  return structured(o);
}

function structured(o: Record<string, unknown>): Response | string {
  const status = o.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599)
    return 'statusCode is not an HTTP status';
  const headers = headerList(o.headers, o.multiValueHeaders);
  if (typeof headers === 'string') return headers;
  if (o.cookies !== undefined) {
    if (!Array.isArray(o.cookies) || !o.cookies.every((c) => typeof c === 'string')) return 'cookies is not a list';
    for (const c of o.cookies as string[]) headers.push('set-cookie', c);
  }
  const body = bodyOf(o.body, o.isBase64Encoded);
  if (typeof body === 'string') return body;
  return { status, headers: withContentType(headers), body };
}

/**
 * An HTTP API 2.0 result: a structured one (with statusCode), or anything else as the body of a 200, as API
 * Gateway infers it (a string as is, other JSON serialised).
 */
export function responseV2(r: unknown): Response | string {
  if (r !== null && typeof r === 'object' && !Array.isArray(r) && 'statusCode' in r)
    return structured(r as Record<string, unknown>);
  const text = typeof r === 'string' ? r : JSON.stringify(r);
  return { status: 200, headers: ['content-type', 'application/json'], body: Buffer.from(text, 'utf8') };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
