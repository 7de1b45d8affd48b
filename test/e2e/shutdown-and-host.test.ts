/**
 * Issue 6, against a real `mtlsgate serve`: a request with more than one Host header is refused (400, logged, never
 * forwarded); `timeouts.shutdownMs` sets the drain deadline of SIGTERM; and connections that never sent a request
 * (an idle TLS connection, a TCP connection that never sent a byte, a handshake that stalled after its ClientHello)
 * do not hold the process up until that deadline, while a request in flight and one whose headers are still
 * arriving at SIGTERM are both served.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { startEcho, startSlowBackend, type Backend, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { collect, rawExchange, statusLines, tcpConnect } from '../helpers/hostile.js';
import { request, type Target } from '../helpers/http.js';
import { makeWorld, sleep, type World } from '../helpers/lifecycle.js';
import { tlsConnect } from '../helpers/tls.js';

let w: World;
let echo: EchoBackend;
let slow: Backend & { started: number };

before(async () => {
  [w, echo, slow] = await Promise.all([makeWorld('shutdown-host.e2e.test'), startEcho(), startSlowBackend(60_000)]);
});

after(async () => {
  await Promise.all([echo?.close(), slow?.close()]);
});

async function gateway(timeouts: Record<string, number> = {}): Promise<{ gw: GatewayProcess; good: Target }> {
  const gw = await startGateway({
    config: {
      timeouts,
      domains: [
        domainConfig(w.domain, w.server, w.truststore, [
          { basePath: 'slow', target: slow.url },
          { basePath: '', target: echo.url },
        ]),
      ],
    },
  });
  return {
    gw,
    good: { port: gw.port, servername: w.domain, ca: w.server.caPem, cert: w.client.certPem, key: w.client.keyPem },
  };
}

/** Wait for the process to exit (at most `limitMs`); ms from `from` to the exit. */
async function exitTime(gw: GatewayProcess, from: number, limitMs: number): Promise<number> {
  await Promise.race([gw.exited, sleep(limitMs)]);
  return Date.now() - from;
}

test('a request with two Host headers (same or different values, any case) gets 400, is logged, and never reaches the backend', async () => {
  const { gw, good } = await gateway();
  const D = w.domain;
  try {
    // Control: the same request with one Host is forwarded.
    const one = await rawExchange(good, `GET /one-host HTTP/1.1\r\nHost: ${D}\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statusLines(one.text), [200], one.text.slice(0, 300));
    assert.ok(echo.received.some((r) => r.path === '/one-host'));

    const cases: [string, string][] = [
      ['same value', `Host: ${D}\r\nHost: ${D}`],
      ['different values', `Host: ${D}\r\nHost: evil.example`],
      ['different case', `Host: ${D}\r\nhOsT: ${D}`],
      ['not adjacent', `host: ${D}\r\nX-A: 1\r\nHOST: other.example\r\nX-B: 2`],
    ];
    for (const [name, hosts] of cases) {
      const path = `/two-hosts/${name.replace(/ /g, '-')}`;
      const mark = gw.mark();
      const r = await rawExchange(good, `GET ${path} HTTP/1.1\r\n${hosts}\r\nConnection: close\r\n\r\n`);
      assert.deepEqual(statusLines(r.text), [400], `${name}: ${JSON.stringify(r.text.slice(0, 300))}`);
      assert.equal(r.text.slice(r.text.indexOf('\r\n\r\n') + 4), '{"message":"Bad Request"}', name);
      const requestId = /\r\nx-request-id: ([0-9a-f-]+)\r\n/i.exec(r.text)?.[1];
      assert.ok(requestId, `${name}: the answer carries x-request-id`);
      const refused = await gw.waitForRequestLog(requestId, 'request refused', mark);
      assert.equal(refused.domain, D, name);
      assert.equal(refused.reason, 'more than one Host header', name);
      assert.equal((await gw.waitForRequestLog(requestId, 'request', mark)).status, 400, name);
      assert.ok(!echo.received.some((x) => x.path === path), `${name}: the request reached the backend`);
    }
  } finally {
    await gw.stop(3000);
  }
});

test('timeouts.shutdownMs: a request still in flight is cut at that deadline and the process exits 0', async () => {
  const { gw, good } = await gateway({ shutdownMs: 1500 });
  try {
    const before = slow.started;
    const stuck = request(good, false, '/slow/in-flight?delay=60000', 20_000);
    for (let i = 0; i < 300 && slow.started === before; i++) await sleep(10);
    assert.equal(slow.started, before + 1, 'the request reached the backend');
    const termAt = Date.now();
    gw.signal('SIGTERM');
    const r = await stuck;
    const cutAfter = Date.now() - termAt;
    const took = await exitTime(gw, termAt, 15_000);
    assert.equal(gw.exitCode, 0, `exit 0 (code ${gw.exitCode}, signal ${gw.exitSignal})\n${gw.tail()}`);
    assert.equal(r.status, 0, `the in-flight request was cut, not answered: ${JSON.stringify(r)}`);
    assert.ok(r.error === 'ECONNRESET' || r.error === 'socket hang up', `its connection was closed: ${r.error}`);
    // Hang guards around the 1.5 s deadline (the default is 10 s): it waited for the request, then did not wait long.
    assert.ok(cutAfter >= 1200, `the request was cut ${cutAfter} ms after SIGTERM, before the 1500 ms deadline`);
    assert.ok(took >= 1200, `exited ${took} ms after SIGTERM, with a request in flight and a 1500 ms deadline`);
    assert.ok(took < 6000, `exited ${took} ms after SIGTERM (timeouts.shutdownMs 1500)`);
    assert.equal(gw.stderr, '');
  } finally {
    await gw.stop(3000);
  }
});

/** A TLS client whose handshake stalls after its ClientHello: the server's answer never reaches it. */
async function stalledHandshake(t: Target): Promise<Socket> {
  const raw = await tcpConnect(t.port);
  const pipe = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      raw.write(chunk, cb);
    },
  });
  const client = tls.connect({ socket: pipe, servername: t.servername, ca: t.ca, cert: t.cert, key: t.key });
  client.on('error', () => undefined);
  raw.once('close', () => client.destroy());
  // Wait until the ClientHello has gone out.
  for (let i = 0; i < 100 && raw.bytesWritten === 0; i++) await sleep(10);
  assert.ok(raw.bytesWritten > 0, 'the ClientHello was sent');
  return raw;
}

test('connections that never sent a request do not hold up shutdown; a request in flight and one still arriving are served', async () => {
  const { gw, good } = await gateway({ shutdownMs: 8000 });
  const D = w.domain;
  try {
    const idleTls = await tlsConnect(good);
    const silentTcp = await tcpConnect(good.port);
    const stalled = await stalledHandshake(good);
    const closed = [idleTls, silentTcp, stalled].map((s) => collect(s, 15_000));

    // A request waiting for the backend (1 s), and one whose headers are half sent at SIGTERM.
    const before = slow.started;
    const waiting = request(good, false, '/slow/drain?delay=1000', 15_000);
    const partial = await tlsConnect(good);
    const partialDone = collect(partial, 15_000);
    partial.write(`GET /partial HTTP/1.1\r\nHost: ${D}\r\n`);
    for (let i = 0; i < 300 && slow.started === before; i++) await sleep(10);
    assert.equal(slow.started, before + 1, 'the slow request reached the backend before SIGTERM');
    await sleep(100);

    const termAt = Date.now();
    gw.signal('SIGTERM');
    await sleep(300);
    partial.write(`X-Late: yes\r\nConnection: close\r\n\r\n`);

    const [wt, pd] = await Promise.all([waiting, partialDone]);
    assert.equal(wt.status, 200, `the request in flight was answered: ${JSON.stringify(wt)}`);
    assert.deepEqual(
      statusLines(pd.text),
      [200],
      `the request whose headers ended after SIGTERM was served: ${JSON.stringify(pd.text.slice(0, 300))}`,
    );
    assert.ok(echo.received.some((r) => r.path === '/partial' && r.headers['x-late'] === 'yes'));

    const took = await exitTime(gw, termAt, 15_000);
    assert.equal(gw.exitCode, 0, `exit 0 (code ${gw.exitCode}, signal ${gw.exitSignal})\n${gw.tail()}`);
    // The slow request needs ~0.9 s after SIGTERM; the idle connections must not wait for the 8 s deadline (nor,
    // for those still in their handshake, for timeouts.handshakeMs).
    assert.ok(took < 4000, `exited ${took} ms after SIGTERM (timeouts.shutdownMs 8000)`);
    const ends = await Promise.all(closed);
    ends.forEach((c, i) =>
      assert.ok(c.closed, `connection ${['idle TLS', 'silent TCP', 'stalled handshake'][i]} was closed by the gateway`),
    );
    assert.equal(gw.stderr, '');
  } finally {
    await gw.stop(3000);
  }
});
