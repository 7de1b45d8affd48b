/**
 * limits.maxConnectionsPerAddress on a real `mtlsgate serve`: one client address that opens connections and sends
 * nothing holds at most the limit; its further connections are closed at once (before a TLS byte), counted in
 * /metrics and not logged one by one; another address is served meanwhile, and the address gets its share back as
 * its connections close.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHostile, waitFor, type Hostile } from '../helpers/hostile.js';
import { request, type Outcome } from '../helpers/http.js';

const LIMIT = 5;
const EXTRA = 4;

let h: Hostile;

before(async () => {
  h = await startHostile({
    domain: 'per-address.hostile.e2e.test',
    timeouts: { handshakeMs: 20_000, headersMs: 20_000 },
    limits: { maxConnectionsPerAddress: LIMIT },
  });
});

after(async () => {
  await h?.close();
});

/** A TCP connection from `from` (a 127.0.0.0/8 address) that sends nothing; `closed` says when the server ended it. */
function silentConnection(from: string): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: h.gw.port, localAddress: from }, () => {
      socket.off('error', reject);
      const t0 = Date.now();
      const closed = new Promise<number>((res) => socket.once('close', () => res(Date.now() - t0)));
      socket.on('error', () => undefined); // a reset is a close too
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

/** Settles to the ms until close, or null when still open after `ms`. */
const closedWithin = (p: Promise<number>, ms: number): Promise<number | null> =>
  Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), ms))]);

function droppedPerAddress(metrics: string): number {
  const m = /^mtlsgate_connections_dropped_per_address_total (\d+)$/m.exec(metrics);
  assert.ok(m, `no per-address counter in /metrics:\n${metrics}`);
  return Number(m[1]);
}

test(`one address holds at most ${LIMIT} connections; the excess is closed at once, counted, not logged; another address is served`, async () => {
  const mark = h.gw.mark();
  const before0 = droppedPerAddress((await h.gw.admin('/metrics')).body);
  const held = [];
  for (let i = 0; i < LIMIT; i++) held.push(await silentConnection('127.0.0.2'));
  const extra = [];
  for (let i = 0; i < EXTRA; i++) extra.push(await silentConnection('127.0.0.2'));
  try {
    for (const [i, c] of extra.entries())
      assert.notEqual(await closedWithin(c.closed, 2000), null, `extra connection ${i} was not closed`);
    for (const [i, c] of held.entries())
      assert.equal(await closedWithin(c.closed, 200), null, `connection ${i} within the limit was closed`);
    // A TLS client from that address is refused too while the limit is held...
    const refused = await requestFrom('127.0.0.2');
    assert.equal(refused.status, 0, `expected no answer from a full address, got ${refused.status}`);
    // ...and one from another address is served.
    const other = await requestFrom('127.0.0.3');
    assert.equal(other.status, 200, other.error ?? other.body);
    assert.equal(droppedPerAddress((await h.gw.admin('/metrics')).body), before0 + EXTRA + 1);
    // The gate sits in front of Node's TLS listener (else a warning at start-up says refusals will be logged).
    assert.ok(
      !h.gw.logsSince(0).some((l) => l.msg.includes('maxConnectionsPerAddress')),
      'the connection gate could not be installed',
    );
    const lines = h.gw.logsSince(mark);
    assert.ok(
      !lines.some((l) => /handshake failed|connection closed/.test(l.msg)),
      `refusals were logged: ${JSON.stringify(lines.map((l) => l.msg))}`,
    );
  } finally {
    for (const c of [...held, ...extra]) c.socket.destroy();
  }
  // Once they are closed, the address is served again.
  const back = await waitFor(
    () => requestFrom('127.0.0.2'),
    (o) => o.status === 200,
    5000,
  );
  assert.equal(back.status, 200, back.error ?? back.body);
});

/** One request with the good client certificate, its TCP connection bound to `from`. */
function requestFrom(from: string): Promise<Outcome> {
  return request(h.good, false, '/', 5000, { localAddress: from });
}
