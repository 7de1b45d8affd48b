/**
 * The counters on their own: what a request, a refusal, a handshake and a backend failure add, and under which
 * labels. The end-to-end tests (test/e2e/metrics*.test.ts) drive the same through a real gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countVerifyFailure,
  DURATION_BUCKETS,
  newMetrics,
  recordRequest,
  requestLabels,
  snapshotMetrics,
  verifyFailureReason,
  VERIFY_FAILURE_REASONS,
} from '../../src/gateway/metrics.js';
import { renderMetrics } from '../../src/gateway/metrics-render.js';
import { makeRoutes } from '../../src/gateway/routes.js';
import { DENY_CODES } from '../../src/policy/verdict.js';
import { parseMetrics, samples, value } from '../helpers/metrics.js';

const render = (m = newMetrics()) => parseMetrics(renderMetrics({ metrics: m, ready: true, degraded: false }));

test('a duration on a bucket bound counts in that bucket (le: less than or equal)', () => {
  const m = newMetrics();
  const l = requestLabels('a', '/');
  for (const s of DURATION_BUCKETS) recordRequest(m, l, 200, s);
  recordRequest(m, l, 200, 31);
  const buckets = samples(render(m), 'mtlsgate_request_duration_seconds_bucket', { domain: 'a', route: '/' });
  assert.deepEqual(
    buckets.map((b) => b.value),
    [...DURATION_BUCKETS.map((_, i) => i + 1), DURATION_BUCKETS.length + 1],
  );
});

test('status classes: 1xx to 5xx, anything else as the gateway failing (5xx)', () => {
  const m = newMetrics();
  const l = requestLabels('a', '/x');
  for (const status of [101, 204, 304, 421, 599, 0, 600]) recordRequest(m, l, status, 0);
  const f = render(m);
  const by = (c: string) => value(f, 'mtlsgate_route_requests_total', { domain: 'a', route: '/x', status_class: c });
  assert.deepEqual(['1xx', '2xx', '3xx', '4xx', '5xx'].map(by), [1, 1, 1, 1, 3]);
});

test('one series per route as configured: the labels are made with the routes, never from a request', () => {
  const routes = makeRoutes(
    [
      { basePath: 'orders', target: 'http://127.0.0.1:1' },
      { basePath: '', target: 'http://127.0.0.1:2' },
    ],
    { name: 'shop.test', clientCertificate: 'required', allow: null },
  );
  assert.deepEqual(
    routes.map((r) => [r.labels.domain, r.labels.route]),
    [
      ['shop.test', '/orders'],
      ['shop.test', '/'],
    ],
  );
  const m = newMetrics();
  for (let i = 0; i < 100; i++) recordRequest(m, routes[i % 2]!.labels, 200, 0.001);
  const series = m.routes.get(routes[0]!.labels.key);
  recordRequest(m, routes[0]!.labels, 200, 0.001);
  assert.equal(m.routes.size, 2);
  assert.equal(m.routes.get(routes[0]!.labels.key), series, 'the same series object, not a new one');
  // The per-status counter shares the domain's map: one lookup finds both.
  assert.equal(series!.byStatus, m.requests.get('shop.test'));
  assert.deepEqual(snapshotMetrics(m).requests, [['shop.test', 200, 101]]);
});

test('every deny code counts under one reason of the fixed set', () => {
  assert.equal(verifyFailureReason('CERT_HAS_EXPIRED'), 'expired');
  assert.equal(verifyFailureReason('CERT_NOT_YET_VALID'), 'not_yet_valid');
  assert.equal(verifyFailureReason('DEPTH_ZERO_SELF_SIGNED_CERT'), 'self_signed');
  assert.equal(verifyFailureReason('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'unknown_issuer');
  assert.equal(verifyFailureReason('CERT_REVOKED'), 'revoked');
  assert.equal(verifyFailureReason('MTLSGATE_REVOCATION_UNAVAILABLE'), 'revocation_unavailable');
  assert.equal(verifyFailureReason('MTLSGATE_NOT_ALLOWED'), 'not_allowed');
  assert.equal(verifyFailureReason('MTLSGATE_NO_CERTIFICATE'), 'missing');
  assert.equal(verifyFailureReason('INVALID_PURPOSE'), 'other');
  assert.equal(verifyFailureReason('a code no table has'), 'other');
  const m = newMetrics();
  for (const code of DENY_CODES) countVerifyFailure(m, 'a', code);
  const f = render(m);
  const reasons = samples(f, 'mtlsgate_client_cert_verify_failures_total').map((s) => s.labels.reason);
  assert.deepEqual(reasons.sort(), [...VERIFY_FAILURE_REASONS].sort(), 'every reason, each once');
  const total = samples(f, 'mtlsgate_client_cert_verify_failures_total').reduce((n, s) => n + s.value, 0);
  assert.equal(total, DENY_CODES.length, 'each code counted once');
});
