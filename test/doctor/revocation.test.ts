/**
 * `doctor --crl`: revocation is part of the offline verdict, judged by the gateway's functions on the verified path,
 * and each level checked is explained (revoked, no CRL, a CRL expired, expiring, not yet valid or refused, not
 * revoked). CRLs are made by `openssl ca -gencrl`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { diagnose, type DiagnoseReport } from '../../src/doctor/diagnose.js';
import type { DoctorInput } from '../../src/doctor/known.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { CRL_EXTENSIONS, crlCa, gencrl, revoke } from '../helpers/crl.js';
import { cli } from '../helpers/cli.js';
import { tmpDir, writeClient, writeTruststore } from '../helpers/pki.js';

const dir = tmpDir();
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const root = await issue({ subject: 'CN=Doctor CRL Root,O=mtlsgate test', profile: 'root-ca' });
const inter = await issue({
  subject: 'CN=Doctor CRL Intermediate,O=mtlsgate test',
  profile: 'intermediate-ca',
  issuer: root,
});
const good = await issue({ subject: 'CN=good client', profile: 'client', issuer: inter });
const bad = await issue({ subject: 'CN=revoked client', profile: 'client', issuer: inter });
const outside = await issue({ subject: 'CN=Outside CA', profile: 'root-ca' });
const twin = await issue({ subject: inter.subject, profile: 'intermediate-ca', issuer: root });
const unknownIssuer = await issue({ subject: 'CN=unknown issuer client', profile: 'client', issuer: outside });

const interCa = crlCa(dir, inter, 'inter');
const rootCa = crlCa(dir, root, 'root');
revoke(interCa, bad, 'keyCompromise');
const now = Date.now();
const crl = {
  inter: gencrl(interCa, 'inter.crl'),
  root: gencrl(rootCa, 'root.crl'),
  expired: gencrl(interCa, 'expired.crl', { lastUpdate: new Date(now - 8 * DAY), nextUpdate: new Date(now - DAY) }),
  soon: gencrl(interCa, 'soon.crl', { lastUpdate: new Date(now - HOUR), nextUpdate: new Date(now + 2 * HOUR) }),
  future: gencrl(interCa, 'future.crl', { lastUpdate: new Date(now + DAY), nextUpdate: new Date(now + 8 * DAY) }),
  critical: gencrl(interCa, 'critical.crl', { extensions: CRL_EXTENSIONS.unknownCritical }),
  twin: gencrl(crlCa(dir, twin, 'twin'), 'twin.crl', { extensions: CRL_EXTENSIONS.none }),
  outside: gencrl(crlCa(dir, outside, 'outside'), 'outside.crl'),
};
const truststore = writeTruststore(dir, 'truststore', [root, inter]);
const files = {
  good: writeClient(dir, 'good', good),
  bad: writeClient(dir, 'bad', bad),
  unknownIssuer: writeClient(dir, 'unknown-issuer', unknownIssuer),
};

async function doctor(
  client: { certFile: string; keyFile: string },
  crls: string[],
  extra: Partial<DoctorInput> = {},
): Promise<DiagnoseReport> {
  return diagnose({
    files: { cert: client.certFile, key: client.keyFile, truststore, crls, ...extra },
  });
}

const ids = (r: DiagnoseReport): string[] => r.findings.map((f) => f.id);
function only(r: DiagnoseReport, id: string): DiagnoseReport['findings'][number] {
  const fs = r.findings.filter((f) => f.id === id);
  assert.equal(fs.length, 1, `one ${id} among ${ids(r).join(', ')}`);
  return fs[0]!;
}

test('a revoked client certificate: denied with certificate revoked, when, why, by which CRL, and the fix', async () => {
  const r = await doctor(files.bad, [crl.inter]);
  assert.deepEqual(verdictFields(r.verdict!), {
    accepted: false,
    reason: 'certificate revoked',
    code: 'CERT_REVOKED',
  });
  assert.equal(r.verdictSource, 'handshake'); // the chain itself passed a real handshake
  const f = only(r, 'revocation.revoked');
  assert.equal(f.severity, 'error');
  assert.equal(f.source, 'offline');
  assert.match(
    f.title,
    /the client certificate is revoked: on the CRL of "CN=Doctor CRL Intermediate.*\(keyCompromise\)/,
  );
  assert.equal(f.evidence['reasonCode'], 'keyCompromise');
  assert.equal(f.evidence['crlFile'], crl.inter);
  assert.equal(f.evidence['crlIssuer'], inter.subject);
  assert.match(f.fix, /openssl x509 -req/);
  assert.match(f.fix, /mtlsgate pki issue/);
  assert.equal(r.revocation?.status, 'revoked');
  assert.equal(r.revocation?.level, 0);
  assert.equal(r.revocation?.code, 'CERT_REVOKED');
  assert.equal(r.revocation?.reason, 'keyCompromise');
  assert.ok(Math.abs(Date.parse(r.revocation!.revokedAt!) - now) < 5 * 60_000, r.revocation!.revokedAt!);
  assert.equal(r.revocation?.crl?.file, crl.inter);
  assert.equal(r.revocation?.crl?.crlNumber, String(0x1000));
});

test('a certificate not on the CRL: accepted, with the CRL it was checked against and its next update', async () => {
  const r = await doctor(files.good, [crl.inter]);
  assert.deepEqual(r.verdict, { accepted: true });
  const f = only(r, 'revocation.not-revoked');
  assert.equal(f.severity, 'info');
  assert.equal(f.evidence['crlFile'], crl.inter);
  assert.ok(f.evidence['nextUpdate']);
  assert.equal(r.revocation?.status, 'good');
  assert.equal(r.revocation?.crl?.issuer, inter.subject);
  assert.deepEqual(
    r.findings.filter((x) => x.severity !== 'info'),
    [],
  );
});

test('without --crl revocation is not judged: revocation is null and no revocation finding', async () => {
  const r = await doctor(files.bad, []);
  assert.deepEqual(r.verdict, { accepted: true });
  assert.equal(r.revocation, null);
  assert.ok(!ids(r).some((id) => id.startsWith('revocation.')), ids(r).join());
});

test('no CRL of the issuer: UNABLE_TO_GET_CRL under deny (error naming the CA), accepted under allow', async () => {
  const deny = await doctor(files.good, [crl.root]);
  assert.deepEqual(verdictFields(deny.verdict!), {
    accepted: false,
    reason: 'unable to get certificate CRL',
    code: 'UNABLE_TO_GET_CRL',
  });
  const f = only(deny, 'revocation.no-crl');
  assert.equal(f.severity, 'error');
  assert.match(f.title, /no CRL from CA "CN=Doctor CRL Intermediate/);
  assert.deepEqual([deny.revocation?.status, deny.revocation?.level], ['unavailable', 0]);

  const allow = await doctor(files.good, [crl.root], { revocation: { onUnavailable: 'allow' } });
  assert.deepEqual(allow.verdict, { accepted: true });
  assert.equal(only(allow, 'revocation.no-crl').severity, 'warning');
  assert.equal(allow.revocation?.status, 'unavailable');
});

test('scope chain: every level is named, the root CRL missing denies at level 1', async () => {
  const rootMissing = await doctor(files.good, [crl.inter], { revocation: { scope: 'chain' } });
  assert.equal(verdictFields(rootMissing.verdict!).code, 'UNABLE_TO_GET_CRL');
  assert.deepEqual([rootMissing.revocation?.level, rootMissing.revocation?.subject], [1, inter.subject]);
  assert.match(only(rootMissing, 'revocation.no-crl').title, /no CRL from CA "CN=Doctor CRL Root/);
  assert.equal(only(rootMissing, 'revocation.not-revoked').evidence['level'], 0);

  const none = await doctor(files.good, [crl.outside], { revocation: { scope: 'chain' } });
  const noCrl = none.findings.filter((f) => f.id === 'revocation.no-crl');
  assert.deepEqual(
    noCrl.map((f) => f.evidence['issuer']),
    [inter.subject, root.subject],
  );

  const all = await doctor(files.good, [crl.inter, crl.root], { revocation: { scope: 'chain' } });
  assert.deepEqual(all.verdict, { accepted: true });
  assert.equal(all.findings.filter((f) => f.id === 'revocation.not-revoked').length, 2);
});

test('an expired CRL: CRL_HAS_EXPIRED, the gateway follows onUnavailable', async () => {
  const deny = await doctor(files.good, [crl.expired]);
  assert.equal(verdictFields(deny.verdict!).code, 'CRL_HAS_EXPIRED');
  const f = only(deny, 'revocation.crl-expired');
  assert.equal(f.severity, 'error');
  assert.match(f.detail, /follows onUnavailable/);
  assert.match(f.fix, /openssl ca .*-gencrl/);
  const allow = await doctor(files.good, [crl.expired], { revocation: { onUnavailable: 'allow' } });
  assert.deepEqual(allow.verdict, { accepted: true });
  assert.equal(only(allow, 'revocation.crl-expired').severity, 'warning');
  // A revoked certificate on an expired CRL stays revoked (OpenSSL reports the CRL's age first): the CA signed its
  // revocation, and onUnavailable: allow must not admit it.
  const revokedExpired = await doctor(files.bad, [crl.expired]);
  assert.equal(verdictFields(revokedExpired.verdict!).code, 'CERT_REVOKED');
  const revokedAllow = await doctor(files.bad, [crl.expired], { revocation: { onUnavailable: 'allow' } });
  assert.equal(verdictFields(revokedAllow.verdict!).code, 'CERT_REVOKED');
});

test('a CRL expiring within a day warns; a CRL not yet valid denies, and --at moves the CRL times', async () => {
  const soon = await doctor(files.good, [crl.soon]);
  assert.deepEqual(soon.verdict, { accepted: true });
  assert.equal(only(soon, 'revocation.crl-expires-soon').severity, 'warning');

  const future = await doctor(files.good, [crl.future]);
  assert.equal(verdictFields(future.verdict!).code, 'CRL_NOT_YET_VALID');
  assert.equal(only(future, 'revocation.crl-not-yet-valid').severity, 'error');

  const later = await doctor(files.good, [crl.future], { now: new Date(now + 2 * DAY) });
  assert.deepEqual(later.verdict, { accepted: true });
  assert.equal(later.verdictSource, 'prediction');
  const after = await doctor(files.good, [crl.inter], { now: new Date(now + 8 * DAY) });
  assert.equal(verdictFields(after.verdict!).code, 'CRL_HAS_EXPIRED');
});

test('refused CRLs say why: unknown critical extension, another key, issuer not in the truststore', async () => {
  const critical = await doctor(files.good, [crl.critical]);
  assert.equal(verdictFields(critical.verdict!).code, 'UNHANDLED_CRITICAL_CRL_EXTENSION');
  const c = only(critical, 'revocation.crl-refused');
  assert.equal(c.severity, 'error');
  assert.match(c.title, /unknown critical extension 1\.3\.6\.1\.4\.1\.55555\.1/);

  const twinSigned = await doctor(files.good, [crl.twin]);
  assert.equal(verdictFields(twinSigned.verdict!).code, 'CRL_SIGNATURE_FAILURE');
  assert.match(only(twinSigned, 'revocation.crl-refused').title, /signed by another key/);

  // Beside a good CRL, a CRL of a CA the truststore lacks is only a warning: it concerns no certificate here.
  const stray = await doctor(files.good, [crl.inter, crl.outside]);
  assert.deepEqual(stray.verdict, { accepted: true });
  const s = only(stray, 'revocation.crl-refused');
  assert.equal(s.severity, 'warning');
  assert.equal(s.evidence['code'], 'UNABLE_TO_GET_CRL_ISSUER');
  assert.match(s.title, /no CA in the truststore named CN=Outside CA/);
});

test('a certificate denied before revocation is not looked up: the verdict stays, status not-checked', async () => {
  const r = await doctor(files.unknownIssuer, [crl.inter]);
  assert.equal(verdictFields(r.verdict!).reason, 'Could not find issuer for certificate');
  assert.equal(r.revocation?.status, 'not-checked');
  assert.ok(!ids(r).includes('revocation.not-revoked'), ids(r).join());
});

test('CLI: --crl repeatable, exit 1 on a revoked certificate, the revocation object in --json', async () => {
  const args = ['doctor', '--cert', files.bad.certFile, '--key', files.bad.keyFile, '--truststore', truststore];
  const text = await cli([...args, '--crl', crl.root, '--crl', crl.inter], { env: { NO_COLOR: '1' } });
  assert.equal(text.code, 1, text.text);
  assert.match(text.out, /403 Access denied\. Reason: certificate revoked {2}\[CERT_REVOKED\]/);
  assert.match(text.out, /revocation: revoked \(the client certificate\) at .*, keyCompromise/);
  assert.match(text.out, /\[revocation\.revoked\]/);

  const json = await cli([...args, '--crl', crl.inter, '--json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.out) as DiagnoseReport;
  assert.equal(report.verdict && !report.verdict.accepted && report.verdict.code, 'CERT_REVOKED');
  assert.deepEqual(
    Object.keys(report.revocation!).sort(),
    [
      'code',
      'crl',
      'level',
      'ocsp',
      'onUnavailable',
      'reason',
      'revokedAt',
      'scope',
      'status',
      'subject',
      'why',
    ].sort(),
  );
  assert.equal(report.revocation?.status, 'revoked');
  assert.ok(report.findings.some((f) => f.id === 'revocation.revoked' && f.source === 'offline'));

  const goodArgs = ['doctor', '--cert', files.good.certFile, '--key', files.good.keyFile, '--truststore', truststore];
  const allowed = await cli([...goodArgs, '--crl', crl.root, '--on-unavailable', 'allow', '--json']);
  assert.equal(allowed.code, 0, allowed.text);
  const chain = await cli([...goodArgs, '--crl', crl.inter, '--revocation-scope', 'chain', '--json']);
  assert.equal(chain.code, 1);
  assert.equal((JSON.parse(chain.out) as DiagnoseReport).revocation?.level, 1);
});

test('CLI: a --crl file that cannot be read or is not a CRL is one line and exit 2 (E_CRL); misuse is E_USAGE', async () => {
  const base = ['doctor', '--cert', files.good.certFile, '--truststore', truststore];
  const notCrl = join(dir, 'not-a-crl.pem');
  writeFileSync(notCrl, good.certPem);
  for (const [file, message] of [
    [join(dir, 'missing.crl'), /^mtlsgate: --crl: .*missing\.crl: no such file\n$/],
    [notCrl, /^mtlsgate: --crl: .*not-a-crl\.pem: no X509 CRL in it .*\(expected a PEM or DER CRL\)\n$/],
    [dir, /^mtlsgate: --crl: .*: is a directory/],
  ] as const) {
    const r = await cli([...base, '--crl', file]);
    assert.equal(r.code, 2, r.text);
    assert.match(r.err, message);
    assert.equal(r.out, '');
  }
  const noTruststore = await cli(['doctor', '--cert', files.good.certFile, '--crl', crl.inter]);
  assert.equal(noTruststore.code, 2);
  assert.match(noTruststore.err, /--crl needs --truststore/);
  const scopeAlone = await cli([...base, '--revocation-scope', 'chain']);
  assert.equal(scopeAlone.code, 2);
  assert.match(scopeAlone.err, /--revocation-scope applies to revocation; add --crl FILE/);
  const badScope = await cli([...base, '--crl', crl.inter, '--revocation-scope', 'all']);
  assert.equal(badScope.code, 2);
  assert.match(badScope.err, /leaf, chain/);
});
