/**
 * CRLs parsed in a worker thread (src/gateway/crl-parse.ts) against the same bytes parsed on the event loop: every
 * lookup, every field and the CRL set built from them must be the same, and a worker that cannot finish is one
 * problem line naming the source.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { certFromPem } from '../../src/pki/cert.js';
import { issue, type Issued } from '../../src/pki/generate.js';
import { parseCrls, type Crl, type CrlParse } from '../../src/pki/crl.js';
import { buildCrlSet } from '../../src/policy/revocation.js';
import { CRL_WORKER_MIN_BYTES, parseCrlsInWorker, parseCrlsOffLoop } from '../../src/gateway/crl-parse.js';
import { splitCertificate } from '../../src/pki/cert.js';
import { bigCrl, serialOf } from '../helpers/crl.js';

let ca: Issued;

before(async () => {
  ca = await issue({ subject: 'CN=crl-parse CA', profile: 'root-ca' });
});

function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const len = n < 0x80 ? [n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), value]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const when = (ms: number): Buffer =>
  tlv(0x17, Buffer.from(new Date(ms).toISOString().replace(/^\d\d|[-:T]|\.\d+/g, '')));
const ext = (oid: string, critical: boolean, value: Buffer): Buffer =>
  seq(tlv(0x06, hex(oid)), ...(critical ? [hex('0101ff')] : []), tlv(0x04, value));

/**
 * A CRL with `random` plain entries and one of each odd kind: reasons, an invalidity date, a negative serial, a
 * serial with a leading zero octet, and with `odd`, an unknown critical entry extension and a certificate issuer.
 */
function makeCrl(o: { random: number; odd?: boolean; now: number }): { der: Buffer; listed: string[] } {
  const listed: string[] = [];
  const entry = (serial: Buffer, ...exts: Buffer[]): Buffer => {
    listed.push([...serial].map((b) => b.toString(16).padStart(2, '0')).join(':'));
    return seq(tlv(0x02, serial), when(o.now - 7200_000), ...(exts.length ? [seq(...exts)] : []));
  };
  const entries: Buffer[] = [];
  for (let i = 0; i < o.random; i++) {
    const s = randomBytes(16);
    s[0] = (s[0]! & 0x7f) | 1;
    entries.push(entry(s, ...(i % 7 === 0 ? [ext('551d15', false, hex(`0a01${(i % 6) + 1}`.padEnd(6, '0')))] : [])));
  }
  entries.push(entry(hex('05'), ext('551d15', false, hex('0a0101')), ext('551d18', false, when(o.now - 9e6))));
  entries.push(entry(hex('ff01'))); // negative
  entries.push(entry(hex('0080aa'))); // a leading zero octet before a high bit
  if (o.odd) {
    entries.push(entry(hex('0777'), ext('2a0304', true, hex('0500'))));
    entries.push(entry(hex('0778'), ext('551d1d', true, seq())));
  }
  const alg = hex('300a06082a8648ce3d040302');
  const { subject } = splitCertificate(ca.der);
  const crlExts = tlv(0xa0, seq(ext('551d14', false, tlv(0x02, hex('0102030405')))));
  const tbs = seq(
    hex('020101'),
    alg,
    ca.der.subarray(subject.start, subject.end),
    when(o.now - 3600_000),
    when(o.now + 86_400_000),
    tlv(0x30, Buffer.concat(entries)),
    crlExts,
  );
  const signature = sign('sha256', tbs, createPrivateKey(ca.keyPem));
  return { der: seq(tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))), listed };
}

const pem = (der: Buffer): Buffer =>
  Buffer.from(
    `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`,
  );

/** Not listed: random serials, and ones that differ from a listed serial only in form. */
function unlisted(n: number): string[] {
  const out = ['00:05', '05:00', '01:ff', '80:aa', 'zz', '', '-05'];
  for (let i = 0; i < n; i++)
    out.push(
      randomBytes(16)
        .toString('hex')
        .replace(/(..)(?!$)/g, '$1:'),
    );
  return out;
}

/** Every serial's has() compared; get() (date, reason) for every serial, or every getEvery-th one. */
function sameCrl(a: Crl, b: Crl, serials: string[], getEvery = 1): void {
  const fields = (c: Crl) => ({
    issuer: c.issuer,
    issuerDer: c.issuerDer.toString('hex'),
    thisUpdate: c.thisUpdate.toISOString(),
    nextUpdate: c.nextUpdate?.toISOString(),
    crlNumber: c.crlNumber,
    authorityKeyId: c.authorityKeyId,
    signatureAlgorithm: c.signatureAlgorithm,
    tbs: c.tbsDer.length,
    signatureValue: c.signatureValue.toString('hex'),
    size: c.revoked.size,
    unsupported: c.unsupported,
    unknownCritical: c.unknownCriticalExtensions,
  });
  assert.deepEqual(fields(b), fields(a));
  assert.ok(b.der.equals(a.der));
  let differ = 0;
  serials.forEach((s, i) => {
    if (a.revoked.has(s) !== b.revoked.has(s)) differ++;
    if (i % getEvery !== 0) return;
    const x = a.revoked.get(s);
    const y = b.revoked.get(s);
    if (x?.reason !== y?.reason || x?.revokedAt.getTime() !== y?.revokedAt.getTime()) differ++;
  });
  assert.equal(differ, 0, `${differ} of ${serials.length} lookups differ`);
}

function sameSet(a: CrlParse, b: CrlParse): void {
  const cas = [certFromPem(ca.certPem)];
  const set = (p: CrlParse) => {
    const s = buildCrlSet(
      p.crls.map((crl) => ({ crl, source: 'x' })),
      cas,
    );
    return {
      inForce: s.inForce.map((t) => t.crl.issuer),
      refused: [...s.refused.values()],
      byIssuer: [...s.byIssuer.keys()],
    };
  };
  assert.deepEqual(set(b), set(a));
}

test('a CRL with every kind of entry: the worker-parsed CRL equals the in-process one, lookups and verdicts', async () => {
  for (const odd of [false, true]) {
    const { der, listed } = makeCrl({ random: 2000, odd, now: Date.now() });
    for (const bytes of [der, pem(der)]) {
      const here = parseCrls(bytes, 'test.crl');
      const there = await parseCrlsInWorker({ bytes: Buffer.from(bytes), source: 'test.crl' });
      assert.deepEqual(there.problems, here.problems);
      assert.equal(here.crls.length, 1);
      assert.equal(there.crls.length, 1);
      assert.deepEqual(here.crls[0]!.unsupported.length > 0, odd);
      const keys = [...here.crls[0]!.revoked.keys()];
      assert.equal(keys.length, listed.length);
      sameCrl(here.crls[0]!, there.crls[0]!, [...keys, ...listed, ...unlisted(500)]);
      const missing = keys.filter((s) => !there.crls[0]!.revoked.has(s) || !here.crls[0]!.revoked.has(s));
      assert.deepEqual(missing, [], 'every listed serial is found');
      assert.deepEqual([...there.crls[0]!.revoked.keys()], [...here.crls[0]!.revoked.keys()], 'CRL order');
      sameSet(here, there);
    }
  }
});

test('a million entries, PEM, beside a small CRL in one bundle: the same both ways, and parsed off the loop', async () => {
  const revoked = await issue({ subject: 'CN=revoked', profile: 'client', issuer: ca });
  const big = bigCrl({ ca, entries: 1_000_000, revoked: [revoked] });
  const small = makeCrl({ random: 10, now: Date.now() });
  const bytes = Buffer.concat([pem(big), pem(small.der)]);
  assert.ok(bytes.length >= CRL_WORKER_MIN_BYTES);
  const here = parseCrls(bytes, 'big.pem');
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  const there = await parseCrlsOffLoop({ bytes: Buffer.from(bytes), source: 'big.pem' });
  clearInterval(ticker);
  // The event loop ran while the worker parsed (on the loop, not one timer would have fired).
  assert.ok(ticks > 0, `timer ticks during the parse: ${ticks}`);
  assert.deepEqual(there.problems, []);
  assert.equal(there.crls.length, 2);
  assert.equal(there.crls[0]!.revoked.size, 1_000_001);
  // Reading an entry in full costs some 10 µs (a Date, the serial's text): the first 100,000 in CRL order, both
  // ways, then has() and get() for them, the one named entry at the end and 20,000 serials not listed.
  const first = (c: Crl): string[] => {
    const out: string[] = [];
    for (const k of c.revoked.keys()) if (out.push(k) === 100_000) break;
    return out;
  };
  const serials = first(here.crls[0]!);
  assert.deepEqual(first(there.crls[0]!), serials);
  sameCrl(here.crls[0]!, there.crls[0]!, [...serials, serialOf(revoked), ...unlisted(20_000)]);
  assert.equal(there.crls[0]!.revoked.get(serialOf(revoked))?.reason, null, 'the one named entry is found');
  sameCrl(here.crls[1]!, there.crls[1]!, [...small.listed, ...unlisted(100)]);
  sameSet(here, there);
});

test('unreadable bytes and a worker that runs out of heap: one problem line naming the source, never a throw', async () => {
  const junk = Buffer.alloc(CRL_WORKER_MIN_BYTES, 0x41);
  const here = parseCrls(junk, 'junk.crl');
  assert.deepEqual(await parseCrlsOffLoop({ bytes: Buffer.from(junk), source: 'junk.crl' }), here);
  // 14 MB of PEM: its text alone is more than an 8 MB heap holds.
  const der = bigCrl({ ca, entries: 300_000 });
  const starved = await parseCrlsInWorker({
    bytes: pem(der),
    source: 'http://crl.example/big.crl',
    resourceLimits: { maxOldGenerationSizeMb: 8 },
  });
  assert.deepEqual(starved.crls, []);
  assert.equal(starved.problems.length, 1);
  assert.match(starved.problems[0]!, /^http:\/\/crl\.example\/big\.crl: its parse thread stopped: \S.*$/);
});
