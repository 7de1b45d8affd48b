/** The dashboard's readers of Prometheus text, run in Node (they touch no DOM). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error: plain ES module of the dashboard, checked by tsconfig.ui.json, not this project's build
import { counterTotals, parseLabels, routeTotals } from '../../ui/view.js';

const TEXT = [
  '# HELP mtlsgate_route_requests_total Requests answered.',
  '# TYPE mtlsgate_route_requests_total counter',
  'mtlsgate_route_requests_total{domain="a.test",route="/orders",status_class="2xx"} 7',
  'mtlsgate_route_requests_total{domain="a.test",route="/orders",status_class="4xx"} 2',
  'mtlsgate_route_requests_total{domain="a.test",route="/",status_class="5xx"} 1',
  'mtlsgate_route_requests_total{domain="-",route="-",status_class="4xx"} 3',
  // A label value with every escape of the format, and a comma and brace inside the quotes.
  'mtlsgate_route_requests_total{domain="b.test",route="/q\\"x\\\\y\\nz,}",status_class="2xx"} 4',
  '# TYPE mtlsgate_reloads_total counter',
  'mtlsgate_reloads_total{result="ok"} 5',
  'mtlsgate_request_duration_seconds_bucket{domain="a.test",route="/orders",le="0.1"} 9',
].join('\n');

test('routeTotals: one row per domain and route, a count per status class, busiest first', () => {
  assert.deepEqual(routeTotals(TEXT), [
    { domain: 'a.test', route: '/orders', classes: { '2xx': 7, '4xx': 2 }, total: 9 },
    { domain: 'b.test', route: '/q"x\\y\nz,}', classes: { '2xx': 4 }, total: 4 },
    { domain: '-', route: '-', classes: { '4xx': 3 }, total: 3 },
    { domain: 'a.test', route: '/', classes: { '5xx': 1 }, total: 1 },
  ]);
  assert.deepEqual(routeTotals('# TYPE mtlsgate_route_requests_total counter\n'), []);
});

test('routeTotals: lines it cannot read are left out, not guessed', () => {
  const bad = [
    'mtlsgate_route_requests_total{domain="a.test",status_class="2xx"} 1', // no route
    'mtlsgate_route_requests_total{domain="a.test",route="/x",status_class="2xx"} many',
  ].join('\n');
  assert.deepEqual(routeTotals(bad), []);
});

test('parseLabels undoes the escapes of the exposition format', () => {
  assert.deepEqual(parseLabels('a="1",b="x\\"y",c="\\\\n",d="line\\nbreak"'), {
    a: '1',
    b: 'x"y',
    c: '\\n',
    d: 'line\nbreak',
  });
});

test('counterTotals still sums every counter family', () => {
  assert.deepEqual(
    [...counterTotals(TEXT)],
    [
      ['mtlsgate_route_requests_total', 17],
      ['mtlsgate_reloads_total', 5],
    ],
  );
});
