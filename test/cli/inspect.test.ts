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
  assert.deepEqual(pem, { path: fx.leafCert, format: 'pem', certificates: [leaf], keys: [], problems: [] });
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
