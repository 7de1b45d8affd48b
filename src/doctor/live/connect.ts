/**
 * One real connection, as a client sees it: TCP, then TLS through Node (OpenSSL, like curl) with the server's
 * certificate never refused (so it can be reported), then one HTTP/1.1 GET. Every stage is bounded by the
 * probe's deadline; the result is a plain record of what happened, the findings are made elsewhere.
 */
import type { ClientRequest } from 'node:http';
import { http } from '../../node-http.js';
import { Socket } from 'node:net';
import tls, { type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { alertFromError } from './alerts.js';

export type TcpResult =
  | { ok: true; address: string; ms: number }
  | { ok: false; code: string; error: string; timeout: boolean; address: string };

/** Tries each address in turn until one accepts, within the deadline. */
export async function connectTcp(
  addresses: readonly string[],
  port: number,
  deadline: number,
): Promise<{ socket: Socket | null; attempts: TcpResult[] }> {
  const attempts: TcpResult[] = [];
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const r = await connectOne(address, port, left);
    attempts.push(r.result);
    if (r.socket) return { socket: r.socket, attempts };
    if (r.result.ok === false && r.result.timeout) break; // the budget is spent
  }
  return { socket: null, attempts };
}

function connectOne(address: string, port: number, ms: number): Promise<{ socket: Socket | null; result: TcpResult }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const s = new Socket();
    const timer = setTimeout(() => {
      s.destroy();
      resolve({
        socket: null,
        result: {
          ok: false,
          code: 'ETIMEDOUT',
          error: `no answer to the TCP connection within ${ms} ms`,
          timeout: true,
          address,
        },
      });
    }, ms);
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      s.destroy();
      resolve({
        socket: null,
        result: { ok: false, code: e.code ?? 'ERROR', error: e.message, timeout: false, address },
      });
    });
    s.connect({ host: address, port }, () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve({ socket: s, result: { ok: true, address, ms: Date.now() - t0 } });
    });
  });
}

export interface TlsDone {
  ok: true;
  socket: TLSSocket;
  version: string | null;
  cipher: string | null;
  /** OpenSSL's verdict on the server's chain against the CA given (Node's code), null when it verified. */
  authorizationError: string | null;
  /** tls.checkServerIdentity's complaint about the URL's host, null when the certificate names it. */
  identityError: string | null;
  /** The server's chain as Node reports it, leaf first (DER). */
  chainDer: Buffer[];
  ms: number;
}
export interface TlsFailed {
  ok: false;
  code: string;
  error: string;
  alert: number | null;
  timeout: boolean;
}

export function handshake(
  socket: Socket,
  o: { host: string; servername: string; context: SecureContext; deadline: number },
): Promise<TlsDone | TlsFailed> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let done = false;
    let s: TLSSocket;
    try {
      s = tls.connect({
        socket,
        secureContext: o.context,
        ...(o.servername !== '' && { servername: o.servername }),
        rejectUnauthorized: false,
        // The name is checked by the caller, also when the chain does not verify (Node skips it then).
        checkServerIdentity: () => undefined,
        ALPNProtocols: ['http/1.1'],
      });
    } catch (e) {
      socket.destroy();
      return resolve({
        ok: false,
        code: (e as NodeJS.ErrnoException).code ?? 'ERROR',
        error: (e as Error).message,
        alert: null,
        timeout: false,
      });
    }
    const fail = (code: string, error: string, alert: number | null, timeout: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ok: false, code, error, alert, timeout });
    };
    const timer = setTimeout(
      () =>
        fail(
          'ETIMEDOUT',
          `the TLS handshake did not finish within ${Math.round((o.deadline - t0) / 100) / 10} s`,
          null,
          true,
        ),
      Math.max(1, o.deadline - t0),
    );
    s.on('error', (e: NodeJS.ErrnoException) =>
      fail(e.code ?? 'ERROR', firstLine(e.message), alertFromError(e), false),
    );
    s.on('close', () => fail('ECONNRESET', 'the server closed the connection during the TLS handshake', null, false));
    s.once('secureConnect', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.removeAllListeners('close');
      s.removeAllListeners('error');
      // Errors after this point are the HTTP stage's; keep one listener so none escapes meanwhile.
      s.on('error', () => {});
      const cipher = s.getCipher();
      resolve({
        ok: true,
        socket: s,
        version: s.getProtocol() ?? null,
        cipher: cipher?.standardName ?? cipher?.name ?? null,
        authorizationError: s.authorized ? null : String(s.authorizationError ?? 'UNKNOWN'),
        identityError: identity(o.host, s),
        chainDer: peerChain(s),
        ms: Date.now() - t0,
      });
    });
  });
}

function identity(host: string, s: TLSSocket): string | null {
  try {
    const cert = s.getPeerCertificate();
    if (!cert || !cert.raw) return 'the server sent no certificate';
    return tls.checkServerIdentity(host, cert)?.message ?? null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The peer's chain, leaf first; Node links issuers and loops on a self-signed one. */
function peerChain(s: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let cur: PeerCertificate | undefined = s.getPeerCertificate(true);
  while (cur && cur.raw && !seen.has(cur.fingerprint256) && out.length < 16) {
    seen.add(cur.fingerprint256);
    out.push(cur.raw);
    cur = (cur as tls.DetailedPeerCertificate).issuerCertificate;
  }
  return out;
}

export type HttpResult =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string>;
      body: string;
      truncated: boolean;
      truncatedBy: 'cap' | 'timeout' | 'closed' | null;
      ms: number;
    }
  | { kind: 'closed'; code: string; error: string }
  | { kind: 'alert'; code: string; error: string; alert: number }
  | { kind: 'bad-response'; code: string; error: string }
  | { kind: 'timeout' };

export function exchange(
  socket: TLSSocket,
  o: { path: string; hostHeader: string; deadline: number; maxBodyBytes: number },
): Promise<HttpResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let done = false;
    let response: { status: number; headers: Record<string, string> } | null = null;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (r: HttpResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      socket.destroy();
      resolve(r);
    };
    const body = (truncatedBy: 'cap' | 'timeout' | 'closed' | null): HttpResult => ({
      kind: 'response',
      status: response!.status,
      headers: response!.headers,
      body: Buffer.concat(chunks).subarray(0, o.maxBodyBytes).toString('utf8'),
      truncated: truncatedBy !== null,
      truncatedBy,
      ms: Date.now() - t0,
    });
    const timer = setTimeout(
      () => finish(response ? body('timeout') : { kind: 'timeout' }),
      Math.max(1, o.deadline - t0),
    );
    let req: ClientRequest;
    try {
      req = http.request({
        createConnection: () => socket,
        method: 'GET',
        path: o.path,
        maxHeaderSize: 65536,
        headers: { host: o.hostHeader, 'user-agent': 'mtlsgate-doctor', accept: '*/*', connection: 'close' },
      });
    } catch (e) {
      clearTimeout(timer);
      socket.destroy();
      return resolve({
        kind: 'bad-response',
        code: (e as NodeJS.ErrnoException).code ?? 'ERROR',
        error: `the request could not be sent: ${(e as Error).message}`,
      });
    }
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (response) return finish(body('closed')); // the body ended early: keep what arrived
      const code = e.code ?? 'ERROR';
      const alert = alertFromError(e);
      if (alert !== null) return finish({ kind: 'alert', code, error: firstLine(e.message), alert });
      if (code.startsWith('HPE_')) return finish({ kind: 'bad-response', code, error: firstLine(e.message) });
      finish({ kind: 'closed', code, error: firstLine(e.message) });
    });
    req.on('response', (res) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      response = { status: res.statusCode ?? 0, headers };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size > o.maxBodyBytes) finish(body('cap'));
      });
      res.on('end', () => finish(body(null)));
      res.on('error', () => finish(body('closed')));
      res.on('aborted', () => finish(body('closed')));
    });
    req.end();
  });
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
