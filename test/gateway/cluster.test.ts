import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeAnswers, mergeMetrics } from '../../src/gateway/cluster.js';

test('metrics from several workers: counters summed, ready takes the minimum, degraded the maximum, families stay grouped', () => {
  const a = ['# TYPE mtlsgate_requests_total counter', 'mtlsgate_requests_total{domain="a",status="200"} 3', '# TYPE mtlsgate_ready gauge', 'mtlsgate_ready 1', '# TYPE mtlsgate_degraded gauge', 'mtlsgate_degraded 0', ''].join('\n');
  const b = ['# TYPE mtlsgate_requests_total counter', 'mtlsgate_requests_total{domain="a",status="200"} 4', 'mtlsgate_requests_total{domain="a",status="403"} 1', '# TYPE mtlsgate_ready gauge', 'mtlsgate_ready 0', '# TYPE mtlsgate_degraded gauge', 'mtlsgate_degraded 1', ''].join('\n');
  assert.equal(
    mergeMetrics([a, b]),
    [
      '# TYPE mtlsgate_requests_total counter',
      'mtlsgate_requests_total{domain="a",status="200"} 7',
      'mtlsgate_requests_total{domain="a",status="403"} 1',
      '# TYPE mtlsgate_ready gauge',
      'mtlsgate_ready 0',
      '# TYPE mtlsgate_degraded gauge',
      'mtlsgate_degraded 1',
      '',
    ].join('\n'),
  );
});

const j = (status: number, body: unknown) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

test('reload and readiness must hold for every worker; a worker that did not answer counts as a failure', () => {
  const ok = j(200, { ok: true, errors: [], warnings: [] });
  const bad = j(500, { ok: false, errors: [{ domain: 'a', message: 'x' }], warnings: [] });
  assert.equal(mergeAnswers('POST', '/reload', [ok, ok], 2).status, 200);
  assert.equal(mergeAnswers('POST', '/reload', [ok, bad], 2).status, 500);
  assert.equal(mergeAnswers('POST', '/reload', [ok], 2).status, 500, 'one worker silent');
  const ready = j(200, { ready: true, degraded: false, domains: {} });
  const notReady = j(503, { ready: false, degraded: true, domains: {} });
  assert.equal(mergeAnswers('GET', '/readyz', [ready, ready], 2).status, 200);
  assert.equal(mergeAnswers('GET', '/readyz', [ready, notReady], 2).status, 503);
  assert.equal(mergeAnswers('GET', '/readyz', [], 2).status, 503);
});
