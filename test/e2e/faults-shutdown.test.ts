/**
 * Graceful shutdown of a real `mtlsgate serve` with requests in flight at every stage when SIGTERM arrives: headers
 * half sent, a body half uploaded, waiting for a slow backend, a response half streamed, one on a keep-alive
 * connection, plus an idle keep-alive connection. Every request completes intact, new connections are refused, and
 * the process exits 0 as soon as the last one is done (well before the drain deadline). A request still running at
 * the 10 s drain deadline is cut, and the process still exits 0 right after.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHashBackend, startSlowBackend, type Backend } from '../helpers/backends.js';
import { startHostile, statusLines, type Hostile } from '../helpers/hostile.js';
import { keepAliveAgent, request } from '../helpers/http.js';
import { makeWorld, sleep, type World } from '../helpers/lifecycle.js';
import { tlsConnect } from '../helpers/tls.js';

/** The drain deadline of `mtlsgate serve` (src/cli/signals.ts). */
const DRAIN_DEADLINE_MS = 10_000;

let w: World;
let slow: Backend & { started: number };
let hash: Awaited<ReturnType<typeof startHashBackend>>;
let stream: { url: string; started: number; close(): Promise<void> };

/** Answers 20 chunks of 1 KiB, one every 75 ms (1.5 s in all). */
async function startStreamBackend(): Promise<typeof stream> {
  const state = { started: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    state.started++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 20 * 1024 });
    let n = 0;
    const t = setInterval(() => {
      res.write(Buffer.alloc(1024, 0x30 + (n % 10)));
      if (++n === 20) {
        clearInterval(t);
        res.end();
      }
    }, 75);
    res.on('close', () => clearInterval(t));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get started() {
      return state.started;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

before(async () => {
  [w, slow, hash, stream] = await Promise.all([
    makeWorld('shutdown.e2e.test'),
    startSlowBackend(30_000),
    startHashBackend(),
    startStreamBackend(),
  ]);
});

after(async () => {
  await Promise.all([slow?.close(), hash?.close(), stream?.close()]);
});

async function gateway(): Promise<Hostile> {
  return startHostile({
    world: w,
    routes: [
      { basePath: 'slow', target: slow.url },
      { basePath: 'hash', target: hash.url },
      { basePath: 'stream', target: stream.url },
    ],
  });
}

/**
 * Read one HTTP/1.1 response from a raw TLS socket: until its Content-Length is in, or (chunked) until the
 * connection closes. Status, head, body bytes as received, and whether it closed.
 */
function readResponse(
  s: import('node:tls').TLSSocket,
): Promise<{ status: number; head: string; body: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
      if (!closed && (end === -1 || len === undefined || buf.length < end + 4 + Number(len))) return;
      done = true;
      resolve({
        status: statusLines(text)[0] ?? 0,
        head: end === -1 ? text : text.slice(0, end + 2),
        body: end === -1 ? Buffer.alloc(0) : buf.subarray(end + 4),
        closed,
      });
    };
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      finish(false);
    });
    s.on('error', () => undefined);
    s.on('close', () => finish(true));
  });
}

test('SIGTERM with requests in flight at every stage: each completes intact, new connections are refused, exit 0 right after the last', async () => {
  const h = await gateway();
  const D = h.w.domain;
  try {
    // An idle keep-alive connection: closed at once.
    const idleAgent = keepAliveAgent(1);
    assert.equal((await request(h.good, idleAgent, '/warm')).status, 200);

    // 1. Headers half sent.
    const headers = await tlsConnect(h.good);
    const headersDone = readResponse(headers);
    headers.write(`GET /late-headers HTTP/1.1\r\nHost: ${D}\r\n`);

    // 2. A 256 KiB body half uploaded.
    const payload = randomBytes(256 * 1024);
    const upload = await tlsConnect(h.good);
    const uploadDone = readResponse(upload);
    upload.write(
      `POST /hash/upload HTTP/1.1\r\nHost: ${D}\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`,
    );
    upload.write(payload.subarray(0, payload.length / 2));

    // 3. Waiting for a slow backend (1.5 s), on a new connection. 4. The same on a keep-alive connection.
    const slowStarted = slow.started;
    const waiting = request(h.good, false, '/slow/wait?delay=1500');
    const kaAgent = keepAliveAgent(1);
    const waitingKeepAlive = request(h.good, kaAgent, '/slow/wait-ka?delay=1500');

    // 5. A response half streamed: its head and first chunks are in before SIGTERM.
    const streaming = await tlsConnect(h.good);
    let streamed = Buffer.alloc(0);
    streaming.on('data', (c: Buffer) => (streamed = Buffer.concat([streamed, c])));
    const streamClosed = new Promise<void>((r) => streaming.once('close', () => r()));
    streaming.write(`GET /stream/x HTTP/1.1\r\nHost: ${D}\r\nConnection: close\r\n\r\n`);

    for (let i = 0; i < 200 && (slow.started < slowStarted + 2 || !streamed.includes('\r\n\r\n')); i++) await sleep(10);
    assert.equal(slow.started, slowStarted + 2, 'both slow requests reached the backend before SIGTERM');
    assert.ok(streamed.includes('\r\n\r\n'), 'the streamed response had begun before SIGTERM');

    const mark = h.gw.mark();
    const termAt = Date.now();
    h.gw.signal('SIGTERM');
    await h.gw.waitForLog((l) => l.msg === 'draining and stopping', { from: mark });
    await sleep(100);

    // New connections are refused; the idle keep-alive one was closed.
    const refused = await request(h.good, false, '/after-term', 3000);
    assert.equal(refused.error, 'ECONNREFUSED', JSON.stringify(refused));

    // The rest of the headers and the body arrive after SIGTERM.
    headers.write(`X-Late: yes\r\nConnection: close\r\n\r\n`);
    await sleep(200);
    upload.write(payload.subarray(payload.length / 2));

    const [hd, up, wt, wka] = await Promise.all([headersDone, uploadDone, waiting, waitingKeepAlive]);
    await streamClosed;
    assert.equal(hd.status, 200, 'the request whose headers ended after SIGTERM was served');
    assert.equal((JSON.parse(hd.body.toString()) as { headers: Record<string, string> }).headers['x-late'], 'yes');
    assert.equal(up.status, 200, 'the half-uploaded body was received whole and answered');
    // The hash backend names what it received (and streams it back, chunked).
    assert.match(
      up.head,
      new RegExp(`\\r\\nx-body-sha256: ${createHash('sha256').update(payload).digest('hex')}\\r\\n`),
      'the body reached the backend intact',
    );
    assert.ok(up.closed, 'and the answer ran to its end (Connection: close)');
    assert.deepEqual([wt.status, JSON.parse(wt.body)], [200, { slow: true }], 'the slow request completed');
    assert.deepEqual(
      [wka.status, JSON.parse(wka.body)],
      [200, { slow: true }],
      'the slow request on a keep-alive connection completed',
    );
    const text = streamed.toString('latin1');
    assert.deepEqual(statusLines(text), [200]);
    assert.equal(streamed.length - (text.indexOf('\r\n\r\n') + 4), 20 * 1024, 'the streamed response arrived whole');

    await Promise.race([h.gw.exited, sleep(DRAIN_DEADLINE_MS + 3000)]);
    const took = Date.now() - termAt;
    assert.equal(h.gw.exitCode, 0, `exit 0 (code ${h.gw.exitCode}, signal ${h.gw.exitSignal})\n${h.gw.tail()}`);
    // The slowest needed ~1.4 s more after SIGTERM; keep-alive connections close once answered, not at the deadline.
    assert.ok(took < 5000, `exited ${took} ms after SIGTERM (the drain deadline is ${DRAIN_DEADLINE_MS} ms)`);
    assert.ok(h.gw.logsSince(mark).some((l) => l.msg === 'stopped'));
    assert.equal(h.gw.stderr, '');
    idleAgent.destroy();
    kaAgent.destroy();
  } finally {
    await h.close();
  }
});

test('a request still running at the drain deadline is cut, and the process exits 0 right after', async () => {
  const h = await gateway();
  try {
    const before = slow.started;
    const started = Date.now();
    const stuck = request(h.good, false, '/slow/forever?delay=60000', DRAIN_DEADLINE_MS + 10_000);
    for (let i = 0; i < 200 && slow.started === before; i++) await sleep(10);
    assert.equal(slow.started, before + 1, 'the request reached the backend');
    const termAt = Date.now();
    h.gw.signal('SIGTERM');
    const r = await stuck;
    const cutAfter = Date.now() - termAt;
    assert.equal(r.status, 0, `the request was cut, not answered: ${JSON.stringify(r)}`);
    assert.ok(r.error === 'ECONNRESET' || r.error === 'socket hang up', `cut: ${r.error}`);
    assert.ok(
      cutAfter >= DRAIN_DEADLINE_MS - 200 && cutAfter <= DRAIN_DEADLINE_MS + 2000,
      `cut ${cutAfter} ms after SIGTERM (deadline ${DRAIN_DEADLINE_MS})`,
    );
    await Promise.race([h.gw.exited, sleep(5000)]);
    const exitedAfter = Date.now() - termAt;
    assert.equal(h.gw.exitCode, 0, `exit 0 (code ${h.gw.exitCode}, signal ${h.gw.exitSignal})\n${h.gw.tail()}`);
    assert.ok(exitedAfter <= DRAIN_DEADLINE_MS + 2500, `exited ${exitedAfter} ms after SIGTERM`);
    assert.ok(Date.now() - started < DRAIN_DEADLINE_MS + 8000);
  } finally {
    await h.close();
  }
});
