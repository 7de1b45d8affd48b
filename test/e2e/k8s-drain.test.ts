/**
 * The graceful drain a Kubernetes rollout needs, on a real `mtlsgate serve` (one process, then --workers 2), timed by
 * the gateway's own log lines, not by sleeps: after SIGTERM /readyz answers 503 at once; the listener still accepts
 * during `shutdown.drainDelayMs` and serves new connections; every answer from then on (on a keep-alive connection
 * too, and one already waiting for a slow backend) says `Connection: close`; after the delay new connections are
 * refused, an idle keep-alive connection is closed, the request in flight completes, and the process exits 0 once
 * it has.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSlowBackend, type Backend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { keepAliveAgent, nodeRequest, request, type NodeResponse, type Target } from '../helpers/http.js';
import { makeWorld, sleep, type World } from '../helpers/lifecycle.js';
import { tlsConnect } from '../helpers/tls.js';

/** Long enough that a loaded two-core machine still fits a new connection and a request into it. */
const DRAIN_DELAY_MS = 3000;

let w: World;
let slow: Backend & { started: number };

before(async () => {
  [w, slow] = await Promise.all([makeWorld('drain.e2e.test'), startSlowBackend(60_000)]);
});

after(async () => {
  await slow?.close();
});

async function gateway(args: string[]): Promise<{ gw: GatewayProcess; good: Target }> {
  const gw = await startGateway({
    config: {
      shutdown: { drainDelayMs: DRAIN_DELAY_MS },
      domains: [domainConfig(w.domain, w.server, w.truststore, [{ basePath: '', target: slow.url }])],
    },
    args,
  });
  return {
    gw,
    good: { port: gw.port, servername: w.domain, ca: w.server.caPem, cert: w.client.certPem, key: w.client.keyPem },
  };
}

const get = (good: Target, agent: ReturnType<typeof keepAliveAgent> | false, delayMs: number): Promise<NodeResponse> =>
  nodeRequest({ ...good, agent, host: w.domain, path: `/?delay=${delayMs}`, ciphers: null, timeoutMs: 30_000 });

async function drainScenario(args: string[], listeners: number): Promise<void> {
  const { gw, good } = await gateway(args);
  const idleAgent = keepAliveAgent(1);
  const slowAgent = keepAliveAgent(1);
  try {
    const warm = await get(good, idleAgent, 1);
    assert.equal(warm.headers.connection, 'keep-alive', 'before SIGTERM answers keep the connection');
    // A keep-alive connection that stays idle through the drain: closed by the gateway once the listener stops.
    const idle = await tlsConnect({ ...good, servername: w.domain });
    const idleAnswered = new Promise<void>((r) => idle.once('data', () => r()));
    const idleClosed = new Promise<number>((r) => idle.once('close', () => r(Date.now())));
    idle.on('error', () => undefined);
    idle.write(`GET /?delay=1 HTTP/1.1\r\nHost: ${w.domain}\r\n\r\n`);
    await idleAnswered;

    // In flight at SIGTERM, on a keep-alive connection, still waiting for its backend when the listener stops.
    const started = slow.started;
    const inFlight = get(good, slowAgent, DRAIN_DELAY_MS + 2000);
    for (let i = 0; i < 500 && slow.started === started; i++) await sleep(10);
    assert.equal(slow.started, started + 1, 'the slow request reached the backend before SIGTERM');

    const mark = gw.mark();
    gw.signal('SIGTERM');
    await gw.waitForLog((l) => l.msg === 'draining and stopping', { from: mark });
    const stoppedAccepting = (): LogLine[] =>
      gw.logsSince(mark).filter((l) => l.msg === 'stopped accepting connections');

    const ready = await gw.admin('/readyz');
    assert.deepEqual([ready.status, JSON.parse(ready.body)], [503, { ready: false, draining: true }]);

    // During the delay: a new connection is served, and the keep-alive one's next answer closes it.
    const fresh = await get(good, false, 1);
    const again = await get(good, idleAgent, 1);
    assert.deepEqual(stoppedAccepting(), [], 'still within the drain delay (else this run proves nothing)');
    assert.equal(fresh.status, 200, 'a new connection during the delay is served');
    assert.equal(fresh.headers.connection, 'close');
    assert.equal(again.status, 200);
    assert.equal(again.socketId, warm.socketId, 'on the keep-alive connection opened before SIGTERM');
    assert.equal(again.headers.connection, 'close', 'which is told to close');

    // The delay ends: each listener stops accepting, no sooner than drainDelayMs after SIGTERM.
    const draining = gw.logsSince(mark).find((l) => l.msg === 'draining and stopping')!;
    assert.equal(draining.drainDelayMs, DRAIN_DELAY_MS);
    await gw.waitForLog(() => stoppedAccepting().length === listeners, { from: mark, timeoutMs: DRAIN_DELAY_MS * 3 });
    for (const l of stoppedAccepting())
      assert.ok(
        Date.parse(l.time) - Date.parse(draining.time) >= DRAIN_DELAY_MS - 50,
        `stopped accepting ${Date.parse(l.time) - Date.parse(draining.time)} ms after SIGTERM`,
      );
    const stoppedAt = Math.min(...stoppedAccepting().map((l) => Date.parse(l.time)));
    const closedAt = await Promise.race([idleClosed, sleep(10_000).then(() => NaN)]);
    assert.ok(!Number.isNaN(closedAt), 'the idle keep-alive connection was closed once the listener stopped');
    assert.ok(closedAt >= stoppedAt - 50, 'and not before');
    const refused = await request(good, false, '/', 3000);
    assert.equal(refused.error, 'ECONNREFUSED', JSON.stringify(refused));
    assert.equal(gw.exitCode, null, 'still running: a request is in flight');

    const r = await inFlight;
    assert.deepEqual([r.status, JSON.parse(r.text)], [200, { slow: true }], 'the request in flight completed');
    assert.equal(r.headers.connection, 'close');
    const answeredAt = Date.now();
    await Promise.race([gw.exited, sleep(10_000)]);
    assert.equal(gw.exitCode, 0, `exit 0 (code ${gw.exitCode}, signal ${gw.exitSignal})\n${gw.tail()}`);
    assert.ok(Date.now() - answeredAt < 5000, 'and the process exited soon after it');
    assert.ok(gw.logsSince(mark).some((l) => l.msg === 'stopped'));
    assert.equal(gw.stderr, '');
  } finally {
    idleAgent.destroy();
    slowAgent.destroy();
    await gw.stop();
  }
}

test('SIGTERM: readyz 503 at once, served during the delay with Connection: close, then refused; in flight completes', async () => {
  await drainScenario([], 1);
});

test('the same drain with --workers 2: the primary fails readiness, each worker drains, exit 0', async () => {
  await drainScenario(['--workers', '2'], 2);
});
