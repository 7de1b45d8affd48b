/**
 * Floods against a real `mtlsgate serve`: a burst of new TLS connections (full handshakes with a certificate the
 * truststore refuses), and more idle TCP connections than limits.maxConnections. The flood is bounded by
 * handshakeMs (a handshake that cannot finish in time is cut) and the connection limit (Node accepts the excess at
 * the TCP level and closes it at once, before a TLS byte); the gateway keeps serving a well-behaved client meanwhile,
 * lets go of every flood connection afterwards, and nothing from a refused certificate reaches the backend.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import {
  assertOnlyVerified,
  assertTrickle,
  clientConnections,
  describeFds,
  floodFromChild,
  openFileLimit,
  rssKb,
  startHostile,
  startTrickle,
  tcpConnect,
  waitFor,
  type Hostile,
  type Trickle,
} from '../helpers/hostile.js';
import { request } from '../helpers/http.js';
import { sleep } from '../helpers/lifecycle.js';

// idleMs 3 s: Node's agent drops a keep-alive socket 1 s before the Keep-Alive: timeout the gateway announces, so
// the trickle's connection outlives its 100 ms pauses.
const TIMEOUTS = { handshakeMs: 3000, headersMs: 3000, requestMs: 5000, idleMs: 3000, backendMs: 5000 };
const SLACK_MS = 2000;

// More idle connections than the limit, kept well inside this process's open-file limit (the gateway inherits it).
const FLOOD = Math.max(150, Math.min(1500, openFileLimit() - 400));
const MAX_CONNECTIONS = Math.floor((FLOOD * 2) / 3);
const BURST = 200;

let h: Hostile;
let trickle: Trickle;

before(async () => {
  h = await startHostile({
    domain: 'flood.hostile.e2e.test',
    timeouts: TIMEOUTS,
    limits: { maxConnections: MAX_CONNECTIONS },
  });
  trickle = startTrickle(h.good, { everyMs: 100 });
});

after(async () => {
  await trickle?.stop();
  await h?.close();
});

async function expectReleased(what: string, atMost = 2): Promise<void> {
  const n = await waitFor(
    () => clientConnections(h.gw.pid, h.gw.port),
    (c) => c <= atMost,
    5000,
  );
  assert.ok(n <= atMost, `${what} released: ${n} client connections left (${describeFds(h.gw.pid)})`);
}

test(`a handshake flood: ${BURST} new connections at once with a refused certificate, each a 403 (or cut at handshakeMs), none forwarded`, async () => {
  const rss0 = rssKb(h.gw.pid);
  const { tally, ms } = await floodFromChild(h.bad, BURST, '/flood');
  // Each gets its 403, or, when the burst's handshakes on two shared cores take longer than handshakeMs, is cut.
  const denied = tally['403'] ?? 0;
  const cut = (tally['ECONNRESET'] ?? 0) + (tally['EPIPE'] ?? 0);
  assert.equal(
    denied + cut,
    BURST,
    `every flood connection got a 403 or was cut (in ${ms} ms): ${JSON.stringify(tally)}`,
  );
  assert.ok(denied >= BURST / 2, `most were served their 403 within handshakeMs: ${JSON.stringify(tally)}`);
  assert.ok(!h.echo.received.some((r) => r.path.startsWith('/flood')), 'none reached the backend');
  await expectReleased('the flood connections');
  const grew = rssKb(h.gw.pid) - rss0;
  assert.ok(grew < 64 * 1024, `RSS grew ${grew} KiB over ${BURST} handshakes`);
});

test(`${FLOOD} idle connections against limits.maxConnections ${MAX_CONNECTIONS}: never more held than the limit, the excess closed at once, keep-alive clients still served, all gone after handshakeMs`, async () => {
  // New connections are refused while the limit is reached, the trickle's included: from here on it uses only its
  // keep-alive connection. Node counts every accepted TCP connection (TLS or not, handshake done or not) toward
  // the limit; over it, the kernel has accepted the connection and Node closes it at once, before a TLS byte (the
  // client sees EOF or a reset; the server emits 'drop').
  assertTrickle(await trickle.stop(), 3, 'the handshake flood');
  const keepAlive = startTrickle(h.good, { everyMs: 100, fresh: false });
  await sleep(300);
  const t0 = Date.now();
  const fates: { openedAt: number; closedAt: number | null; bytes: number }[] = [];
  const sockets: net.Socket[] = [];
  let whileFull: Awaited<ReturnType<typeof request>> | null = null;
  try {
    for (let i = 0; i < FLOOD; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, FLOOD - i) }, async () => {
          const s = await tcpConnect(h.good.port);
          const fate = { openedAt: Date.now() - t0, closedAt: null as number | null, bytes: 0 };
          fates.push(fate);
          sockets.push(s);
          s.on('data', (c: Buffer) => (fate.bytes += c.length));
          s.on('error', () => undefined);
          s.on('close', () => (fate.closedAt = Date.now() - t0));
        }),
      );
    }
    const openedIn = Date.now() - t0;
    await sleep(300);
    const heldNow = fates.filter((f) => f.closedAt === null).length;
    // A new connection while the limit is reached (the trickle's keep-alive one is the last slot).
    if (heldNow >= MAX_CONNECTIONS - 1) whileFull = await request(h.good, false, '/while-full', 5000);

    const allClosed = await waitFor(
      () => fates.filter((f) => f.closedAt === null).length,
      (n) => n === 0,
      TIMEOUTS.handshakeMs + SLACK_MS + 1000,
    );
    assert.equal(allClosed, 0, 'every idle connection was closed by the gateway');
    assert.ok(
      fates.every((f) => f.bytes === 0),
      'no idle or refused TCP connection got a byte',
    );

    const refusedAtOnce = fates.filter((f) => f.closedAt! - f.openedAt < 500);
    const held = fates.filter((f) => f.closedAt! - f.openedAt >= 500);
    // Never more held at once than the limit allows (the trickle's connection is one of them).
    const events = held.flatMap((f) => [
      [f.openedAt, 1],
      [f.closedAt!, -1],
    ]);
    events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
    let open = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (open += d!));
    assert.ok(
      peak <= MAX_CONNECTIONS - 1,
      `at most ${MAX_CONNECTIONS - 1} idle connections held at once (saw ${peak})`,
    );
    assert.ok(
      refusedAtOnce.length >= FLOOD - MAX_CONNECTIONS,
      `the excess was closed at once: ${refusedAtOnce.length} of ${FLOOD}`,
    );
    const dropped = /^mtlsgate_connections_dropped_total (\d+)$/m.exec((await h.gw.admin('/metrics')).body);
    assert.ok(dropped && Number(dropped[1]) >= FLOOD - MAX_CONNECTIONS, `the refusals are counted: ${dropped?.[1]}`);
    if (openedIn < TIMEOUTS.handshakeMs / 2) {
      // All opened well within handshakeMs: exactly the excess was refused (give or take a connection in transit).
      assert.ok(
        Math.abs(refusedAtOnce.length - (FLOOD - (MAX_CONNECTIONS - 1))) <= 5,
        `${refusedAtOnce.length} refused at once, expected ${FLOOD - (MAX_CONNECTIONS - 1)}`,
      );
    }
    // The held ones were closed by handshakeMs, counted from each one's opening.
    const late = held
      .map((f) => f.closedAt! - f.openedAt)
      .filter((ms) => ms < TIMEOUTS.handshakeMs - 150 || ms > TIMEOUTS.handshakeMs + SLACK_MS);
    assert.deepEqual(late, [], 'each held connection was closed at handshakeMs');
    if (whileFull)
      assert.equal(whileFull.status, 0, `a new connection while full is refused too: ${JSON.stringify(whileFull)}`);
    await expectReleased('the idle connections');
    assert.equal((await request(h.good, false, '/after-flood')).status, 200, 'new connections are served again');
  } finally {
    sockets.forEach((s) => s.destroy());
    assertTrickle(await keepAlive.stop(), 5, 'the keep-alive client during the idle flood');
  }
});

test('only the verified client reached the backend', () => {
  assertOnlyVerified(h);
});
