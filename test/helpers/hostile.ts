/**
 * Helpers for the hostile-client and fault tests (hostile-*.test.ts, faults-*.test.ts), on top of gateway.ts,
 * http.ts, tls.ts and lifecycle.ts: a gateway with one domain and small timeouts, a trickle of well-behaved
 * requests that must all succeed while an attack runs, a backend that records the exact bytes it receives (behind
 * a TCP tap) and counts the requests a strict HTTP parser sees in them, raw TLS connections for hand-made request
 * bytes, and the gateway's RSS and open file descriptors read from /proc.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startEcho, type EchoBackend } from './backends.js';
import { domainConfig, startGateway, type GatewayProcess } from './gateway.js';
import { keepAliveAgent, request, type Outcome, type Target } from './http.js';
import { makeWorld, sleep, type World } from './lifecycle.js';
import { tlsConnect } from './tls.js';

// ---------------------------------------------------------------------------------------------------------------
// A gateway with one domain: '' -> the echo backend, plus the routes a test adds.

export interface Hostile {
  w: World;
  gw: GatewayProcess;
  echo: EchoBackend;
  /** The client whose certificate the truststore accepts. */
  good: Target;
  /** A client whose certificate chains to an unrelated CA: every request is a 403, none may reach a backend. */
  bad: Target;
  /** `:base64(DER):` of the good client's certificate, as the backend receives it in Client-Cert. */
  goodClientCert: string;
  close(): Promise<void>;
}

export interface HostileOptions {
  timeouts?: Partial<Record<'handshakeMs' | 'headersMs' | 'requestMs' | 'idleMs' | 'backendMs', number>>;
  limits?: Partial<Record<'maxConnections' | 'maxConnectionsPerAddress' | 'maxHeaderBytes', number>>;
  routes?: { basePath: string; target: string }[];
  /** Reuse a PKI (making one costs a second or so). */
  world?: World;
  domain?: string;
}

export async function startHostile(o: HostileOptions = {}): Promise<Hostile> {
  const w = o.world ?? (await makeWorld(o.domain ?? 'hostile.e2e.test'));
  const echo = await startEcho();
  const gw = await startGateway({
    config: {
      ...(o.timeouts ? { timeouts: o.timeouts } : {}),
      ...(o.limits ? { limits: o.limits } : {}),
      domains: [
        domainConfig(w.domain, w.server, w.truststore, [...(o.routes ?? []), { basePath: '', target: echo.url }]),
      ],
    },
  });
  const good: Target = {
    port: gw.port,
    servername: w.domain,
    ca: w.server.caPem,
    cert: w.client.certPem,
    key: w.client.keyPem,
  };
  const bad: Target = { ...good, cert: w.otherClient.certPem, key: w.otherClient.keyPem };
  return {
    w,
    gw,
    echo,
    good,
    bad,
    goodClientCert: `:${w.client.der.toString('base64')}:`,
    async close() {
      await gw.stop(3000);
      await echo.close();
    },
  };
}

/** Every request the echo backend received came from the verified client (its Client-Cert is the good one). */
export function assertOnlyVerified(h: Hostile): void {
  const stray = h.echo.received.filter((r) => r.headers['client-cert'] !== h.goodClientCert);
  assert.equal(
    stray.length,
    0,
    `requests without the verified certificate reached the backend: ${JSON.stringify(stray.map((r) => [r.method, r.path]))}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// A trickle of well-behaved requests: one after another (so a slow gateway shows as latency, not as a pile-up),
// alternately on a keep-alive connection and on a new one.

export interface TrickleResult {
  outcomes: Outcome[];
  failures: Outcome[];
  maxLatencyMs: number;
}

export interface Trickle {
  stop(): Promise<TrickleResult>;
}

export function startTrickle(
  t: Target,
  o: { everyMs?: number; fresh?: boolean; timeoutMs?: number; path?: string } = {},
): Trickle {
  const agent = keepAliveAgent(1);
  const outcomes: Outcome[] = [];
  let maxLatencyMs = 0;
  let stopped = false;
  let i = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      const fresh = (o.fresh ?? true) && i++ % 2 === 1;
      const r = await request(
        t,
        fresh ? false : agent,
        `${o.path ?? '/trickle'}/${outcomes.length}`,
        o.timeoutMs ?? 10_000,
      );
      outcomes.push(r);
      maxLatencyMs = Math.max(maxLatencyMs, Date.now() - started);
      await sleep(Math.max(0, (o.everyMs ?? 100) - (Date.now() - started)));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
      return { outcomes, failures: outcomes.filter((r) => r.status !== 200 || r.error !== null), maxLatencyMs };
    },
  };
}

/** All of the trickle's requests were served (200), and there were at least `min` of them. */
export function assertTrickle(r: TrickleResult, min: number, what: string): void {
  assert.ok(
    r.outcomes.length >= min,
    `${what}: only ${r.outcomes.length} well-behaved requests were made (expected ${min} or more)`,
  );
  assert.deepEqual(
    r.failures.map((f) => ({ status: f.status, error: f.error })),
    [],
    `${what}: every well-behaved request is served (${r.failures.length} of ${r.outcomes.length} failed; slowest ${r.maxLatencyMs} ms)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The gateway process from /proc.

/** Resident set size in KiB (VmRSS). */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS in /proc/PID/status');
  return Number(m[1]);
}

/** Open file descriptors (each client connection, backend connection and listener is one). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Poll `probe` until `ok` holds or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw connections.

export interface Collected {
  /** Everything the gateway sent, latin1. */
  text: string;
  /** ms from the start to the close (or to the timeout). */
  ms: number;
  /** The gateway closed the connection (false: our timeout cut it). */
  closed: boolean;
  error: string | null;
}

/** Collect what a socket receives until it closes, or until `timeoutMs` (then it is destroyed). */
export function collect(s: net.Socket, timeoutMs: number, started = Date.now()): Promise<Collected> {
  return new Promise((resolve) => {
    let text = '';
    let error: string | null = null;
    let closed = true;
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const timer = setTimeout(() => {
      closed = false;
      s.destroy();
    }, timeoutMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - started, closed, error });
    });
  });
}

/** Send `bytes` on a new verified TLS connection and collect the answer until the gateway closes it. */
export async function rawExchange(t: Target, bytes: string | Buffer, timeoutMs = 5000): Promise<Collected> {
  const s = await tlsConnect(t);
  const done = collect(s, timeoutMs);
  s.write(bytes);
  return done;
}

/** HTTP status lines in a raw answer (one per response the gateway sent). */
export function statusLines(text: string): number[] {
  return [...text.matchAll(/(?:^|\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Open a plain TCP connection to `port` (resolves when connected). */
export function tcpConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A backend that records exactly what the gateway sends: a TCP tap keeps every byte of every connection, and
// forwards it to a Node HTTP server (llhttp, strict) that counts the requests it parses from those bytes.

export interface RecordingBackend {
  url: string;
  /** Raw bytes received, per gateway connection, in order. */
  connections: Buffer[][];
  /** Requests the strict parser saw: method, path, headers, body bytes. */
  requests: { method: string; path: string; headers: http.IncomingHttpHeaders; bodyBytes: number }[];
  /** Everything received on every connection, latin1. */
  allBytes(): string;
  close(): Promise<void>;
}

export async function startRecordingBackend(): Promise<RecordingBackend> {
  const requests: RecordingBackend['requests'] = [];
  const inner = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, bodyBytes });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
      res.end('ok\n');
    });
  });
  await new Promise<void>((r) => inner.listen(0, '127.0.0.1', () => r()));
  const innerPort = (inner.address() as AddressInfo).port;
  const connections: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const tap = net.createServer((down) => {
    const chunks: Buffer[] = [];
    connections.push(chunks);
    const up = net.connect({ host: '127.0.0.1', port: innerPort });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    down.on('data', (c: Buffer) => {
      chunks.push(Buffer.from(c));
      up.write(c);
    });
    up.pipe(down);
    down.on('end', () => up.end());
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((r) => tap.listen(0, '127.0.0.1', () => r()));
  const port = (tap.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    requests,
    allBytes: () => connections.map((c) => Buffer.concat(c).toString('latin1')).join(''),
    close: () =>
      new Promise<void>((r) => {
        let n = 2;
        const one = (): void => void (--n === 0 && r());
        tap.close(one);
        inner.close(one);
        inner.closeAllConnections();
        sockets.forEach((s) => s.destroy());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small HTTPS helpers.

/** A GET whose response body the client never reads: resolves with the response once its headers are in. */
export function getWithoutReading(
  t: Target,
  path: string,
): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: t.port,
        servername: t.servername,
        ca: t.ca,
        cert: t.cert,
        key: t.key,
        path,
        headers: { host: t.servername },
        agent: false,
      },
      (res) => {
        // Not reading: pause so nothing is consumed beyond the stream's own buffer.
        res.pause();
        resolve({ res, req });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// A backend that misbehaves on purpose, chosen by the first path segment the gateway forwards:
//   /reset-before  reads the request, then resets the connection (TCP RST) without a byte of answer
//   /reset-mid     sends a 200 head announcing 1 MiB and 64 KiB of it, then resets
//   /close-mid     the same, then closes cleanly (FIN) short of the announced length
//   /garbage       answers bytes that are not HTTP, then closes
//   /half-head     sends half a status line and header, then closes
// Anything else gets a normal 200.

export interface FaultBackend {
  url: string;
  /** Requests received, by path. */
  received: string[];
  close(): Promise<void>;
}

export async function startFaultBackend(): Promise<FaultBackend> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const path = /^\S+ (\S+) /.exec(buf)?.[1] ?? '';
      buf = buf.slice(end + 4);
      received.push(path);
      const kind = path.split('/')[1]?.split('?')[0] ?? '';
      const head = `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${1024 * 1024}\r\n\r\n`;
      switch (kind) {
        case 'reset-before':
          socket.resetAndDestroy();
          break;
        case 'reset-mid':
          socket.write(head + 'x'.repeat(64 * 1024), () => setTimeout(() => socket.resetAndDestroy(), 20));
          break;
        case 'close-mid':
          socket.write(head + 'x'.repeat(64 * 1024), () => setTimeout(() => socket.end(), 20));
          break;
        case 'garbage':
          socket.end('SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02 this is not HTTP\r\n\r\n');
          break;
        case 'half-head':
          socket.end('HTTP/1.1 200 OK\r\nContent-Le');
          break;
        default:
          socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        sockets.forEach((s) => s.destroy());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A backend with a large answer: `?mb=N` MiB (default 64), written as fast as the reader takes it.

export interface BigBackend {
  url: string;
  /** Responses started, finished, and cut before their end (the reader went away). */
  readonly stats: { started: number; finished: number; cut: number };
  close(): Promise<void>;
}

export async function startBigBackend(): Promise<BigBackend> {
  const stats = { started: 0, finished: 0, cut: 0 };
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server = http.createServer((req, res) => {
    req.resume();
    stats.started++;
    const total = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('mb') ?? 64) * 1024 * 1024;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('finish', () => stats.finished++);
    res.on('close', () => {
      if (!res.writableFinished) stats.cut++;
    });
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
}

const TCP_STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
];

interface OpenFile {
  /** For a TCP socket: ports and state; else null. */
  tcp: { local: number; remote: number; state: string } | null;
  target: string;
}

function openFiles(pid: number): OpenFile[] {
  const tcp = new Map<string, OpenFile['tcp']>();
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (a: string): number => parseInt(a.split(':')[1]!, 16);
      tcp.set(f[9]!, { local: port(f[1]!), remote: port(f[2]!), state: TCP_STATES[parseInt(f[3]!, 16)] ?? f[3]! });
    }
  }
  const out: OpenFile[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    out.push({ tcp: inode ? (tcp.get(inode) ?? null) : null, target: target.replace(/\[\d+\]$/, '') });
  }
  return out;
}

/** Client connections the process holds on its listening `port` (TCP sockets with that local port, not LISTEN). */
export function clientConnections(pid: number, port: number): number {
  return openFiles(pid).filter((f) => f.tcp && f.tcp.local === port && f.tcp.state !== 'LISTEN').length;
}

/** The process's open files, TCP ones as `:local->:remote STATE` (for failure messages about what was left open). */
export function describeFds(pid: number): string {
  const counts = new Map<string, number>();
  for (const f of openFiles(pid)) {
    const key = f.tcp ? `:${f.tcp.local}->:${f.tcp.remote} ${f.tcp.state}` : f.target;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} x ${k}`).join('; ');
}

/**
 * `count` HTTPS requests at once, each on a new connection (a full handshake), from a child process so the
 * flood's client-side work does not stall this process (where the trickle and the backends run). Resolves with
 * the tally of statuses and errors and the elapsed time.
 */
export function floodFromChild(
  t: Target,
  count: number,
  path: string,
  timeoutMs = 30_000,
): Promise<{ tally: Record<string, number>; ms: number }> {
  const code = `
    const https = require('node:https');
    const o = JSON.parse(process.env.FLOOD);
    const started = Date.now();
    const one = (i) => new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: o.port, servername: o.servername, ca: o.ca, cert: o.cert, key: o.key,
        path: o.path + '/' + i, headers: { host: o.servername }, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(String(res.statusCode))); res.on('error', (e) => resolve(e.code || e.message)); });
      req.on('error', (e) => resolve(e.code || e.message));
      req.setTimeout(o.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'E2E_TIMEOUT' })));
      req.end();
    });
    Promise.all(Array.from({ length: o.count }, (_, i) => one(i))).then((r) => {
      const tally = {};
      for (const k of r) tally[k] = (tally[k] || 0) + 1;
      process.stdout.write(JSON.stringify({ tally, ms: Date.now() - started }));
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], {
      env: { ...process.env, FLOOD: JSON.stringify({ ...t, count, path, timeoutMs }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 10_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      try {
        resolve(JSON.parse(out) as { tally: Record<string, number>; ms: number });
      } catch {
        reject(new Error(`flood child exited ${code}: ${err.slice(-2000)}`));
      }
    });
  });
}
