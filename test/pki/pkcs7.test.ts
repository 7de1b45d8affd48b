import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBytes, loadFile } from '../../src/pki/load.js';
import { certFromPem } from '../../src/pki/cert.js';
import { certsFromPkcs7 } from '../../src/pki/pkcs7.js';
import { fixtures, openssl } from '../helpers/openssl.js';

const fx = fixtures();
const expected = [fx.leafCert, fx.caCert].map((f) => certFromPem(readFileSync(f, 'utf8')).info.fingerprintSha256);

test('PKCS#7 from openssl crl2pkcs7, PEM and DER: the certificates in order', async () => {
  for (const file of [fx.p7bPem, fx.p7bDer]) {
    const f = await loadFile(file);
    assert.deepEqual(f.problems, []);
    assert.deepEqual(
      f.certs.map((c) => c.info.fingerprintSha256),
      expected,
      file,
    );
  }
  assert.deepEqual((await loadFile(fx.p7bPem)).pemLabels, ['PKCS7']);
});

test('BER (indefinite length) PKCS#7 is read through the pkijs fallback', async () => {
  const out = join(fx.dir, 'streamed.p7m');
  openssl([
    'cms',
    '-sign',
    '-in',
    fx.conf,
    '-signer',
    fx.caCert,
    '-inkey',
    fx.caKey,
    '-stream',
    '-outform',
    'DER',
    '-nodetach',
    '-binary',
    '-out',
    out,
  ]);
  const bytes = readFileSync(out);
  assert.equal(bytes[1], 0x80, 'openssl -stream writes indefinite lengths');
  const f = await loadFile(out);
  assert.equal(f.format, 'pkcs7');
  assert.deepEqual(f.problems, []);
  assert.deepEqual(
    f.certs.map((c) => c.info.fingerprintSha256),
    [expected[1]],
  );
});

test('not SignedData, or garbage: pkcs7-parse-error', () => {
  const data = Buffer.from('3011060b2a864886f70d0109100101a0020400', 'hex');
  assert.deepEqual(
    certsFromPkcs7(data).problems.map((p) => p.kind),
    ['pkcs7-parse-error'],
  );
  const f = loadBytes(Buffer.from('-----BEGIN PKCS7-----\nMAMCAQA=\n-----END PKCS7-----\n'), 'x.p7b');
  assert.deepEqual(
    f.problems.map((p) => p.kind),
    ['pkcs7-parse-error'],
  );
});
