/**
 * forward() on its own: a plain http front server calling it for every request, a plain http backend behind it.
 * Headers both ways, bodies both ways (backpressure included), and every way the exchange can fail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { backendPools, closePools, forward, upstreamHeaders } from '../../src/gateway/proxy.js';
import { makeRoutes, matchRoute } from '../../src/gateway/routes.js';
import { newMetrics, snapshotMetrics } from '../../src/gateway/metrics.js';

const IDENTITY = { 'client-cert': ':AAAA:', 'x-client-cert-subject-dn': 'CN=verified client' };
// Bigger than what loopback socket buffers hold in flight (about 8 MiB on Linux defaults), so a stalled client
// has to stall the backend too.
const BIG = randomBytes(32 * 1024 * 1024);
const SLOW_TIMEOUT_MS = 300;

let backend: http.Server;
let front: http.Server;
let frontPort: number;
const pools = backendPools();
/** Backend failures, counted with each request's path as its domain label. */
const metrics = newMetrics();
const backendErrors = (path: string): string[] =>
  snapshotMetrics(metrics)
    .backendErrors.filter(([d]) => d === path)
    .flatMap(([, kind, n]) => Array<string>(n).fill(kind));
const backendSockets = new Set<net.Socket>();
/** forward()'s result per request path, and how it wrote into the front's response. */
const results = new Map<string, Promise<number>>();
const frontWrites = new Map<string, { maxBuffered: number; refused: number; whileRefused: number }>();
/** What the backend saw, per path. */
const seen = new Map<string, { closedEarly?: Promise<boolean>; bodyBytes?: number[] }>();
let bigStats = { written: 0, longestDrainMs: 0 };

function waitFor<T>(get: () => T | undefined, ms = 3000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const v = get();
      if (v !== undefined) resolve(v);
      else if (Date.now() - start > ms) reject(new Error('timed out waiting'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

/** Resolves true if the backend's response was closed before it finished (the gateway dropped the exchange). */
function watchClose(path: string, res: http.ServerResponse): void {
  seen.set(path, { ...seen.get(path), closedEarly: once(res, 'close').then(() => !res.writableFinished) });
}

function backendHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = req.url!;
  const kind = path.split('/')[1]!.split('?')[0];
  switch (kind) {
    case 'echo': {
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify({ method: req.method, rawHeaders: req.rawHeaders });
        // Hop-by-hop and the backend's own request id must not reach the client; repeats must.
        res.writeHead(200, [
          'Content-Type',
          'application/json',
          'Set-Cookie',
          'a=1',
          'Keep-Alive',
          'timeout=77',
          'Connection',
          'keep-alive, x-backend-hop',
          'Upgrade',
          'h2c',
          'Proxy-Connection',
          'keep-alive',
          'X-Request-Id',
          'backend-id',
          'X-Backend',
          'yes',
          'Set-Cookie',
          'b=2',
          'transfer-encoding',
          'chunked',
        ]);
        res.end(body);
      });
      return;
    }
    case 'big': {
      // Written only as fast as the gateway takes it; record how long the backend was held back.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
      bigStats = { written: 0, longestDrainMs: 0 };
      const step = 64 * 1024;
      const pump = (): void => {
        while (bigStats.written < BIG.length) {
          const chunk = BIG.subarray(bigStats.written, bigStats.written + step);
          bigStats.written += chunk.length;
          if (!res.write(chunk)) {
            const t = Date.now();
            res.once('drain', () => {
              bigStats.longestDrainMs = Math.max(bigStats.longestDrainMs, Date.now() - t);
              pump();
            });
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    case 'upload': {
      const progress: number[] = [];
      seen.set(path, { bodyBytes: progress });
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        progress.push(n);
        hash.update(c);
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            length: n,
            sha256: hash.digest('hex'),
            te: req.headers['transfer-encoding'] ?? null,
            cl: req.headers['content-length'] ?? null,
          }),
        );
      });
      return;
    }
    case 'reset-mid':
      // With a Content-Length, or chunked: then only the cut connection tells the client the body is short.
      res.writeHead(
        200,
        path.includes('chunked')
          ? { 'content-type': 'application/octet-stream' }
          : { 'content-type': 'application/octet-stream', 'content-length': 1024 * 1024 },
      );
      res.write(Buffer.alloc(64 * 1024, 120), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
      return;
    case 'slow':
      watchClose(path, res);
      return; // never answers
    case 'hold-head':
      watchClose(path, res);
      return; // never answers; the test's client leaves
    case 'hold': {
      watchClose(path, res);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('x'.repeat(16 * 1024));
      const t = setInterval(() => res.write('y'.repeat(1024)), 20);
      res.on('close', () => clearInterval(t));
      return;
    }
    case 'head':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1234 });
      res.end();
      return;
    case 'hints':
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      setTimeout(() => res.end('final answer'), 20);
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

before(async () => {
  backend = http.createServer(backendHandler);
  backend.on('connection', (s: net.Socket) => {
    backendSockets.add(s);
    s.on('close', () => backendSockets.delete(s));
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const dead = net.createServer().listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const routes = makeRoutes([
    { basePath: '', target: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` },
    { basePath: 'dead', target: `http://127.0.0.1:${deadPort}` },
  ]);
  let n = 0;
  front = http.createServer((req, res) => {
    const path = req.url!;
    // Watch forward()'s writes: after write() said false, none may come before 'drain'.
    const w = { maxBuffered: 0, refused: 0, whileRefused: 0 };
    frontWrites.set(path, w);
    let waiting = false;
    const write = res.write.bind(res) as (chunk: Buffer) => boolean;
    (res as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk) => {
      if (waiting) w.whileRefused++;
      const ok = write(chunk);
      w.maxBuffered = Math.max(w.maxBuffered, res.writableLength);
      if (!ok && !waiting) {
        waiting = true;
        w.refused++;
        res.once('drain', () => (waiting = false));
      }
      return ok;
    };
    const match = matchRoute(routes, path)!;
    const requestId = `rid-${++n}`;
    const headers = upstreamHeaders(req, match, {
      requestId,
      clientIp: '10.1.2.3',
      host: req.headers.host ?? '-',
      identity: IDENTITY,
    });
    const timeoutMs = path.startsWith('/slow') ? SLOW_TIMEOUT_MS : 5000;
    const p = forward({
      pools,
      req: { method: req.method!, headers: req.headers, body: req, sink: res, requestId },
      match,
      headers,
      timeoutMs,
      metrics,
      domain: path,
    });
    results.set(path, p);
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  frontPort = (front.address() as AddressInfo).port;
});

after(async () => {
  await closePools(pools);
  for (const s of backendSockets) s.destroy();
  front.closeAllConnections();
  await Promise.all([new Promise((r) => backend.close(r)), new Promise((r) => front.close(r))]);
});

interface Answer {
  status: number;
  rawHeaders: string[];
  body: Buffer;
  /** The response stopped short of its end (the connection was cut). */
  cut: boolean;
}

function send(
  path: string,
  opts: { method?: string; headers?: string[] | Record<string, string>; body?: (req: http.ClientRequest) => void } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: frontPort,
        path,
        method: opts.method ?? 'GET',
        agent: false,
        headers: opts.headers ?? { host: 'front.test' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        const done = (cut: boolean): void =>
          resolve({ status: res.statusCode!, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks), cut });
        res.on('end', () => done(false));
        res.on('error', () => done(true));
        res.on('aborted', () => done(true));
      },
    );
    req.on('error', reject);
    if (opts.body) opts.body(req);
    else req.end();
  });
}

/** Header list as [lowercased name, value] pairs. */
function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

test("request headers: the gateway's first, then the client's in order with repeats; spoofed identity, X-Forwarded-*, hop-by-hop and Connection-named ones dropped", async () => {
  const a = await send('/echo/headers', {
    headers: [
      'Host',
      'front.test:8443',
      'X-Client-Cert-Subject-DN',
      'CN=admin',
      'Client-Cert',
      ':BBBB:',
      'Client_Cert',
      ':CCCC:',
      'X-Client-Cert-Serial',
      '00',
      'X-Forwarded-For',
      '6.6.6.6',
      'X-Forwarded-Proto',
      'http',
      'X-Forwarded-Host',
      'evil.example',
      'X-Request-Id',
      'spoofed',
      'Forwarded',
      'for=6.6.6.6',
      'Accept',
      'text/plain',
      'X-Rep',
      'one',
      'Connection',
      'keep-alive, X-Hop, X-Client-Cert-Subject-DN',
      'Accept',
      'application/json',
      'X-Hop',
      'must not pass',
      'TE',
      'trailers',
      'X-Rep',
      'two',
    ],
  });
  assert.equal(a.status, 200, a.body.toString());
  const got = pairs((JSON.parse(a.body.toString()) as { rawHeaders: string[] }).rawHeaders);
  assert.deepEqual(got, [
    ['host', '127.0.0.1:' + String((backend.address() as AddressInfo).port)],
    ['connection', 'keep-alive'], // undici's own, for the backend connection
    ['x-forwarded-for', '10.1.2.3'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-host', 'front.test:8443'],
    ['x-request-id', got.find(([n]) => n === 'x-request-id')![1]],
    ['client-cert', ':AAAA:'],
    ['x-client-cert-subject-dn', 'CN=verified client'],
    ['accept', 'text/plain'],
    ['x-rep', 'one'],
    ['accept', 'application/json'],
    ['x-rep', 'two'],
  ]);
  assert.match(got.find(([n]) => n === 'x-request-id')![1], /^rid-\d+$/);
  assert.equal(await results.get('/echo/headers'), 200);
});

test("response headers: hop-by-hop and the backend's x-request-id dropped, the gateway's added, repeats kept in order", async () => {
  const a = await send('/echo/response');
  assert.equal(a.status, 200);
  const got = pairs(a.rawHeaders);
  const names = got.map(([n]) => n);
  assert.deepEqual(
    got.filter(([n]) => n === 'set-cookie'),
    [
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ],
  );
  assert.deepEqual(got.filter(([n]) => n === 'x-request-id').map(([, v]) => v).length, 1);
  assert.match(got.find(([n]) => n === 'x-request-id')![1], /^rid-\d+$/);
  assert.deepEqual(
    got.find(([n]) => n === 'x-backend'),
    ['x-backend', 'yes'],
  );
  assert.ok(!names.includes('upgrade') && !names.includes('proxy-connection'), names.join(', '));
  // The front server adds its own Connection/Keep-Alive/Transfer-Encoding (capitalised): none of the backend's pass.
  for (const [n, v] of got) {
    assert.ok(!(n === 'keep-alive' && v.includes('77')), `backend keep-alive passed: ${v}`);
    assert.ok(!(n === 'connection' && v.includes('x-backend-hop')), `backend connection passed: ${v}`);
  }
  assert.ok(!a.rawHeaders.includes('transfer-encoding'), "the backend's lowercase transfer-encoding did not pass");
  assert.equal(JSON.parse(a.body.toString()).method, 'GET');
});

test('a 32 MiB response reaches a slow reader intact, and backpressure holds the backend back instead of buffering', async () => {
  const sock = net.connect(frontPort, '127.0.0.1');
  await once(sock, 'connect');
  sock.pause();
  sock.write('GET /big/one HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n');
  // Not reading for a while: kernel buffers fill, then the front's response says no more, then the backend waits.
  await sleep(800);
  const writtenWhileStalled = bigStats.written;
  let head = Buffer.alloc(0);
  let bodyLength = 0;
  const hash = createHash('sha256');
  sock.on('data', (c: Buffer) => {
    if (head.indexOf('\r\n\r\n') === -1) {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end !== -1) {
        hash.update(head.subarray(end + 4));
        bodyLength += head.length - end - 4;
      }
    } else {
      hash.update(c);
      bodyLength += c.length;
    }
    // A slow reader all the way: a short pause every chunk.
    sock.pause();
    setTimeout(() => sock.resume(), 1);
  });
  sock.resume();
  await once(sock, 'end');
  assert.match(head.toString('latin1'), /^HTTP\/1\.1 200 /);
  assert.match(head.toString('latin1'), /\r\ncontent-length: 33554432\r\n/);
  assert.equal(bodyLength, BIG.length);
  assert.equal(hash.digest('hex'), createHash('sha256').update(BIG).digest('hex'), 'the body arrived byte for byte');
  assert.equal(await results.get('/big/one'), 200);
  const w = frontWrites.get('/big/one')!;
  assert.ok(w.refused > 0, "the stalled client made the front's response refuse writes");
  assert.equal(w.whileRefused, 0, 'forward() never wrote while waiting for drain');
  assert.ok(w.maxBuffered < 1024 * 1024, `the front's response never held more than ${w.maxBuffered} bytes`);
  assert.ok(
    writtenWhileStalled < BIG.length / 2,
    `the backend was held back while the client did not read (${writtenWhileStalled} of ${BIG.length} written)`,
  );
  assert.ok(bigStats.longestDrainMs >= 400, `the backend waited for drain ${bigStats.longestDrainMs} ms at most`);
});

test('a request body is streamed to the backend as it arrives, chunked or with a length', async () => {
  const first = randomBytes(100_000);
  const second = randomBytes(300_000);
  const expected = createHash('sha256').update(first).update(second).digest('hex');
  const chunked = await send('/upload/chunked', {
    method: 'POST',
    headers: { host: 'front.test', 'transfer-encoding': 'chunked' },
    body: (req) => {
      req.write(first);
      // The rest only once the backend has the first part: the gateway did not wait for the whole body.
      void waitFor(() => (seen.get('/upload/chunked')?.bodyBytes?.at(-1) === first.length ? true : undefined)).then(
        () => req.end(second),
        (e: Error) => req.destroy(e),
      );
    },
  });
  assert.equal(chunked.status, 200, chunked.body.toString());
  assert.deepEqual(JSON.parse(chunked.body.toString()), {
    length: first.length + second.length,
    sha256: expected,
    te: 'chunked',
    cl: null,
  });

  const sized = await send('/upload/sized', {
    method: 'PUT',
    headers: { host: 'front.test', 'content-length': String(first.length + second.length) },
    body: (req) => {
      req.write(first);
      void waitFor(() => (seen.get('/upload/sized')?.bodyBytes?.at(-1) === first.length ? true : undefined)).then(
        () => req.end(second),
        (e: Error) => req.destroy(e),
      );
    },
  });
  assert.equal(sized.status, 200, sized.body.toString());
  assert.deepEqual(JSON.parse(sized.body.toString()), {
    length: first.length + second.length,
    sha256: expected,
    te: null,
    cl: String(first.length + second.length),
  });
});

test("the backend resetting mid-body cuts the client's connection (the status was already out)", async () => {
  for (const path of ['/reset-mid/sized', '/reset-mid/chunked']) {
    const a = await send(path);
    assert.equal(a.status, 200, path);
    assert.ok(a.cut, `${path}: the client saw the response cut short`);
    assert.ok(a.body.length >= 64 * 1024 && a.body.length < 1024 * 1024, `${path}: ${a.body.length} bytes of 1 MiB`);
    assert.equal(await results.get(path), 502, path);
    assert.deepEqual(backendErrors(path), ['reset'], path);
  }
});

test('a backend that is not listening is a 502 JSON answer with the request id', async () => {
  const a = await send('/dead/x');
  assert.equal(a.status, 502);
  assert.deepEqual(JSON.parse(a.body.toString()), { message: 'Bad Gateway' });
  assert.match(pairs(a.rawHeaders).find(([n]) => n === 'x-request-id')![1], /^rid-\d+$/);
  assert.equal(await results.get('/dead/x'), 502);
  assert.deepEqual(backendErrors('/dead/x'), ['connect']);
});

test('a backend that does not answer in time is a 504 JSON answer, and the backend exchange is dropped', async () => {
  const t = Date.now();
  const a = await send('/slow/x');
  const took = Date.now() - t;
  assert.equal(a.status, 504);
  assert.deepEqual(JSON.parse(a.body.toString()), { message: 'Gateway Timeout' });
  assert.ok(took >= SLOW_TIMEOUT_MS - 20 && took < 3000, `answered after ${took} ms`);
  assert.equal(await results.get('/slow/x'), 504);
  assert.equal(await seen.get('/slow/x')!.closedEarly, true);
  assert.deepEqual(backendErrors('/slow/x'), ['timeout']);
});

test('a client leaving mid-response aborts the backend exchange', async () => {
  const req = http.get({ host: '127.0.0.1', port: frontPort, path: '/hold/body', agent: false });
  const res = (await once(req, 'response'))[0] as http.IncomingMessage;
  assert.equal(res.statusCode, 200);
  await once(res, 'data');
  req.destroy();
  const closedEarly = await Promise.race([seen.get('/hold/body')!.closedEarly!, sleep(3000).then(() => 'still open')]);
  assert.equal(closedEarly, true, 'the backend saw its response closed before it finished');
  assert.equal(await results.get('/hold/body'), 502);
  assert.deepEqual(backendErrors('/hold/body'), [], 'the client left: not a backend error');
});

test('a client leaving before the backend answered aborts the backend exchange too', async () => {
  const req = http.get({ host: '127.0.0.1', port: frontPort, path: '/hold-head/x', agent: false });
  req.on('error', () => undefined);
  await waitFor(() => (seen.has('/hold-head/x') ? true : undefined));
  req.destroy();
  assert.equal(
    await Promise.race([seen.get('/hold-head/x')!.closedEarly!, sleep(3000).then(() => 'still open')]),
    true,
  );
  assert.equal(await results.get('/hold-head/x'), 502);
  assert.deepEqual(backendErrors('/hold-head/x'), [], 'the client left: not a backend error');
});

test("HEAD keeps the backend's Content-Length and sends no body; the client connection stays usable", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const head = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: frontPort, path: '/head/x', method: 'HEAD', agent }, resolve)
        .on('error', reject)
        .end();
    });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], '1234');
    const socket = head.socket;
    head.resume();
    await once(head, 'end');
    const get = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: frontPort, path: '/echo/after-head', agent }, resolve)
        .on('error', reject)
        .end();
    });
    assert.equal(get.statusCode, 200);
    assert.equal(get.socket, socket, 'the same client connection answered again');
    get.resume();
    await once(get, 'end');
    assert.equal(await results.get('/head/x'), 200);
  } finally {
    agent.destroy();
  }
});

test('an informational 103 from the backend is not relayed; the final answer is', async () => {
  const infos: number[] = [];
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: frontPort, path: '/hints/x', agent: false }, resolve);
    req.on('information', (i: { statusCode: number }) => infos.push(i.statusCode));
    req.on('error', reject);
  });
  let body = '';
  for await (const c of res) body += String(c);
  assert.equal(res.statusCode, 200);
  assert.equal(body, 'final answer');
  assert.deepEqual(infos, []);
  assert.equal(await results.get('/hints/x'), 200);
});
