/**
 * The admin answers of a multi-worker gateway: the primary renders every worker's snapshot (counters and domain
 * states as data) with the single process's renderer. No process is forked: the workers are plain snapshots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminAnswer, type AdminSnapshot, type AdminSource } from '../../src/gateway/admin.js';
import { newMetrics, snapshotMetrics, countRequest, inc, type Metrics } from '../../src/gateway/metrics.js';
import type { ReloadResult } from '../../src/gateway/reload.js';

const NO_CERTS = async (): Promise<null> => null;
const NO_DENIALS = async (): Promise<never[]> => [];

function snapshot(fill: (m: Metrics) => void, o: Partial<AdminSnapshot> = {}): AdminSnapshot {
  const m = newMetrics();
  fill(m);
  return { metrics: snapshotMetrics(m), ready: true, degraded: false, readiness: {}, domains: [], ...o };
}

function cluster(snaps: AdminSnapshot[], reloads: ReloadResult[] = [], workers = 2): AdminSource {
  return { snapshots: async () => snaps, reloads: async () => reloads, certs: NO_CERTS, denials: NO_DENIALS, workers };
}

const metricLines = (body: string, name: string): string[] => body.split('\n').filter((l) => l.startsWith(name));

test('metrics from several workers: counters summed, ready takes the minimum, degraded the maximum', async () => {
  const a = snapshot((m) => {
    for (let i = 0; i < 3; i++) countRequest(m, 'a', 200);
    inc(m.denials, 'a CERT_HAS_EXPIRED');
    m.reloads.ok = 1;
  });
  const b = snapshot(
    (m) => {
      for (let i = 0; i < 4; i++) countRequest(m, 'a', 200);
      countRequest(m, 'a', 403);
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

test('a worker snapshot survives IPC (JSON) unchanged in what it renders', async () => {
  const a = snapshot((m) => countRequest(m, 'a.example', 200));
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
