import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { parseCrls } from '../../src/pki/crl.js';
import type { Crl } from '../../src/pki/crl.js';
import { certFromPem } from '../../src/pki/cert.js';
import { mtlsgate } from '../helpers/cli.js';
import { openssl } from '../helpers/openssl.js';
import { tmpDir } from '../helpers/pki.js';

/** A usage or input error: exit 2, one `mtlsgate: ...` line on stderr, nothing on stdout, no stack trace. */
function assertOneLineError(r: { code: number; out: string; err: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /^mtlsgate: [^\n]+\n$/);
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

// One PKI through the CLI, shared by the tests below (they run in order).
const dir = join(tmpDir(), 'pki');
const f = (name: string): string => join(dir, name);
const serialOf = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber.toUpperCase();

function crlOf(file: string): Crl {
  const { crls, problems } = parseCrls(readFileSync(file), file);
  assert.deepEqual(problems, []);
  assert.equal(crls.length, 1);
  return crls[0]!;
}

/** `openssl ocsp` in one-shot mode: a request for `certs`, answered from index.txt, then read back and verified. */
function ocspStatus(certs: string[]): string {
  const req = join(dir, 'req.der');
  const resp = join(dir, 'resp.der');
  const certArgs = certs.flatMap((c) => ['-cert', c]);
  openssl(['ocsp', '-issuer', f('intermediate-ca.crt'), ...certArgs, '-no_nonce', '-reqout', req]);
  openssl(['ocsp', '-index', f('index.txt'), '-CA', f('intermediate-ca.crt'), '-rsigner', f('ocsp-responder.crt')]
    .concat(['-rkey', f('ocsp-responder.key'), '-reqin', req, '-respout', resp])); // prettier-ignore
  const r = spawnSync('openssl', ['ocsp', '-respin', resp, '-issuer', f('intermediate-ca.crt'), ...certArgs]
    .concat(['-CAfile', f('truststore.pem')]), { encoding: 'utf8' }); // prettier-ignore
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /Response verify OK/);
  return r.stdout;
}

function verifyWithCrl(cert: string, crlFile: string, all = false): { ok: boolean; out: string } {
  const flag = all ? '-crl_check_all' : '-crl_check';
  const r = spawnSync('openssl', ['verify', flag, '-CAfile', f('truststore.pem'), '-CRLfile', crlFile, cert], {
    encoding: 'utf8',
  });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

test('pki init writes both databases, empty CRLs, an OCSP responder, and prints the responder one-liner', async () => {
  const r = await mtlsgate('pki', 'init', dir, '--domain', 'api.example.test');
  assert.equal(r.code, 0, r.err);
  for (const name of ['index.txt', 'root-index.txt', 'crlnumber', 'intermediate-ca.crl', 'root-ca.crl'])
    assert.ok(r.out.includes(f(name)), name);
  assert.ok(
    r.out.includes(
      `  openssl ocsp -index ${f('index.txt')} -CA ${f('intermediate-ca.crt')} -rsigner ${f('ocsp-responder.crt')} ` +
        `-rkey ${f('ocsp-responder.key')} -port 8888\n`,
    ),
    r.out,
  );
  const index = readFileSync(f('index.txt'), 'utf8').split('\n');
  assert.deepEqual(
    index.map((l) => l.split('\t')[5]),
    ['/CN=api.example.test', '/CN=client', '/O=mtlsgate test PKI/CN=mtlsgate Test OCSP Responder', undefined],
  );
  const client = readFileSync(f('index.txt'), 'utf8').split('\n')[1]!.split('\t');
  assert.equal(client[0], 'V');
  assert.equal(client[3], serialOf(f('client.crt')));
  assert.match(client[1]!, /^\d{12}Z$/);
  assert.equal(client[2], '');
  assert.equal(client[4], 'unknown');
  assert.match(
    readFileSync(f('root-index.txt'), 'utf8'),
    /^V\t\d{12}Z\t\t[0-9A-F]+\tunknown\t\/O=mtlsgate test PKI\/CN=mtlsgate Test Intermediate CA\n$/,
  );
  assert.equal(readFileSync(f('crlnumber'), 'utf8'), '02\n');

  const responder = certFromPem(readFileSync(f('ocsp-responder.crt'), 'utf8')).info;
  assert.deepEqual(responder.extendedKeyUsage, ['OCSPSigning']);
  assert.equal(responder.issuer, 'CN=mtlsgate Test Intermediate CA,O=mtlsgate test PKI');
  for (const [file, issuer] of [
    ['intermediate-ca.crl', 'intermediate-ca.crt'],
    ['root-ca.crl', 'root-ca.crt'],
  ]) {
    const crl = crlOf(f(file!));
    assert.equal(crl.revoked.size, 0);
    assert.equal(crl.crlNumber, 1n);
    assert.equal(openssl(['crl', '-in', f(file!), '-CAfile', f(issuer!), '-noout']), '');
  }
  assert.match(ocspStatus([f('client.crt'), f('server.crt')]), /client\.crt: good\n[\s\S]*server\.crt: good\n/);
  assert.ok(verifyWithCrl(f('client.crt'), f('intermediate-ca.crl')).ok);
});

test('pki issue records what the intermediate issues as a valid line, and a variant CA under the root', async () => {
  const r = await mtlsgate('pki', 'issue', dir, '--variant', 'expired-ca', '--name', 'late');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`Added 1 valid \\(V\\) line\\(s\\) to ${f('root-index.txt')}\\.`));
  const ca = new X509Certificate(readFileSync(f('late-cas.pem'))).serialNumber.toUpperCase();
  assert.match(readFileSync(f('root-index.txt'), 'utf8'), new RegExp(`^V\\t\\d{12}Z\\t\\t${ca}\\t`, 'm'));
  const plain = await mtlsgate('pki', 'issue', dir, '--variant', 'sha1', '--name', 'old-sig');
  assert.match(plain.out, new RegExp(`Added 1 valid \\(V\\) line\\(s\\) to ${f('index.txt')}\\.`));
  assert.match(
    readFileSync(f('index.txt'), 'utf8'),
    new RegExp(`^V\\t\\d{12}Z\\t\\t${serialOf(f('old-sig.crt'))}\\t`, 'm'),
  );
  const self = await mtlsgate('pki', 'issue', dir, '--variant', 'self-signed', '--name', 'alone');
  assert.doesNotMatch(self.out, /Added/);
});

test('pki revoke: index.txt, the CRL, openssl ocsp and openssl verify -crl_check all say revoked', async () => {
  const at = '2026-01-02T03:04:05Z';
  const r = await mtlsgate('pki', 'revoke', dir, '--cert', f('client.crt'), '--reason', 'keycompromise', '--at', at);
  assert.equal(r.code, 0, r.err);
  const serial = serialOf(f('client.crt'));
  assert.ok(
    r.out.startsWith(
      `Revoked CN=client (serial ${serial}, issued by the intermediate CA) as of 2026-01-02T03:04:05.000Z, reason keyCompromise:\n`,
    ),
    r.out,
  );
  assert.match(r.out, /Wrote the CRLs \(CRL number 2, next update /);
  assert.ok(r.out.includes(`  ${f('intermediate-ca.crl')}  1 revoked certificate\n`), r.out);
  assert.ok(r.out.includes(`  ${f('root-ca.crl')}          0 revoked certificates\n`), r.out);
  assert.ok(r.out.includes(`openssl verify -crl_check -CAfile ${f('truststore.pem')}`), r.out);
  assert.match(
    readFileSync(f('index.txt'), 'utf8'),
    new RegExp(`^R\\t\\d{12}Z\\t260102030405Z,keyCompromise\\t${serial}\\tunknown\\t/CN=client$`, 'm'),
  );
  assert.equal(readFileSync(f('crlnumber'), 'utf8'), '03\n');

  const crl = crlOf(f('intermediate-ca.crl'));
  assert.equal(crl.crlNumber, 2n);
  const entry = crl.revoked.get(certFromPem(readFileSync(f('client.crt'), 'utf8')).info.serial);
  assert.deepEqual(entry, { revokedAt: new Date(at), reason: 'keyCompromise' });
  const days = (crl.nextUpdate!.getTime() - crl.thisUpdate.getTime()) / 86_400_000;
  assert.equal(days, 7);

  const status = ocspStatus([f('client.crt'), f('server.crt')]);
  assert.match(
    status,
    /client\.crt: revoked\n[^\n]*\n\tReason: keyCompromise\n\tRevocation Time: Jan {2}2 03:04:05 2026 GMT/,
  );
  assert.match(status, /server\.crt: good/);

  const refused = verifyWithCrl(f('client.crt'), f('intermediate-ca.crl'));
  assert.ok(!refused.ok);
  assert.match(refused.out, /certificate revoked/);
  assert.ok(verifyWithCrl(f('server.crt'), f('intermediate-ca.crl')).ok);
});

test('pki revoke of the intermediate goes into the root CRL; openssl verify -crl_check_all then refuses its leaves', async () => {
  const r = await mtlsgate('pki', 'revoke', dir, '--cert', f('intermediate-ca.crt'), '--reason', 'cACompromise');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /issued by the root CA\) as of .*, reason CACompromise:/);
  assert.match(readFileSync(f('root-index.txt'), 'utf8'), /^R\t\d{12}Z\t\d{12}Z,CACompromise\t/m);
  const root = crlOf(f('root-ca.crl'));
  assert.equal(root.revoked.size, 1);
  assert.equal([...root.revoked.values()][0]!.reason, 'cACompromise');
  assert.equal(crlOf(f('intermediate-ca.crl')).revoked.size, 1, 'the intermediate CRL keeps its entry');
  const both = join(dir, 'both.crl');
  writeFileSync(both, readFileSync(f('intermediate-ca.crl'), 'utf8') + readFileSync(f('root-ca.crl'), 'utf8'));
  const v = verifyWithCrl(f('server.crt'), both, true);
  assert.ok(!v.ok);
  assert.match(v.out, /error 23 at 1 depth lookup: certificate revoked/);
});

test('openssl ca -gencrl reads the database pki revoke wrote and lists the same serials and reasons', () => {
  const conf = join(dir, 'ca.cnf');
  writeFileSync(
    conf,
    [
      '[ca]',
      'default_ca = CA_default',
      '[CA_default]',
      `database = ${f('index.txt')}`,
      `certificate = ${f('intermediate-ca.crt')}`,
      `private_key = ${f('intermediate-ca.key')}`,
      'default_md = sha256',
      'default_crl_days = 1',
      '',
    ].join('\n'),
  );
  const out = join(dir, 'openssl-ca.crl');
  openssl(['ca', '-config', conf, '-gencrl', '-out', out]);
  const entries = (crl: Crl): unknown[] => [...crl.revoked].map(([s, e]) => [s, e.revokedAt.getTime(), e.reason]);
  const theirs = entries(crlOf(out));
  assert.equal(theirs.length, 1);
  assert.deepEqual(theirs, entries(crlOf(f('intermediate-ca.crl'))));
});

test('pki crl re-issues both CRLs with the next number and --days', async () => {
  const r = await mtlsgate('pki', 'crl', dir, '--days', '2');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Wrote the CRLs \(CRL number 4, next update \d{4}-/);
  assert.ok(
    r.out.includes(
      `mtlsgate crl lint ${f('intermediate-ca.crl')} ${f('root-ca.crl')} --truststore ${f('truststore.pem')}`,
    ),
  );
  for (const file of ['intermediate-ca.crl', 'root-ca.crl']) {
    const crl = crlOf(f(file));
    assert.equal(crl.crlNumber, 4n);
    assert.equal(crl.revoked.size, 1);
    assert.equal(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime(), 2 * 86_400_000);
  }
});

test('pki revoke and pki crl: bad input is one line with exit 2', async () => {
  assertOneLineError(
    await mtlsgate('pki', 'revoke', dir, '--cert', f('server.crt'), '--reason', 'stolen'),
    /unknown --reason "stolen"; choose one of: unspecified, keyCompromise, CACompromise, /,
  );
  assertOneLineError(
    await mtlsgate('pki', 'revoke', dir, '--cert', f('client.key')),
    new RegExp(`${f('client.key')}: not a certificate`),
  );
  assertOneLineError(
    await mtlsgate('pki', 'revoke', dir, '--cert', f('alone.crt')),
    /\(CN=alone\) was not issued by .*'s root or intermediate CA/,
  );
  assertOneLineError(await mtlsgate('pki', 'revoke', dir, '--cert', f('root-ca.crt')), /root CA itself/);
  assertOneLineError(
    await mtlsgate('pki', 'revoke', dir, '--cert', f('client.crt')),
    /client\.crt \(serial [0-9A-F]+\) is already revoked \(260102030405Z,keyCompromise\)/,
  );
  assertOneLineError(await mtlsgate('pki', 'revoke', dir, '--cert', f('nope.crt')), /nope\.crt: no such file/);
  assertOneLineError(
    await mtlsgate('pki', 'revoke', dir, '--cert', f('server.crt'), '--at', 'yesterday'),
    /bad --at "yesterday"/,
  );
  assertOneLineError(await mtlsgate('pki', 'crl', dir, '--days', '0'), /bad --days "0"/);
  assertOneLineError(await mtlsgate('pki', 'crl', join(dir, 'absent')), /no such directory/);
  writeFileSync(f('root-index.txt'), 'garbage\n');
  assertOneLineError(await mtlsgate('pki', 'crl', dir), /root-index\.txt: line 1 is not an OpenSSL CA database line/);
});
