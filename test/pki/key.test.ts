import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadFile } from '../../src/pki/load.js';
import { certFromPem } from '../../src/pki/cert.js';
import { fixtures, opensslModulusSha1, PASS } from '../helpers/openssl.js';

const fx = fixtures();
const leaf = certFromPem(readFileSync(fx.leafCert, 'utf8')).info;

test('RSA keys in every encoding: KeyInfo, modulus digest as openssl rsa prints it, SPKI equal to the cert', async () => {
  const expectedModulus = opensslModulusSha1('rsa', fx.rsaPkcs8);
  assert.equal(expectedModulus, leaf.modulusSha1);
  const cases = [
    [fx.rsaPkcs8, 'pkcs8', false],
    [fx.rsaPkcs1, 'pkcs1', false],
    [fx.rsaEncPkcs8, 'encrypted-pkcs8', true],
    [fx.rsaLegacyEnc, 'legacy-encrypted-pem', true],
    [fx.rsaPkcs8Der, 'der', false],
    [fx.rsaEncPkcs8Der, 'encrypted-pkcs8', true],
  ] as const;
  for (const [file, encoding, encrypted] of cases) {
    const loaded = await loadFile(file, { passphrase: PASS });
    assert.deepEqual(loaded.problems, [], file);
    assert.equal(loaded.keyBlocks, 1);
    assert.deepEqual(
      loaded.keys[0]!.info,
      {
        type: 'rsa',
        bits: 2048,
        curve: null,
        encoding,
        encrypted,
        modulusSha1: expectedModulus,
        spkiSha256: leaf.spkiSha256,
      },
      file,
    );
  }
  assert.equal(opensslModulusSha1('rsa', fx.rsaLegacyEnc, PASS), expectedModulus);
});

test('EC (SEC1, PKCS#8) and Ed25519 keys', async () => {
  const ecCert = certFromPem(readFileSync(fx.ecP256Cert, 'utf8')).info;
  for (const [file, encoding] of [
    [fx.ecP256Sec1, 'sec1'],
    [fx.ecP256Pkcs8, 'pkcs8'],
  ] as const) {
    const { keys, problems } = await loadFile(file);
    assert.deepEqual(problems, []);
    assert.deepEqual(keys[0]!.info, {
      type: 'ec',
      bits: 256,
      curve: 'prime256v1',
      encoding,
      encrypted: false,
      modulusSha1: null,
      spkiSha256: ecCert.spkiSha256,
    });
  }
  const p384 = (await loadFile(fx.ecP384Sec1)).keys[0]!.info;
  assert.deepEqual(
    [p384.bits, p384.curve, p384.spkiSha256],
    [384, 'secp384r1', certFromPem(readFileSync(fx.ecP384Cert, 'utf8')).info.spkiSha256],
  );
  const ed = (await loadFile(fx.ed25519Key)).keys[0]!.info;
  assert.deepEqual([ed.type, ed.bits, ed.curve, ed.encoding], ['ed25519', 256, null, 'pkcs8']);
  assert.equal(ed.spkiSha256, certFromPem(readFileSync(fx.ed25519Cert, 'utf8')).info.spkiSha256);
});

test('encrypted keys: passphrase-required without one, wrong-passphrase with a wrong one', async () => {
  for (const file of [fx.rsaEncPkcs8, fx.rsaLegacyEnc, fx.rsaEncPkcs8Der]) {
    const none = await loadFile(file);
    assert.deepEqual(
      none.problems.map((p) => p.kind),
      ['passphrase-required'],
      file,
    );
    assert.equal(none.keyBlocks, 1);
    assert.equal(none.keys.length, 0);
    const wrong = await loadFile(file, { passphrase: 'not the passphrase' });
    assert.deepEqual(
      wrong.problems.map((p) => p.kind),
      ['wrong-passphrase'],
      file,
    );
    assert.ok(!wrong.problems[0]!.message.includes('not the passphrase'), 'the passphrase is never echoed');
  }
});

test('a passphrase given for a plain key is ignored; a damaged key is key-parse-error', async () => {
  assert.equal((await loadFile(fx.rsaPkcs8, { passphrase: 'x' })).keys.length, 1);
  const { loadBytes } = await import('../../src/pki/load.js');
  const broken =
    '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n';
  const r = loadBytes(Buffer.from(broken), 'broken.key');
  assert.deepEqual(
    r.problems.map((p) => p.kind),
    ['key-parse-error'],
  );
  assert.equal(r.keyBlocks, 1);
  assert.doesNotMatch(r.problems[0]!.message, /MIIB/);
});

test('an encrypted key asking for 2^31 PBKDF2 iterations is refused, not computed', async () => {
  const { loadBytes } = await import('../../src/pki/load.js');
  const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
    const c = Buffer.concat(parts);
    return Buffer.concat([Buffer.from(c.length < 0x80 ? [tag, c.length] : [tag, 0x81, c.length]), c]);
  };
  const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
  const pbkdf2 = tlv(
    0x30,
    oid('2a864886f70d01050c'),
    tlv(0x30, tlv(0x04, Buffer.alloc(8)), tlv(0x02, Buffer.from('7fffffff', 'hex'))),
  );
  const aes = tlv(0x30, oid('60864801650304012a'), tlv(0x04, Buffer.alloc(16)));
  const alg = tlv(0x30, oid('2a864886f70d01050d'), tlv(0x30, pbkdf2, aes));
  const epki = tlv(0x30, alg, tlv(0x04, Buffer.alloc(32)));
  const t = performance.now();
  const f = loadBytes(epki, 'hostile.der', { passphrase: 'x' });
  assert.ok(performance.now() - t < 10_000, 'a hang guard, generous for a loaded machine');
  assert.equal(f.format, 'der-encrypted-private-key');
  assert.deepEqual(
    f.problems.map((p) => p.kind),
    ['key-parse-error'],
  );
  assert.match(f.problems[0]!.message, /2147483647 key derivation iterations/);
});
