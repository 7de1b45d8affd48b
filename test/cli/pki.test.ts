import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VARIANTS } from '../../src/pki/generate.js';
import { mtlsgate } from '../helpers/cli.js';
import { tmpDir } from '../helpers/pki.js';

/** A usage or input error: exit 2, one `mtlsgate: ...` line on stderr, nothing on stdout, no stack trace. */
function assertOneLineError(r: { code: number; out: string; err: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /^mtlsgate: [^\n]+\n$/);
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

// One PKI made through the CLI, shared by the tests below (they run in order).
const dir = join(tmpDir(), 'pki');

test('pki init writes the PKI and prints the files and the next commands', async () => {
  const r = await mtlsgate('pki', 'init', dir, '--domain', 'api.example.test');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  for (const file of [
    'root-ca.crt',
    'root-ca.key',
    'intermediate-ca.crt',
    'intermediate-ca.key',
    'server.crt',
    'server.key',
    'client.crt',
    'client.key',
    'self-signed.crt',
    'self-signed.key',
    'truststore.pem',
  ]) {
    assert.ok(existsSync(join(dir, file)), file);
    assert.ok(r.out.includes(join(dir, file)), `output lists ${file}`);
  }
  assert.ok(r.out.includes(`mtlsgate inspect ${dir}/client.crt\n`), r.out);
  assert.ok(
    r.out.includes(
      `mtlsgate doctor --cert ${dir}/client.crt --key ${dir}/client.key --truststore ${dir}/truststore.pem\n`,
    ),
    r.out,
  );
  const san = execFileSync('openssl', ['x509', '-in', join(dir, 'server.crt'), '-noout', '-ext', 'subjectAltName'], {
    encoding: 'utf8',
  });
  assert.match(san, /DNS:api\.example\.test/);
});

test('pki init refuses an existing PKI without --force (exit 2, one line naming the file)', async () => {
  assertOneLineError(
    await mtlsgate('pki', 'init', dir, '--domain', 'api.example.test'),
    new RegExp(`${join(dir, 'root-ca.crt')} already exists.*--force`),
  );
});

test('pki init --key rsa --force makes RSA 2048 keys', async () => {
  const r = await mtlsgate('pki', 'init', dir, '--domain', 'api.example.test', '--key', 'rsa', '--force');
  assert.equal(r.code, 0, r.err);
  const text = execFileSync('openssl', ['x509', '-in', join(dir, 'client.crt'), '-noout', '-text'], {
    encoding: 'utf8',
  });
  assert.match(text, /Public-Key: \(2048 bit\)/);
  assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
});

test('pki issue writes the variant and its CAs', async () => {
  const r = await mtlsgate(
    'pki',
    'issue',
    dir,
    '--variant',
    'pathlen-exceeded',
    '--name',
    'too-deep',
    '--cn',
    'Doe, Jane',
  );
  assert.equal(r.code, 0, r.err);
  for (const file of ['too-deep.crt', 'too-deep.key', 'too-deep-cas.pem'])
    assert.ok(r.out.includes(join(dir, file)), file);
  assert.equal(statSync(join(dir, 'too-deep.key')).mode & 0o777, 0o600);
  const subject = execFileSync(
    'openssl',
    ['x509', '-in', join(dir, 'too-deep.crt'), '-noout', '-subject', '-nameopt', 'RFC2253'],
    { encoding: 'utf8' },
  );
  assert.equal(subject, 'subject=CN=Doe\\, Jane\n');

  const plain = await mtlsgate('pki', 'issue', dir, '--variant', 'expired');
  assert.equal(plain.code, 0, plain.err);
  assert.ok(existsSync(join(dir, 'expired.crt')), 'name defaults to the variant');
  assert.ok(!existsSync(join(dir, 'expired-cas.pem')));
});

test('pki issue --help lists every variant', async () => {
  const r = await mtlsgate('pki', 'issue', '--help');
  assert.equal(r.code, 0);
  for (const [name, what] of Object.entries(VARIANTS))
    assert.ok(r.out.includes(`${name}`) && r.out.includes(what), name);
});

test('pki issue: unknown variant, missing DIR, missing CA files, bad --depth are one-line errors with exit 2', async () => {
  assertOneLineError(
    await mtlsgate('pki', 'issue', dir, '--variant', 'nope', '--name', 'x'),
    /unknown variant "nope"; choose one of: expired, /,
  );
  const missing = join(tmpDir(), 'absent');
  assertOneLineError(
    await mtlsgate('pki', 'issue', missing, '--variant', 'expired', '--name', 'x'),
    new RegExp(`${missing}: no such directory.*mtlsgate pki init`),
  );
  const empty = tmpDir();
  assertOneLineError(
    await mtlsgate('pki', 'issue', empty, '--variant', 'expired', '--name', 'x'),
    new RegExp(`${join(empty, 'root-ca.crt')} not found`),
  );
  assertOneLineError(
    await mtlsgate('pki', 'issue', dir, '--variant', 'deep-chain', '--depth', 'many'),
    /bad --depth "many"/,
  );
  assertOneLineError(await mtlsgate('pki', 'issue', dir, '--variant', 'expired', '--name', 'a/b'), /bad name "a\/b"/);
});

test('pki init without --domain is a usage error (exit 2)', async () => {
  const r = await mtlsgate('pki', 'init', tmpDir());
  assert.equal(r.code, 2);
  assert.match(r.err, /--domain/);
});
