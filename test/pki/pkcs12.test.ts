import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadFile } from '../../src/pki/load.js';
import { certFromPem } from '../../src/pki/cert.js';
import { fixtures, openssl, PASS } from '../helpers/openssl.js';

const fx = fixtures();
const leaf = certFromPem(readFileSync(fx.leafCert, 'utf8')).info;
const ca = certFromPem(readFileSync(fx.caCert, 'utf8')).info;

test('modern PKCS#12 (AES-256, SHA-256 MAC): certificates and key, Node loads it', async () => {
  const f = await loadFile(fx.p12Modern, { passphrase: PASS });
  assert.equal(f.format, 'pkcs12');
  assert.deepEqual(f.problems, []);
  assert.deepEqual(
    f.certs.map((c) => c.info.fingerprintSha256).sort(),
    [leaf.fingerprintSha256, ca.fingerprintSha256].sort(),
  );
  assert.equal(f.keys.length, 1);
  assert.deepEqual(
    [f.keys[0]!.info.encoding, f.keys[0]!.info.encrypted, f.keys[0]!.info.spkiSha256],
    ['pkcs12', true, leaf.spkiSha256],
  );
  assert.deepEqual(f.pkcs12, {
    macAlgorithm: 'sha256',
    encryptionAlgorithms: ['AES-256-CBC'],
    nodeLoads: true,
    nodeError: null,
    legacyUnreadableParts: 0,
    kdfIterations: opensslIterations(fx.p12Modern),
  });
});

/** The iterations `openssl pkcs12 -info` reports for the MAC and every encrypted part, summed. */
function opensslIterations(file: string): number {
  const args = ['pkcs12', '-info', '-noout', '-in', file, '-passin', `pass:${PASS}`];
  // It prints the algorithm lines on stderr.
  const info = spawnSync('openssl', args, { encoding: 'utf8' }).stderr;
  const counts = [...info.matchAll(/Iteration (\d+)/g)].map((m) => Number(m[1]));
  assert.ok(counts.length >= 3, info);
  return counts.reduce((a, b) => a + b, 0);
}

test('wrong password: pkcs12-wrong-passphrase; none given: passphrase-required', async () => {
  for (const file of [fx.p12Modern, fx.p12Legacy]) {
    const wrong = await loadFile(file, { passphrase: 'nope' });
    assert.deepEqual(
      wrong.problems.map((p) => p.kind),
      ['pkcs12-wrong-passphrase'],
      file,
    );
    assert.equal(wrong.pkcs12?.nodeLoads, false);
    assert.equal(wrong.pkcs12?.nodeError, 'mac verify failure');
    const none = await loadFile(file);
    assert.deepEqual(
      none.problems.map((p) => p.kind),
      ['passphrase-required'],
      file,
    );
  }
});

test('legacy PKCS#12 (RC2-40 certificates, 3DES key): pkcs12-legacy-encryption, still lists the key', async () => {
  const f = await loadFile(fx.p12Legacy, { passphrase: PASS });
  assert.deepEqual(
    f.problems.map((p) => p.kind),
    ['pkcs12-legacy-encryption'],
  );
  assert.match(f.problems[0]!.message, /pbeWithSHAAnd40BitRC2-CBC/);
  assert.equal(f.certs.length, 0, 'RC2 needs the legacy provider, which Node does not load');
  assert.equal(f.keys.length, 1, 'the 3DES-shrouded key decrypts with the default provider');
  assert.equal(f.keys[0]!.info.spkiSha256, leaf.spkiSha256);
  assert.equal(f.pkcs12?.macAlgorithm, 'sha1');
  assert.equal(f.pkcs12?.nodeLoads, false);
  assert.equal(f.pkcs12?.nodeError, 'Unsupported PKCS12 PFX data');
  assert.equal(f.pkcs12?.legacyUnreadableParts, 1);
});

test('3DES everywhere with a SHA-1 MAC: legacy algorithms, but Node loads it, so no problem', async () => {
  const out = join(fx.dir, 'tdes.p12');
  openssl([
    'pkcs12',
    '-export',
    '-inkey',
    fx.rsaPkcs8,
    '-in',
    fx.leafCert,
    '-certpbe',
    'PBE-SHA1-3DES',
    '-keypbe',
    'PBE-SHA1-3DES',
    '-macalg',
    'sha1',
    '-passout',
    `pass:${PASS}`,
    '-out',
    out,
  ]);
  const f = await loadFile(out, { passphrase: PASS });
  assert.equal(f.pkcs12?.nodeLoads, true);
  assert.deepEqual(f.problems, []);
  assert.equal(f.certs.length, 1);
  assert.equal(f.keys.length, 1);
});

test('no password at all, and no encryption or MAC', async () => {
  const empty = join(fx.dir, 'empty-pass.p12');
  openssl(['pkcs12', '-export', '-inkey', fx.rsaPkcs8, '-in', fx.leafCert, '-passout', 'pass:', '-out', empty]);
  const a = await loadFile(empty);
  assert.deepEqual(a.problems, []);
  assert.equal(a.certs.length + a.keys.length, 2);
  const plain = join(fx.dir, 'plain.p12');
  openssl([
    'pkcs12',
    '-export',
    '-inkey',
    fx.rsaPkcs8,
    '-in',
    fx.leafCert,
    '-keypbe',
    'NONE',
    '-certpbe',
    'NONE',
    '-nomac',
    '-passout',
    'pass:',
    '-out',
    plain,
  ]);
  const b = await loadFile(plain);
  assert.deepEqual(b.problems, []);
  assert.deepEqual(
    [b.certs.length, b.keys.length, b.keys[0]!.info.encrypted, b.pkcs12?.macAlgorithm],
    [1, 1, false, null],
  );
});

test('a truncated PKCS#12 is pkcs12-parse-error, not a throw', async () => {
  const { loadBytes } = await import('../../src/pki/load.js');
  const bytes = readFileSync(fx.p12Modern);
  const f = loadBytes(bytes.subarray(0, bytes.length - 100), 'cut.p12', { passphrase: PASS });
  assert.ok(f.problems.length > 0);
  assert.ok(f.problems.every((p) => !p.message.includes('\n')));
});

test('a hostile iteration count is refused quickly, and Node is not asked to spend it', async () => {
  const { loadBytes } = await import('../../src/pki/load.js');
  const { readTlv, tlvChildren } = await import('../../src/pki/der.js');
  const p12 = readFileSync(fx.p12Modern);
  const outer = readTlv(p12, 0)!;
  const [version, authSafe, mac] = tlvChildren(p12, outer)!;
  const [digest, salt] = tlvChildren(p12, mac!)!;
  const slice = (t: { start: number; end: number }): Buffer => p12.subarray(t.start, t.end);
  const newMac = der(
    0x30,
    Buffer.concat([slice(digest!), slice(salt!), Buffer.from([0x02, 0x04, 0x7f, 0xff, 0xff, 0xff])]),
  );
  const hostile = der(0x30, Buffer.concat([slice(version!), slice(authSafe!), newMac]));
  const t = performance.now();
  const f = loadBytes(hostile, 'hostile.p12', { passphrase: PASS });
  assert.ok(performance.now() - t < 10_000, 'a hang guard, generous for a loaded machine');
  assert.deepEqual(
    f.problems.map((p) => p.kind),
    ['pkcs12-parse-error'],
  );
  assert.match(f.problems[0]!.message, /2147483647 key derivation iterations/);
  assert.equal(f.pkcs12?.nodeLoads, false);
});

function der(tag: number, content: Buffer): Buffer {
  const len = content.length;
  const header =
    len < 0x80
      ? Buffer.from([tag, len])
      : len < 0x10000
        ? Buffer.from([tag, 0x82, len >> 8, len & 0xff])
        : Buffer.from([tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  return Buffer.concat([header, content]);
}
