import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { readTruststore, truststoreFromPem } from '../../src/trust/load.js';
import { lintTruststore } from '../../src/trust/lint.js';
import { toPem } from '../../src/pki/pem.js';
import { parseTime, splitCertificate } from '../../src/pki/cert.js';
import { tlvChildren } from '../../src/pki/der.js';
import { openssl } from '../helpers/openssl.js';
import { tmpDir } from '../helpers/pki.js';

const dir = tmpDir();
const root = await issue({ subject: 'CN=Load Root', profile: 'root-ca' });
const inter = await issue({ subject: 'CN=Load Intermediate', profile: 'intermediate-ca', issuer: root });

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function ids(r: { findings: Array<{ id: string }> }): string[] {
  return r.findings.map((f) => f.id);
}

test('a good bundle: a truststore with every certificate, no findings', async () => {
  const r = await readTruststore(write('good.pem', root.certPem + inter.certPem));
  assert.deepEqual(r.findings, []);
  assert.equal(r.truststore?.certs.length, 2);
  assert.equal(r.truststore?.source, join(dir, 'good.pem'));
  assert.equal(r.file.format, 'pem');
});

test('a missing file: truststore.file-not-found, no truststore', async () => {
  const r = await readTruststore(join(dir, 'missing.pem'));
  assert.deepEqual(ids(r), ['truststore.file-not-found']);
  assert.equal(r.findings[0]!.severity, 'error');
  assert.equal(r.truststore, null);
});

test('a directory: truststore.unreadable', async () => {
  const sub = join(dir, 'a-directory');
  mkdirSync(sub);
  const r = await readTruststore(sub);
  assert.deepEqual(ids(r), ['truststore.unreadable']);
});

test('an empty file, or PEM with no certificate in it: truststore.empty', async () => {
  assert.deepEqual(ids(await readTruststore(write('empty.pem', ''))), ['truststore.empty']);
  const csrOnly = '-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n';
  const r = await readTruststore(write('csr.pem', csrOnly));
  assert.deepEqual(ids(r), ['truststore.empty']);
  assert.deepEqual(r.findings[0]!.evidence.pemBlocks, ['CERTIFICATE REQUEST']);
});

test('parse errors in the middle of a bundle: one per bad block, naming it; the other certificates still load', async () => {
  const badBase64 = '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n';
  const notACert = '-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n';
  const r = await readTruststore(write('broken.pem', root.certPem + badBase64 + notACert + inter.certPem));
  assert.deepEqual(ids(r), ['truststore.parse-error', 'truststore.parse-error']);
  assert.deepEqual(
    r.findings.map((f) => f.evidence.block),
    [1, 2],
  );
  assert.match(r.findings[0]!.title, /PEM block 1/);
  assert.match(r.findings[0]!.fix, /grep -n -- '-----BEGIN' \S+ \| sed -n '2p'/);
  assert.deepEqual(
    r.truststore?.certs.map((c) => c.info.subject),
    ['CN=Load Root', 'CN=Load Intermediate'],
  );
});

test('only broken blocks: parse errors and truststore.empty', async () => {
  const r = await readTruststore(
    write('all-broken.pem', '-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n'),
  );
  assert.deepEqual(ids(r), ['truststore.parse-error', 'truststore.empty']);
  assert.equal(r.truststore, null);
});

test('DER, PKCS#7 and PKCS#12 files: truststore.wrong-format with the conversion command', async () => {
  const der = await readTruststore(write('root.der', root.der));
  assert.deepEqual(ids(der), ['truststore.wrong-format']);
  assert.match(der.findings[0]!.fix, /^openssl x509 -inform DER -in \S+root\.der -out truststore\.pem/);
  assert.equal(der.truststore?.certs.length, 1, 'the certificate is still read, so lint can check it');

  const pemPath = write('both.pem', root.certPem + inter.certPem);
  const p7der = join(dir, 'bundle.p7b');
  openssl(['crl2pkcs7', '-nocrl', '-certfile', pemPath, '-outform', 'DER', '-out', p7der]);
  const p7 = await readTruststore(p7der);
  assert.deepEqual(ids(p7), ['truststore.wrong-format']);
  assert.match(p7.findings[0]!.fix, /openssl pkcs7 -inform DER -print_certs -in \S+bundle\.p7b -out truststore\.pem/);

  const p7pem = join(dir, 'bundle-pem.p7b');
  openssl(['crl2pkcs7', '-nocrl', '-certfile', pemPath, '-out', p7pem]);
  const p7p = await readTruststore(p7pem);
  assert.deepEqual(ids(p7p), ['truststore.wrong-format']);
  assert.match(p7p.findings[0]!.fix, /openssl pkcs7 -print_certs -in \S+bundle-pem\.p7b -out truststore\.pem/);

  const key = write('root.key', root.keyPem);
  const p12 = join(dir, 'root.p12');
  openssl(['pkcs12', '-export', '-in', pemPath, '-inkey', key, '-passout', 'pass:secret', '-out', p12]);
  const r12 = await readTruststore(p12);
  assert.deepEqual(ids(r12), ['truststore.wrong-format']);
  assert.match(r12.findings[0]!.fix, /openssl pkcs12 -in \S+root\.p12 -nokeys/);
});

test('a file that is not certificates at all: truststore.wrong-format', async () => {
  const r = await readTruststore(write('notes.txt', 'hello, this is not a truststore\n'));
  assert.deepEqual(ids(r), ['truststore.wrong-format']);
  assert.equal(r.truststore, null);
});

test('truststoreFromPem: the same findings from memory, with the source as given', () => {
  const r = truststoreFromPem(
    root.certPem + '-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n' + inter.certPem,
    's3://bucket/ts.pem',
  );
  assert.deepEqual(ids(r), ['truststore.parse-error']);
  assert.equal(r.truststore?.source, 's3://bucket/ts.pem');
  assert.equal(r.truststore?.certs.length, 2);
  assert.match(r.findings[0]!.fix, / truststore\.pem /, 'commands use a local copy of an s3 bundle');
  // DER bytes passed as a latin1 string are still recognised.
  assert.deepEqual(ids(truststoreFromPem(root.der.toString('latin1'), 's3://bucket/root.der')), [
    'truststore.wrong-format',
  ]);
  assert.deepEqual(ids(truststoreFromPem('', 's3://bucket/empty.pem')), ['truststore.empty']);
});

test('CRLs in a truststore: a finding, never a crash', async () => {
  const { makeCrl } = await import('../../src/pki/generate-crl.js');
  const crl = makeCrl({ issuer: inter, revoked: [{ serial: '01', revokedAt: new Date(), reason: 'superseded' }] });
  const der = await readTruststore(write('crl.der', crl.der));
  assert.deepEqual(ids(der), ['truststore.wrong-format']);
  assert.match(der.findings[0]!.title, /a DER certificate revocation list \(CRL\), not certificates/);
  assert.equal(der.truststore, null);

  const only = await readTruststore(write('only-crl.pem', crl.pem));
  assert.deepEqual(ids(only), ['truststore.contains-crl', 'truststore.empty']);
  assert.deepEqual(only.findings[1]!.evidence.pemBlocks, ['X509 CRL']);

  const mixed = await readTruststore(write('mixed.pem', root.certPem + crl.pem + inter.certPem + crl.pem));
  assert.deepEqual(ids(mixed), ['truststore.contains-crl']);
  assert.equal(mixed.findings[0]!.severity, 'warning');
  assert.match(mixed.findings[0]!.title, /PEM blocks 1, 3 are CRLs, which a truststore does not use$/);
  assert.deepEqual(mixed.findings[0]!.evidence.blocks, ['1', '3']);
  assert.equal(mixed.truststore?.certs.length, 2);
  // The fix's awk line leaves the certificates only.
  execFileSync('sh', ['-c', mixed.findings[0]!.fix.split('\n')[0]!]);
  const clean = await readTruststore(join(dir, 'mixed.pem.nocrl'));
  assert.deepEqual(ids(clean), []);
  assert.equal(clean.truststore?.certs.length, 2);
});

/**
 * Plain certificates skip OpenSSL's parse at load (pki/plain.ts): in a large bundle with certificates broken in many
 * different places, exactly the ones OpenSSL refuses (or whose dates cannot be read) are parse errors, and every
 * certificate that loaded still gives OpenSSL's parse when asked for it.
 */
test('a large bundle with certificates broken in many places: parse errors exactly where OpenSSL refuses', async () => {
  const first = await issue({ subject: 'CN=Big Root 000,O=mtlsgate load', profile: 'root-ca' });
  const ders: Buffer[] = [first.der];
  for (let i = 1; i < 240; i++) {
    const ca = await issue({
      subject: `CN=Big Root ${String(i).padStart(3, '0')},O=mtlsgate load`,
      profile: 'root-ca',
      publicKeyFrom: first,
    });
    ders.push(ca.der);
  }
  // Every third certificate gets one octet flipped, each at another offset (the outer header left intact).
  const mutated = ders.map((d, i) => {
    if (i % 3 !== 0) return d;
    const out = Buffer.from(d);
    const at = 4 + ((i * 37) % (d.length - 4));
    out[at] = out[at]! ^ (i % 2 === 0 ? 0x20 : 0x01);
    return out;
  });
  const refused = new Set<number>();
  mutated.forEach((d, i) => {
    try {
      const x = new X509Certificate(d);
      const times = tlvChildren(d, splitCertificate(d).validity, 2) ?? [];
      const from = parseTime(d, times[0]) ?? new Date(x.validFrom);
      const to = parseTime(d, times[1]) ?? new Date(x.validTo);
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) refused.add(i);
    } catch {
      refused.add(i);
    }
  });
  assert.ok(refused.size >= 10 && refused.size <= 70, `${refused.size} refused: the mutations test too little`);
  const pem = mutated.map((d) => toPem('CERTIFICATE', d)).join('');
  const r = truststoreFromPem(pem, 'big.pem');
  const errors = r.findings.filter((f) => f.id === 'truststore.parse-error').map((f) => f.evidence.block);
  assert.deepEqual(errors, [...refused]);
  assert.equal(r.truststore?.certs.length, mutated.length - refused.size);
  for (const c of r.truststore!.certs) assert.equal(c.x509.fingerprint256, new X509Certificate(c.der).fingerprint256);
  assert.ok(Array.isArray(lintTruststore(r.truststore!, r.file)));
});

test('contains: the same DER is in the truststore; another key or serial under the same subject is not', async () => {
  const root = await issue({ subject: 'CN=Contains Root', profile: 'root-ca' });
  const twin = await issue({ subject: 'CN=Contains Root', profile: 'root-ca' });
  const other = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
  const store = truststoreFromPem(root.certPem + other.certPem, 'ts.pem').truststore!;
  // Parsed again: a copy, not the truststore's own object.
  const copy = truststoreFromPem(root.certPem, 'copy.pem').truststore!.certs[0]!;
  assert.notEqual(copy, store.certs[0]);
  assert.equal(store.contains(copy), true);
  assert.equal(store.contains(store.certs[1]!), true);
  const twinCert = truststoreFromPem(twin.certPem, 'twin.pem').truststore!.certs[0]!;
  assert.equal(twinCert.subjectName, copy.subjectName, 'the same subject');
  assert.equal(store.contains(twinCert), false);
});
