/**
 * unsafeTarget has a fast path for ordinary paths; it must refuse exactly what the full check refuses. The full
 * check is restated here as the reference and compared on generated request targets built from the characters
 * that matter (dots, slashes, percent escapes, backslashes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeRoutes, matchRoute, unsafeTarget } from '../../src/gateway/routes.js';

function reference(url: string): boolean {
  if (!url.startsWith('/')) return true;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (/%(2f|5c|00)/i.test(path) || path.includes('\\')) return true;
  return path.split('/').some((seg) => {
    const s = seg.replace(/%2e/gi, '.');
    return s === '.' || s === '..';
  });
}

test('unsafeTarget refuses exactly what the full check refuses', () => {
  const piece = fc.constantFrom(
    '/',
    '.',
    '..',
    '%2e',
    '%2E',
    '%2f',
    '%5C',
    '%00',
    '%41',
    '\\',
    'a',
    'b.c',
    '?',
    '?x=/..',
    '',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), fc.boolean(), (parts, lead) => {
      const url = (lead ? '/' : '') + parts.join('');
      assert.equal(unsafeTarget(url) !== null, reference(url), url);
    }),
    { numRuns: 20_000, seed: 20261127 },
  );
  assert.equal(unsafeTarget('/orders/42?x=1'), null);
  assert.match(unsafeTarget('/orders/../admin') ?? '', /dot segment/);
  assert.match(unsafeTarget('/orders/%2E%2e/admin') ?? '', /dot segment/);
  assert.match(unsafeTarget('/orders%2fadmin') ?? '', /encoded slash/);
});

test('matchRoute: longest base path wins; the base path is removed, the target prefix and query kept', () => {
  const routes = makeRoutes([
    { basePath: '', target: 'http://127.0.0.1:9000' },
    { basePath: 'orders', target: 'http://127.0.0.1:9001/api/' },
    { basePath: 'orders/v2', target: 'http://127.0.0.1:9002' },
  ]);
  const m = (u: string): [string, string] | null => {
    const r = matchRoute(routes, u);
    return r ? [r.route.origin, r.upstreamPath] : null;
  };
  assert.deepEqual(m('/orders/42?x=1'), ['http://127.0.0.1:9001', '/api/42?x=1']);
  assert.deepEqual(m('/orders'), ['http://127.0.0.1:9001', '/api/']);
  assert.deepEqual(m('/orders/'), ['http://127.0.0.1:9001', '/api/']);
  assert.deepEqual(m('/orders/v2/7'), ['http://127.0.0.1:9002', '/7']);
  assert.deepEqual(m('/ordersx'), ['http://127.0.0.1:9000', '/ordersx']);
  assert.deepEqual(m('/?q'), ['http://127.0.0.1:9000', '/?q']);
});
