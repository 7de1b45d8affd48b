/**
 * The admin answers of a multi-worker gateway: the primary renders every worker's snapshot (counters and domain
 * states as data) with the single process's renderer. No process is forked: the workers are plain snapshots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminAnswer, type AdminSnapshot, type AdminSource } from '../../src/gateway/admin.js';
import {
  countBackendError,
  countHandshake,
  countVerifyFailure,
  DURATION_BUCKETS,
  inc,
  newMetrics,
  recordRequest,
  requestLabels,
  snapshotMetrics,
  type Metrics,
} from '../../src/gateway/metrics.js';
import type { DomainGauges } from '../../src/gateway/metrics-gauges.js';
import type { ReloadResult } from '../../src/gateway/reload.js';
import { parseMetrics, samples, value } from '../helpers/metrics.js';

const NO_CERTS = async (): Promise<null> => null;
const NO_DENIALS = async (): Promise<never[]> => [];

function snapshot(fill: (m: Metrics) => void, o: Partial<AdminSnapshot> = {}): AdminSnapshot {
  const m = newMetrics();
  fill(m);
  return { metrics: snapshotMetrics(m), ready: true, degraded: false, readiness: {}, domains: [], gauges: [], ...o };
}

function cluster(snaps: AdminSnapshot[], reloads: ReloadResult[] = [], workers = 2): AdminSource {
  return { snapshots: async () => snaps, reloads: async () => reloads, certs: NO_CERTS, denials: NO_DENIALS, workers };
}

/** Requests of domain a on its whole-host route. */
const A = requestLabels('a', '/');

const metricLines = (body: string, name: string): string[] => body.split('\n').filter((l) => l.startsWith(name));

test('metrics from several workers: counters summed, ready takes the minimum, degraded the maximum', async () => {
  const a = snapshot((m) => {
    for (let i = 0; i < 3; i++) recordRequest(m, A, 200, 0);
    inc(m.denials, 'a CERT_HAS_EXPIRED');
    m.reloads.ok = 1;
  });
  const b = snapshot(
    (m) => {
      for (let i = 0; i < 4; i++) recordRequest(m, A, 200, 0);
      recordRequest(m, A, 403, 0);
      inc(m.denials, 'a CERT_HAS_EXPIRED');
      inc(m.truststoreErrors, 'a');
      m.handshakeErrors = 2;
      m.reloads.failed = 1;
    },
    { ready: false, degraded: true },
  );
  const r = await adminAnswer('GET', '/metrics', cluster([a, b]));
  assert.equal(r.status, 200);
  assert.equal(r.contentType, 'text/plain; version=0.0.4');
  assert.deepEqual(metricLines(r.body, 'mtlsgate_requests_total'), [
    'mtlsgate_requests_total{domain="a",status="200"} 7',
    'mtlsgate_requests_total{domain="a",status="403"} 1',
  ]);
  assert.deepEqual(metricLines(r.body, 'mtlsgate_denials_total'), [
    'mtlsgate_denials_total{domain="a",code="CERT_HAS_EXPIRED"} 2',
  ]);
  assert.deepEqual(metricLines(r.body, 'mtlsgate_handshake_errors_total'), ['mtlsgate_handshake_errors_total 2']);
  assert.deepEqual(metricLines(r.body, 'mtlsgate_reloads_total'), [
    'mtlsgate_reloads_total{result="ok"} 1',
    'mtlsgate_reloads_total{result="failed"} 1',
  ]);
  assert.deepEqual(metricLines(r.body, 'mtlsgate_truststore_errors_total'), [
    'mtlsgate_truststore_errors_total{domain="a"} 1',
  ]);
  assert.deepEqual(metricLines(r.body, 'mtlsgate_ready'), ['mtlsgate_ready 0']);
  assert.deepEqual(metricLines(r.body, 'mtlsgate_degraded'), ['mtlsgate_degraded 1']);
  // Families stay grouped: each TYPE line once, before its samples.
  assert.equal(r.body.match(/# TYPE mtlsgate_requests_total counter/g)?.length, 1);
});

test('metrics from several workers: histograms bucket by bucket, new counters summed, last reload the latest', async () => {
  const orders = requestLabels('a', '/orders');
  const a = snapshot((m) => {
    recordRequest(m, orders, 200, 0.0005);
    recordRequest(m, orders, 503, 0.2);
    countVerifyFailure(m, 'a', 'CERT_HAS_EXPIRED');
    countHandshake(m, 'a', true, false);
    countBackendError(m, 'a', 'connect');
    m.lastReloadSuccess = 1_000;
  });
  const b = snapshot((m) => {
    recordRequest(m, orders, 201, 0.0005);
    recordRequest(m, orders, 200, 40);
    recordRequest(m, requestLabels('a', '-'), 404, 0.001);
    countVerifyFailure(m, 'a', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    countVerifyFailure(m, 'a', 'CERT_HAS_EXPIRED');
    countHandshake(m, 'a', true, true);
    countHandshake(m, 'a', true, false);
    countHandshake(m, '-', false, false);
    countBackendError(m, 'a', 'connect');
    m.lastReloadSuccess = 2_000;
  });
  const f = parseMetrics((await adminAnswer('GET', '/metrics', cluster([a, b]))).body);
  const o = { domain: 'a', route: '/orders' };
  const buckets = samples(f, 'mtlsgate_request_duration_seconds_bucket', o);
  assert.deepEqual(
    buckets.map((x) => x.labels.le),
    [...DURATION_BUCKETS.map(String), '+Inf'],
  );
  // 0.0005 s twice, 0.2 s once, 40 s (past every bound) once; cumulative.
  assert.deepEqual(
    buckets.map((x) => x.value),
    [...DURATION_BUCKETS.map((le) => (le < 0.25 ? 2 : 3)), 4],
  );
  assert.equal(value(f, 'mtlsgate_request_duration_seconds_count', o), 4);
  assert.equal(value(f, 'mtlsgate_request_duration_seconds_sum', o), 0.0005 + 0.2 + 0.0005 + 40);
  assert.equal(value(f, 'mtlsgate_request_duration_seconds_count', { domain: 'a', route: '-' }), 1);
  assert.equal(value(f, 'mtlsgate_route_requests_total', { ...o, status_class: '2xx' }), 3);
  assert.equal(value(f, 'mtlsgate_route_requests_total', { ...o, status_class: '5xx' }), 1);
  assert.equal(value(f, 'mtlsgate_route_requests_total', { domain: 'a', route: '-', status_class: '4xx' }), 1);
  // The per-status counter is the same requests by domain.
  assert.equal(value(f, 'mtlsgate_requests_total', { domain: 'a', status: '200' }), 2);
  assert.equal(value(f, 'mtlsgate_client_cert_verify_failures_total', { domain: 'a', reason: 'expired' }), 2);
  assert.equal(value(f, 'mtlsgate_client_cert_verify_failures_total', { domain: 'a', reason: 'unknown_issuer' }), 1);
  assert.equal(value(f, 'mtlsgate_tls_handshakes_total', { domain: 'a', result: 'ok', resumed: 'false' }), 2);
  assert.equal(value(f, 'mtlsgate_tls_handshakes_total', { domain: 'a', result: 'ok', resumed: 'true' }), 1);
  assert.equal(value(f, 'mtlsgate_tls_handshakes_total', { domain: '-', result: 'failed', resumed: 'false' }), 1);
  assert.equal(value(f, 'mtlsgate_backend_errors_total', { domain: 'a', kind: 'connect' }), 2);
  assert.equal(value(f, 'mtlsgate_last_reload_success_timestamp_seconds'), 2_000, 'the latest, not the sum');
});

test("gauges from the state are each domain's once, from the worker that loaded last; never added up", async () => {
  const gauges = (loadedAt: number, version: string, notAfter: number): DomainGauges => ({
    domain: 'a',
    truststoreLoadedAt: loadedAt,
    truststoreVersion: version,
    truststoreCertificates: 2,
    serverCertNotAfter: 5_000,
    truststore: [
      ['CN=Root', '01', notAfter],
      ['CN=Other', '02', 9_000],
    ],
  });
  const b = { ...gauges(100, 'v1', 8_000), domain: 'b' };
  const older = snapshot(() => {}, { gauges: [gauges(100, 'v1', 8_000), b] });
  const newer = snapshot(() => {}, { gauges: [gauges(200, 'v2', 7_000)] });
  for (const order of [
    [older, newer],
    [newer, older],
  ]) {
    const f = parseMetrics((await adminAnswer('GET', '/metrics', cluster(order))).body);
    const name = 'mtlsgate_truststore_cert_not_after_timestamp_seconds';
    assert.deepEqual(
      samples(f, name, { domain: 'a' }).map((x) => [x.labels.subject, x.labels.serial, x.value]),
      [
        ['CN=Root', '01', 7_000],
        ['CN=Other', '02', 9_000],
      ],
    );
    assert.equal(samples(f, name, { domain: 'b' }).length, 2, 'a domain only one worker reported is there too');
    assert.equal(value(f, 'mtlsgate_truststore_earliest_not_after_timestamp_seconds', { domain: 'a' }), 7_000);
    assert.equal(value(f, 'mtlsgate_truststore_certificates', { domain: 'a' }), 2);
    assert.equal(value(f, 'mtlsgate_server_cert_not_after_timestamp_seconds', { domain: 'a' }), 5_000);
    assert.equal(value(f, 'mtlsgate_truststore_loaded_timestamp_seconds', { domain: 'a' }), 200);
    assert.deepEqual(
      samples(f, 'mtlsgate_truststore_info', { domain: 'a' }).map((x) => [x.labels.version, x.value]),
      [['v2', 1]],
    );
  }
});

test('a worker snapshot survives IPC (JSON) unchanged in what it renders', async () => {
  const a = snapshot(
    (m) => {
      recordRequest(m, requestLabels('a.example', '/'), 200, 0.01);
      countVerifyFailure(m, 'a.example', 'CERT_REVOKED');
      countHandshake(m, 'a.example', true, true);
      countBackendError(m, 'a.example', 'reset');
      m.lastReloadSuccess = 1234.5;
    },
    {
      gauges: [
        {
          domain: 'a.example',
          truststoreLoadedAt: 1,
          truststoreVersion: null,
          truststoreCertificates: 1,
          serverCertNotAfter: null,
          truststore: [['CN=\\"x"\n', '0a', 3]],
        },
      ],
    },
  );
  const viaIpc = JSON.parse(JSON.stringify(a)) as AdminSnapshot;
  const direct = await adminAnswer('GET', '/metrics', cluster([a], [], 1));
  const sent = await adminAnswer('GET', '/metrics', cluster([viaIpc], [], 1));
  assert.equal(sent.body, direct.body);
});

test('reload and readiness must hold for every worker; a worker that did not answer counts as a failure', async () => {
  const ok: ReloadResult = { ok: true, errors: [], warnings: [] };
  const bad: ReloadResult = { ok: false, errors: [{ domain: 'a', message: 'x' }], warnings: [] };
  const reload = async (rs: ReloadResult[]) => adminAnswer('POST', '/reload', cluster([], rs));
  assert.equal((await reload([ok, ok])).status, 200);
  const failed = await reload([ok, bad]);
  assert.equal(failed.status, 500);
  const merged = { ok: false, workers: 2, errors: [{ domain: 'a', message: 'x' }], warnings: [] };
  assert.deepEqual(JSON.parse(failed.body), merged);
  assert.equal((await reload([ok])).status, 500, 'one worker silent');
  assert.equal((await reload([])).status, 503, 'no worker answered');

  const ready = snapshot(() => {});
  const notReady = snapshot(() => {}, { ready: false, degraded: true });
  const readyz = async (snaps: AdminSnapshot[]) => adminAnswer('GET', '/readyz', cluster(snaps));
  const both = await readyz([ready, ready]);
  assert.equal(both.status, 200);
  assert.deepEqual(JSON.parse(both.body), { ready: true, degraded: false, workers: 2, domains: {} });
  assert.equal((await readyz([ready, notReady])).status, 503);
  assert.equal((await readyz([ready])).status, 503, 'one worker silent');
  assert.equal((await readyz([])).status, 503);
  const health = await adminAnswer('GET', '/healthz', cluster([ready]));
  assert.deepEqual(JSON.parse(health.body), { status: 'ok', workers: 1 });
});

test('a single process answers the same endpoints without a worker count', async () => {
  const one: AdminSource = {
    snapshots: async () => [snapshot(() => {})],
    reloads: async () => [{ ok: true, errors: [], warnings: [] }],
    certs: NO_CERTS,
    denials: NO_DENIALS,
    workers: null,
  };
  const body = async (method: string, path: string): Promise<unknown> =>
    JSON.parse((await adminAnswer(method, path, one)).body);
  assert.deepEqual(await body('GET', '/healthz'), { status: 'ok' });
  assert.deepEqual(await body('GET', '/readyz'), { ready: true, degraded: false, domains: {} });
  assert.deepEqual(await body('POST', '/reload'), { ok: true, errors: [], warnings: [] });
  assert.equal((await adminAnswer('GET', '/reload', one)).status, 405);
  assert.equal((await adminAnswer('GET', '/nope', one)).status, 404);
});
