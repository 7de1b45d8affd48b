/**
 * The seed corpora, unmutated: every file of Debian's python3-cryptography-vectors that the fuzz targets start
 * from (x509 with custom/ and requests/, asymmetric/*, pkcs12, pkcs7; NIST answer files left out) and every file
 * the tests generate, through the loaders, truststore lint and `inspect`, with and without passphrases. Without
 * the package the vectors test skips, saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { main } from '../../src/cli/main.js';
import { loadBytes } from '../../src/pki/load.js';
import { truststoreFromPem } from '../../src/trust/load.js';
import { lintTruststore } from '../../src/trust/lint.js';
import { renderFindings } from '../../src/doctor/render.js';
import { bufferIo } from '../helpers/io.js';
import { fixtures } from '../helpers/openssl.js';
import { testPki } from '../helpers/pki.js';
import { VECTORS_DIR, vectorFiles, vectorsMissing } from './corpus.js';
import { checkFindings, checkLoaded, checkRendered, stackText } from './check.js';

/** The vectors' passphrases: cryptography's tests use "foobar" for keys and "cryptography" for PKCS#12. */
const PASSPHRASES = [undefined, 'foobar', 'cryptography', 'password', 'wrong'];

function checkFile(name: string, bytes: Buffer): { certs: number; keys: number; problems: number } {
  let certs = 0;
  let keys = 0;
  let problems = 0;
  for (const passphrase of PASSPHRASES) {
    const f = loadBytes(bytes, name, passphrase === undefined ? {} : { passphrase });
    assert.ok(
      !f.problems.some((p) => /^could not be read \(/.test(p.message)),
      `${name}: a parser threw inside loadBytes: ${f.problems.map((p) => p.message).join('; ')}`,
    );
    checkLoaded(name, f);
    certs = Math.max(certs, f.certs.length);
    keys = Math.max(keys, f.keys.length);
    problems += f.problems.length;
  }
  const read = truststoreFromPem(bytes.toString('latin1'), name);
  checkFindings(`${name} (truststore)`, read.findings);
  if (read.truststore) {
    const lint = lintTruststore(read.truststore, read.file);
    checkFindings(`${name} (lint)`, lint);
    checkRendered(`${name} (lint text)`, renderFindings([...read.findings, ...lint], { color: false }));
  }
  return { certs, keys, problems };
}

async function inspectAll(files: string[]): Promise<void> {
  for (const json of [false, true]) {
    const b = bufferIo({ NO_COLOR: '1' });
    const code = await main(['inspect', ...(json ? ['--json'] : []), '--pass', 'foobar', ...files], b.io);
    assert.ok(code === 0 || code === 2, `inspect exit ${code}`);
    assert.equal(stackText(b.out() + b.err()), null, 'stack text in inspect output');
    for (const line of b.err().split('\n').filter(Boolean)) {
      assert.ok(
        files.some((f) => line.startsWith(`mtlsgate: ${f}: `)),
        `stderr line not naming a file: ${line.slice(0, 300)}`,
      );
    }
    if (json) assert.equal((JSON.parse(b.out()) as { files: unknown[] }).files.length, files.length);
  }
}

test('seed corpus: every python3-cryptography-vectors file loads, lints and inspects without a throw or stack text', async (t) => {
  const missing = vectorsMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const files = vectorFiles();
  assert.ok(files.length > 300, `only ${files.length} vector files under ${VECTORS_DIR}`);
  const totals = { certs: 0, keys: 0, problems: 0 };
  for (const path of files) {
    const r = checkFile(relative(VECTORS_DIR, path), readFileSync(path));
    totals.certs += r.certs;
    totals.keys += r.keys;
    totals.problems += r.problems;
  }
  t.diagnostic(
    `${files.length} files: ${totals.certs} certificates, ${totals.keys} keys, ${totals.problems} problems (over ${PASSPHRASES.length} passphrase tries)`,
  );
  assert.ok(totals.certs > 150 && totals.keys > 50, 'the corpus is read, not just survived');
  await inspectAll(files);

  // A few files whose reading is known: the corpus means what we think it means.
  const load = (p: string, passphrase?: string) =>
    loadBytes(readFileSync(`${VECTORS_DIR}/${p}`), p, passphrase === undefined ? {} : { passphrase });
  const p12 = load('pkcs12/cert-key-aes256cbc.p12', 'cryptography');
  assert.equal(p12.format, 'pkcs12');
  assert.equal(p12.certs.length, 1);
  assert.equal(p12.keys.length, 1);
  assert.ok(load('pkcs12/cert-key-aes256cbc.p12', 'wrong').problems.some((p) => p.kind === 'pkcs12-wrong-passphrase'));
  assert.equal(load('pkcs7/amazon-roots.p7b').certs.length, 2);
  assert.equal(load('asymmetric/PKCS8/enc-rsa-pkcs8.pem', 'foobar').keys.length, 1);
  assert.ok(load('asymmetric/PKCS8/enc-rsa-pkcs8.pem').problems.some((p) => p.kind === 'passphrase-required'));
  assert.deepEqual(
    load('x509/badasn1time.pem').problems.map((p) => p.kind),
    ['cert-parse-error'],
  );
});

test('seed corpus: every generated file (openssl binary, src/pki/generate.ts) loads, lints and inspects', async () => {
  const fx = fixtures();
  const pki = await testPki();
  const files = [
    ...Object.entries(fx)
      .filter(([k]) => k !== 'dir' && k !== 'conf')
      .map(([, v]) => v),
    ...[
      pki.rootCert,
      pki.rootKey,
      pki.intermediateCert,
      pki.clientCert,
      pki.clientKey,
      pki.serverCert,
      pki.serverKey,
      pki.selfSignedCert,
      pki.truststore,
    ],
  ];
  for (const path of files) checkFile(path, readFileSync(path));
  await inspectAll(files);
});
