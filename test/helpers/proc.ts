/**
 * Binaries run from the tests: run() for any command, and the real clients `curl` and `openssl s_client` with
 * their HTTP answers parsed. They run asynchronously (never execFileSync): backends live in the test process and
 * must keep serving while a client waits. (Node's own client: http.ts and tls.ts; mtlsgate itself: cli.ts.)
 */
import { spawn } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpResult } from './http.js';

export interface ProcResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a binary without a shell; `input` goes to stdin (then stdin is closed); SIGKILL after `timeoutMs` (15 s). */
export function run(
  cmd: string,
  args: string[],
  o: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    });
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
export async function sClient(
  o: SClientOptions,
): Promise<ProcResult & { response: HttpResult | null; verifyOk: boolean }> {
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${o.port}`,
    '-servername',
    o.servername,
    '-cert',
    o.cert,
    '-key',
    o.key,
    '-CAfile',
    o.cafile,
    '-verify_return_error',
    '-ign_eof',
    '-brief',
  ];
  const input = `GET ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.servername}:${o.port}\r\nConnection: close\r\n\r\n`;
  const r = await run('openssl', args, { input });
  let response: HttpResult | null;
  try {
    response = parseHttpResponse(r.stdout);
  } catch {
    response = null;
  }
  // -brief prints "Verification: OK" on stderr once the server's certificate checked out.
  return { ...r, response, verifyOk: /Verification: OK/.test(r.stderr) };
}
