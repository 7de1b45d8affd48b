import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseCert } from '../../src/pki/cert.js';
import { issue } from '../../src/pki/generate.js';
import type { Issued } from '../../src/pki/generate.js';
import type { OcspAnswer } from '../../src/pki/ocsp.js';
import { MAX_OCSP_RESPONSE_BYTES, ocspChecker, ocspUrlOf, queryOcsp } from '../../src/trust/ocsp.js';
import { closedPort } from '../helpers/backends.js';
import {
  HUGE_BYTES,
  issueWithOcspUrl,
  startFaultResponder,
  startOpensslResponder,
  writeIdentity,
  writeIndex,
} from '../helpers/ocsp.js';
import type { FaultMode } from '../helpers/ocsp.js';
import { tmpDir } from '../helpers/pki.js';

const dir = tmpDir();
const REVOKED_AT = new Date('2025-03-04T05:06:07Z');
const ca = await issue({ subject: 'CN=Client CA,O=mtlsgate', profile: 'root-ca' });
const delegate = await issue({
  subject: 'CN=Client CA OCSP',
  issuer: ca,
  profile: 'client',
  extKeyUsage: ['OCSPSigning'],
});
const good = await issue({ subject: 'good client', issuer: ca, serial: '1001' });
const revoked = await issue({ subject: 'revoked client', issuer: ca, serial: '1002' });
const stranger = await issue({ subject: 'stranger', issuer: ca, serial: '1003' });
const index = join(dir, 'index.txt');
writeIndex(index, [{ cert: good }, { cert: revoked, revoked: { at: REVOKED_AT, reason: 'superseded' } }]);
const caFiles = writeIdentity(dir, 'ca', ca);
const delegateFiles = writeIdentity(dir, 'delegate', delegate);
const byIssuer = await startOpensslResponder({
  index,
  ca: caFiles.cert,
  rsigner: caFiles.cert,
  rkey: caFiles.key,
  nmin: 5,
});
const byDelegate = await startOpensslResponder({
  index,
  ca: caFiles.cert,
  rsigner: delegateFiles.cert,
  rkey: delegateFiles.key,
});
const started: { stop(): Promise<void> }[] = [byIssuer, byDelegate];
after(() => Promise.all(started.map((s) => s.stop())));

const c = (i: Issued) => parseCert(i.der);

async function fault(mode: FaultMode, o: { clock?: () => number; nextUpdateMs?: number | null } = {}) {
  const r = await startFaultResponder(mode, { issuer: ca, ...o });
  started.push(r);
  return r;
}

function query(url: string, leaf: Issued, o: { nonce?: boolean | 'required'; timeoutMs?: number } = {}) {
  return queryOcsp({ url, cert: c(leaf), issuer: c(ca), nonce: o.nonce ?? true, timeoutMs: o.timeoutMs ?? 2000 });
}

function assertError(a: OcspAnswer, url: string, pattern: RegExp): void {
  assert.equal(a.status, 'error', JSON.stringify(a));
  if (a.status !== 'error') return;
  assert.ok(a.why.startsWith(`OCSP ${url}: `), a.why);
  assert.match(a.why, pattern);
  assert.doesNotMatch(a.why, /\n/);
}

test('ocspUrlOf: the first http:// OCSP URL of the AIA, null without one', async () => {
  const mixed = issueWithOcspUrl({
    dir,
    name: 'aia-mixed',
    issuer: ca,
    aia: 'caIssuers;URI:http://ca.example/ca.crt,OCSP;URI:https://tls.example/,OCSP;URI:http://ocsp.example/a?b',
  });
  assert.equal(ocspUrlOf(mixed), 'http://ocsp.example/a?b');
  const httpsOnly = issueWithOcspUrl({ dir, name: 'aia-https', issuer: ca, aia: 'OCSP;URI:https://tls.example/' });
  assert.equal(ocspUrlOf(httpsOnly), null);
  assert.equal(ocspUrlOf(c(good)), null); // issue() writes no AIA
});

test('queryOcsp against openssl ocsp: good, revoked with time and reason, unknown; nonce echoed', async () => {
  const a = await query(byIssuer.url, good, { nonce: 'required' });
  assert.equal(a.status, 'good', JSON.stringify(a));
  if (a.status === 'good') {
    assert.equal(a.responder, 'CN=Client CA,O=mtlsgate');
    assert.equal(a.nextUpdate!.getTime() - a.thisUpdate.getTime(), 5 * 60_000);
  }
  const r = await query(byIssuer.url, revoked);
  assert.equal(r.status, 'revoked', JSON.stringify(r));
  if (r.status === 'revoked') {
    assert.deepEqual(r.revokedAt, REVOKED_AT);
    assert.equal(r.reason, 'superseded');
  }
  assert.equal((await query(byIssuer.url, stranger)).status, 'unknown');
});

test('queryOcsp against openssl ocsp with a delegated OCSPSigning responder; no nextUpdate without -nmin', async () => {
  const a = await query(byDelegate.url, revoked);
  assert.equal(a.status, 'revoked', JSON.stringify(a));
  if (a.status === 'revoked') {
    assert.equal(a.responder, 'CN=Client CA OCSP');
    assert.equal(a.nextUpdate, null);
  }
});

const FAULTS: { mode: FaultMode; nonce?: 'required'; expect: RegExp | 'unknown' | 'good' | 'revoked' }[] = [
  { mode: 'http500', expect: /: HTTP 500$/ },
  { mode: 'garbage', expect: /: malformed response: / },
  { mode: 'wrong-type', expect: /content type text\/html, not application\/ocsp-response/ },
  { mode: 'try-later', expect: /responder answered tryLater$/ },
  { mode: 'wrong-nonce', expect: /nonce differs from the one sent/ },
  { mode: 'wrong-signer', expect: /delegated responder CN=Rogue OCSP is not issued by CN=Client CA/ },
  { mode: 'no-eku-delegate', expect: /CN=Delegate without EKU lacks the OCSPSigning extended key usage/ },
  { mode: 'stale', expect: /stale: nextUpdate .* has passed/ },
  { mode: 'no-nonce', nonce: 'required', expect: /no nonce in the response, and one is required/ },
  { mode: 'no-nonce', expect: 'good' },
  { mode: 'unknown', expect: 'unknown' },
  { mode: 'revoked', expect: 'revoked' },
  { mode: 'delegated', expect: 'good' },
];

for (const f of FAULTS) {
  test(`fault responder ${f.mode}${f.nonce ? ` (nonce ${f.nonce})` : ''}: ${String(f.expect)}`, async () => {
    const r = await fault(f.mode);
    const t0 = performance.now();
    const a = await query(r.url, f.mode === 'revoked' ? revoked : good, { nonce: f.nonce ?? true });
    assert.ok(performance.now() - t0 < 2000);
    if (typeof f.expect === 'string') assert.equal(a.status, f.expect, JSON.stringify(a));
    else assertError(a, r.url, f.expect);
    assert.equal(r.requests(), 1);
  });
}

test('a responder that never answers: timed out within timeoutMs plus slack', async () => {
  const r = await fault('slow');
  const t0 = performance.now();
  const a = await query(r.url, good, { timeoutMs: 600 });
  const took = performance.now() - t0;
  assertError(a, r.url, /timed out after 600 ms$/);
  assert.ok(took >= 590 && took < 1600, `took ${took} ms`);
});

test('a 100 MB answer is cut off after 64 KiB, without reading it all', async () => {
  const r = await fault('huge');
  const t0 = performance.now();
  const a = await query(r.url, good);
  assertError(a, r.url, new RegExp(`response cut off: more than ${MAX_OCSP_RESPONSE_BYTES} bytes`));
  assert.ok(performance.now() - t0 < 2000);
  await new Promise((res) => setTimeout(res, 100));
  // The server stops once the socket closes; socket buffers hold at most a few MB.
  assert.ok(r.bytesSent() < HUGE_BYTES / 10, `server wrote ${r.bytesSent()} bytes`);
});

test('refused and malformed URLs are errors naming the URL', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/`;
  assertError(await query(url, good), url, /connection refused$/);
  assertError(await query('https://ocsp.example/', good), 'https://ocsp.example/', /only http:\/\//);
  assertError(await query('not a url', good), 'not a url', /not a URL/);
});

function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('checker: a cached answer comes back synchronously, not as a promise', async () => {
  const checker = ocspChecker({ timeoutMs: 2000, nonce: true, responder: byIssuer.url });
  const first = checker.check(c(good), c(ca));
  assert.ok(first instanceof Promise);
  const answer = await first;
  assert.equal(answer.status, 'good');
  const second = checker.check(c(good), c(ca));
  assert.ok(!(second instanceof Promise));
  assert.equal(second, answer);
  assert.deepEqual(checker.stats(), {
    good: 2,
    revoked: 0,
    unknown: 0,
    error: 0,
    cacheHits: 1,
    requests: 1,
    entries: 1,
  });
  checker.close();
});

test('checker: concurrent checks of one certificate share one request', async () => {
  const r = await fault('good');
  const checker = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url });
  const [a, b] = [checker.check(c(good), c(ca)), checker.check(c(good), c(ca))];
  assert.equal(a, b);
  const answers = await Promise.all([a, b, checker.check(c(good), c(ca))]);
  assert.deepEqual(
    answers.map((x) => x.status),
    ['good', 'good', 'good'],
  );
  assert.equal(r.requests(), 1);
  assert.equal(checker.stats().good, 3);
  checker.close();
});

test('checker: errors are cached for errorTtlMs, then asked again', async () => {
  const r = await fault('http500');
  const t = clock();
  const checker = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url, now: t.now, errorTtlMs: 5000 });
  assert.equal((await checker.check(c(good), c(ca))).status, 'error');
  t.advance(4000);
  const cached = checker.check(c(good), c(ca));
  assert.ok(!(cached instanceof Promise));
  assert.equal(cached.status, 'error');
  assert.equal(r.requests(), 1);
  t.advance(1001);
  const again = checker.check(c(good), c(ca));
  assert.ok(again instanceof Promise);
  assert.equal((await again).status, 'error');
  assert.equal(r.requests(), 2);
  assert.equal(checker.stats().error, 3);
  checker.close();
});

test('checker: a good answer is cached until its nextUpdate', async () => {
  const t = clock();
  const r = await fault('good', { clock: t.now, nextUpdateMs: 10 * 60_000 });
  const checker = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url, now: t.now });
  assert.equal((await checker.check(c(good), c(ca))).status, 'good');
  t.advance(9 * 60_000);
  assert.ok(!(checker.check(c(good), c(ca)) instanceof Promise));
  t.advance(61_000);
  const refreshed = checker.check(c(good), c(ca));
  assert.ok(refreshed instanceof Promise);
  assert.equal((await refreshed).status, 'good');
  assert.equal(r.requests(), 2);
  checker.close();
});

test('checker: without nextUpdate an answer lives defaultTtlMs, never more than an hour', async () => {
  const t = clock();
  const r = await fault('good', { clock: t.now, nextUpdateMs: null });
  const checker = ocspChecker({
    timeoutMs: 2000,
    nonce: true,
    responder: r.url,
    now: t.now,
    defaultTtlMs: 5 * 3600_000,
  });
  assert.equal((await checker.check(c(good), c(ca))).status, 'good');
  t.advance(59 * 60_000);
  assert.ok(!(checker.check(c(good), c(ca)) instanceof Promise));
  t.advance(2 * 60_000);
  const refetch = checker.check(c(good), c(ca));
  assert.ok(refetch instanceof Promise);
  await refetch;
  assert.equal(r.requests(), 2);
  checker.close();
});

test('checker: the cache key is the issuer and the serial, never the serial alone', async () => {
  const other = await issue({ subject: 'CN=Other CA', profile: 'root-ca' });
  const twin = await issue({ subject: 'twin', issuer: other, serial: '1001' }); // good's serial, another issuer
  const r = await fault('good'); // signs as Client CA
  const checker = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url });
  assert.equal((await checker.check(c(good), c(ca))).status, 'good');
  const a = checker.check(c(twin), c(other));
  assert.ok(a instanceof Promise);
  const answer = await a;
  assert.equal(answer.status, 'error'); // Client CA's answer is not about Other CA's certificate
  if (answer.status === 'error')
    assert.match(answer.why, /signed by CN=Client CA,O=mtlsgate, neither the issuer CN=Other CA nor/);
  assert.equal(r.requests(), 2);
  checker.close();
});

test('checker: entries are bounded; the oldest goes first', async () => {
  const r = await fault('good');
  const checker = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url, maxEntries: 2 });
  for (const leaf of [good, revoked, stranger]) await checker.check(c(leaf), c(ca));
  assert.equal(checker.stats().entries, 2);
  assert.ok(!(checker.check(c(stranger), c(ca)) instanceof Promise));
  const refetch = checker.check(c(good), c(ca));
  assert.ok(refetch instanceof Promise); // evicted
  await refetch;
  checker.close();
});

test('checker: a slow responder does not stall checks of other certificates (AIA URLs)', async () => {
  const slow = await fault('slow');
  const quick = await fault('good');
  const slowLeaf = issueWithOcspUrl({ dir, name: 'slow-leaf', issuer: ca, aia: `OCSP;URI:${slow.url}` });
  const quickLeaf = issueWithOcspUrl({ dir, name: 'quick-leaf', issuer: ca, aia: `OCSP;URI:${quick.url}` });
  const checker = ocspChecker({ timeoutMs: 1000, nonce: true });
  const t0 = performance.now();
  let slowDone = false;
  const pending = Promise.resolve(checker.check(slowLeaf, c(ca))).then((a) => ((slowDone = true), a));
  const fast = await checker.check(quickLeaf, c(ca));
  assert.equal(fast.status, 'good');
  assert.ok(performance.now() - t0 < 800);
  assert.equal(slowDone, false);
  const late = await pending;
  assert.equal(late.status, 'error');
  if (late.status === 'error') assert.match(late.why, /timed out after 1000 ms/);
  checker.close();
});

test('checker: no URL in the certificate and no responder configured is an error, not a request', async () => {
  const checker = ocspChecker({ timeoutMs: 1000, nonce: false });
  const a = await checker.check(c(good), c(ca));
  assert.deepEqual(a, { status: 'error', why: 'no OCSP responder URL in the certificate' });
  assert.equal(checker.stats().requests, 0);
  checker.close();
});

test('two checkers share nothing', async () => {
  const r = await fault('good');
  const one = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url });
  const two = ocspChecker({ timeoutMs: 2000, nonce: true, responder: r.url });
  await one.check(c(good), c(ca));
  const second = two.check(c(good), c(ca));
  assert.ok(second instanceof Promise);
  assert.equal(two.stats().good, 0);
  await second;
  assert.equal(r.requests(), 2);
  one.close();
  two.close();
});
