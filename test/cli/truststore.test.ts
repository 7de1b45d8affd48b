import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { issue } from '../../src/pki/generate.js';
import type { TruststoreLintResult } from '../../src/cli/truststore.js';
import { mtlsgate } from '../helpers/cli.js';
import { bufferIo } from '../helpers/io.js';
import { tmpDir } from '../helpers/pki.js';

const dir = tmpDir();
const root = await issue({ subject: 'CN=CLI Root', profile: 'root-ca' });
const inter = await issue({ subject: 'CN=CLI Intermediate', profile: 'intermediate-ca', issuer: root });
const pinned = await issue({ subject: 'CN=pinned client', profile: 'client' });

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const clean = write('clean.pem', root.certPem + inter.certPem + pinned.certPem);

test('a clean bundle: header with the certificate roles, exit 0', async () => {
  const r = await mtlsgate('truststore', 'lint', clean);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const lines = r.out.split('\n');
  assert.equal(lines[0], `${clean}: 3 certificates (1 root, 1 intermediate, 1 pinned self-signed leaf)`);
  assert.match(r.out, /\[info\] certificate 2 \(CN=pinned client\) is a pinned self-signed client certificate/);
  assert.equal(lines.at(-2), '0 errors, 0 warnings, 1 note');
  assert.doesNotMatch(r.out, /\x1b\[/);
});

test('--json prints { file, certificates, findings }', async () => {
  const r = await mtlsgate('truststore', 'lint', clean, '--json');
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(r.out) as TruststoreLintResult;
  assert.equal(json.file, clean);
  assert.deepEqual(
    json.certificates.map((c) => c.subject),
    ['CN=CLI Root', 'CN=CLI Intermediate', 'CN=pinned client'],
  );
  assert.deepEqual(
    json.findings.map((f) => [f.id, f.severity]),
    [['truststore.not-ca', 'info']],
  );
});

test('an error finding exits 1: a private key in the bundle', async () => {
  const r = await mtlsgate('truststore', 'lint', write('with-key.pem', root.certPem + root.keyPem));
  assert.equal(r.code, 1);
  assert.match(r.out, /\[error\] PEM block 1 is a private key \(PRIVATE KEY\) {2}\[truststore\.contains-private-key\]/);
  assert.match(r.out, /^1 error, 0 warnings, 0 notes$/m);
  assert.ok(!r.out.includes(root.keyPem.split('\n')[1]!), 'the key is never printed');
});

test('warnings alone exit 0', async () => {
  const r = await mtlsgate('truststore', 'lint', write('dup.pem', root.certPem + inter.certPem + inter.certPem));
  assert.equal(r.code, 0);
  assert.match(r.out, /\[warning\] certificate 2 \(CN=CLI Intermediate\) is an exact copy of certificate 1/);
});

test('--at moves the clock: ten years on everything has expired, which is an error', async () => {
  const r = await mtlsgate('truststore', 'lint', clean, '--at', '2099-01-01', '--json');
  assert.equal(r.code, 1);
  const json = JSON.parse(r.out) as TruststoreLintResult;
  assert.deepEqual(
    [...new Set(json.findings.filter((f) => f.id === 'truststore.expired').map((f) => f.severity))],
    ['error'],
  );
});

test('a bad --at is a usage error (exit 2)', async () => {
  const r = await mtlsgate('truststore', 'lint', clean, '--at', 'next tuesday');
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /^mtlsgate: bad --at "next tuesday": give an ISO 8601 date/);
});

test('an unreadable file exits 2 with one line on stderr and nothing on stdout', async () => {
  const missing = join(dir, 'missing.pem');
  const r = await mtlsgate('truststore', 'lint', missing);
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.equal(r.err, `mtlsgate: ${missing}: no such file\n`);
  const d = await mtlsgate('truststore', 'lint', dir, '--json');
  assert.equal(d.code, 2);
  assert.equal(d.out, '');
  assert.match(d.err, /^mtlsgate: [^\n]+: is a directory[^\n]*\n$/);
});

test('a file with no certificate is a finding (exit 1), not a read failure', async () => {
  const r = await mtlsgate('truststore', 'lint', write('empty.pem', ''));
  assert.equal(r.code, 1);
  assert.match(r.out, /: no certificates\n/);
  assert.match(r.out, /\[truststore\.empty\]/);
});

test('FORCE_COLOR colours the output', async () => {
  const b = bufferIo({ FORCE_COLOR: '1' });
  assert.equal(await main(['truststore', 'lint', clean], b.io), 0);
  assert.match(b.out(), /\x1b\[36mi/);
});
