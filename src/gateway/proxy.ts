/**
 * Forwarding to backends: one keep-alive undici Pool per backend origin, bodies streamed both ways, backend
 * failures answered with 502/504 and a JSON body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { isGatewayOwned } from './headers.js';
import type { RouteMatch } from './routes.js';
import { sendJson } from './respond.js';

const pools = new Map<string, Pool>();

function poolFor(origin: string, timeoutMs: number): Pool {
  let p = pools.get(origin);
  if (!p) {
    p = new Pool(origin, {
      connections: 128,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connectTimeout: Math.min(timeoutMs, 10_000),
    });
    pools.set(origin, p);
  }
  return p;
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map((p) => p.close()));
}

export interface ForwardInfo {
  requestId: string;
  clientIp: string;
  host: string;
  identity: Record<string, string>;
  timeoutMs: number;
}

/** Forward `req` and stream the answer into `res`. Resolves when the exchange is over; never rejects. */
export async function forward(req: IncomingMessage, res: ServerResponse, match: RouteMatch, info: ForwardInfo): Promise<number> {
  // The gateway's own headers come first: a backend that keeps only its first N header lines (Node keeps 1,000)
  // then drops the client's surplus, not the identity and Host.
  const headers: Record<string, string | string[]> = {
    host: match.route.target.host,
    'x-forwarded-for': info.clientIp,
    'x-forwarded-proto': 'https',
    'x-forwarded-host': info.host,
    'x-request-id': info.requestId,
    ...info.identity,
  };
  const raw = req.rawHeaders;
  // Headers the client names in Connection are hop-by-hop too (RFC 9110 §7.6.1). The gateway's own are set above
  // and the loop only skips, so naming them here cannot remove them.
  const conn = req.headers.connection;
  const hop = conn ? new Set(conn.toLowerCase().split(',').map((t) => t.trim())) : null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isGatewayOwned(name) || hop?.has(name)) continue;
    const prev = headers[name];
    headers[name] = prev === undefined ? raw[i + 1]! : Array.isArray(prev) ? [...prev, raw[i + 1]!] : [prev, raw[i + 1]!];
  }
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const ac = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) ac.abort();
  };
  res.on('close', onClose);
  try {
    const up: Dispatcher.ResponseData = await poolFor(match.route.origin, info.timeoutMs).request({
      method: req.method as Dispatcher.HttpMethod,
      path: match.upstreamPath,
      headers,
      body: hasBody ? req : null,
      signal: ac.signal,
      // Per request, not only on the pool: a pool outlives reloads, so its own timeouts are those of the first request.
      headersTimeout: info.timeoutMs,
      bodyTimeout: info.timeoutMs,
    });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) {
      if (v === undefined || k === 'connection' || k === 'keep-alive' || k === 'transfer-encoding' || k === 'upgrade' || k === 'proxy-connection') continue;
      out[k] = v;
    }
    out['x-request-id'] = info.requestId;
    res.writeHead(up.statusCode, out);
    // undici's bodyTimeout does not run while the client's backpressure pauses the body, so a client that never
    // reads held both connections for good: bound a stalled response (either side) by the same timeout.
    res.setTimeout(info.timeoutMs);
    await pipeline(up.body, res);
    return up.statusCode;
  } catch (e) {
    if (res.headersSent) {
      // Mid-body failure: the status is out; the only honest signal left is to cut the connection.
      res.destroy();
      return 502;
    }
    const timeout = e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError || e instanceof undiciErrors.ConnectTimeoutError;
    if (timeout) sendJson(res, 504, { message: 'Gateway Timeout' }, info.requestId);
    else if (!ac.signal.aborted) sendJson(res, 502, { message: 'Bad Gateway' }, info.requestId);
    return timeout ? 504 : 502;
  } finally {
    res.off('close', onClose);
  }
}
