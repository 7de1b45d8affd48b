/**
 * /metrics of a real `mtlsgate serve` (issue 17, item 1), parsed strictly: certificate expiry gauges against
 * certificates made with known notAfter dates (exact timestamps), verification failures by reason from real curl
 * clients, handshakes by result and resumption, requests by route and status class with their duration histogram,
 * backend errors by kind, and reloads. promtool lints the real exposition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { closedPort, startEcho, startSlowBackend, type Backend, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { parseMetrics, samples, value, type Family } from '../helpers/metrics.js';
import { tmpDir, writeClient, writeTruststore, type ClientFiles, type ServerIdentity } from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';
import { tlsConnect } from '../helpers/tls.js';

const DOMAIN = 'metrics.e2e.test';
const OTHER = 'other.metrics.e2e.test';
const DAY = 86_400_000;
// Whole seconds: certificates carry no more.
const ROOT_A_NOT_AFTER = new Date('2035-01-02T03:04:05Z');
const ROOT_B_NOT_AFTER = new Date('2029-06-07T08:09:10Z');
const SERVER_NOT_AFTER = new Date('2031-03-04T05:06:07Z');

let gw: GatewayProcess;
let echo: EchoBackend;
let slow: Backend;
let dir: string;
let server: ServerIdentity;
let rootA: Issued;
let rootB: Issued;
let good: ClientFiles;
let started: { before: number; after: number };
const clients: Record<'expired' | 'stranger' | 'selfSigned', ClientFiles> = {} as never;

before(async () => {
  dir = tmpDir();
  const serverCa = await issue({ subject: 'CN=Metrics Server CA', profile: 'root-ca' });
  const leaf = await issue({
    subject: `CN=${DOMAIN}`,
    profile: 'server',
    issuer: serverCa,
    sans: [`DNS:${DOMAIN}`, `DNS:${OTHER}`],
    notAfter: SERVER_NOT_AFTER,
  });
  writeFileSync(join(dir, 'server.crt'), leaf.certPem + serverCa.certPem);
  writeFileSync(join(dir, 'server.key'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'server-ca.pem'), serverCa.certPem);
  server = {
    ca: serverCa,
    caPem: serverCa.certPem,
    caFile: join(dir, 'server-ca.pem'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
  };
  rootA = await issue({
    subject: 'CN=Metrics Root A,O=mtlsgate e2e',
    profile: 'root-ca',
    serial: '1001',
    notAfter: ROOT_A_NOT_AFTER,
  });
  rootB = await issue({ subject: 'CN=Metrics Root B', profile: 'root-ca', serial: '2002', notAfter: ROOT_B_NOT_AFTER });
  const stranger = await issue({ subject: 'CN=Stranger CA', profile: 'root-ca' });
  good = writeClient(dir, 'good', await issue({ subject: 'CN=good client', profile: 'client', issuer: rootA }));
  const now = Date.now();
  clients.expired = writeClient(
    dir,
    'expired',
    await issue({
      subject: 'CN=expired client',
      profile: 'client',
      issuer: rootA,
      notBefore: new Date(now - 2 * DAY),
      notAfter: new Date(now - DAY),
    }),
  );
  clients.stranger = writeClient(
    dir,
    'stranger',
    await issue({ subject: 'CN=stranger client', profile: 'client', issuer: stranger }),
  );
  clients.selfSigned = writeClient(dir, 'self', await issue({ subject: 'CN=self-signed client', profile: 'client' }));
  const truststore = writeTruststore(dir, 'truststore', [rootA, rootB]);
  echo = await startEcho();
  slow = await startSlowBackend(5_000);
  const dead = `http://127.0.0.1:${await closedPort()}`;
  const routes = [
    { basePath: 'api', target: echo.url },
    { basePath: 'dead', target: dead },
    { basePath: 'slow', target: slow.url },
  ];
  const t0 = Date.now() / 1000;
  gw = await startGateway({
    config: {
      timeouts: { backendMs: 300 },
      domains: [
        domainConfig(DOMAIN, server, truststore, routes),
        domainConfig(OTHER, server, writeTruststore(dir, 'other', [rootB]), [{ basePath: '', target: echo.url }]),
      ],
    },
    dir,
  });
  started = { before: t0, after: Date.now() / 1000 };
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await slow?.close();
});

async function scrape(): Promise<Map<string, Family>> {
  const r = await gw.admin('/metrics');
  assert.equal(r.status, 200);
  return parseMetrics(r.body);
}

const get = (path: string, o: { session?: Buffer } = {}) =>
  nodeRequest({
    port: gw.port,
    servername: DOMAIN,
    ca: server.caPem,
    cert: good.certPem,
    key: good.keyPem,
    path,
    ...o,
  });

const seconds = (d: Date): number => d.getTime() / 1000;

test('expiry gauges: each truststore certificate, the earliest, the server certificate, exact to the second', async () => {
  const f = await scrape();
  const notAfter = samples(f, 'mtlsgate_truststore_cert_not_after_timestamp_seconds', { domain: DOMAIN });
  assert.deepEqual(
    notAfter.map((s) => [s.labels.subject, s.labels.serial, s.value]),
    [
      ['CN=Metrics Root A,O=mtlsgate e2e', '10:01', seconds(ROOT_A_NOT_AFTER)],
      ['CN=Metrics Root B', '20:02', seconds(ROOT_B_NOT_AFTER)],
    ],
  );
  const other = samples(f, 'mtlsgate_truststore_cert_not_after_timestamp_seconds', { domain: OTHER });
  assert.deepEqual(
    other.map((s) => s.labels.subject),
    ['CN=Metrics Root B'],
  );
  const earliest = 'mtlsgate_truststore_earliest_not_after_timestamp_seconds';
  assert.equal(value(f, earliest, { domain: DOMAIN }), seconds(ROOT_B_NOT_AFTER));
  assert.equal(value(f, 'mtlsgate_server_cert_not_after_timestamp_seconds', { domain: DOMAIN }), 1930367167);
  assert.equal(seconds(SERVER_NOT_AFTER), 1930367167, 'the date above, as Unix seconds');
  assert.equal(value(f, 'mtlsgate_truststore_certificates', { domain: DOMAIN }), 2);
  assert.equal(value(f, 'mtlsgate_truststore_certificates', { domain: OTHER }), 1);
  for (const d of [DOMAIN, OTHER]) {
    const loaded = value(f, 'mtlsgate_truststore_loaded_timestamp_seconds', { domain: d });
    assert.ok(loaded >= started.before && loaded <= started.after, `${d} loaded at ${loaded}`);
    // A file has no version.
    assert.deepEqual(
      samples(f, 'mtlsgate_truststore_info', { domain: d }).map((s) => [s.labels.version, s.value]),
      [['', 1]],
    );
  }
  const success = value(f, 'mtlsgate_last_reload_success_timestamp_seconds');
  assert.ok(success >= started.before && success <= started.after, `the start counts as a success: ${success}`);
});

test('verification failures by reason, from real curl clients', async () => {
  const reason = (f: Map<string, Family>, r: string) =>
    value(f, 'mtlsgate_client_cert_verify_failures_total', { domain: DOMAIN, reason: r });
  const before = await scrape();
  const expect: [ClientFiles | null, string, RegExp][] = [
    [clients.expired, 'expired', /certificate has expired/],
    [clients.stranger, 'unknown_issuer', /Could not find issuer for certificate/],
    [clients.selfSigned, 'self_signed', /self-signed certificate/],
    [null, 'missing', /./],
  ];
  for (const [c, , body] of expect) {
    const r = await curl({
      domain: DOMAIN,
      port: gw.port,
      cacert: server.caFile,
      path: '/api/x',
      ...(c ? { cert: c.certFile, key: c.keyFile } : {}),
    });
    if (c) {
      assert.equal(r.response?.status, 403, r.stderr.toString());
      assert.match(r.response!.text, body);
    } else {
      // noCertificate: handshake (the default): the handshake itself is refused.
      assert.notEqual(r.code, 0, 'curl without a certificate fails');
    }
  }
  const after = await scrape();
  for (const [, r] of expect) assert.equal(reason(after, r), reason(before, r) + 1, `reason ${r}`);
  const all = samples(after, 'mtlsgate_client_cert_verify_failures_total').map((s) => s.labels.reason);
  for (const r of all) assert.match(r!, /^[a-z_]+$/);
  // No client name reached a label.
  const text = (await gw.admin('/metrics')).body;
  for (const cn of ['expired client', 'stranger client', 'self-signed client', 'Stranger CA'])
    assert.ok(!text.includes(cn), `${cn} in /metrics`);
});

test('handshakes by result and resumption; an unknown server name counts under no domain', async () => {
  const hs = (f: Map<string, Family>, domain: string, result: string, resumed: string) =>
    value(f, 'mtlsgate_tls_handshakes_total', { domain, result, resumed });
  const before = await scrape();
  const first = await get('/api/first');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.sessionReused, false);
  const again = await get('/api/again', { session: first.session! });
  assert.equal(again.sessionReused, true, 'the session was resumed');
  await assert.rejects(
    tlsConnect({ port: gw.port, servername: 'nobody.e2e.test', ca: server.caPem }, { timeoutMs: 10_000 }),
  );
  const after = await scrape();
  assert.equal(hs(after, DOMAIN, 'ok', 'false'), hs(before, DOMAIN, 'ok', 'false') + 1);
  assert.equal(hs(after, DOMAIN, 'ok', 'true'), hs(before, DOMAIN, 'ok', 'true') + 1);
  assert.equal(hs(after, '-', 'failed', 'false'), hs(before, '-', 'failed', 'false') + 1);
  const errors = (f: Map<string, Family>) => value(f, 'mtlsgate_handshake_errors_total');
  assert.equal(errors(after), errors(before) + 1);
  assert.ok(!(await gw.admin('/metrics')).body.includes('nobody.e2e.test'), 'the name sent is no label');
});

test('requests by route as configured and status class; the duration histogram adds up', async () => {
  const before = await scrape();
  for (const path of ['/api/a', '/api/b/c?q=1', '/api']) assert.equal((await get(path)).status, 200, path);
  assert.equal((await get('/nowhere/at/all')).status, 404);
  const after = await scrape();
  const api = { domain: DOMAIN, route: '/api' };
  const by = (f: Map<string, Family>, labels: Record<string, string>) =>
    value(f, 'mtlsgate_route_requests_total', labels);
  assert.equal(by(after, { ...api, status_class: '2xx' }), by(before, { ...api, status_class: '2xx' }) + 3);
  const none = { domain: DOMAIN, route: '-', status_class: '4xx' };
  assert.equal(by(after, none), by(before, none) + 1);
  const routes = new Set(samples(after, 'mtlsgate_route_requests_total').map((s) => s.labels.route));
  for (const r of routes) assert.ok(['/api', '/dead', '/slow', '/', '-'].includes(r!), `route label ${r}`);
  // The histogram of /api: cumulative, +Inf the count, the count every /api request.
  const buckets = samples(after, 'mtlsgate_request_duration_seconds_bucket', api);
  assert.equal(buckets.at(-1)!.labels.le, '+Inf');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative');
  const count = value(after, 'mtlsgate_request_duration_seconds_count', api);
  assert.equal(buckets.at(-1)!.value, count);
  const apiTotal = samples(after, 'mtlsgate_route_requests_total', api).reduce((n, s) => n + s.value, 0);
  assert.equal(count, apiTotal);
  const sum = value(after, 'mtlsgate_request_duration_seconds_sum', api);
  assert.ok(sum > 0 && sum < count * 10, `sum ${sum} s over ${count} requests`);
  const text = (await gw.admin('/metrics')).body;
  for (const raw of ['/api/b/c', 'q=1', '/nowhere']) assert.ok(!text.includes(raw), `${raw} in /metrics`);
});

test('backend errors by kind: a closed port is connect, a silent backend past timeouts.backendMs is timeout', async () => {
  const kind = (f: Map<string, Family>, k: string) =>
    value(f, 'mtlsgate_backend_errors_total', { domain: DOMAIN, kind: k });
  const before = await scrape();
  assert.equal((await get('/dead/x')).status, 502);
  assert.equal((await get('/slow/x')).status, 504);
  const after = await scrape();
  assert.equal(kind(after, 'connect'), kind(before, 'connect') + 1);
  assert.equal(kind(after, 'timeout'), kind(before, 'timeout') + 1);
  assert.equal(kind(after, 'reset'), kind(before, 'reset'));
});

test('a reload is counted and moves the last success time and the truststore load time', async () => {
  const before = await scrape();
  const t0 = Date.now() / 1000;
  const r = await gw.admin('/reload', 'POST');
  assert.equal(r.status, 200, r.body);
  const t1 = Date.now() / 1000;
  const after = await scrape();
  assert.equal(
    value(after, 'mtlsgate_reloads_total', { result: 'ok' }),
    value(before, 'mtlsgate_reloads_total', { result: 'ok' }) + 1,
  );
  const success = value(after, 'mtlsgate_last_reload_success_timestamp_seconds');
  assert.ok(success >= t0 && success <= t1, `${success} in [${t0}, ${t1}]`);
  const loaded = value(after, 'mtlsgate_truststore_loaded_timestamp_seconds', { domain: DOMAIN });
  assert.ok(loaded >= t0 && loaded <= t1, `truststore loaded at ${loaded}`);
});

test('promtool finds nothing wrong with the real exposition', () => {
  return gw.admin('/metrics').then((r) => {
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8', timeout: 60_000 });
    assert.equal(lint.error, undefined, 'promtool not found: run scripts/setup.sh (Debian package prometheus)');
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  });
});
