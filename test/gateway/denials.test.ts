/**
 * The admin's views as data: the denial ring (bounded, newest first), the query parameters of /certs and /denials
 * (one line naming what is wrong), the merge of several workers' denials, and /certs over a 10,000-certificate
 * truststore (a bounded page, soonest expiry first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denialRing, recentDenials, recordDenial, type DenialRecord } from '../../src/gateway/denials.js';
import {
  certsPage,
  mergeDenials,
  parseCertsQuery,
  parseDenialsLimit,
  type DenialView,
} from '../../src/gateway/admin-views.js';
import type { DomainState, GatewayState } from '../../src/gateway/state.js';
import { certFromPem } from '../../src/pki/cert.js';
import { issue } from '../../src/pki/generate.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { finding } from '../../src/report/finding.js';

const record = (n: number): DenialRecord => ({
  time: 1_000 + n,
  domain: 'a.test',
  route: '',
  status: 403,
  code: 'CERT_HAS_EXPIRED',
  reason: 'certificate has expired',
  requestId: `req-${n}`,
  stage: 'request',
  sourceIp: '127.0.0.1',
  leaf: null,
  sent: [],
  path: '/',
  generation: 1,
});

test('the ring keeps the last `capacity` denials, newest first, however many came', () => {
  const ring = denialRing(3);
  assert.deepEqual(recentDenials(ring, 10), []);
  recordDenial(ring, record(1));
  assert.deepEqual(
    recentDenials(ring, 10).map((r) => r.requestId),
    ['req-1'],
  );
  for (let n = 2; n <= 8; n++) recordDenial(ring, record(n));
  assert.equal(ring.total, 8);
  assert.equal(ring.entries.length, 3, 'no growth past the capacity');
  assert.deepEqual(
    recentDenials(ring, 10).map((r) => r.requestId),
    ['req-8', 'req-7', 'req-6'],
  );
  assert.deepEqual(
    recentDenials(ring, 2).map((r) => r.requestId),
    ['req-8', 'req-7'],
  );
  const none = denialRing(0);
  recordDenial(none, record(1));
  assert.deepEqual([none.total, recentDenials(none, 5).length], [0, 0], 'capacity 0 keeps nothing');
});

test('limit: an integer from 1 to 1000, default 50; anything else is one line naming limit', () => {
  const limit = (q: string): number | string => parseDenialsLimit(new URLSearchParams(q));
  assert.equal(limit(''), 50);
  assert.equal(limit('limit=1'), 1);
  assert.equal(limit('limit=1000'), 1000);
  for (const bad of ['abc', '0', '1001', '-1', '1.5', '', ' 5', '99999999999999999999'])
    assert.equal(
      limit(`limit=${encodeURIComponent(bad)}`),
      `limit: expected an integer from 1 to 1000, got "${bad}"`,
      JSON.stringify(bad),
    );
  assert.match(String(limit(`limit=${'9'.repeat(500)}`)), /^limit: .*\(500 characters\)"$/, 'a long value is cut');
});

test('/certs query: limit 1-500, offset, role server|truststore, domain', () => {
  const q = (s: string) => parseCertsQuery(new URLSearchParams(s));
  assert.deepEqual(q(''), { domain: null, role: null, limit: 100, offset: 0 });
  assert.deepEqual(q('domain=a.test&role=server&limit=5&offset=10'), {
    domain: 'a.test',
    role: 'server',
    limit: 5,
    offset: 10,
  });
  assert.equal(q('limit=501'), 'limit: expected an integer from 1 to 500, got "501"');
  assert.equal(q('offset=x'), 'offset: expected an integer from 0 to 1000000000, got "x"');
  assert.equal(q('role=client'), 'role: expected server or truststore, got "client"');
});

test('denials of several workers merge newest first, limited', () => {
  const view = (worker: number, time: string): DenialView => ({ ...base, pid: 1, worker, time });
  const base = {
    domain: 'a.test',
    route: null,
    status: 403,
    code: 'X',
    reason: 'x',
    requestId: null,
    stage: 'request' as const,
    sourceIp: null,
    client: null,
    explanation: null,
    reloadedSince: false,
  };
  const a = [view(1, '2026-01-01T00:00:05.000Z'), view(1, '2026-01-01T00:00:01.000Z')];
  const b = [view(2, '2026-01-01T00:00:04.000Z'), view(2, '2026-01-01T00:00:03.000Z')];
  const merged = mergeDenials([a, b], 3);
  assert.deepEqual(
    merged.map((d) => [d.worker, d.time.slice(17, 19)]),
    [
      [1, '05'],
      [2, '04'],
      [2, '03'],
    ],
  );
  assert.equal(mergeDenials([a, b], 10).length, 4);
});

test('/certs over a 10,000-certificate truststore: a bounded page, soonest expiry first, the rest counted', async () => {
  const soon = await issue({
    subject: 'CN=soon CA',
    profile: 'root-ca',
    notAfter: new Date(Date.now() + 5 * 86_400_000),
  });
  const later = await issue({ subject: 'CN=later CA', profile: 'root-ca' });
  const [soonCert, laterCert] = [certFromPem(soon.certPem), certFromPem(later.certPem)];
  const certs = Array.from({ length: 10_000 }, (_, i) => (i === 7_777 ? soonCert : laterCert));
  const truststore = makeTruststore('file:///big.pem', certs);
  const warning = finding({
    id: 'truststore.weak-key',
    severity: 'warning',
    title: 'soon CA: weak key',
    detail: '',
    fix: '',
    evidence: { fingerprint: soonCert.info.fingerprintSha256 },
  });
  const domain = {
    name: 'big.test',
    serverChain: [laterCert],
    verify: { truststore },
    truststoreWarnings: [warning],
  } as unknown as DomainState;
  const state = { domains: new Map([['big.test', domain]]) } as unknown as GatewayState;
  const page = certsPage(state, { domain: null, role: null, limit: 500, offset: 0 }, new Date());
  assert.deepEqual([page.total, page.certificates.length, page.truncated, page.next], [10_001, 500, true, 500]);
  const first = page.certificates[0]!;
  assert.deepEqual(
    [first.subject, first.role, first.index, first.status, first.daysToExpiry],
    ['CN=soon CA', 'truststore', 7_777, 'expires-soon', 4],
  );
  assert.deepEqual(first.warnings, [{ id: 'truststore.weak-key', severity: 'warning', title: 'soon CA: weak key' }]);
  assert.deepEqual(page.certificates[1]!.warnings, []);
  const bytes = Buffer.byteLength(JSON.stringify(page));
  assert.ok(bytes < 500 * 1500, `a page of 500 is ${bytes} bytes`);
  const last = certsPage(state, { domain: null, role: null, limit: 500, offset: 10_000 }, new Date());
  assert.deepEqual([last.certificates.length, last.truncated, last.next], [1, false, null]);
  const servers = certsPage(state, { domain: 'big.test', role: 'server', limit: 10, offset: 0 }, new Date());
  assert.deepEqual(
    servers.certificates.map((c) => [c.role, c.index]),
    [['server', 0]],
  );
  assert.equal(certsPage(state, { domain: 'other.test', role: null, limit: 10, offset: 0 }, new Date()).total, 0);
});
