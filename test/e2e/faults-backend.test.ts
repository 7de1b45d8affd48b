/**
 * Backend faults behind a real `mtlsgate serve`: a backend that resets the connection before answering or in the
 * middle of its body, closes short of its Content-Length, answers bytes that are not HTTP, or half a head. Before
 * the status is out the client gets `502 {"message":"Bad Gateway"}`; after it, the only honest signal left, the
 * connection cut short. 500 such failures leave the gateway's memory and open files flat; the route to a healthy
 * backend keeps answering throughout; nothing from a refused certificate reaches either backend.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertOnlyVerified,
  assertTrickle,
  clientConnections,
  describeFds,
  fdCount,
  rawExchange,
  rssKb,
  startFaultBackend,
  startHostile,
  startTrickle,
  statusLines,
  waitFor,
  type FaultBackend,
  type Hostile,
  type Trickle,
} from '../helpers/hostile.js';
import { keepAliveAgent, request, type Outcome } from '../helpers/http.js';

let h: Hostile;
let fault: FaultBackend;
let trickle: Trickle;

before(async () => {
  fault = await startFaultBackend();
  h = await startHostile({
    domain: 'faults.e2e.test',
    timeouts: { backendMs: 3000 },
    routes: [{ basePath: 'f', target: fault.url }],
  });
  trickle = startTrickle(h.good, { everyMs: 100 });
});

after(async () => {
  await trickle?.stop();
  await h?.close();
  await fault?.close();
});

const BEFORE_HEAD = ['reset-before', 'garbage', 'half-head'] as const;
const MID_BODY = ['reset-mid', 'close-mid'] as const;

test('a fault before the status line is a 502 JSON answer; after it, the connection is cut short; each reached the backend once', async () => {
  for (const kind of BEFORE_HEAD) {
    const mark = h.gw.mark();
    const r = await request(h.good, false, `/f/${kind}/one`);
    assert.equal(r.status, 502, `${kind}: ${JSON.stringify(r)}`);
    assert.deepEqual(JSON.parse(r.body), { message: 'Bad Gateway' });
    const line = await h.gw.waitForRequestLog(r.requestId!, 'request', mark);
    assert.equal(line.status, 502);
    assert.equal(fault.received.filter((p) => p === `/${kind}/one`).length, 1, `${kind}: sent once, not retried`);
  }
  for (const kind of MID_BODY) {
    const mark = h.gw.mark();
    const r = await rawExchange(h.good, `GET /f/${kind}/one HTTP/1.1\r\nHost: ${h.w.domain}\r\n\r\n`, 8000);
    assert.deepEqual(statusLines(r.text), [200], `${kind}: the status was already sent`);
    assert.match(r.text, /\r\ncontent-length: 1048576\r\n/);
    const body = r.text.length - r.text.indexOf('\r\n\r\n') - 4;
    assert.ok(r.closed, `${kind}: the gateway cut the connection`);
    assert.ok(
      body >= 64 * 1024 && body < 1024 * 1024,
      `${kind}: the client got ${body} of 1048576 announced bytes, then the cut`,
    );
    const line = await h.gw.waitForLog((l) => l.msg === 'request' && l.path === `/f/${kind}/one`, { from: mark });
    assert.equal(line.status, 502, `${kind}: logged as a backend failure`);
    assert.equal(fault.received.filter((p) => p === `/${kind}/one`).length, 1);
  }
  // A refused certificate never gets that far.
  const denied = await request(h.bad, false, '/f/garbage/denied');
  assert.equal(denied.status, 403);
  assert.ok(!fault.received.includes('/garbage/denied'));
});

test("500 backend failures: RSS and the gateway's open files stay flat, client connections are all released, the healthy route keeps answering", async () => {
  const agent = keepAliveAgent(8);
  const kinds = [...BEFORE_HEAD, ...MID_BODY];
  const run = async (n: number, tag: string): Promise<Record<string, number>> => {
    let i = 0;
    const tally: Record<string, number> = {};
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (i < n) {
          const k = kinds[i % kinds.length]!;
          const r: Outcome = await request(h.good, agent, `/f/${k}/${tag}-${i++}`);
          const key = `${k}:${r.error ?? r.status}`;
          tally[key] = (tally[key] ?? 0) + 1;
        }
      }),
    );
    return tally;
  };
  try {
    await run(150, 'warm-up');
    const rss0 = rssKb(h.gw.pid);
    const fds0 = fdCount(h.gw.pid);
    const tally = await run(500, 'run');
    for (const [key, n] of Object.entries(tally)) {
      const [kind, outcome] = key.split(':') as [string, string];
      // Before the head: 502. Mid-body: the client sees its response end early (Node reports the reset or 'aborted').
      if ((BEFORE_HEAD as readonly string[]).includes(kind)) assert.equal(outcome, '502', `${kind}: ${n} x ${outcome}`);
      else assert.ok(outcome === 'ECONNRESET' || outcome === 'aborted', `${kind}: ${n} x ${outcome}`);
    }
    assert.equal(
      Object.values(tally).reduce((a, b) => a + b, 0),
      500,
    );
    agent.destroy();
    const conns = await waitFor(
      () => clientConnections(h.gw.pid, h.gw.port),
      (c) => c <= 2,
      5000,
    );
    assert.ok(conns <= 2, `client connections released: ${conns} left (${describeFds(h.gw.pid)})`);
    const fds = await waitFor(
      () => fdCount(h.gw.pid),
      (c) => c <= fds0 + 4,
      5000,
    );
    assert.ok(fds <= fds0 + 4, `open files flat: ${fds0} -> ${fds} (${describeFds(h.gw.pid)})`);
    const grew = rssKb(h.gw.pid) - rss0;
    assert.ok(grew < 40 * 1024, `RSS grew ${grew} KiB over 500 failures (after 150 to warm up)`);
  } finally {
    agent.destroy();
  }
});

test('the healthy route was served throughout, and only the verified client reached a backend', async () => {
  assertTrickle(await trickle.stop(), 10, 'backend faults on another route');
  assertOnlyVerified(h);
});
