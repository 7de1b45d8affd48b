/**
 * Real clients for the end-to-end tests: Node's https/tls client, the `curl` binary and `openssl s_client`.
 * The binaries run asynchronously (never execFileSync): backends live in the test process and must keep serving
 * while a client waits.
 */
import { spawn } from 'node:child_process';
import https from 'node:https';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import tls from 'node:tls';

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
  /** Default DEFAULT@SECLEVEL=0 so SHA-1 and RSA-1024 client certificates can be sent and the gateway must refuse them. */
  ciphers?: string;
  timeoutMs?: number;
  /** A TLS session to resume (from an earlier result's `session`). */
  session?: Buffer;
  maxVersion?: tls.SecureVersion;
}

/** One HTTPS request with Node's client. Rejects on a TLS or connection error (the error's code says which). */
export function nodeRequest(o: NodeRequestOptions): Promise<HttpResult & { socketReused: boolean; session: Buffer | null; sessionReused: boolean }> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { host: o.host ?? `${o.servername || '127.0.0.1'}:${o.port}`, ...o.headers };
    const req = https.request(
      {
        host: '127.0.0.1',
        port: o.port,
        ...(o.servername !== false ? { servername: o.servername } : {}),
        ca: o.ca,
        ...(o.cert !== undefined ? { cert: o.cert } : {}),
        ...(o.key !== undefined ? { key: o.key } : {}),
        ciphers: o.ciphers ?? 'DEFAULT@SECLEVEL=0',
        ...(o.session !== undefined ? { session: o.session } : {}),
        ...(o.maxVersion !== undefined ? { maxVersion: o.maxVersion } : {}),
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
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8'), socketReused: req.reusedSocket, session, sessionReused });
        });
        res.on('error', reject);
      },
    );
    let session: Buffer | null = null;
    req.on('socket', (s) => s.on('session', (x: Buffer) => (session = x)));
    req.on('error', reject);
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'E2E_TIMEOUT' })));
    req.end(o.body);
  });
}

/** A bare TLS handshake: resolves with the socket's state, or rejects with the handshake error. */
export function tlsHandshake(o: { port: number; servername: string | false; ca: string; cert?: string; key?: string; timeoutMs?: number }): Promise<{ authorized: boolean; protocol: string | null; closedByPeer: Promise<void>; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: o.port,
      ...(o.servername !== false ? { servername: o.servername } : {}),
      ca: o.ca,
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('handshake timed out'), { code: 'E2E_TIMEOUT' })), o.timeoutMs ?? 5000);
    const closedByPeer = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ authorized: socket.authorized, protocol: socket.getProtocol(), closedByPeer, socket });
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a binary without a shell; `input` goes to stdin (then stdin is closed unless keepStdinOpenMs). */
export function run(cmd: string, args: string[], o: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 15_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input);
  });
}

/**
 * Split `HTTP/1.1 200 OK\r\nh: v\r\n\r\nbody` (curl -i, s_client output from the status line on); interim 1xx
 * responses (100 Continue) before the final one are skipped.
 */
export function parseHttpResponse(raw: Buffer): HttpResult {
  const text = raw.toString('latin1');
  let start = text.search(/HTTP\/1\.[01] \d{3}/);
  if (start === -1) throw new Error(`no HTTP response in:\n${text.slice(0, 2000)}`);
  while (/^HTTP\/1\.[01] 1\d\d/.test(text.slice(start))) {
    const next = text.indexOf('\r\n\r\n', start);
    if (next === -1) break;
    start = next + 4;
  }
  const end = text.indexOf('\r\n\r\n', start);
  const head = text.slice(start, end === -1 ? undefined : end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0]!)![1]);
  const headers: IncomingHttpHeaders = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = end === -1 ? Buffer.alloc(0) : raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  return { status, headers, body, text: body.toString('utf8') };
}

export interface CurlOptions {
  domain: string;
  port: number;
  /** File with the gateway's server CA. */
  cacert: string;
  /** --cert file (may hold the leaf followed by intermediates). */
  cert?: string;
  key?: string;
  path?: string;
  headers?: string[];
  env?: NodeJS.ProcessEnv;
  extra?: string[];
}

/** `curl -sS -i --resolve domain:port:127.0.0.1 https://domain:port/path`; `response` is null when curl failed. */
export async function curl(o: CurlOptions): Promise<ProcResult & { response: HttpResult | null }> {
  const args = [
    '-sS',
    '-i',
    '--max-time',
    '10',
    '--resolve',
    `${o.domain}:${o.port}:127.0.0.1`,
    '--cacert',
    o.cacert,
    ...(o.cert ? ['--cert', o.cert] : []),
    ...(o.key ? ['--key', o.key] : []),
    ...(o.headers ?? []).flatMap((h) => ['-H', h]),
    ...(o.extra ?? []),
    `https://${o.domain}:${o.port}${o.path ?? '/'}`,
  ];
  const r = await run('curl', args, { env: o.env });
  return { ...r, response: r.code === 0 ? parseHttpResponse(r.stdout) : null };
}

export interface SClientOptions {
  port: number;
  servername: string;
  /** File with the gateway's server CA. */
  cafile: string;
  cert: string;
  key: string;
  path?: string;
}

/**
 * `openssl s_client -connect -servername -cert -key -CAfile -ign_eof -quiet` with an HTTP/1.1 request on stdin
 * (Connection: close, so the gateway ends the exchange).
 */
export async function sClient(o: SClientOptions): Promise<ProcResult & { response: HttpResult | null; verifyOk: boolean }> {
  const args = ['s_client', '-connect', `127.0.0.1:${o.port}`, '-servername', o.servername, '-cert', o.cert, '-key', o.key, '-CAfile', o.cafile, '-verify_return_error', '-ign_eof', '-brief'];
  const input = `GET ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.servername}:${o.port}\r\nConnection: close\r\n\r\n`;
  const r = await run('openssl', args, { input });
  let response: HttpResult | null = null;
  try {
    response = parseHttpResponse(r.stdout);
  } catch {
    response = null;
  }
  // -brief prints "Verification: OK" on stderr once the server's certificate checked out.
  return { ...r, response, verifyOk: /Verification: OK/.test(r.stderr) };
}
