import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBytes, loadFile } from '../../src/pki/load.js';
import { readCapped } from '../../src/pki/read.js';
import { fixtures, PASS } from '../helpers/openssl.js';

const fx = fixtures();
const file = (name: string, content: string | Buffer): string => {
  const p = join(fx.dir, name);
  writeFileSync(p, content);
  return p;
};
/** Runs `fn` and fails when it takes longer than `ms`. */
async function within<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const r = await fn();
  assert.ok(performance.now() - t < ms, `took ${(performance.now() - t).toFixed(0)} ms`);
  return r;
}

test('a bundle with text between blocks: every certificate, in order', async () => {
  const f = await loadFile(fx.bundle);
  assert.equal(f.format, 'pem');
  assert.deepEqual(f.pemLabels, ['CERTIFICATE', 'CERTIFICATE']);
  assert.deepEqual(
    f.certs.map((c) => c.info.subject),
    ['CN=client,OU=Payments,O=Example,C=US', 'CN=Example Root CA,O=Example,C=US'],
  );
  assert.deepEqual(f.problems, []);
  assert.ok(f.mode !== null && f.size > 0);
});

test('cert and key in one PEM, and a DER certificate named .pem', async () => {
  const both = file('both.pem', readFileSync(fx.leafCert, 'utf8') + readFileSync(fx.rsaEncPkcs8, 'utf8'));
  const f = await loadFile(both, { passphrase: PASS });
  assert.deepEqual([f.certs.length, f.keys.length, f.keyBlocks, f.problems.length], [1, 1, 1, 0]);
  const der = await loadFile(fx.leafCertDerPem);
  assert.equal(der.format, 'der-certificate');
  assert.equal(der.certs.length, 1);
});

test('missing, directory, unreadable, empty: problems, no throw', async () => {
  assert.deepEqual(
    (await loadFile(join(fx.dir, 'nope.pem'))).problems.map((p) => p.kind),
    ['not-found'],
  );
  assert.deepEqual(
    (await loadFile(join(fx.dir, 'nope', 'x.pem'))).problems.map((p) => p.kind),
    ['not-found'],
  );
  const dir = join(fx.dir, 'a-dir');
  mkdirSync(dir, { recursive: true });
  const d = await loadFile(dir);
  assert.deepEqual(
    d.problems.map((p) => p.kind),
    ['unreadable'],
  );
  assert.match(d.problems[0]!.message, /directory/);
  const empty = await loadFile(file('empty.pem', ''));
  assert.deepEqual([empty.format, empty.problems.map((p) => p.kind)], ['empty', ['empty']]);
  if (process.getuid?.() !== 0) {
    const locked = file('locked.pem', 'x');
    chmodSync(locked, 0o000);
    const l = await loadFile(locked);
    assert.deepEqual(
      l.problems.map((p) => p.kind),
      ['unreadable'],
    );
    assert.match(l.problems[0]!.message, /permission denied/);
  }
});

test('a FIFO and /dev/zero are refused without hanging', async () => {
  const fifo = join(fx.dir, 'fifo.pem');
  execFileSync('mkfifo', [fifo]);
  const f = await within(2000, () => loadFile(fifo));
  assert.deepEqual(
    f.problems.map((p) => p.kind),
    ['unreadable'],
  );
  assert.match(f.problems[0]!.message, /fifo/);
  const z = await within(2000, () => loadFile('/dev/zero'));
  assert.deepEqual(
    z.problems.map((p) => p.kind),
    ['unreadable'],
  );
});

test('a 20 MB file is too-large, fast; the cap is configurable and read past by one byte at most', async () => {
  const big = file('big.pem', Buffer.alloc(20 * 1024 * 1024, 0x41));
  const f = await within(1000, () => loadFile(big));
  assert.deepEqual(
    f.problems.map((p) => p.kind),
    ['too-large'],
  );
  assert.match(f.problems[0]!.message, /10 MiB/);
  const small = await readCapped(fx.leafCert, 100);
  assert.equal('kind' in small && small.kind, 'too-large');
  assert.deepEqual(
    loadBytes(Buffer.alloc(200), 'x', { maxBytes: 100 }).problems.map((p) => p.kind),
    ['too-large'],
  );
});

test('random bytes, truncated DER, deep nesting, a 10 MB PEM line: problems in bounded time', async () => {
  const cert = readFileSync(fx.leafCertDerCrt);
  const nested = Buffer.concat(Array.from({ length: 100_000 }, () => Buffer.from([0x30, 0x80])));
  const cases: [string, Buffer][] = [
    ['random.bin', randomBytes(4096)],
    ['truncated.der', cert.subarray(0, cert.length - 40)],
    ['nested.der', nested],
    [
      'longline.pem',
      Buffer.from(`-----BEGIN CERTIFICATE-----\n${'A'.repeat(10 * 1024 * 1024 - 100)}\n-----END CERTIFICATE-----\n`),
    ],
    ['garbage-in-pem.pem', Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')],
  ];
  for (const [name, bytes] of cases) {
    const f = await within(3000, () => loadFile(file(name, bytes)));
    assert.equal(f.certs.length + f.keys.length, 0, name);
    assert.ok(f.problems.length > 0, name);
    for (const p of f.problems) assert.doesNotMatch(p.message, /\n/, name);
  }
  assert.deepEqual(
    loadBytes(cert.subarray(0, 100), 't').problems.map((p) => p.kind),
    ['unknown-format'],
  );
});

test('PKCS#12- and PKCS#7-shaped files with 200k nested indefinite-length SEQUENCEs', async () => {
  const nest = Buffer.concat(Array.from({ length: 200_000 }, () => Buffer.from([0x30, 0x80])));
  const p12 = Buffer.concat([Buffer.from('308002010330800609' + '2a864886f70d010701' + 'a080', 'hex'), nest]);
  const p7 = Buffer.concat([Buffer.from('30800609' + '2a864886f70d010702' + 'a080', 'hex'), nest]);
  const a = await within(2000, async () => loadBytes(p12, 'deep.p12', { passphrase: PASS }));
  assert.deepEqual([a.format, a.problems.map((p) => p.kind)], ['pkcs12', ['pkcs12-parse-error']]);
  const b = await within(2000, async () => loadBytes(p7, 'deep.p7b'));
  assert.deepEqual([b.format, b.problems.map((p) => p.kind)], ['pkcs7', ['pkcs7-parse-error']]);
});

test('what unknown files probably are', () => {
  const msg = (b: Buffer): string => loadBytes(b, 'x').problems[0]!.message;
  assert.match(msg(Buffer.from('ssh-ed25519 AAAAC3Nza... me@host\n')), /OpenSSH public key/);
  assert.match(msg(Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2])), /Java KeyStore/);
  assert.match(
    msg(Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')),
    /CERTIFICATE REQUEST/,
  );
});

test('a bundle of 10,000 certificates loads, in linear time (a hang guard; bench/ measures speed)', async () => {
  const one = readFileSync(fx.leafCert, 'utf8');
  const ca = readFileSync(fx.caCert, 'utf8');
  const bundle = file('10k.pem', (one + ca).repeat(5000));
  const t = performance.now();
  const f = await loadFile(bundle, { maxBytes: 64 * 1024 * 1024 }); // ~14 MB of RSA certificates
  const loadMs = performance.now() - t;
  assert.equal(f.certs.length, 10_000);
  const t2 = performance.now();
  for (const c of f.certs) void c.info.subject;
  const describeMs = performance.now() - t2;
  console.log(`# 10k-certificate bundle: load ${loadMs.toFixed(0)} ms, describe all ${describeMs.toFixed(0)} ms`);
  // A guard against quadratic work, not a benchmark (bench/ measures speed): generous for a loaded shared machine.
  assert.ok(loadMs < 20_000, `load took ${loadMs.toFixed(0)} ms`);
});

test('CRLs are read, not called an unknown format: DER, PEM blocks beside certificates, broken blocks', async () => {
  const { issue } = await import('../../src/pki/generate.js');
  const { makeCrl } = await import('../../src/pki/generate-crl.js');
  const ca = await issue({ subject: 'CN=Load CRL CA', profile: 'root-ca' });
  const crl = makeCrl({ issuer: ca, revoked: [{ serial: '01', revokedAt: new Date() }] });
  const der = loadBytes(crl.der, 'x.crl');
  assert.equal(der.format, 'der-crl');
  assert.deepEqual(der.problems, []);
  assert.equal(der.crls.length, 1);
  assert.equal(der.crls[0]!.issuer, 'CN=Load CRL CA');

  const mixed = loadBytes(Buffer.from(ca.certPem + crl.pem + crl.pem), 'mixed.pem');
  assert.deepEqual([mixed.format, mixed.certs.length, mixed.crls.length, mixed.problems], ['pem', 1, 2, []]);
  assert.deepEqual(mixed.pemLabels, ['CERTIFICATE', 'X509 CRL', 'X509 CRL']);

  const broken = loadBytes(Buffer.from(`${crl.pem}-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n`), 'b');
  assert.equal(broken.crls.length, 1);
  assert.deepEqual(
    broken.problems.map((p) => [p.kind, p.index]),
    [['crl-parse-error', 1]],
  );
  const truncated = loadBytes(crl.der.subarray(0, crl.der.length - 1), 't');
  assert.notEqual(truncated.format, 'der-crl');
  assert.equal(truncated.crls.length, 0);
  assert.equal(truncated.problems.length, 1);
});
