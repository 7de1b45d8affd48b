import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseCert } from '../../src/pki/cert.js';
import { CRL_REASONS } from '../../src/pki/crl.js';
import { derSequence, derTlv } from '../../src/pki/der-write.js';
import { issue } from '../../src/pki/generate.js';
import type { Issued } from '../../src/pki/generate.js';
import { checkOcspResponse, ocspNonce, ocspRequest, parseOcspResponse } from '../../src/pki/ocsp.js';
import type { OcspAnswer, ParsedOcspResponse } from '../../src/pki/ocsp.js';
import { readRequest, signedResponse, signerOf, writeIdentity, writeIndex } from '../helpers/ocsp.js';
import { openssl } from '../helpers/openssl.js';
import { tmpDir } from '../helpers/pki.js';

// Responses come from OpenSSL's responder run on a request file (`openssl ocsp -index … -reqin -respout`): the same
// code as its HTTP responder, without a port.
const dir = tmpDir();
const REVOKED_AT = new Date('2025-01-02T03:04:05Z');
const ca = await issue({ subject: 'CN=OCSP Test CA,O=mtlsgate', profile: 'root-ca' });
const rsaCa = await issue({ subject: 'CN=OCSP RSA CA', profile: 'root-ca', key: { type: 'rsa', bits: 2048 } });
const delegate = await issue({
  subject: 'CN=OCSP Delegate',
  issuer: ca,
  profile: 'client',
  extKeyUsage: ['OCSPSigning'],
});
const noEku = await issue({ subject: 'CN=Delegate without EKU', issuer: ca, profile: 'client' });
const rogue = await issue({ subject: 'CN=OCSP Test CA,O=mtlsgate', profile: 'root-ca' }); // same name, other key
const good = await issue({ subject: 'good', issuer: ca, serial: '00a1b2' });
const revoked = await issue({ subject: 'revoked', issuer: ca, serial: '0fedcba987' });
const stranger = await issue({ subject: 'stranger', issuer: ca }); // not in the index
const rsaLeaf = await issue({ subject: 'rsa leaf', issuer: rsaCa });
const index = join(dir, 'index.txt');
writeIndex(index, [
  { cert: good },
  { cert: revoked, revoked: { at: REVOKED_AT, reason: 'keyCompromise' } },
  { cert: rsaLeaf },
]);
const files = {
  ca: writeIdentity(dir, 'ca', ca),
  rsaCa: writeIdentity(dir, 'rsa-ca', rsaCa),
  delegate: writeIdentity(dir, 'delegate', delegate),
  noEku: writeIdentity(dir, 'no-eku', noEku),
  rogue: writeIdentity(dir, 'rogue', rogue),
};
const c = (i: Issued) => parseCert(i.der);
const SKEW = 30_000;

let n = 0;
/** OpenSSL's answer to our request for `leaf`; `signer` defaults to the CA itself. */
function opensslAnswer(o: {
  leaf: Issued;
  issuer?: Issued;
  nonce: Buffer | null;
  signer?: { cert: string; key: string };
  caFile?: string;
  extra?: string[];
}): Buffer {
  const issuer = o.issuer ?? ca;
  const req = join(dir, `req-${++n}.der`);
  const resp = join(dir, `resp-${n}.der`);
  writeFileSync(req, ocspRequest({ cert: c(o.leaf), issuer: c(issuer), nonce: o.nonce }).der);
  const signer = o.signer ?? files.ca;
  openssl([
    'ocsp', '-index', index, '-CA', o.caFile ?? files.ca.cert, '-rsigner', signer.cert, '-rkey', signer.key,
    '-reqin', req, '-respout', resp, '-nmin', '10', ...(o.extra ?? []),
  ]); // prettier-ignore
  return readFileSync(resp);
}

function judge(response: Buffer, o: { leaf?: Issued; issuer?: Issued; nonce?: Buffer | null; now?: Date } = {}) {
  return checkOcspResponse({
    response,
    cert: c(o.leaf ?? good),
    issuer: c(o.issuer ?? ca),
    nonce: o.nonce ?? null,
    now: o.now ?? new Date(),
    clockSkewMs: SKEW,
  });
}

function assertError(a: OcspAnswer, pattern: RegExp): void {
  assert.equal(a.status, 'error', JSON.stringify(a));
  if (a.status !== 'error') return;
  assert.match(a.why, pattern);
  assert.doesNotMatch(a.why, /\n/);
}

test('the request without a nonce is byte for byte what `openssl ocsp -no_nonce -reqout` writes', () => {
  const theirs = join(dir, 'openssl-req.der');
  writeFileSync(join(dir, 'good.pem'), good.certPem);
  openssl(['ocsp', '-issuer', files.ca.cert, '-cert', join(dir, 'good.pem'), '-no_nonce', '-reqout', theirs]);
  assert.deepEqual(ocspRequest({ cert: c(good), issuer: c(ca), nonce: null }).der, readFileSync(theirs));
});

test('the request carries the RFC 8954 nonce as an OCTET STRING, which OpenSSL reads back', () => {
  const nonce = ocspNonce();
  assert.equal(nonce.length, 32);
  const { der, certId } = ocspRequest({ cert: c(revoked), issuer: c(ca), nonce });
  const file = join(dir, 'nonce-req.der');
  writeFileSync(file, der);
  const text = openssl(['ocsp', '-reqin', file, '-req_text']);
  assert.match(text, /Hash Algorithm: sha1/);
  assert.match(text, /Serial Number: 0FEDCBA987/);
  assert.ok(text.replace(/\s/g, '').includes(`0420${nonce.toString('hex').toUpperCase()}`), text);
  assert.equal(certId.serial.toString('hex'), '0fedcba987');
  assert.deepEqual(readRequest(der)?.nonceExtValue, Buffer.concat([Buffer.from([0x04, 0x20]), nonce]));
});

test('good from the issuer itself, with thisUpdate and nextUpdate (-nmin 10)', () => {
  const a = judge(opensslAnswer({ leaf: good, nonce: null }));
  assert.equal(a.status, 'good', JSON.stringify(a));
  if (a.status !== 'good') return;
  assert.equal(a.responder, 'CN=OCSP Test CA,O=mtlsgate');
  assert.ok(Math.abs(Date.now() - a.thisUpdate.getTime()) < 60_000);
  const minutes = (a.nextUpdate!.getTime() - a.thisUpdate.getTime()) / 60_000;
  assert.equal(minutes, 10);
});

test('revoked, with the time and reason from the index (the CRL reader`s reason names)', () => {
  const a = judge(opensslAnswer({ leaf: revoked, nonce: null }), { leaf: revoked });
  assert.equal(a.status, 'revoked', JSON.stringify(a));
  if (a.status !== 'revoked') return;
  assert.deepEqual(a.revokedAt, REVOKED_AT);
  assert.equal(a.reason, 'keyCompromise');
  assert.equal(a.reason, CRL_REASONS.get(1));
});

test('a serial missing from the index is unknown', () => {
  const a = judge(opensslAnswer({ leaf: stranger, nonce: null }), { leaf: stranger });
  assert.equal(a.status, 'unknown', JSON.stringify(a));
});

test('an RSA issuer signing with sha256WithRSAEncryption', () => {
  const a = judge(
    opensslAnswer({ leaf: rsaLeaf, issuer: rsaCa, nonce: null, signer: files.rsaCa, caFile: files.rsaCa.cert }),
    {
      leaf: rsaLeaf,
      issuer: rsaCa,
    },
  );
  assert.equal(a.status, 'good', JSON.stringify(a));
});

test('a delegated responder with OCSPSigning, issued by the CA, is accepted; by name and by key id', () => {
  for (const extra of [[], ['-resp_key_id']]) {
    const response = opensslAnswer({ leaf: revoked, nonce: null, signer: files.delegate, extra });
    const parsed = parseOcspResponse(response) as ParsedOcspResponse;
    assert.equal('byKey' in parsed.basic!.responderId, extra.length > 0);
    const a = judge(response, { leaf: revoked });
    assert.equal(a.status, 'revoked', JSON.stringify(a));
    if (a.status === 'revoked') assert.equal(a.responder, 'CN=OCSP Delegate');
  }
});

test('a delegate without the OCSPSigning EKU is refused', () => {
  const a = judge(opensslAnswer({ leaf: good, nonce: null, signer: files.noEku }));
  assertError(a, /delegated responder CN=Delegate without EKU lacks the OCSPSigning extended key usage/);
});

test('a signer with the CA`s name but another key is refused; so is checking against the wrong issuer', () => {
  const rogueSigned = opensslAnswer({ leaf: good, nonce: null, signer: files.rogue });
  assertError(judge(rogueSigned), /delegated responder CN=OCSP Test CA,O=mtlsgate is not issued by CN=OCSP Test CA/);
  const bare = opensslAnswer({ leaf: good, nonce: null, signer: files.rogue, extra: ['-resp_no_certs'] });
  assertError(judge(bare), /^bad signature: CN=OCSP Test CA,O=mtlsgate's key does not verify the response$/);
  // The CertID hashes the issuer's key, so the answer is not about "good under rogue".
  assertError(judge(opensslAnswer({ leaf: good, nonce: null }), { issuer: rogue }), /no answer for serial a1:b2/);
});

test('the nonce is echoed; a different one is an error; a missing one only when required', () => {
  const nonce = ocspNonce();
  const response = opensslAnswer({ leaf: good, nonce });
  assert.deepEqual((parseOcspResponse(response) as ParsedOcspResponse).basic!.nonce, nonce);
  assert.equal(judge(response, { nonce }).status, 'good');
  assertError(judge(response, { nonce: ocspNonce() }), /nonce differs/);
  const without = opensslAnswer({ leaf: good, nonce: null });
  assert.equal(judge(without, { nonce }).status, 'good');
  const strict = checkOcspResponse({
    response: without,
    cert: c(good),
    issuer: c(ca),
    nonce,
    requireNonce: true,
    now: new Date(),
    clockSkewMs: SKEW,
  });
  assertError(strict, /no nonce in the response, and one is required/);
});

test('stale (nextUpdate past) and not yet valid (thisUpdate ahead) answers are errors, within the skew they pass', () => {
  const response = opensslAnswer({ leaf: good, nonce: null });
  const later = (ms: number) => new Date(Date.now() + ms);
  assertError(judge(response, { now: later(11 * 60_000) }), /^stale: nextUpdate .* has passed$/);
  assert.equal(judge(response, { now: later(10 * 60_000 + SKEW / 2) }).status, 'good');
  assertError(judge(response, { now: later(-5 * 60_000) }), /thisUpdate .* is in the future/);
});

test('a delegate outside its validity is refused', async () => {
  const old = await issue({
    subject: 'CN=Expired Delegate',
    issuer: ca,
    profile: 'client',
    extKeyUsage: ['OCSPSigning'],
    notBefore: new Date(Date.now() - 10 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  const a = judge(opensslAnswer({ leaf: good, nonce: null, signer: writeIdentity(dir, 'old', old) }));
  assertError(a, /delegated responder CN=Expired Delegate is not valid now/);
});

test('non-successful statuses are named', () => {
  for (const [code, name] of [
    [1, 'malformedRequest'],
    [2, 'internalError'],
    [3, 'tryLater'],
    [5, 'sigRequired'],
    [6, 'unauthorized'],
    [9, 'status 9'],
  ] as const) {
    const der = derSequence(derTlv(0x0a, Buffer.from([code])));
    assert.deepEqual(parseOcspResponse(der), { responseStatus: name, basic: null });
    assertError(judge(der), new RegExp(`^responder answered ${name}$`));
  }
});

test('a response signed by our own test helper reads the same way (the fault responder is trustworthy)', () => {
  const certId = readRequest(ocspRequest({ cert: c(good), issuer: c(ca), nonce: null }).der)!.certId;
  const res = signedResponse({
    certId,
    status: 'revoked',
    thisUpdate: new Date(Date.now() - 1000),
    nextUpdate: null,
    nonceExtValue: null,
    signer: signerOf(ca),
    revokedAt: REVOKED_AT,
  });
  const a = judge(res);
  assert.equal(a.status, 'revoked', JSON.stringify(a));
  if (a.status === 'revoked') assert.equal(a.nextUpdate, null);
});

test('malformed input is a one-line reason, never a throw', () => {
  for (const [bytes, why] of [
    [Buffer.alloc(0), /no outer SEQUENCE/],
    [Buffer.from('3000', 'hex'), /no responseStatus/],
    [Buffer.from('30030a0100ff', 'hex'), /bytes after/],
    [Buffer.from('30030a0100', 'hex'), /successful but no responseBytes/],
  ] as const) {
    const p = parseOcspResponse(bytes);
    assert.equal(typeof p, 'string');
    assert.match(p as string, why);
  }
});

test('fuzz: random bytes and mutations of real responses never throw; random bytes are errors', () => {
  const real = [
    opensslAnswer({ leaf: good, nonce: null }),
    opensslAnswer({ leaf: revoked, nonce: null, signer: files.delegate }),
  ];
  const now = new Date();
  const noThrow = (bytes: Buffer): OcspAnswer => {
    const p = parseOcspResponse(bytes);
    assert.ok(typeof p === 'string' || typeof p === 'object');
    return checkOcspResponse({ response: bytes, cert: c(good), issuer: c(ca), nonce: null, now, clockSkewMs: SKEW });
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      assert.equal(noThrow(Buffer.from(b)).status, 'error');
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: real.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (which, flips, cut) => {
        const bytes = Buffer.from(real[which]!);
        for (const [at, v] of flips) bytes[at % bytes.length] = v;
        const a = noThrow(cut % 3 === 0 ? bytes.subarray(0, cut % bytes.length) : bytes);
        // A flipped byte inside the signed part breaks the signature; one in the signature too. A flip can land in
        // the unsigned certs or be a no-op (same value), so only the "never throws" part is universal.
        assert.ok(['good', 'revoked', 'unknown', 'error'].includes(a.status));
      },
    ),
    { numRuns: 1000 },
  );
});

test('fuzz: a flipped byte in the signed data is never accepted', () => {
  const real = opensslAnswer({ leaf: good, nonce: null });
  const p = parseOcspResponse(real) as ParsedOcspResponse;
  const tbsAt = real.indexOf(p.basic!.tbsDer);
  const len = p.basic!.tbsDer.length;
  fc.assert(
    fc.property(fc.nat({ max: len - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bytes = Buffer.from(real);
      bytes[tbsAt + at] = bytes[tbsAt + at]! ^ x;
      assert.equal(judge(bytes).status, 'error');
    }),
    { numRuns: 300 },
  );
});

test('deep nesting and a megabyte of input are read quickly, without recursion', () => {
  let nested: Buffer = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < 20_000; i++) nested = derSequence(nested);
  const big = derSequence(derTlv(0x0a, Buffer.from([0])), Buffer.alloc(1024 * 1024, 0x30));
  const started = performance.now();
  assert.equal(typeof parseOcspResponse(nested), 'string');
  assert.equal(typeof parseOcspResponse(big), 'string');
  assert.ok(performance.now() - started < 1000);
});
