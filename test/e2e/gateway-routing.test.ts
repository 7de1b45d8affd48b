/**
 * End to end: base path mappings and forwarding through a real `mtlsgate serve` process, with Node's https
 * client presenting a valid certificate. Base path removal, target path prefixes, the empty base path, the
 * longest match, 404 without a match, 400 for paths that could climb out of their base path, a 1 MB body both
 * ways (sha256 on each side), 502 for a backend that is down, 504 for a slow one while other routes keep
 * answering, and keep-alive client connections.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { closedPort, startEcho, startHashBackend, startSlowBackend, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest, type HttpResult } from '../helpers/http.js';
import { serverIdentity, tmpDir, writeTruststore, type ServerIdentity } from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';
import { issue, type Issued } from '../../src/pki/generate.js';

const ROUTED = 'routed.e2e.test';
const CATCHALL = 'catchall.e2e.test';
const BACKEND_MS = 1000;

interface World {
  dir: string;
  gw: GatewayProcess;
  server: ServerIdentity;
  client: Issued;
  orders: EchoBackend;
  special: EchoBackend;
  everything: EchoBackend;
  hash: Awaited<ReturnType<typeof startHashBackend>>;
  slow: Awaited<ReturnType<typeof startSlowBackend>>;
}

let w: World;

before(async () => {
  const dir = tmpDir();
  const root = await issue({ subject: 'CN=Routing Root', profile: 'root-ca' });
  const [client, server, orders, special, everything, hash, slow, down] = await Promise.all([
    issue({ subject: 'CN=routing client', profile: 'client', issuer: root }),
    serverIdentity(dir, [ROUTED, CATCHALL]),
    startEcho(),
    startEcho(),
    startEcho(),
    startHashBackend(),
    startSlowBackend(5 * BACKEND_MS),
    closedPort(),
  ]);
  const ts = writeTruststore(dir, 'truststore', [root]);
  const gw = await startGateway({
    dir,
    config: {
      timeouts: { backendMs: BACKEND_MS },
      domains: [
        domainConfig(ROUTED, server, ts, [
          { basePath: 'orders', target: orders.url },
          { basePath: 'orders/special', target: special.url },
          { basePath: 'prefixed', target: `${orders.url}/v1` },
          { basePath: 'upload', target: hash.url },
          { basePath: 'down', target: `http://127.0.0.1:${down}` },
          { basePath: 'slow', target: slow.url },
        ]),
        domainConfig(CATCHALL, server, ts, [
          { basePath: '(none)', target: everything.url },
          { basePath: '/orders/', target: orders.url },
        ]),
      ],
    },
  });
  w = { dir, gw, server, client, orders, special, everything, hash, slow };
});

after(async () => {
  await w?.gw.stop();
  await Promise.all([w?.orders.close(), w?.special.close(), w?.everything.close(), w?.hash.close(), w?.slow.close()]);
});

function get(
  path: string,
  domain = ROUTED,
  extra: Partial<Parameters<typeof nodeRequest>[0]> = {},
): Promise<HttpResult> {
  return nodeRequest({
    port: w.gw.port,
    servername: domain,
    ca: w.server.caPem,
    cert: w.client.certPem,
    key: w.client.keyPem,
    path,
    ...extra,
  });
}

/** How many requests each echo backend has seen so far. */
function counts(): number[] {
  return [w.orders, w.special, w.everything].map((e) => e.received.length);
}

/** Send `path`, expect the one echo backend `to` to receive `upstream` and no other backend anything. */
async function expectRouted(path: string, to: EchoBackend, upstream: string, domain = ROUTED): Promise<void> {
  const before = counts();
  const res = await get(path, domain);
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  assert.equal((JSON.parse(res.text) as { path: string }).path, upstream, `${path} reaches the target as ${upstream}`);
  assert.equal(to.received.at(-1)?.path, upstream);
  const after = counts();
  const delta = after.map((n, i) => n - before[i]!);
  assert.deepEqual(
    delta,
    [w.orders, w.special, w.everything].map((e) => (e === to ? 1 : 0)),
    `${path}: only the mapped backend was called`,
  );
}

async function expectJson(res: HttpResult, status: number, body: unknown): Promise<void> {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(res.text), body);
  assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
}

test('the base path is removed before forwarding; the query is kept', async () => {
  await expectRouted('/orders/42?x=1', w.orders, '/42?x=1');
  await expectRouted('/orders/a/b/c', w.orders, '/a/b/c');
  await expectRouted('/orders', w.orders, '/');
  await expectRouted('/orders/', w.orders, '/');
  await expectRouted('/orders?x=1', w.orders, '/?x=1');
});

test('a path in the target URL is kept as a prefix', async () => {
  await expectRouted('/prefixed/42?x=1', w.orders, '/v1/42?x=1');
  // `/prefixed` is the mapping's root, like `/orders` -> `/`: prefix + `/`.
  await expectRouted('/prefixed', w.orders, '/v1/');
});

test('the empty base path forwards the whole path', async () => {
  await expectRouted('/a/b?c=d', w.everything, '/a/b?c=d', CATCHALL);
  await expectRouted('/', w.everything, '/', CATCHALL);
  await expectRouted('/ordersX/1', w.everything, '/ordersX/1', CATCHALL);
});

test('the longest matching base path wins', async () => {
  await expectRouted('/orders/special/7?y=2', w.special, '/7?y=2');
  await expectRouted('/orders/specials/7', w.orders, '/specials/7');
  await expectRouted('/orders/1', w.orders, '/1', CATCHALL);
});

test('no matching base path: 404 JSON, no backend called', async () => {
  const before = counts();
  for (const path of ['/nothing', '/ordersX/1', '/', '/Orders/1']) {
    await expectJson(await get(path), 404, { message: 'Not Found' });
  }
  assert.deepEqual(counts(), before);
});

test('dot segments, encoded dots, slashes and backslashes in the path: 400, no backend called', async () => {
  const before = counts();
  for (const path of [
    '/orders/../special/1',
    '/orders/%2e%2e/special',
    '/orders/%2E%2E/x',
    '/orders/.%2e/x',
    '/orders/a%2Fb',
    '/orders/a%2fb',
    '/orders/a%5Cb',
    '/orders/./x',
    '/orders/a%00b',
  ]) {
    const res = await get(path);
    await expectJson(res, 400, { message: 'Bad Request' });
    const line = await w.gw.waitForRequestLog(String(res.headers['x-request-id']), 'request refused');
    assert.equal(line.domain, ROUTED, path);
  }
  // A query may hold anything: only the path is checked.
  await expectRouted('/orders/1?next=../../x%2F', w.orders, '/1?next=../../x%2F');
  assert.deepEqual(
    counts().map((n, i) => n - before[i]!),
    [1, 0, 0],
  );
});

test('a 1 MB POST body streams through intact, both ways (sha256 on each side)', async () => {
  const body = randomBytes(1024 * 1024);
  const sha = createHash('sha256').update(body).digest('hex');
  const res = await get('/upload/blob?k=v', ROUTED, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-body-sha256'], sha, 'the backend received the same bytes');
  assert.equal(res.headers['x-body-bytes'], String(body.length));
  assert.equal(createHash('sha256').update(res.body).digest('hex'), sha, 'the client received the same bytes back');
  assert.equal(w.hash.received.at(-1)?.path, '/blob?k=v');

  // Chunked, written in pieces (no content-length): streamed, not refused.
  const chunked = await new Promise<{ status: number; sha: string; backendSha: string }>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: w.gw.port,
        servername: ROUTED,
        ca: w.server.caPem,
        cert: w.client.certPem,
        key: w.client.keyPem,
        method: 'PUT',
        path: '/upload/chunked',
        headers: { host: ROUTED },
        agent: false,
      },
      (r) => {
        const h = createHash('sha256');
        r.on('data', (c: Buffer) => h.update(c));
        r.on('end', () =>
          resolve({ status: r.statusCode ?? 0, sha: h.digest('hex'), backendSha: String(r.headers['x-body-sha256']) }),
        );
        r.on('error', reject);
      },
    );
    req.on('error', reject);
    let off = 0;
    const pump = (): void => {
      while (off < body.length) {
        const piece = body.subarray(off, off + 100_000);
        off += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  assert.equal(chunked.status, 200);
  assert.equal(chunked.backendSha, sha);
  assert.equal(chunked.sha, sha);
});

test("Expect: 100-continue (curl's default for large bodies) is answered by the gateway and the body streams through", async () => {
  const body = randomBytes(2 * 1024 * 1024);
  const sha = createHash('sha256').update(body).digest('hex');
  const file = join(w.dir, 'upload.bin');
  writeFileSync(file, body);
  const cert = join(w.dir, 'client.crt');
  const key = join(w.dir, 'client.key');
  writeFileSync(cert, w.client.certPem);
  writeFileSync(key, w.client.keyPem);
  for (const extra of [
    ['--data-binary', `@${file}`],
    ['-H', 'Expect: 100-continue', '--data-binary', `@${file}`],
  ]) {
    const r = await curl({
      domain: ROUTED,
      port: w.gw.port,
      cacert: w.server.caFile,
      cert,
      key,
      path: '/upload/expect',
      extra: ['-v', ...extra],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /> Expect: 100-continue/i, 'curl asked for 100-continue');
    assert.equal(r.response?.status, 200, r.response?.text);
    assert.equal(r.response?.headers['x-body-sha256'], sha, 'the backend got the whole body');
    assert.equal(createHash('sha256').update(r.response!.body).digest('hex'), sha, 'and sent it back');
  }
});

test('a backend that is down: 502 {"message":"Bad Gateway"}', async () => {
  const res = await get('/down/x');
  await expectJson(res, 502, { message: 'Bad Gateway' });
  const line = await w.gw.waitForRequestLog(String(res.headers['x-request-id']), 'request');
  assert.equal(line.status, 502);
});

test('a backend slower than timeouts.backendMs: 504 {"message":"Gateway Timeout"}, while another route keeps answering', async () => {
  const startedBefore = w.slow.started;
  const t0 = performance.now();
  const slow = get('/slow/x').then((res) => ({ res, ms: performance.now() - t0 }));
  // While the slow request waits, another route on the same domain and connection pool answers at once.
  await new Promise((r) => setTimeout(r, 100));
  const t1 = performance.now();
  await expectRouted('/orders/meanwhile', w.orders, '/meanwhile');
  const fastMs = performance.now() - t1;
  const { res, ms } = await slow;
  await expectJson(res, 504, { message: 'Gateway Timeout' });
  assert.equal(w.slow.started, startedBefore + 1, 'the slow backend did get the request');
  assert.ok(ms >= BACKEND_MS * 0.9, `504 after ${ms} ms, before timeouts.backendMs`);
  assert.ok(ms < 5 * BACKEND_MS * 0.9, `504 after ${ms} ms: the gateway waited for the backend`);
  assert.ok(fastMs < ms, `the other route answered (${fastMs} ms) before the timeout (${ms} ms)`);
  const line = await w.gw.waitForRequestLog(String(res.headers['x-request-id']), 'request');
  assert.equal(line.status, 504);
});

test('keep-alive: several requests on one client connection, one handshake, all verified and served', async () => {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: w.server.caPem,
    cert: w.client.certPem,
    key: w.client.keyPem,
    servername: ROUTED,
  });
  const sockets = new Set<TLSSocket>();
  let handshakes = 0;
  const origCreate = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof origCreate>) => {
    const s = origCreate(...args) as unknown as TLSSocket;
    s.once('secureConnect', () => handshakes++);
    sockets.add(s);
    return s;
  }) as typeof agent.createConnection;
  const mark = w.gw.mark();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await nodeRequest({
        port: w.gw.port,
        servername: ROUTED,
        ca: w.server.caPem,
        path: `/orders/ka/${i}`,
        agent,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal((JSON.parse(res.text) as { path: string }).path, `/ka/${i}`);
      if (i > 0) assert.ok(res.socketReused, `request ${i} reused the connection`);
      ids.push(String(res.headers['x-request-id']));
    }
    assert.equal(handshakes, 1, 'one TLS handshake for all requests');
    assert.equal(sockets.size, 1);
    assert.equal(new Set(ids).size, ids.length, 'a request id per request');
    for (const id of ids) {
      const line = await w.gw.waitForRequestLog(id, 'request', mark);
      assert.equal(line.status, 200);
      assert.deepEqual(line.verdict, { accepted: true, reason: null, code: null });
    }
    assert.equal(w.gw.logsSince(mark).filter((l) => /^Access denied/.test(l.msg)).length, 0);
  } finally {
    agent.destroy();
  }
});

test('timeouts.backendMs changed by a reload applies to backends already in use (their pools outlive the reload)', async () => {
  // The slow backend's pool exists since the 504 test, created under backendMs = BACKEND_MS.
  const before = await get('/slow/x?delay=1800');
  await expectJson(before, 504, { message: 'Gateway Timeout' });
  const cfg = JSON.parse(readFileSync(w.gw.configPath, 'utf8')) as { timeouts: { backendMs: number } };
  cfg.timeouts.backendMs = 3 * BACKEND_MS;
  writeFileSync(w.gw.configPath, JSON.stringify(cfg, null, 2));
  const reload = await w.gw.admin('/reload', 'POST');
  assert.equal(reload.status, 200, reload.body);
  const res = await get('/slow/x?delay=1800');
  assert.equal(res.status, 200, `a 1.8 s backend under backendMs ${3 * BACKEND_MS}: ${res.text}`);
  assert.deepEqual(JSON.parse(res.text), { slow: true });
});
