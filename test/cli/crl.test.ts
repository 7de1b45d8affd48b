import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CrlLintResult } from '../../src/cli/crl.js';
import { issue } from '../../src/pki/generate.js';
import { makeCrl } from '../../src/pki/generate-crl.js';
import { mtlsgate } from '../helpers/cli.js';
import { openssl } from '../helpers/openssl.js';
import { tmpDir } from '../helpers/pki.js';

const dir = tmpDir();
const DAY = 86_400_000;
const root = await issue({ subject: 'CN=CLI CRL Root', profile: 'root-ca' });
const inter = await issue({ subject: 'CN=CLI CRL Intermediate', profile: 'intermediate-ca', issuer: root });
const stranger = await issue({ subject: 'CN=Stranger', profile: 'root-ca' });

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const ts = write('truststore.pem', root.certPem + inter.certPem);
const revoked = [{ serial: '0a1b', revokedAt: new Date(Date.now() - DAY), reason: 'keyCompromise' }];
const good = write('inter.crl', makeCrl({ issuer: inter, revoked }).pem);
const goodDer = write('root.crl.der', makeCrl({ issuer: root, revoked: [] }).der);

test('clean CRLs: one header line per file, no findings, exit 0', async () => {
  const r = await mtlsgate('crl', 'lint', good, goodDer, '--truststore', ts);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const lines = r.out.split('\n');
  assert.match(lines[0]!, new RegExp(`^${good}: 1 CRL \\(CN=CLI CRL Intermediate, 1 revoked, next update \\d{4}-`));
  assert.match(lines[1]!, new RegExp(`^${goodDer}: 1 CRL \\(CN=CLI CRL Root, 0 revoked, `));
  assert.equal(lines.at(-2), 'no problems found');
  assert.doesNotMatch(r.out, /\x1b\[/);
});

test('--json prints { truststore, files, findings }; --at past nextUpdate gives crl.expired and exit 1', async () => {
  const at = new Date(Date.now() + 8 * DAY).toISOString();
  const r = await mtlsgate('crl', 'lint', good, '--truststore', ts, '--json', '--at', at);
  assert.equal(r.code, 1, r.err);
  const json = JSON.parse(r.out) as CrlLintResult;
  assert.equal(json.truststore, ts);
  assert.equal(json.files[0]!.file, good);
  assert.equal(json.files[0]!.crls[0]!.revokedCount, 1);
  assert.equal(json.files[0]!.crls[0]!.revoked[0]!.reason, 'keyCompromise');
  assert.deepEqual(
    json.findings.map((f) => [f.id, f.severity]),
    [['crl.expired', 'error']],
  );
  assert.match(json.findings[0]!.detail, /onUnavailable/);
});

test('errors exit 1, with the title, the id, the fix; warnings alone exit 0', async () => {
  const other = write('other.crl', makeCrl({ issuer: stranger, revoked: [] }).pem);
  const r = await mtlsgate('crl', 'lint', other, good, '--truststore', ts);
  assert.equal(r.code, 1);
  assert.ok(
    r.out.includes(
      `[error] ${other} (issuer CN=Stranger): no CA of that name in the truststore  [crl.issuer-not-in-truststore]`,
    ),
    r.out,
  );
  assert.ok(r.out.includes(`$ openssl crl -in ${other} -noout -issuer -nameopt RFC2253`), r.out);
  assert.match(r.out, /^1 error, 0 warnings, 0 notes$/m);

  const soon = write(
    'soon.crl',
    makeCrl({
      issuer: inter,
      revoked: [],
      thisUpdate: new Date(Date.now() - DAY),
      nextUpdate: new Date(Date.now() + 3000_000),
    }).pem,
  );
  const w = await mtlsgate('crl', 'lint', soon, '--truststore', ts);
  assert.equal(w.code, 0, w.out);
  assert.match(
    w.out,
    /\[warning\] .*soon\.crl \(issuer CN=CLI CRL Intermediate\) expires on .* \(in under an hour\) {2}\[crl\.expires-soon\]/,
  );
});

test('a CRL made by openssl ca -gencrl, and an unreadable one', async () => {
  const key = join(dir, 'ossl.key');
  const cert = join(dir, 'ossl.pem');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key]
    .concat(['-subj', '/CN=OpenSSL CLI CA', '-days', '30', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', cert])); // prettier-ignore
  write('ossl.index', '');
  const conf = write(
    'ossl.cnf',
    ['[ca]', 'default_ca = d', '[d]', `database = ${join(dir, 'ossl.index')}`, `certificate = ${cert}`]
      .concat([`private_key = ${key}`, 'default_md = sha256', 'default_crl_hours = 1', '']).join('\n'), // prettier-ignore
  );
  const crl = join(dir, 'ossl.crl');
  openssl(['ca', '-config', conf, '-gencrl', '-out', crl]);
  const tsFile = write('ossl-ts.pem', openssl(['x509', '-in', cert]));
  const r = await mtlsgate('crl', 'lint', crl, '--truststore', tsFile, '--json');
  assert.equal(r.code, 0, r.out);
  const json = JSON.parse(r.out) as CrlLintResult;
  assert.equal(json.files[0]!.crls[0]!.issuer, 'CN=OpenSSL CLI CA');
  assert.equal(json.files[0]!.crls[0]!.crlNumber, null, 'no crlnumber file: openssl writes none');
  assert.deepEqual(json.findings, []);

  const junk = write('junk.crl', 'not a crl\n');
  const bad = await mtlsgate('crl', 'lint', junk, '--truststore', tsFile);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /\[error\] .*junk\.crl: cannot be read as a CRL \(no X509 CRL in it/);
  assert.match(bad.out, new RegExp(`^${junk}: no readable CRL$`, 'm'));
});

test('a missing CRL or truststore, a bad --at, no --truststore: one line, exit 2', async () => {
  const one = (r: { code: number; out: string; err: string }, pattern: RegExp): void => {
    assert.equal(r.code, 2, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, pattern);
  };
  one(await mtlsgate('crl', 'lint', join(dir, 'absent.crl'), '--truststore', ts), /^mtlsgate: .*absent\.crl: .*\n$/);
  one(await mtlsgate('crl', 'lint', good, '--truststore', join(dir, 'absent.pem')), /^mtlsgate: .*absent\.pem/);
  one(await mtlsgate('crl', 'lint', good, '--truststore', ts, '--at', 'soon'), /bad --at "soon"/);
  one(await mtlsgate('crl', 'lint', good), /--truststore/);
});
