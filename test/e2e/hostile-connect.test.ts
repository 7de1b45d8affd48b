/**
 * CONNECT on a real `mtlsgate serve`: the gateway answers 405 and Node hands it the socket, without the HTTP server's
 * own listeners and timeouts. Whatever the client does next (send more bytes and reset, send more bytes and go
 * silent), that socket must be closed: each one held is a descriptor and a limits.maxConnections slot, and a client
 * needs no trusted certificate to make one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { describeFds, fdCount, startHostile, waitFor, type Hostile } from '../helpers/hostile.js';
import { request } from '../helpers/http.js';
import { sleep } from '../helpers/lifecycle.js';

const IDLE_MS = 1500;

let h: Hostile;

before(async () => {
  h = await startHostile({ domain: 'connect.hostile.e2e.test', timeouts: { idleMs: IDLE_MS } });
});

after(async () => {
  await h?.close();
});

/**
 * A TLS connection (with the refused client certificate) that sends CONNECT and 100 kB after it; resolves with its TCP
 * socket once the 405 is in.
 */
async function connectAndMore(): Promise<{ raw: net.Socket; tls: tls.TLSSocket }> {
  const raw = net.connect({ host: '127.0.0.1', port: h.gw.port });
  await new Promise((r) => raw.once('connect', r));
  const s = tls.connect({ socket: raw, servername: h.bad.servername, ca: h.bad.ca, cert: h.bad.cert, key: h.bad.key });
  s.on('error', () => undefined);
  await new Promise((r) => s.once('secureConnect', r));
  const answered = new Promise<string>((r) => s.once('data', (c: Buffer) => r(c.toString('latin1'))));
  s.write(`CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n`);
  s.write('x'.repeat(100_000));
  assert.match(await answered, /^HTTP\/1\.1 405 /);
  return { raw, tls: s };
}

test('CONNECT followed by more bytes, then a reset or silence: the gateway closes every such socket (by timeouts.idleMs at the latest) and stays up', async () => {
  await sleep(200);
  const before0 = fdCount(h.gw.pid);
  const silent = [];
  for (let i = 0; i < 5; i++) {
    const c = await connectAndMore();
    c.raw.resetAndDestroy();
    silent.push(await connectAndMore());
  }
  try {
    const left = await waitFor(
      () => fdCount(h.gw.pid),
      (n) => n <= before0,
      IDLE_MS + 3000,
    );
    assert.ok(
      left <= before0,
      `the gateway still holds ${left - before0} more descriptors than before:\n${describeFds(h.gw.pid)}`,
    );
  } finally {
    for (const c of silent) c.raw.destroy();
  }
  assert.equal(h.gw.exitCode, null, h.gw.stderr);
  const ok = await request(h.good, false, '/after');
  assert.equal(ok.status, 200, ok.error ?? ok.body);
});
