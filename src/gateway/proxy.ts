/**
 * Forwarding to backends: one keep-alive undici Pool per backend origin (owned by the gateway instance), bodies
 * streamed both ways, backend failures answered with 502/504 and a JSON body.
 *
 * This is the per-request hot path, so it talks to undici's low-level `dispatch()` with a handler of its own:
 * response chunks go straight into `res` (no Readable, no `pipeline()`), the client leaving aborts through the
 * dispatch controller (no AbortController), and both header lists are flat `[name, value, ...]` arrays.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from './undici.js';
import { isGatewayOwned } from './headers.js';
import type { RouteMatch } from './routes.js';
import { sendJson, type ResponseSink } from './respond.js';
import type { RequestContext } from './context.js';
import { countBackendError, type BackendErrorKind, type Metrics } from './metrics.js';

/** A gateway instance's keep-alive pools, one per backend origin, each with the timeout it was made with. */
export interface BackendPools {
  byOrigin: Map<string, { pool: Pool; timeoutMs: number }>;
}

export function backendPools(): BackendPools {
  return { byOrigin: new Map() };
}

/**
 * The origin's pool, made anew when timeouts.backendMs changed since it was made (its connect timeout is the
 * pool's own): the old one is closed and lets its requests in flight finish.
 */
function poolFor(pools: BackendPools, origin: string, timeoutMs: number): Pool {
  const p = pools.byOrigin.get(origin);
  if (p !== undefined && p.timeoutMs === timeoutMs) return p.pool;
  if (p !== undefined) void p.pool.close().catch(() => undefined);
  const pool = new Pool(origin, {
    connections: 128,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
  });
  pools.byOrigin.set(origin, { pool, timeoutMs });
  return pool;
}

/**
 * After a reload: close the pools of backends no route names any more, and those made with another timeout, so
 * their keep-alive connections do not stay open for good. undici's close() lets requests already dispatched
 * finish; a request that matched an old route just before the swap makes a new pool, closed at the next reload.
 */
export function retainPools(pools: BackendPools, origins: ReadonlySet<string>, timeoutMs: number): void {
  for (const [origin, p] of pools.byOrigin) {
    if (origins.has(origin) && p.timeoutMs === timeoutMs) continue;
    pools.byOrigin.delete(origin);
    void p.pool.close().catch(() => undefined);
  }
}

export async function closePools(pools: BackendPools): Promise<void> {
  const all = [...pools.byOrigin.values()];
  pools.byOrigin.clear();
  await Promise.allSettled(all.map((p) => p.pool.close()));
}

/** What the exchange with a backend needs of a request (a RequestContext provides it). */
export type ForwardedRequest = Pick<RequestContext, 'method' | 'headers' | 'body' | 'sink' | 'requestId'> &
  Partial<Pick<RequestContext, 'responseLength'>>;

/**
 * Forward a request and stream the answer into its sink. `headers` come from upstreamHeaders(). Resolves with the
 * status when the exchange is over; never rejects. With `metrics`, a backend failure is counted under `domain`.
 */
export function forward(o: {
  pools: BackendPools;
  req: ForwardedRequest;
  match: RouteMatch;
  headers: string[];
  timeoutMs: number;
  metrics?: Metrics;
  domain?: string;
}): Promise<number> {
  const { pools, req, match, headers, timeoutMs } = o;
  return new Promise<number>((resolve) => {
    const exchange = new Exchange(req, timeoutMs, resolve, o.metrics ?? null, o.domain ?? '');
    try {
      req.sink.on('close', exchange.onClientClose);
      const h = req.headers;
      const hasBody = h['content-length'] !== undefined || h['transfer-encoding'] !== undefined;
      // dispatch() reports its own failures (bad options included) to onResponseError rather than throwing.
      poolFor(pools, match.route.origin, timeoutMs).dispatch(
        {
          method: req.method as Dispatcher.HttpMethod,
          path: match.upstreamPath,
          headers,
          body: hasBody ? req.body : null,
          // Per request, not only on the pool: requests of an old pool still in flight keep their own.
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        exchange,
      );
    } catch (e) {
      exchange.onResponseError(null, e as Error);
    }
  });
}

/** Who the gateway says the client is, for upstreamHeaders(). */
export interface Forwarding {
  requestId: string;
  clientIp: string;
  /** The Host the client sent (x-forwarded-host). */
  host: string;
  /** The verified client's identity headers. */
  identity: Record<string, string>;
}

/**
 * The headers the backend gets. The gateway's own come first: a backend that keeps only its first N header lines
 * (Node keeps 1,000) then drops the client's surplus, not the identity and Host. Client headers follow in the
 * order sent, repeats kept, names lowercased.
 */
export function upstreamHeaders(
  req: Pick<RequestContext, 'headers' | 'rawHeaders'>,
  match: RouteMatch,
  f: Forwarding,
): string[] {
  const out = [
    'host',
    match.route.target.host,
    'x-forwarded-for',
    f.clientIp,
    'x-forwarded-proto',
    'https',
    'x-forwarded-host',
    f.host,
    'x-request-id',
    f.requestId,
  ];
  const id = f.identity;
  for (const name in id) out.push(name, id[name]!);
  // Headers the client names in Connection are hop-by-hop too (RFC 9110 §7.6.1). The gateway's own are set above
  // and the loop only skips, so naming them here cannot remove them. `keep-alive` alone (the usual value) names
  // nothing that is not dropped anyway.
  const conn = req.headers.connection?.toLowerCase();
  const hop = conn === undefined || conn === 'keep-alive' ? null : conn.split(',').map((t) => t.trim());
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isGatewayOwned(name) || (hop !== null && hop.includes(name))) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** Dropped from the backend's answer: hop-by-hop, and its x-request-id (the gateway's replaces it). */
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'x-request-id',
]);

type RawHeaders = Dispatcher.DispatchController['rawHeaders'];

/**
 * The backend's response headers for `res.writeHead()`, from undici's raw list when it has one (names
 * lowercased). undici 7's adapter for this handler API still parses that list into `parsed` for every response;
 * the deprecated onHeaders API would skip it, but measured no cheaper here.
 */
function downstreamHeaders(
  raw: RawHeaders,
  parsed: Record<string, string | string[] | undefined>,
  requestId: string,
): string[] {
  const out: string[] = [];
  if (Array.isArray(raw)) {
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!;
      const name = (typeof k === 'string' ? k : k.toString('latin1')).toLowerCase();
      if (RESPONSE_DROP.has(name)) continue;
      const v = raw[i + 1]!;
      out.push(name, typeof v === 'string' ? v : v.toString('latin1'));
    }
  } else {
    for (const name in parsed) {
      const v = parsed[name];
      if (v === undefined || RESPONSE_DROP.has(name)) continue;
      if (typeof v === 'string') out.push(name, v);
      else for (const one of v) out.push(name, one);
    }
  }
  out.push('x-request-id', requestId);
  return out;
}

const isTimeout = (e: Error): boolean =>
  e instanceof undiciErrors.HeadersTimeoutError ||
  e instanceof undiciErrors.BodyTimeoutError ||
  e instanceof undiciErrors.ConnectTimeoutError;

/** Errors of the TCP connect (undici passes the socket's own). */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** What went wrong with a backend, as metrics count it: timeouts are what is answered 504. */
export function backendErrorKind(e: Error): BackendErrorKind {
  if (isTimeout(e)) return 'timeout';
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (e instanceof undiciErrors.SocketError || code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code.startsWith('HPE_') || e instanceof undiciErrors.ResponseContentLengthMismatchError) return 'protocol';
  return 'other';
}

/** One request's undici handler: relays the response into `res` and settles `forward()`'s promise exactly once. */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private status = 0;
  /** The backend's response is complete (the client may still be reading it). */
  private ended = false;
  private clientGone = false;
  private settled = false;

  private readonly res: ResponseSink;
  private readonly requestId: string;

  constructor(
    /** Counts the body bytes relayed to the client (responseLength). */
    private readonly req: ForwardedRequest,
    private readonly timeoutMs: number,
    private readonly resolve: (status: number) => void,
    private readonly metrics: Metrics | null,
    private readonly domain: string,
  ) {
    this.res = req.sink;
    this.requestId = req.requestId;
  }

  private settle(status: number): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(status);
  }

  /** `res` 'close': after a normal finish nothing to do; before it, the client went away. */
  readonly onClientClose = (): void => {
    if (this.settled || this.res.writableFinished) return;
    this.clientGone = true;
    // Everything came from the backend but the client did not take it all: a failed exchange.
    if (this.ended) this.settle(502);
    // Otherwise stop the backend exchange (undici drops that connection); onResponseError settles. Still queued
    // for a connection: onRequestStart aborts it.
    else this.controller?.abort(new undiciErrors.RequestAbortedError());
  };

  private readonly onFinish = (): void => this.settle(this.status);

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new undiciErrors.RequestAbortedError());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx informational answers (103 Early Hints) are not relayed; the final answer follows on the same exchange.
    if (statusCode < 200) return;
    // A throw here (a header value Node refuses) makes undici abort and call onResponseError: a 502.
    this.res.writeHead(statusCode, downstreamHeaders(controller.rawHeaders, headers, this.requestId));
    // undici's bodyTimeout does not run while the client's backpressure pauses the body, so a client that never
    // reads would hold both connections for good: bound a stalled response (either side) by the same timeout.
    this.res.setTimeout(this.timeoutMs);
    this.status = statusCode;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.req.responseLength = (this.req.responseLength ?? 0) + chunk.length;
    // Backpressure: stop reading from the backend until the client's socket has taken what it has.
    if (!this.res.write(chunk) && !controller.paused) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    // Settled on 'finish' (all handed to the client's socket), or as a failure if the client leaves first.
    this.res.end(this.onFinish);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.settled) return;
    // The client leaving aborted the exchange: not the backend's failure.
    if (!this.clientGone && this.metrics !== null) countBackendError(this.metrics, this.domain, backendErrorKind(err));
    if (this.res.headersSent) {
      // Mid-body failure: the status is out; the only honest signal left is to cut the connection.
      this.res.destroy();
      this.settle(502);
      return;
    }
    const timeout = isTimeout(err);
    if (!this.clientGone) {
      this.req.responseLength = timeout
        ? sendJson(this.res, 504, { message: 'Gateway Timeout' }, this.requestId)
        : sendJson(this.res, 502, { message: 'Bad Gateway' }, this.requestId);
    }
    this.settle(timeout ? 504 : 502);
  }
}
