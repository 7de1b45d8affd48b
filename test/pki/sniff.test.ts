import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeOid, readTlv } from '../../src/pki/der.js';
import { sniffDer, sniffFormat } from '../../src/pki/sniff.js';
import { fixtures, openssl } from '../helpers/openssl.js';

const fx = fixtures();
const read = (f: string): Buffer => readFileSync(f);

test('formats from the bytes, whatever the file is called', () => {
  const cases: [string, string][] = [
    [fx.leafCert, 'pem'],
    [fx.bundle, 'pem'],
    [fx.leafCertDerCrt, 'der-certificate'],
    [fx.leafCertDerPem, 'der-certificate'],
    [fx.rsaPkcs8Der, 'der-private-key'],
    [fx.rsaEncPkcs8Der, 'der-encrypted-private-key'],
    [fx.p12Modern, 'pkcs12'],
    [fx.p12Legacy, 'pkcs12'],
    [fx.p7bDer, 'pkcs7'],
    [fx.p7bPem, 'pem'],
  ];
  for (const [file, format] of cases) assert.equal(sniffFormat(read(file)), format, file);
  assert.equal(sniffFormat(Buffer.alloc(0)), 'empty');
});

test('DER private keys: PKCS#8, PKCS#1, SEC1; and other DER: SPKI, CSR, CRL', () => {
  const der = (args: string[]): Buffer =>
    Buffer.from(openssl([...args, '-outform', 'PEM']).replace(/-----[^-]+-----|\s/g, ''), 'base64');
  assert.equal(sniffDer(read(fx.rsaPkcs8Der)), 'pkcs8');
  assert.equal(sniffDer(der(['rsa', '-in', fx.rsaPkcs8, '-traditional'])), 'pkcs1');
  assert.equal(sniffDer(der(['ec', '-in', fx.ecP256Sec1])), 'sec1');
  assert.equal(sniffDer(der(['pkey', '-in', fx.ecP256Sec1, '-pubout'])), 'spki');
  assert.equal(sniffDer(der(['req', '-new', '-key', fx.ecP256Sec1, '-subj', '/CN=x', '-config', fx.conf])), 'csr');
  assert.equal(sniffDer(read(fx.leafCertDerCrt)), 'certificate');
});

test('a DER CRL is sniffed as der-crl', async () => {
  const { issue } = await import('../../src/pki/generate.js');
  const { makeCrl } = await import('../../src/pki/generate-crl.js');
  const crl = makeCrl({ issuer: await issue({ subject: 'CN=Sniff CA', profile: 'root-ca' }), revoked: [] });
  assert.equal(sniffDer(crl.der), 'crl');
  assert.equal(sniffFormat(crl.der), 'der-crl');
  assert.equal(sniffFormat(Buffer.from(crl.pem)), 'pem');
});

test('hostile bytes: random, truncated, nested, huge lengths: an answer, never a throw, quickly', () => {
  const t = performance.now();
  for (let i = 0; i < 2000; i++) sniffFormat(randomBytes(1 + (i % 200)));
  const cert = read(fx.leafCertDerCrt);
  for (let n = 0; n < cert.length; n += 7) assert.notEqual(sniffFormat(cert.subarray(0, n)), 'der-certificate');
  const nested = Buffer.concat(Array.from({ length: 100_000 }, () => Buffer.from([0x30, 0x80])));
  assert.equal(sniffFormat(nested), 'unknown');
  const nestedDefinite = nestedSequences(100_000);
  assert.equal(sniffFormat(nestedDefinite), 'unknown');
  assert.equal(sniffFormat(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02])), 'unknown');
  assert.ok(performance.now() - t < 10_000, 'a hang guard, generous for a loaded machine');
});

test('the DER reader: lengths, high tag numbers and OIDs', () => {
  assert.deepEqual(readTlv(Buffer.from([0x04, 0x81, 0x01, 0xaa]), 0), {
    cls: 0,
    constructed: false,
    tag: 4,
    start: 0,
    valueStart: 3,
    end: 4,
    indefinite: false,
  });
  assert.equal(readTlv(Buffer.from([0x04, 0x02, 0xaa]), 0), null);
  assert.equal(readTlv(Buffer.from([0x1f, 0x81, 0x01, 0x00]), 0)?.tag, 129);
  assert.equal(decodeOid(Buffer.from('2a864886f70d010101', 'hex')), '1.2.840.113549.1.1.1');
  assert.equal(decodeOid(Buffer.from('8837', 'hex')), '2.999');
  assert.equal(decodeOid(Buffer.from('6981f1daa6e6d7f1c4e2a38d8e0b', 'hex'))?.startsWith('2.25.'), true);
  assert.equal(decodeOid(Buffer.from('2a86', 'hex')), null);
  // The 2.5.4.n and 2.5.29.n short cut agrees with the arc-by-arc reading, and leaves the rest to it.
  for (let second = 0; second < 256; second++) {
    for (const third of [0, 3, 15, 19, 35, 127, 128, 255]) {
      const text = decodeOid(Buffer.from([0x55, second, third]));
      assert.equal(text, referenceOid([0x55, second, third]), `55 ${second.toString(16)} ${third.toString(16)}`);
    }
  }
  assert.equal(decodeOid(Buffer.from('551d', 'hex')), '2.5.29');
  assert.equal(decodeOid(Buffer.from('551d8f01', 'hex')), '2.5.29.1921');
});

/** Base-128 arcs, the first octet split into two: the plain reading, for OIDs without big arcs. */
function referenceOid(bytes: number[]): string | null {
  if ((bytes.at(-1)! & 0x80) !== 0) return null;
  const arcs: number[] = [];
  let arc = 0;
  for (const b of bytes) {
    arc = arc * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(arc);
      arc = 0;
    }
  }
  const first = arcs[0]! < 80 ? Math.floor(arcs[0]! / 40) : 2;
  return [first, arcs[0]! - 40 * first, ...arcs.slice(1)].join('.');
}

/** SEQUENCE { SEQUENCE { ... } } with definite lengths, built from the inside out. */
function nestedSequences(depth: number): Buffer {
  const headers: Buffer[] = [];
  let len = 0;
  for (let i = 0; i < depth; i++) {
    const h = Buffer.from([0x30, 0x84, 0, 0, 0, 0]);
    h.writeUInt32BE(len, 2);
    headers.push(h);
    len += 6;
  }
  return Buffer.concat(headers.reverse());
}
