/**
 * What curl will do with each file, on generated fixtures: --cert-type/--key-type against the real format, where
 * the key comes from, the passphrase, --cacert/--capath, relative paths, Windows. And, through runCurlDoctor, that
 * the offline doctor's findings these restate are dropped.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, chmodSync, copyFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { checkCurlFiles, loadCurlFiles } from '../../src/doctor/curl/files.js';
import { parseCurlArgs } from '../../src/doctor/curl/parse.js';
import { runCurlDoctor } from '../../src/doctor/curl/run.js';
import { UserError } from '../../src/errors.js';
import { testPki, tmpDir, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let dir = '';
const PASS = 'fixture pass';
const f = (name: string): string => join(dir, name);

before(async () => {
  pki = await testPki();
  dir = tmpDir();
  const certPem = readFileSync(pki.clientCert, 'utf8');
  const keyPem = readFileSync(pki.clientKey, 'utf8');
  writeFileSync(f('client.crt'), certPem);
  writeFileSync(f('client.key'), keyPem, { mode: 0o600 });
  writeFileSync(f('client-der.crt'), new X509Certificate(certPem).raw);
  writeFileSync(f('both.pem'), certPem + keyPem, { mode: 0o600 });
  const key = createPrivateKey(keyPem);
  writeFileSync(f('enc.key'), key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }), {
    mode: 0o600,
  });
  writeFileSync(f('key.der'), key.export({ type: 'pkcs8', format: 'der' }), { mode: 0o600 });
  execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    f('client.crt'),
    '-inkey',
    f('client.key'),
    '-passout',
    `pass:${PASS}`,
    '-out',
    f('client.p12'),
  ]);
  writeFileSync(f('root-der.crt'), new X509Certificate(readFileSync(pki.rootCert, 'utf8')).raw);
  mkdirSync(f('plain-cas'));
  copyFileSync(pki.rootCert, join(f('plain-cas'), 'root.pem'));
  mkdirSync(f('hashed-cas'));
  copyFileSync(pki.rootCert, join(f('hashed-cas'), 'root.pem'));
  execFileSync('openssl', ['rehash', f('hashed-cas')]);
  chmodSync(f('client.crt'), 0o644);
});

async function check(
  args: string[],
  cwd = dir,
): Promise<{ ids: string[]; supersedes: string[]; byId: (id: string) => Record<string, unknown> }> {
  const c = parseCurlArgs([...args, 'https://x.test/']);
  const r = checkCurlFiles(c, await loadCurlFiles(c, cwd));
  return {
    ids: r.findings.map((x) => x.id).filter((id) => id !== 'curl.relative-path'),
    supersedes: r.supersedes,
    byId: (id) => r.findings.find((x) => x.id === id)!.evidence,
  };
}

test('a good PEM certificate and key: nothing to say', async () => {
  assert.deepEqual((await check(['--cert', 'client.crt', '--key', 'client.key'])).ids, []);
  assert.deepEqual((await check(['--cert', 'both.pem'])).ids, [], 'the key in the --cert file is found');
});

test('DER certificate without --cert-type DER: curl.cert-type-mismatch; with it (and --key) fine', async () => {
  const r = await check(['--cert', 'client-der.crt', '--key', 'client.key']);
  assert.deepEqual(r.ids, ['curl.cert-type-mismatch']);
  assert.equal(r.byId('curl.cert-type-mismatch').format, 'DER certificate');
  const ok = await check(['--cert', 'client-der.crt', '--cert-type', 'DER', '--key', 'client.key']);
  assert.deepEqual(ok.ids, []);
  assert.ok(ok.supersedes.includes('cert.wrong-format'), 'the offline "DER, not PEM" finding is moot for curl');
});

test('DER certificate with --cert-type DER and no --key: curl.key-missing (a DER file holds no key)', async () => {
  assert.deepEqual((await check(['--cert', 'client-der.crt', '--cert-type', 'DER'])).ids, ['curl.key-missing']);
});

test('--cert-type on the wrong format', async () => {
  assert.deepEqual((await check(['--cert', 'client.crt', '--cert-type', 'P12', '--key', 'client.key'])).ids, [
    'curl.cert-type-p12-on-pem',
  ]);
  assert.deepEqual((await check(['--cert', 'client.crt', '--cert-type', 'DER', '--key', 'client.key'])).ids, [
    'curl.cert-type-mismatch',
  ]);
  assert.deepEqual((await check(['--cert', 'client-der.crt', '--cert-type', 'P12', '--key', 'client.key'])).ids, [
    'curl.cert-type-mismatch',
  ]);
  assert.deepEqual((await check(['--cert', 'client.crt', '--cert-type', 'FOO', '--key', 'client.key'])).ids, [
    'curl.cert-type-invalid',
  ]);
  assert.deepEqual((await check(['--cert', 'client.crt', '--key', 'client.key', '--key-type', 'P12'])).ids, [
    'curl.key-type-invalid',
  ]);
});

test('PKCS#12: without --cert-type P12, without its password, and right', async () => {
  assert.deepEqual((await check(['--cert', `client.p12:${PASS}`])).ids, ['curl.p12-without-cert-type']);
  assert.deepEqual((await check(['--cert', 'client.p12', '--cert-type', 'P12'])).ids, ['curl.pass-missing']);
  const ok = await check(['--cert', `client.p12:${PASS}`, '--cert-type', 'P12']);
  assert.deepEqual(ok.ids, []);
  assert.ok(ok.supersedes.includes('cert.is-pkcs12'));
  assert.deepEqual(
    (await check(['--cert', 'client.p12', '--pass', PASS, '--cert-type', 'p12'])).ids,
    [],
    '--pass works for PKCS#12 too',
  );
});

test('a certificate with no key in it and no --key: curl.key-missing', async () => {
  const r = await check(['--cert', 'client.crt']);
  assert.deepEqual(r.ids, ['curl.key-missing']);
  assert.ok(r.supersedes.includes('key.missing'));
});

test('an encrypted key without --pass: curl.pass-missing; with it, nothing', async () => {
  const r = await check(['--cert', 'client.crt', '--key', 'enc.key']);
  assert.deepEqual(r.ids, ['curl.pass-missing']);
  assert.ok(r.supersedes.includes('key.passphrase-required'));
  assert.deepEqual((await check(['--cert', 'client.crt', '--key', 'enc.key', '--pass', PASS])).ids, []);
});

test('a DER key without --key-type DER, a PEM key with it, a PKCS#12 as --key', async () => {
  assert.deepEqual((await check(['--cert', 'client.crt', '--key', 'key.der'])).ids, ['curl.key-type-mismatch']);
  const ok = await check(['--cert', 'client.crt', '--key', 'key.der', '--key-type', 'DER']);
  assert.deepEqual(ok.ids, []);
  assert.ok(ok.supersedes.includes('key.wrong-format'));
  assert.deepEqual((await check(['--cert', 'client.crt', '--key', 'client.key', '--key-type', 'DER'])).ids, [
    'curl.key-type-mismatch',
  ]);
  assert.deepEqual((await check(['--cert', 'client.crt', '--key', 'client.p12'])).ids, ['curl.key-type-mismatch']);
});

test('--cacert: missing, not PEM (DER, a key), fine', async () => {
  const base = ['--cert', 'client.crt', '--key', 'client.key'];
  assert.deepEqual((await check([...base, '--cacert', 'nope.pem'])).ids, ['curl.cacert-not-found']);
  assert.deepEqual((await check([...base, '--cacert', 'root-der.crt'])).ids, ['curl.cacert-not-pem']);
  assert.deepEqual((await check([...base, '--cacert', 'client.key'])).ids, ['curl.cacert-not-pem']);
  assert.deepEqual((await check([...base, '--cacert', pki.rootCert])).ids, []);
});

test('--capath: missing, not hashed (c_rehash), hashed', async () => {
  const base = ['--cert', 'client.crt', '--key', 'client.key'];
  assert.deepEqual((await check([...base, '--capath', 'nowhere'])).ids, ['curl.capath-not-found']);
  const plain = await check([...base, '--capath', 'plain-cas']);
  assert.deepEqual(plain.ids, ['curl.capath-not-hashed']);
  assert.equal(plain.byId('curl.capath-not-hashed').certificateFiles, 1);
  assert.deepEqual((await check([...base, '--capath', 'hashed-cas'])).ids, []);
});

test('relative paths name the directory they are resolved from; a warning when a file is not there', async () => {
  const c = parseCurlArgs(['--cert', 'client.crt', '--key', 'client.key', 'https://x.test/']);
  const ok = checkCurlFiles(c, await loadCurlFiles(c, dir)).findings.find((x) => x.id === 'curl.relative-path')!;
  assert.equal(ok.severity, 'info');
  assert.equal(ok.evidence.cwd, dir);
  assert.deepEqual(ok.evidence.files, [
    `--cert client.crt -> ${f('client.crt')}`,
    `--key client.key -> ${f('client.key')}`,
  ]);
  const elsewhere = checkCurlFiles(c, await loadCurlFiles(c, pki.dir + '/..')).findings.find(
    (x) => x.id === 'curl.relative-path',
  )!;
  assert.equal(elsewhere.severity, 'warning');
  assert.match(elsewhere.title, /not found from/);
  const abs = parseCurlArgs(['--cert', f('client.crt'), '--key', f('client.key'), 'https://x.test/']);
  assert.equal(checkCurlFiles(abs, await loadCurlFiles(abs, '/')).findings.length, 0);
});

test('a Windows-looking command gets the schannel note: a warning for PEM, a note for PKCS#12', async () => {
  const pem = parseCurlArgs(['--cert', f('client.crt'), '--key', f('client.key'), 'https://x.test/'], {
    dialect: 'windows',
    program: 'curl.exe',
  });
  const w = checkCurlFiles(pem, await loadCurlFiles(pem, dir)).findings.find((x) => x.id === 'curl.windows-schannel')!;
  assert.equal(w.severity, 'warning');
  assert.match(w.detail, /0x80092002/);
  const p12 = parseCurlArgs(['--cert-type', 'P12', '--cert', `${f('client.p12')}:${PASS}`, 'https://x.test/'], {
    dialect: 'windows',
    program: 'curl.exe',
  });
  assert.equal(
    checkCurlFiles(p12, await loadCurlFiles(p12, dir)).findings.find((x) => x.id === 'curl.windows-schannel')!.severity,
    'info',
  );
  const drive = parseCurlArgs(['--cert', 'C:\\certs\\client.pem', 'https://x.test/']);
  assert.ok(
    checkCurlFiles(drive, await loadCurlFiles(drive, dir)).findings.some((x) => x.id === 'curl.windows-schannel'),
  );
});

test("runCurlDoctor: the offline findings curl's reading restates are dropped, the rest kept; the error names its cause", async () => {
  const r = await runCurlDoctor({
    args: ['--cert', 'client.crt', '--key', 'enc.key', 'https://x.test/'],
    error: "curl: (58) unable to set private key file: 'enc.key' type PEM",
    cwd: dir,
    live: false,
    truststore: pki.truststore,
  });
  const ids = r.findings.map((x) => x.id);
  assert.ok(ids.includes('curl.pass-missing'));
  assert.ok(!ids.includes('key.passphrase-required'), 'restated by curl.pass-missing');
  assert.equal(r.findings[0]!.id, 'curl.key-not-loaded');
  assert.deepEqual(r.findings[0]!.evidence.explainedBy, ['curl.pass-missing']);
  assert.equal(r.verdict?.source, 'prediction', 'no usable key: the verdict is predicted');
  assert.equal(r.verdict?.accepted, true);
  assert.equal(r.liveSkipped, '--no-live');
});

test('a file name with a colon, given unescaped: curl cuts it (curl.cert-colon-in-name), and the rest is never shown', async () => {
  copyFileSync(f('both.pem'), f('id:7.pem'));
  const c = parseCurlArgs(['--cert', 'id:7.pem', 'https://x.test/']);
  const r = checkCurlFiles(c, await loadCurlFiles(c, dir));
  const hit = r.findings.find((x) => x.id === 'curl.cert-colon-in-name')!;
  assert.ok(hit, r.findings.map((x) => x.id).join(','));
  assert.ok(!JSON.stringify(hit).includes('7.pem'), 'what curl takes for the passphrase is not printed');
  assert.deepEqual((await check(['--cert', 'id\\:7.pem'])).ids, [], 'escaped, it is one file');
});

test('runCurlDoctor: a --cert name with an escaped colon reaches the offline doctor as curl reads it', async () => {
  copyFileSync(f('client.crt'), f('a:b.crt'));
  const r = await runCurlDoctor({
    args: ['--cert', 'a\\:b.crt', '--key', 'client.key', 'https://x.test/'],
    cwd: dir,
    live: false,
    truststore: pki.truststore,
  });
  assert.equal(r.verdict?.accepted, true, r.findings.map((x) => x.id).join(','));
  assert.equal(r.verdict?.source, 'handshake');
});

test('--capath entries that are a FIFO or /dev/zero are skipped, not read: the live path neither hangs nor fills memory', async () => {
  // A blocking read cannot be interrupted from inside this process, so the doctor runs in a child with a time limit.
  const capath = f('hostile-cas');
  mkdirSync(capath);
  copyFileSync(pki.rootCert, join(capath, 'root.pem'));
  execFileSync('openssl', ['rehash', capath]);
  execFileSync('mkfifo', [join(capath, 'abcdef01.0')]);
  symlinkSync('/dev/zero', join(capath, 'abcdef02.0'));
  const script = [
    `import { runCurlDoctor } from ${JSON.stringify(new URL('../../src/doctor/curl/run.ts', import.meta.url).href)};`,
    `let cas = -1;`,
    `await runCurlDoctor({ args: ['--capath', ${JSON.stringify(capath)}, 'https://x.test/'], cwd: ${JSON.stringify(dir)},`,
    `  probe: async (input) => { cas = (input.cacertPem?.match(/BEGIN CERTIFICATE/g) ?? []).length; throw new (await import(${JSON.stringify(new URL('../../src/errors.ts', import.meta.url).href)})).UserError('E_USAGE', 'stub'); } });`,
    `process.stdout.write(String(cas));`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.signal, null, `the doctor hung on a --capath entry (killed by ${r.signal})`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1', 'the one real hashed CA is still used');
});

test('--cacert that is a FIFO, /dev/zero or empty: the finding says what is wrong with the file, not "not PEM"', async () => {
  execFileSync('mkfifo', [f('ca.fifo')]);
  writeFileSync(f('empty.pem'), '');
  const base = ['--cert', 'client.crt', '--key', 'client.key'];
  for (const [path, why] of [
    [f('ca.fifo'), /not a regular file \(a fifo\)/],
    ['/dev/zero', /not a regular file \(a character device\)/],
    [f('empty.pem'), /empty/],
  ] as const) {
    const c = parseCurlArgs([...base, '--cacert', path, 'https://x.test/']);
    const hit = checkCurlFiles(c, await loadCurlFiles(c, dir)).findings.find((x) => x.id === 'curl.cacert-not-pem');
    assert.ok(hit, path);
    assert.match(hit.title, why, path);
  }
});

test("runCurlDoctor: curl's -m sets the probe's time limit, at most 600 s (a 35-day -m overflowed Node's timers)", async () => {
  const seen: Array<number | undefined> = [];
  const stub = async (input: { timeoutMs?: number }): Promise<never> => {
    seen.push(input.timeoutMs);
    throw new UserError('E_USAGE', 'stub');
  };
  for (const m of ['2.5', '3000000', '1e300'])
    await runCurlDoctor({ args: ['-m', m, 'https://x.test/'], cwd: dir, probe: stub });
  assert.deepEqual(seen, [2500, 600_000, 600_000]);
});
