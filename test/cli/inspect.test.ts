import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { certFromPem } from '../../src/pki/cert.js';
import { issue } from '../../src/pki/generate.js';
import { mtlsgate } from '../helpers/cli.js';
import { bufferIo } from '../helpers/io.js';
import { fixtures, PASS } from '../helpers/openssl.js';

const fx = fixtures();
const leaf = certFromPem(readFileSync(fx.leafCert, 'utf8')).info;

test('human output: a certificate with every field, and its key matched', async () => {
  const { code, out, err } = await mtlsgate('inspect', fx.leafCert, fx.rsaPkcs8);
  assert.equal(code, 0);
  assert.equal(err, '');
  assert.match(out, new RegExp(`${fx.leafCert}: PEM, 1 CERTIFICATE\\n  Certificate 0\\n`));
  for (const line of [
    'Subject:            CN=client,OU=Payments,O=Example,C=US',
    'Issuer:             CN=Example Root CA,O=Example,C=US',
    'Serial:             a1:b2:c3:d4:e5:f6:07:18',
    'Public key:         RSA 2048 bits',
    'Signature:          sha256WithRSAEncryption',
    'Subject alt names:  DNS:client.example, IP:127.0.0.1, IP:2001:db8::1, email:ops@example.com, URI:spiffe://example.org/client',
    'Key usage:          digitalSignature, keyEncipherment',
    'Extended key usage: clientAuth, 1.3.6.1.4.1.99999.1',
    'Basic constraints:  CA:FALSE, critical',
    `Subject key id:     ${leaf.subjectKeyId}`,
    `Authority key id:   ${leaf.authorityKeyId}`,
    `SHA-256:            ${leaf.fingerprintSha256}`,
    `Modulus SHA-1:      ${leaf.modulusSha1}`,
    `SPKI SHA-256:       ${leaf.spkiSha256}`,
    'Encoding:           PKCS#8 PEM, not encrypted',
  ]) {
    assert.ok(out.includes(line), `missing: ${line}\n${out}`);
  }
  assert.match(
    out,
    /Validity: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ to \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \((89|90) days left\)/,
  );
  assert.doesNotMatch(out, /\x1b\[/, 'no colour with NO_COLOR');
});

test('bundles list every certificate with its index; a format/extension disagreement is noted', async () => {
  const { out } = await mtlsgate('inspect', fx.bundle, fx.leafCertDerPem);
  assert.match(out, /PEM, 2 CERTIFICATE\n {2}Certificate 0\n[\s\S]* {2}Certificate 1\n/);
  assert.ok(out.includes(`${fx.leafCertDerPem}: DER certificate (the .pem extension suggests PEM)`));
});

test('expired, not yet valid, weak signature and small keys are called out', async () => {
  const day = 86_400_000;
  const old = await issue({
    subject: 'CN=old',
    key: { type: 'rsa', bits: 1024 },
    hash: 'sha1',
    notBefore: new Date(Date.now() - 400 * day),
    notAfter: new Date(Date.now() - 35 * day - 3600_000),
  });
  const future = await issue({ subject: 'CN=future', notBefore: new Date(Date.now() + 10 * day + 3600_000) });
  const oldFile = join(fx.dir, 'old.pem');
  const futureFile = join(fx.dir, 'future.pem');
  writeFileSync(oldFile, old.certPem);
  writeFileSync(futureFile, future.certPem);
  const { out, code } = await mtlsgate('inspect', oldFile, futureFile);
  assert.equal(code, 0);
  assert.match(out, /\(expired 35 days ago\)/);
  assert.match(out, /sha1WithRSAEncryption \(weak: sha1\)/);
  assert.match(out, /RSA 1024 bits \(weak: under 2048 bits\)/);
  assert.match(out, /\(not yet valid: starts in 11 days\)/);
});

test('--pass and FILE:PASS for encrypted keys and PKCS#12; the password is never printed', async () => {
  const a = await mtlsgate('inspect', '--pass', PASS, fx.rsaEncPkcs8);
  assert.equal(a.code, 0);
  assert.match(a.out, /Encoding: +encrypted PKCS#8, encrypted/);
  const b = await mtlsgate('inspect', `${fx.p12Modern}:${PASS}`);
  assert.equal(b.code, 0);
  assert.match(b.out, /PKCS#12\n {2}MAC sha256; encryption AES-256-CBC; Node's TLS loads it/);
  assert.match(b.out, /Private key 0[\s\S]*matches certificate 0/);
  assert.ok(!b.out.includes(PASS) && !b.err.includes(PASS));
  // A real file whose name contains a colon is taken as a file.
  const colon = join(fx.dir, 'odd:name.pem');
  copyFileSync(fx.leafCert, colon);
  assert.equal((await mtlsgate('inspect', colon)).code, 0);
});

test('problems: one stderr line per problem, exit 2 when a file gives nothing, the others still printed', async () => {
  const missing = join(fx.dir, 'missing.pem');
  const { code, out, err } = await mtlsgate('inspect', missing, fx.leafCert, fx.rsaEncPkcs8, fx.dir);
  assert.equal(code, 2);
  assert.match(out, /Certificate 0/);
  const lines = err.trimEnd().split('\n');
  assert.deepEqual(lines, [
    `mtlsgate: ${missing}: no such file`,
    `mtlsgate: ${fx.rsaEncPkcs8}: the private key is encrypted and no passphrase was given`,
    `mtlsgate: ${fx.dir}: is a directory, not a file (EISDIR)`,
  ]);
  const legacy = await mtlsgate('inspect', '--pass', PASS, fx.p12Legacy);
  assert.equal(legacy.code, 0, 'the key could be read');
  assert.match(legacy.err, /pbeWithSHAAnd40BitRC2-CBC/);
  assert.match(legacy.out, /Node's TLS cannot load it: Unsupported PKCS12 PFX data/);
});

test('--json: files with format, certificates, keys and problems', async () => {
  const { code, out } = await mtlsgate(
    'inspect',
    '--json',
    '--pass',
    PASS,
    fx.leafCert,
    fx.p12Modern,
    join(fx.dir, 'missing.pem'),
  );
  assert.equal(code, 2);
  const json = JSON.parse(out) as { files: Array<Record<string, unknown>> };
  assert.equal(json.files.length, 3);
  const [pem, p12, missing] = json.files;
  // The JSON of a certificate is its CertInfo as JSON (computed fields included).
  const leafJson = JSON.parse(JSON.stringify(leaf)) as Record<string, unknown>;
  assert.equal(leafJson.serial, leaf.serial);
  assert.deepEqual(pem, { path: fx.leafCert, format: 'pem', certificates: [leafJson], keys: [], problems: [] });
  assert.equal(p12!.format, 'pkcs12');
  assert.equal((p12!.certificates as unknown[]).length, 2);
  assert.equal((p12!.keys as Array<{ spkiSha256: string }>)[0]!.spkiSha256, leaf.spkiSha256);
  assert.deepEqual(missing!.problems, [{ kind: 'not-found', message: 'no such file' }]);
});

test('colour only when wanted', async () => {
  const b = bufferIo({ FORCE_COLOR: '1' });
  await main(['inspect', fx.leafCert], b.io);
  assert.match(b.out(), /\x1b\[/);
});

test('FILE:PASS naming a missing file: the error names FILE, never the password (text and JSON)', async () => {
  const missing = join(fx.dir, 'gone.p12');
  for (const json of [false, true]) {
    const r = await mtlsgate('inspect', ...(json ? ['--json'] : []), `${missing}:${PASS}`);
    assert.equal(r.code, 2);
    assert.ok(!r.out.includes(PASS) && !r.err.includes(PASS), `the password was printed: ${r.err}${r.out}`);
    assert.match(r.err, new RegExp(`gone\\.p12: no such file`));
  }
});

test('CRLs: PEM and DER, several in a file, the first 20 entries, expiry, unusable features; --json too', async () => {
  const { makeCrl } = await import('../../src/pki/generate-crl.js');
  const ca = await issue({ subject: 'CN=Inspect CRL CA,O=Example', profile: 'root-ca' });
  const day = 86_400_000;
  const revoked = Array.from({ length: 25 }, (_, i) => ({
    serial: (0x1000 + i).toString(16),
    revokedAt: new Date('2026-01-02T03:04:05Z'),
    reason: i === 0 ? 'keyCompromise' : undefined,
  }));
  const fresh = makeCrl({
    issuer: ca,
    revoked,
    crlNumber: 4096n,
    nextUpdate: new Date(Date.now() + 6 * day + 3600_000),
  });
  const stale = makeCrl({
    issuer: ca,
    revoked: [],
    thisUpdate: new Date(Date.now() - 10 * day),
    nextUpdate: new Date(Date.now() - 2 * day - 3600_000),
    extraExtensions: [
      { oid: '1.3.6.1.4.1.55555.1', critical: true, value: Buffer.from([5, 0]) },
      { oid: '2.5.29.28', critical: true, value: Buffer.from([0x30, 0]) }, // issuing distribution point
    ],
  });
  const pemFile = join(fx.dir, 'two.crl');
  const derFile = join(fx.dir, 'one.der');
  writeFileSync(pemFile, fresh.pem + stale.pem);
  writeFileSync(derFile, fresh.der);
  const { out, err, code } = await mtlsgate('inspect', pemFile, derFile);
  assert.equal(code, 0, err);
  assert.equal(err, '');
  assert.ok(out.startsWith(`${pemFile}: PEM, 2 X509 CRL\n  CRL 0\n`), out);
  assert.ok(out.includes(`${derFile}: DER CRL (the .der extension`) === false);
  assert.ok(out.includes(`${derFile}: DER CRL\n  CRL 0\n`), out);
  for (const line of [
    '    Issuer:             CN=Inspect CRL CA,O=Example',
    '    CRL number:         4096',
    '    Signature:          ecdsa-with-SHA256',
    '    Revoked:            25 certificates',
    '      10:00  2026-01-02 03:04:05Z  keyCompromise',
    '      10:13  2026-01-02 03:04:05Z',
    '      ... and 5 more',
    '    Revoked:            0 certificates',
    '    Unsupported:        issuing distribution point (mtlsgate does not use this CRL)',
    '    Unknown critical:   1.3.6.1.4.1.55555.1 (the CRL must not be used)',
  ])
    assert.ok(out.includes(`${line}\n`), `missing: ${line}\n${out}`);
  assert.doesNotMatch(out, /10:14 /);
  assert.match(out, /Next update: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(expires in 6 days\)/);
  assert.match(out, /Next update: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(expired 2 days ago\)/);

  const json = await mtlsgate('inspect', '--json', pemFile);
  const file = (JSON.parse(json.out) as { files: Array<{ format: string; crls: Array<Record<string, unknown>> }> })
    .files[0]!;
  assert.equal(file.format, 'pem');
  assert.equal(file.crls.length, 2);
  const [a, b] = file.crls;
  assert.equal(a!.crlNumber, '4096');
  assert.equal(a!.revokedCount, 25);
  assert.equal((a!.revoked as unknown[]).length, 20);
  assert.deepEqual((a!.revoked as unknown[])[0], {
    serial: '10:00',
    revokedAt: '2026-01-02T03:04:05.000Z',
    reason: 'keyCompromise',
  });
  assert.equal(a!.daysLeft, 6);
  assert.equal(b!.daysLeft, -3);
  assert.deepEqual(b!.unknownCriticalExtensions, ['1.3.6.1.4.1.55555.1']);
  assert.deepEqual(b!.unsupported, ['issuing distribution point']);
});

test('a broken CRL block is reported on stderr; a file with no CRL, certificate or key exits 2', async () => {
  const file = join(fx.dir, 'broken.crl');
  writeFileSync(file, '-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n');
  const r = await mtlsgate('inspect', file);
  assert.equal(r.code, 2);
  assert.match(r.err, /^mtlsgate: .*broken\.crl: pem block 0 \(X509 CRL\): /);
});

test('certificates show their CRL distribution points and OCSP URLs when they have them', async () => {
  const cert = await issue({
    subject: 'CN=pointers',
    crlUrls: ['http://crl.example/a.crl'],
    ocspUrls: ['http://ocsp.example'],
  });
  const file = join(fx.dir, 'pointers.pem');
  writeFileSync(file, cert.certPem);
  const { out } = await mtlsgate('inspect', file);
  assert.ok(out.includes('    CRL:                http://crl.example/a.crl\n'), out);
  assert.ok(out.includes('    OCSP:               http://ocsp.example\n'), out);
  const plain = await mtlsgate('inspect', fx.leafCert);
  assert.doesNotMatch(plain.out, /CRL:|OCSP:/);
  const json = JSON.parse((await mtlsgate('inspect', '--json', file)).out) as {
    files: Array<{ certificates: Array<{ crlDistributionPoints: string[]; ocspUrls: string[] }> }>;
  };
  assert.deepEqual(json.files[0]!.certificates[0]!.crlDistributionPoints, ['http://crl.example/a.crl']);
  assert.deepEqual(json.files[0]!.certificates[0]!.ocspUrls, ['http://ocsp.example']);
});
