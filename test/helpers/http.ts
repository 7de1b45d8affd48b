/**
 * The one HTTPS client of the tests, Node's own (https.request to 127.0.0.1 with SNI, client certificate, key and
 * the CA of the gateway's server certificate):
 *
 * - nodeRequest(options): every option (method, headers, body, agent, Host, ciphers, TLS session to resume,
 *   maxVersion, localAddress, timeout); resolves with status, headers and body, and what the connection did
 *   (socket reused, TLS session, session resumed); rejects on a TLS or connection error (its code says which).
 * - request(target, agent, path): a GET that never rejects, for load and lifecycle tests: an error below HTTP is
 *   an Outcome with status 0 and `error` set, and each outcome carries the identity of its socket (to tell a
 *   reused keep-alive connection).
 */
import https from 'node:https';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type tls from 'node:tls';

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface NodeRequestOptions {
  port: number;
  /** SNI; false sends none (connect by IP address). */
  servername: string | false;
  /** The CA that signed the gateway's server certificate. */
  ca: string;
  /** PEM: the client certificate, then whatever intermediates the client sends. */
  cert?: string;
  key?: string;
  path?: string;
  method?: string;
  /** Host header; default `servername:port`. */
  host?: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  agent?: https.Agent | false;
  /**
   * Default DEFAULT@SECLEVEL=0 so SHA-1 and RSA-1024 client certificates can be sent and the gateway must refuse
   * them; null passes no `ciphers` option at all (Node's defaults).
   */
  ciphers?: string | null;
  timeoutMs?: number;
  /** A TLS session to resume (from an earlier result's `session`). */
  session?: Buffer;
  maxVersion?: tls.SecureVersion;
  /** Bind the client's end of the TCP connection to this address (e.g. 127.0.0.2). */
  localAddress?: string;
  /** Default true: listen for the TLS session (the result's `session`); false adds no 'session' listener. */
  recordSession?: boolean;
}

export interface NodeResponse extends HttpResult {
  socketReused: boolean;
  /** A small number naming the request's socket in this process (equal numbers: the same connection). */
  socketId: number;
  session: Buffer | null;
  sessionReused: boolean;
}

const socketIds = new WeakMap<Socket, number>();
const sessionSinks = new WeakMap<Socket, (session: Buffer) => void>();
let nextSocketId = 1;

/**
 * One HTTPS request with Node's client. Rejects on a TLS or connection error (the error's code says which; a
 * timeout is E2E_TIMEOUT). The error carries `socketId` and `socketReused`, and, after the response began, what
 * arrived of the body as `partialBody`.
 */
export function nodeRequest(o: NodeRequestOptions): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { host: o.host ?? `${o.servername || '127.0.0.1'}:${o.port}`, ...o.headers };
    let socketId = 0;
    let session: Buffer | null = null;
    const req = https.request(
      {
        host: '127.0.0.1',
        port: o.port,
        ...(o.servername !== false ? { servername: o.servername } : {}),
        ca: o.ca,
        ...(o.cert !== undefined ? { cert: o.cert } : {}),
        ...(o.key !== undefined ? { key: o.key } : {}),
        ...(o.ciphers !== null ? { ciphers: o.ciphers ?? 'DEFAULT@SECLEVEL=0' } : {}),
        ...(o.session !== undefined ? { session: o.session } : {}),
        ...(o.maxVersion !== undefined ? { maxVersion: o.maxVersion } : {}),
        ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
        path: o.path ?? '/',
        method: o.method ?? 'GET',
        headers,
        agent: o.agent ?? false,
        // The gateway's certificate names the domains, never 127.0.0.1; the CA check still applies.
        ...(o.servername === false ? { checkServerIdentity: () => undefined } : {}),
      },
      (res) => {
        const sessionReused = (res.socket as tls.TLSSocket).isSessionReused();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString('utf8'),
            socketReused: req.reusedSocket,
            socketId,
            session,
            sessionReused,
          });
        });
        res.on('error', (e) =>
          reject(
            Object.assign(e, {
              partialBody: Buffer.concat(chunks).toString('utf8'),
              socketId,
              socketReused: req.reusedSocket,
            }),
          ),
        );
      },
    );
    req.on('socket', (s: Socket) => {
      let id = socketIds.get(s);
      if (id === undefined) {
        socketIds.set(s, (id = nextSocketId++));
        // One listener per socket (a keep-alive socket carries many requests); it tells the current request.
        if (o.recordSession !== false) s.on('session', (x: Buffer) => sessionSinks.get(s)?.(x));
      }
      socketId = id;
      sessionSinks.set(s, (x) => (session = x));
    });
    req.on('error', (e) => reject(Object.assign(e, { socketId, socketReused: req.reusedSocket })));
    req.setTimeout(o.timeoutMs ?? 10_000, () =>
      req.destroy(Object.assign(new Error('request timed out'), { code: 'E2E_TIMEOUT' })),
    );
    req.end(o.body);
  });
}

/** Where request() goes, and as which client. */
export interface Target {
  port: number;
  servername: string;
  ca: string;
  cert: string;
  key: string;
}

export interface Outcome {
  status: number;
  body: string;
  /** Set when the request failed below HTTP (ECONNRESET, ECONNREFUSED, ...). */
  error: string | null;
  /** The gateway's x-request-id header (its log lines carry the same id). */
  requestId: string | null;
  socketId: number;
  reused: boolean;
  at: number;
}

/**
 * A GET of `path` with `agent` (false: a new connection) and Host `servername`, through nodeRequest; never rejects.
 * `extra` sets any other nodeRequest option. It is the plain client the load, leak and flood tests were tuned with:
 * Node's default ciphers and no 'session' listener (with one, Node's client takes in every TLS 1.3 ticket; both
 * made the maxConnections flood test and the reload leak test fail on two loaded cores).
 */
export async function request(
  t: Target,
  agent: https.Agent | false,
  path = '/',
  timeoutMs = 10_000,
  extra: Partial<NodeRequestOptions> = {},
): Promise<Outcome> {
  try {
    const r = await nodeRequest({
      ...t,
      agent,
      path,
      timeoutMs,
      host: t.servername,
      ciphers: null,
      recordSession: false,
      ...extra,
    });
    return {
      status: r.status,
      body: r.text,
      error: null,
      requestId: (r.headers['x-request-id'] as string | undefined) ?? null,
      socketId: r.socketId,
      reused: r.socketReused,
      at: Date.now(),
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { partialBody?: string; socketId?: number; socketReused?: boolean };
    return {
      status: 0,
      body: err.partialBody ?? '',
      error: err.code ?? err.message,
      requestId: null,
      socketId: err.socketId ?? 0,
      reused: err.socketReused ?? false,
      at: Date.now(),
    };
  }
}

/**
 * `freeSocketTimeoutMs`: an idle pooled connection is closed by the client after this long. Shorter than the
 * server's idle timeout, it avoids keep-alive's race (a request written as the server closes the idle connection
 * fails with ECONNRESET, which says nothing about the server).
 */
export const keepAliveAgent = (
  maxSockets = 4,
  freeSocketTimeoutMs?: number,
  scheduling: 'fifo' | 'lifo' = 'lifo',
): https.Agent =>
  new https.Agent({
    keepAlive: true,
    maxSockets,
    keepAliveMsecs: 1000,
    scheduling,
    ...(freeSocketTimeoutMs !== undefined && { timeout: freeSocketTimeoutMs }),
  });
