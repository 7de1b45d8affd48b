/**
 * Slow clients against a real `mtlsgate serve` with small timeouts (handshake 2 s, headers 1.5 s, request 2.5 s,
 * idle 2 s, backend 2 s): slowloris headers, slow bodies, half-open TLS handshakes, silent and idle connections,
 * all at once, and clients that never read a large response. Each is closed by the timeout that bounds it, no
 * sooner and within it plus Node's one-second checking interval and some slack; the gateway lets go of every such
 * connection and its memory stays bounded; a trickle of well-behaved requests keeps being served; nothing from a
 * refused certificate reaches a backend. (Floods and the connection limit: hostile-flood.test.ts.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import {
  assertOnlyVerified,
  assertTrickle,
  clientConnections,
  collect,
  describeFds,
  getWithoutReading,
  rssKb,
  startBigBackend,
  startHostile,
  startRecordingBackend,
  startTrickle,
  statusLines,
  tcpConnect,
  waitFor,
  type BigBackend,
  type Collected,
  type Hostile,
  type RecordingBackend,
  type Trickle,
} from '../helpers/hostile.js';
import type { Target } from '../helpers/http.js';
import { tlsConnect } from '../helpers/tls.js';

const TIMEOUTS = { handshakeMs: 2000, headersMs: 1500, requestMs: 2500, idleMs: 2000, backendMs: 2000 };
/** Node checks headersMs/requestMs once a second (the gateway sets connectionsCheckingInterval to at most 1 s). */
const CHECK_MS = 1000;
/** Scheduling slack on a loaded two-core machine. */
const SLACK_MS = 2000;

let h: Hostile;
let rec: RecordingBackend;
let big: BigBackend;
let trickle: Trickle;

before(async () => {
  [rec, big] = await Promise.all([startRecordingBackend(), startBigBackend()]);
  h = await startHostile({
    domain: 'slow.hostile.e2e.test',
    timeouts: TIMEOUTS,
    routes: [
      { basePath: 'rec', target: rec.url },
      { basePath: 'big', target: big.url },
    ],
  });
  trickle = startTrickle(h.good, { everyMs: 100 });
});

after(async () => {
  await trickle?.stop();
  await h?.close();
  await Promise.all([rec?.close(), big?.close()]);
});

/** Write `text` one byte every `everyMs` until the socket closes; resolves with what the gateway answered. */
function dribble(
  s: net.Socket,
  text: string,
  everyMs: number,
  timeoutMs: number,
): Promise<Collected & { sentBytes: number }> {
  const started = Date.now();
  let i = 0;
  const timer = setInterval(() => {
    if (!s.writable || i >= text.length) return;
    s.write(text[i++]!);
  }, everyMs);
  return collect(s, timeoutMs, started).then((c) => {
    clearInterval(timer);
    return { ...c, sentBytes: i };
  });
}

/** The gateway holds no client connection but the trickle's (one keep-alive, perhaps one new one in flight). */
async function expectReleased(what: string): Promise<void> {
  const n = await waitFor(
    () => clientConnections(h.gw.pid, h.gw.port),
    (c) => c <= 2,
    3000,
  );
  assert.ok(n <= 2, `${what} released: ${n} client connections left (${describeFds(h.gw.pid)})`);
}

function within(what: string, ms: number, limitMs: number, extraMs = CHECK_MS + SLACK_MS): void {
  assert.ok(ms >= limitMs - 150, `${what}: closed after ${ms} ms, before its limit of ${limitMs} ms`);
  assert.ok(ms <= limitMs + extraMs, `${what}: closed after ${ms} ms, limit ${limitMs} ms (+${extraMs})`);
}

/** A ClientHello cut in half: record header and the first bytes of the handshake message. */
const HALF_HELLO = Buffer.from('160301020001000200030386b1c3a9f0e2d4c6b8a0', 'hex');

test('slowloris, slow bodies, half-open handshakes, silent and idle connections, all at once: each closed by its own timeout', async () => {
  const D = h.w.domain;
  const mark = h.gw.mark();
  const recBefore = rec.allBytes().length;

  // Slow headers, a byte every 500 ms after a valid handshake: 408 at headersMs (verified and refused alike).
  const head = (i: number): string => `GET /slowloris/${i} HTTP/1.1\r\nHost: ${D}\r\nX-Slow: ${'a'.repeat(64)}\r\n\r\n`;
  const slowloris = Promise.all(
    Array.from({ length: 20 }, async (_, i) => dribble(await tlsConnect(i % 2 ? h.bad : h.good), head(i), 500, 8000)),
  );

  // Slow bodies: the head at once, then a byte every 200 ms of 1,000. Verified: 408 at requestMs (its head may have
  // reached the backend, never a whole request). Refused: 403 at once, then cut at requestMs, with no 408 after it.
  const slowBody = (t: Target, i: number): Promise<Collected & { sentBytes: number }> =>
    tlsConnect(t).then((s) => {
      s.write(`POST /rec/slow-body/${i} HTTP/1.1\r\nHost: ${D}\r\nContent-Length: 1000\r\n\r\n`);
      return dribble(s, 'b'.repeat(1000), 200, 8000);
    });
  const slowBodies = Promise.all([0, 1, 2, 3].map((i) => slowBody(i % 2 ? h.bad : h.good, i)));

  // Half-open handshakes: TCP and nothing, or half a ClientHello: dropped at handshakeMs.
  const halfOpen = Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const s = await tcpConnect(h.good.port);
      const started = Date.now();
      if (i % 2) s.write(HALF_HELLO);
      return collect(s, 8000, started);
    }),
  );

  // A finished handshake and no request: 408 at headersMs. One request, then idle: closed at idleMs (+ Node's 1 s).
  const silent = Promise.all(Array.from({ length: 10 }, async () => collect(await tlsConnect(h.good), 8000)));
  const idle = Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const s = await tlsConnect(h.good);
      const answered = new Promise<void>((resolve) => {
        let text = '';
        const on = (c: Buffer): void => {
          text += c.toString('latin1');
          if (/\r\n\r\n[\s\S]*\}\n$/.test(text)) {
            s.off('data', on);
            resolve();
          }
        };
        s.on('data', on);
      });
      s.write(`GET /idle/${i} HTTP/1.1\r\nHost: ${D}\r\n\r\n`);
      await answered;
      return collect(s, 8000);
    }),
  );

  const [sl, sb, ho, si, id] = await Promise.all([slowloris, slowBodies, halfOpen, silent, idle]);

  sl.forEach((r, i) => {
    assert.deepEqual(statusLines(r.text), [408], `slowloris ${i}: ${r.text.slice(0, 100)}`);
    assert.ok(r.closed, `slowloris ${i} closed by the gateway`);
    within(`slowloris ${i}`, r.ms, TIMEOUTS.headersMs);
    assert.ok(r.sentBytes < head(i).length, `slowloris ${i} never finished its head`);
  });
  sb.forEach((r, i) => {
    assert.ok(r.closed, `slow body ${i} closed by the gateway`);
    within(`slow body ${i}`, r.ms, TIMEOUTS.requestMs);
    assert.deepEqual(statusLines(r.text), [i % 2 ? 403 : 408], `slow body ${i}: ${r.text.slice(0, 300)}`);
    assert.ok(r.sentBytes < 1000);
  });
  ho.forEach((r, i) => {
    assert.ok(r.closed, `half-open ${i} closed by the gateway`);
    assert.equal(r.text, '', 'no answer to a handshake that never finished');
    within(`half-open ${i}`, r.ms, TIMEOUTS.handshakeMs, SLACK_MS);
  });
  si.forEach((r, i) => {
    assert.deepEqual(statusLines(r.text), [408], `silent ${i}`);
    within(`silent ${i}`, r.ms, TIMEOUTS.headersMs);
  });
  id.forEach((r, i) => {
    assert.deepEqual(statusLines(r.text), [], `idle ${i}: nothing after the answer`);
    assert.ok(r.closed, `idle ${i} closed by the gateway`);
    // Counted from the answer; Node closes 1 s after the Keep-Alive: timeout it announces.
    within(`idle ${i}`, r.ms, TIMEOUTS.idleMs, 1000 + SLACK_MS);
  });

  const timeouts = h.gw
    .logsSince(mark)
    .filter((l) => l.msg === 'tls handshake failed' && /handshake timeout/i.test(String(l.error)));
  assert.equal(timeouts.length, 40, 'each half-open handshake is logged as timed out');
  assert.deepEqual(
    rec.requests.filter((r) => r.path.startsWith('/slow-body')),
    [],
    'no slow body ever reached the backend whole',
  );
  const recBytes = rec.allBytes().slice(recBefore);
  assert.ok(!/slow-body\/[13] /.test(recBytes), 'nothing of the refused slow bodies reached the backend');
  assert.ok(!h.echo.received.some((r) => r.path.startsWith('/slowloris')));
  await expectReleased("the attackers' connections");
});

test('clients that never read a 64 MiB answer: the gateway holds a bounded amount, and cuts them (and the backend) after backendMs of no progress', async () => {
  const rss0 = rssKb(h.gw.pid);
  const cutBefore = big.stats.cut;
  const started = Date.now();
  const stuck = await Promise.all(Array.from({ length: 4 }, () => getWithoutReading(h.good, '/big/x?mb=64')));
  let peak = rss0;
  const cut = await waitFor(
    () => {
      peak = Math.max(peak, rssKb(h.gw.pid));
      return big.stats.cut - cutBefore;
    },
    (n) => n >= 4,
    TIMEOUTS.backendMs + 6000,
    200,
  );
  const took = Date.now() - started;
  stuck.forEach(({ req }) => req.destroy());
  assert.equal(cut, 4, `each answer was cut at the backend (${took} ms)`);
  assert.ok(
    took <= TIMEOUTS.backendMs + 4000,
    `cut ${took} ms after the requests (backendMs ${TIMEOUTS.backendMs} after the client stalled)`,
  );
  // 4 x 64 MiB if the gateway buffered what it could not deliver; a few socket buffers each if it did not.
  assert.ok(peak - rss0 < 48 * 1024, `RSS grew ${peak - rss0} KiB while 256 MiB were not being read`);
  await expectReleased("the stalled clients' connections");
});

test('the well-behaved trickle was served throughout, and only the verified client reached a backend', async () => {
  assertTrickle(await trickle.stop(), 20, 'slow clients');
  assertOnlyVerified(h);
  for (const r of rec.requests) assert.equal(r.headers['client-cert'], h.goodClientCert);
});
