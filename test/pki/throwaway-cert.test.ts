import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { throwawayServerIdentity } from '../../src/pki/throwaway-cert.js';
import { parseCert } from '../../src/pki/cert.js';
import { openssl } from '../helpers/openssl.js';
import { tmpDir } from '../helpers/pki.js';

test('throwawayServerIdentity: a self-signed P-256 certificate OpenSSL reads and verifies, with its key', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  const id = throwawayServerIdentity('mtlsgate-loopback', now);
  const x509 = new X509Certificate(id.certPem);
  assert.equal(x509.subject, 'CN=mtlsgate-loopback');
  assert.equal(x509.issuer, 'CN=mtlsgate-loopback');
  assert.ok(x509.checkPrivateKey(createPrivateKey(id.keyPem)), 'the key is the certificate’s');
  assert.ok(x509.verify(x509.publicKey), 'self-signed');
  assert.equal(new Date(x509.validFrom).toISOString(), '2026-12-07T11:00:00.000Z');
  assert.equal(new Date(x509.validTo).toISOString(), '2027-12-07T12:00:00.000Z');
  // OpenSSL's own reading: version 3, ecdsa-with-SHA256, and its chain check of the certificate against itself.
  const dir = tmpDir();
  const file = join(dir, 'c.pem');
  writeFileSync(file, id.certPem);
  const text = openssl(['x509', '-in', file, '-noout', '-text']);
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256/);
  assert.match(openssl(['verify', '-CAfile', file, '-attime', String(now.getTime() / 1000), file]), /: OK/);
  // Our own parse agrees (a strict DER walk).
  assert.equal(parseCert(x509.raw).info.subject, 'CN=mtlsgate-loopback');
});

test('throwawayServerIdentity: a new key and serial each time', () => {
  const a = new X509Certificate(throwawayServerIdentity('x').certPem);
  const b = new X509Certificate(throwawayServerIdentity('x').certPem);
  assert.notEqual(a.serialNumber, b.serialNumber);
  assert.notEqual(a.fingerprint256, b.fingerprint256);
  for (const c of [a, b]) {
    const serial = parseCert(c.raw).parts.serial;
    assert.ok(c.raw[serial.valueStart]! < 0x80, `a positive serial: ${c.serialNumber}`);
  }
});
