import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCrls, verifyCrlSignature } from '../../src/pki/crl.js';
import type { Crl } from '../../src/pki/crl.js';
import { issue } from '../../src/pki/generate.js';
import type { Issued, KeySpec } from '../../src/pki/generate.js';
import { makeCrl } from '../../src/pki/generate-crl.js';
import { openssl, opensslTmpDir } from '../helpers/openssl.js';

const dir = opensslTmpDir();
const HOUR = 3600_000;
const at = new Date('2026-03-01T10:00:00Z');

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function only(bytes: Buffer): Crl {
  const { crls, problems } = parseCrls(bytes, 'made');
  assert.deepEqual(problems, []);
  assert.equal(crls.length, 1);
  return crls[0]!;
}

const ca = await issue({ subject: 'CN=Made CRL CA,O=Example', profile: 'root-ca' });

test('openssl verifies the CRL, lists every entry and reason, and parseCrls reads the same back', async () => {
  const keys: KeySpec[] = [{ type: 'ec', curve: 'P-256' }, { type: 'rsa', bits: 2048 }, { type: 'ed25519' }];
  for (const key of keys) {
    const issuer = await issue({ subject: `CN=${key.type} CRL CA`, profile: 'root-ca', key });
    const crl = makeCrl({
      issuer,
      revoked: [
        { serial: '0a1b', revokedAt: at, reason: 'keyCompromise' },
        { serial: '80:ff', revokedAt: new Date(at.getTime() + HOUR), reason: 'superseded' },
        { serial: '01', revokedAt: at },
        { serial: '00ff', revokedAt: at, reason: 'CACompromise' }, // any case, as openssl ca -crl_reason takes it
      ],
      thisUpdate: at,
      nextUpdate: new Date(at.getTime() + 12 * HOUR),
      crlNumber: 0x1000n,
    });
    const caFile = write(`${key.type}-ca.pem`, issuer.certPem);
    const crlFile = write(`${key.type}.crl`, crl.pem);
    assert.equal(openssl(['crl', '-in', crlFile, '-CAfile', caFile, '-noout']), '', key.type); // "verify OK" on stderr
    const text = openssl(['crl', '-in', crlFile, '-noout', '-text']);
    assert.match(text, /Version 2 \(0x1\)/);
    assert.match(text, /Last Update: Mar {2}1 10:00:00 2026 GMT\n\s+Next Update: Mar {2}1 22:00:00 2026 GMT/);
    assert.match(text, /X509v3 CRL Number: \n\s+4096\n/);
    assert.match(text, /X509v3 Authority Key Identifier: \n\s+[0-9A-F:]{59}\n/);
    assert.match(text, /Serial Number: 0A1B\n\s+Revocation Date: Mar {2}1 10:00:00 2026 GMT[\s\S]+?Key Compromise/);
    assert.match(text, /Serial Number: 80FF\n\s+Revocation Date: Mar {2}1 11:00:00 2026 GMT[\s\S]+?Superseded/);
    assert.match(text, /Serial Number: 01\n\s+Revocation Date: [^\n]+\n\s+Serial Number: FF\n[\s\S]+?CA Compromise/);

    const read = only(crl.der);
    assert.ok(verifyCrlSignature(read, issuer.x509.publicKey));
    assert.equal(read.issuer, `CN=${key.type} CRL CA`);
    assert.equal(read.crlNumber, 0x1000n);
    assert.equal(read.thisUpdate.getTime(), at.getTime());
    assert.equal(read.nextUpdate?.getTime(), at.getTime() + 12 * HOUR);
    assert.deepEqual(
      [...read.revoked].map(([serial, e]) => [serial, e.revokedAt.toISOString(), e.reason]),
      [
        ['0a:1b', '2026-03-01T10:00:00.000Z', 'keyCompromise'],
        ['80:ff', '2026-03-01T11:00:00.000Z', 'superseded'],
        ['01', '2026-03-01T10:00:00.000Z', null],
        ['ff', '2026-03-01T10:00:00.000Z', 'cACompromise'],
      ],
    );
    assert.deepEqual([read.unknownCriticalExtensions, read.unsupported], [[], []]);
  }
});

test('openssl verify -crl_check refuses a revoked leaf and accepts one the CRL does not list', async () => {
  const revoked = await issue({ subject: 'CN=revoked', issuer: ca });
  const good = await issue({ subject: 'CN=good', issuer: ca });
  const crl = makeCrl({
    issuer: ca,
    revoked: [{ serial: revoked.x509.serialNumber, revokedAt: at, reason: 'keyCompromise' }],
  });
  const caFile = write('verify-ca.pem', ca.certPem);
  const crlFile = write('verify.crl', crl.pem);
  const verify = (leaf: Issued): string => {
    const file = write('leaf.pem', leaf.certPem);
    try {
      return openssl(['verify', '-crl_check', '-CAfile', caFile, '-CRLfile', crlFile, file]);
    } catch (e) {
      return String((e as { stdout?: string; stderr?: string }).stderr ?? e);
    }
  };
  assert.match(verify(revoked), /certificate revoked/);
  assert.match(verify(good), /: OK\n$/);
});

test('no nextUpdate, a GeneralizedTime after 2049, and an unknown critical extension', () => {
  const late = new Date('2051-06-01T00:00:00Z');
  const crl = makeCrl({
    issuer: ca,
    revoked: [{ serial: '05', revokedAt: late }],
    thisUpdate: late,
    nextUpdate: null,
    extraExtensions: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: Buffer.from([0x0c, 0x02, 0x68, 0x69]) }],
  });
  const text = openssl(['crl', '-in', write('odd.crl', crl.pem), '-noout', '-text']);
  assert.match(text, /Next Update: NONE/);
  assert.match(text, /Last Update: Jun {2}1 00:00:00 2051 GMT/);
  assert.match(text, /1\.3\.6\.1\.4\.1\.55555\.1: critical/);
  const read = only(Buffer.from(crl.pem));
  assert.equal(read.nextUpdate, null);
  assert.equal(read.thisUpdate.getTime(), late.getTime());
  assert.equal(read.revoked.get('05')?.revokedAt.getTime(), late.getTime());
  assert.equal(read.crlNumber, 1n);
  assert.deepEqual(read.unknownCriticalExtensions, ['1.3.6.1.4.1.55555.1']);
  assert.ok(verifyCrlSignature(read, ca.x509.publicKey));
});

test('an empty CRL has no revokedCertificates field; SHA-384 is used when asked', () => {
  const crl = makeCrl({ issuer: ca, revoked: [], hash: 'sha384' });
  const read = only(crl.der);
  assert.equal(read.revoked.size, 0);
  assert.equal(read.signatureAlgorithm.name, 'ecdsa-with-SHA384');
  assert.doesNotMatch(openssl(['crl', '-in', write('empty.crl', crl.pem), '-noout', '-text']), /Serial Number/);
});

test('100,000 entries: openssl and parseCrls read every one', () => {
  const revoked = Array.from({ length: 100_000 }, (_, i) => ({
    serial: (i * 7919 + 1).toString(16),
    revokedAt: at,
    reason: i % 2 ? 'keyCompromise' : undefined,
  }));
  const crl = makeCrl({ issuer: ca, revoked });
  const read = only(crl.der);
  assert.equal(read.revoked.size, 100_000);
  assert.equal(
    read.revoked.get((99_999 * 7919 + 1).toString(16).padStart(8, '0').match(/../g)!.join(':'))?.reason,
    'keyCompromise',
  );
  const caFile = write('big-ca.pem', ca.certPem);
  assert.equal(openssl(['crl', '-in', write('big.crl', crl.pem), '-CAfile', caFile, '-noout']), '');
});

test('a bad serial or an unknown reason throws a one-line error', () => {
  assert.throws(() => makeCrl({ issuer: ca, revoked: [{ serial: 'xyz', revokedAt: at }] }), /serial must be hex/);
  assert.throws(
    () => makeCrl({ issuer: ca, revoked: [{ serial: '01', revokedAt: at, reason: 'stolen' }] }),
    /unknown revocation reason "stolen"; choose one of: unspecified, keyCompromise/,
  );
});
