/**
 * `serve --workers 2`: two worker threads on one listener, the admin endpoints answered for all of them by the
 * main thread (reload reaches every worker, counters add up), and SIGTERM stops them all with exit 0.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { parseMetrics, samples, value } from '../helpers/metrics.js';
import {
  serverIdentity,
  tmpDir,
  writeClient,
  writeTruststore,
  type ClientFiles,
  type ServerIdentity,
} from '../helpers/pki.js';

const DOMAIN = 'workers.e2e.test';
let gw: GatewayProcess;
let echo: EchoBackend;
let server: ServerIdentity;
let client: ClientFiles;
let root: Issued;
let truststore = '';
const ROOT_NOT_AFTER = new Date('2033-05-06T07:08:09Z');
let startedAt = 0;

before(async () => {
  const dir = tmpDir();
  server = await serverIdentity(dir, [DOMAIN]);
  root = await issue({ subject: 'CN=Workers Root', profile: 'root-ca', notAfter: ROOT_NOT_AFTER });
  client = writeClient(dir, 'client', await issue({ subject: 'CN=worker client', profile: 'client', issuer: root }));
  truststore = writeTruststore(dir, 'truststore', [root]);
  echo = await startEcho();
  startedAt = Date.now() / 1000;
  gw = await startGateway({
    config: { domains: [domainConfig(DOMAIN, server, truststore, [{ basePath: '', target: echo.url }])] },
    dir,
    args: ['--workers', '2'],
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

const get = (): Promise<{ status: number; text: string }> =>
  nodeRequest({
    port: gw.port,
    servername: DOMAIN,
    ca: server.caPem,
    cert: client.certPem,
    key: client.keyPem,
    path: '/w',
    agent: false,
  });

/** The worker threads that said they listen. */
const listening = (): Set<unknown> => new Set(gw.logs.filter((l) => l.msg === 'listening').map((l) => l.worker));

test('two workers serve the listener; the main thread merges their counters', async () => {
  assert.equal(listening().size, 2, 'two worker threads listening');
  assert.ok(!listening().has(undefined), 'each line names its thread');
  const n = 20;
  for (let i = 0; i < n; i++) assert.equal((await get()).status, 200);
  const metrics = (await gw.admin('/metrics')).body;
  const m = new RegExp(
    `^mtlsgate_requests_total\\{domain="${DOMAIN.replace(/\./g, '\\.')}",status="200"\\} (\\d+)$`,
    'm',
  ).exec(metrics);
  assert.ok(m, metrics);
  assert.equal(Number(m[1]), n, 'the sum over both workers counts every request once');
  assert.match(metrics, /^mtlsgate_ready 1$/m);
  // The new families merge the same way: counters and the histogram add up over the workers...
  const f = parseMetrics(metrics);
  const d = { domain: DOMAIN };
  assert.equal(value(f, 'mtlsgate_route_requests_total', { ...d, route: '/', status_class: '2xx' }), n);
  assert.equal(value(f, 'mtlsgate_request_duration_seconds_count', { ...d, route: '/' }), n);
  assert.equal(samples(f, 'mtlsgate_request_duration_seconds_bucket', { ...d, route: '/', le: '+Inf' })[0]?.value, n);
  assert.equal(value(f, 'mtlsgate_tls_handshakes_total', { ...d, result: 'ok', resumed: 'false' }), n);
  // ...gauges read from the state are the domain's once, not one per worker nor their sum...
  const notAfter = samples(f, 'mtlsgate_truststore_cert_not_after_timestamp_seconds', d);
  assert.deepEqual(
    notAfter.map((s) => [s.labels.subject, s.value]),
    [['CN=Workers Root', ROOT_NOT_AFTER.getTime() / 1000]],
  );
  assert.equal(
    value(f, 'mtlsgate_truststore_earliest_not_after_timestamp_seconds', d),
    ROOT_NOT_AFTER.getTime() / 1000,
  );
  assert.equal(value(f, 'mtlsgate_truststore_certificates', d), 1);
  assert.equal(samples(f, 'mtlsgate_server_cert_not_after_timestamp_seconds', d).length, 1);
  const loaded = value(f, 'mtlsgate_truststore_loaded_timestamp_seconds', d);
  assert.ok(loaded >= startedAt && loaded <= Date.now() / 1000, `loaded at ${loaded}`);
  // ...and the last reload success is a time (the latest worker's), not a sum of two.
  const success = value(f, 'mtlsgate_last_reload_success_timestamp_seconds');
  assert.ok(success >= startedAt && success <= Date.now() / 1000, `last success ${success}`);
  const ready = JSON.parse((await gw.admin('/readyz')).body) as { ready: boolean; workers: number };
  assert.deepEqual([ready.ready, ready.workers], [true, 2]);
});

test('POST /reload reaches every worker: a truststore change applies on all of them', async () => {
  const other = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
  writeFileSync(truststore, other.certPem);
  const t0 = Date.now() / 1000;
  const r = await gw.admin('/reload', 'POST');
  assert.equal(r.status, 200, r.body);
  assert.equal((JSON.parse(r.body) as { workers: number }).workers, 2);
  const f = parseMetrics((await gw.admin('/metrics')).body);
  assert.equal(value(f, 'mtlsgate_reloads_total', { result: 'ok' }), 2, 'one reload on each worker, added up');
  assert.ok(value(f, 'mtlsgate_last_reload_success_timestamp_seconds') >= t0);
  // Both workers now hold the other CA: its notAfter, once.
  assert.deepEqual(
    samples(f, 'mtlsgate_truststore_cert_not_after_timestamp_seconds', { domain: DOMAIN }).map((s) => s.labels.subject),
    ['CN=Other Root'],
  );
  // New connections land on either worker; every one must see the new truststore.
  for (let i = 0; i < 12; i++) {
    const res = await get();
    assert.equal(res.status, 403, res.text);
    assert.match(res.text, /Could not find issuer for certificate/);
  }
  writeFileSync(truststore, root.certPem);
  const from = gw.mark();
  gw.signal('SIGHUP');
  // SIGHUP is forwarded by the main thread; wait until both workers logged the reload.
  let loaded = 0;
  await gw.waitForLog((l) => l.msg === 'truststore loaded' && ++loaded === 2, { from });
  for (let i = 0; i < 12; i++) assert.equal((await get()).status, 200);
});

test('SIGTERM stops every worker, then the process, exit 0', async () => {
  const from = gw.mark();
  gw.signal('SIGTERM');
  await gw.exited;
  assert.equal(gw.exitCode, 0, gw.stderr);
  const stopped = gw.logsSince(from).filter((l) => l.msg === 'stopped accepting connections');
  assert.deepEqual(new Set(stopped.map((l) => l.worker)), listening(), 'each thread drained');
  assert.equal(gw.logs.at(-1)?.msg, 'stopped');
});
