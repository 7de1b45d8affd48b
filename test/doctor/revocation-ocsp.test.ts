/**
 * `doctor --ocsp` / `--ocsp-url`: the verdict includes the responders' answers, judged by the gateway's functions
 * (mode ocsp, or prefer-ocsp with --crl), and each answer (or why there was none) is explained. The responders are
 * OpenSSL's own (`openssl ocsp -index`) and the tests' fault responder.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { diagnose, type DiagnoseReport } from '../../src/doctor/diagnose.js';
import type { DoctorInput } from '../../src/doctor/known.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { cli } from '../helpers/cli.js';
import { crlCa, gencrl, revoke } from '../helpers/crl.js';
import {
  startFaultResponder,
  startOpensslResponder,
  writeIdentity,
  writeIndex,
  type FaultResponder,
  type Responder,
} from '../helpers/ocsp.js';
import { tmpDir, writeClient, writeTruststore } from '../helpers/pki.js';

const dir = tmpDir();
let ca: Issued;
let responder: Responder;
let slow: FaultResponder;
let truststore: string;
let files: Record<'good' | 'revoked' | 'unknown' | 'noAia', { certFile: string; keyFile: string }>;
let crl: string;

before(async () => {
  ca = await issue({ subject: 'CN=Doctor OCSP CA,O=mtlsgate test', profile: 'root-ca' });
  const id = writeIdentity(dir, 'ca', ca);
  const index = join(dir, 'index.txt');
  const entry = (serial: string, cn: string) => ({
    x509: { serialNumber: serial, validTo: new Date(Date.now() + 30 * 86_400_000).toUTCString(), subject: `CN=${cn}` },
  });
  // openssl ocsp reads its index once; the certificates name the responder (AIA) once it listens.
  writeIndex(index, [
    { cert: entry('0D0C0001', 'good') },
    { cert: entry('0D0C0002', 'revoked'), revoked: { at: new Date(Date.now() - 7200_000), reason: 'superseded' } },
  ]);
  responder = await startOpensslResponder({ index, ca: id.cert, rsigner: id.cert, rkey: id.key, nmin: 5 });
  slow = await startFaultResponder('slow', { issuer: ca });
  const leaf = (cn: string, serial: string, aia = true): Promise<Issued> =>
    issue({ subject: `CN=${cn}`, profile: 'client', issuer: ca, serial, ...(aia && { ocspUrls: [responder.url] }) });
  const [good, revoked, unknown, noAia] = await Promise.all([
    leaf('good', '0d0c0001'),
    leaf('revoked', '0d0c0002'),
    leaf('unknown', '0d0c0003'),
    leaf('no aia', '0d0c0004', false),
  ]);
  truststore = writeTruststore(dir, 'truststore', [ca]);
  files = {
    good: writeClient(dir, 'good', good),
    revoked: writeClient(dir, 'revoked', revoked),
    unknown: writeClient(dir, 'unknown', unknown),
    noAia: writeClient(dir, 'no-aia', noAia),
  };
  const crlAuthority = crlCa(dir, ca, 'crl-ca');
  revoke(crlAuthority, revoked, 'superseded');
  crl = gencrl(crlAuthority, 'ca.crl');
});

after(async () => {
  await responder?.stop();
  await slow?.stop();
});

function doctor(client: { certFile: string; keyFile: string }, extra: Partial<DoctorInput>): Promise<DiagnoseReport> {
  return diagnose({ files: { cert: client.certFile, key: client.keyFile, truststore, ...extra } });
}

const ids = (r: DiagnoseReport): string[] => r.findings.filter((f) => f.id.startsWith('revocation.')).map((f) => f.id);

test("the certificate's own responder: good is accepted and says so; revoked is CERT_REVOKED with when and why", async () => {
  const ok = await doctor(files.good, { ocsp: { url: null } });
  assert.deepEqual(ok.verdict, { accepted: true });
  assert.deepEqual(ids(ok), ['revocation.not-revoked']);
  assert.equal(ok.revocation?.status, 'good');
  assert.equal(ok.revocation?.ocsp?.status, 'good');
  assert.equal(ok.revocation?.ocsp?.responder, 'CN=Doctor OCSP CA,O=mtlsgate test');

  const bad = await doctor(files.revoked, { ocsp: { url: null } });
  assert.equal(verdictFields(bad.verdict!).code, 'CERT_REVOKED');
  assert.equal(verdictFields(bad.verdict!).reason, 'certificate revoked');
  const f = bad.findings.find((x) => x.id === 'revocation.revoked')!;
  assert.match(f.title, /the OCSP responder of "CN=Doctor OCSP CA,O=mtlsgate test" says so since .* \(superseded\)/);
  assert.equal(bad.revocation?.reason, 'superseded');
  assert.equal(bad.revocation?.crl, null);
});

test('unknown, no responder and a responder that never answers: no status, denied under deny, warned under allow', async () => {
  const unknown = await doctor(files.unknown, { ocsp: { url: null } });
  assert.equal(verdictFields(unknown.verdict!).code, 'MTLSGATE_REVOCATION_UNAVAILABLE');
  assert.deepEqual(ids(unknown), ['revocation.ocsp-unknown']);

  const none = await doctor(files.noAia, { ocsp: { url: null } });
  assert.equal(verdictFields(none.verdict!).code, 'MTLSGATE_REVOCATION_UNAVAILABLE');
  const why = none.findings.find((x) => x.id === 'revocation.ocsp-unavailable')!;
  assert.match(why.fix, /--ocsp-url/);

  const t = performance.now();
  const hung = await doctor(files.good, { ocsp: { url: slow.url, timeoutMs: 500 } });
  assert.ok(performance.now() - t < 5000);
  assert.equal(verdictFields(hung.verdict!).code, 'MTLSGATE_REVOCATION_UNAVAILABLE');
  assert.match(hung.revocation?.why ?? '', /timed out/);

  const allowed = await doctor(files.unknown, { ocsp: { url: null }, revocation: { onUnavailable: 'allow' } });
  assert.deepEqual(allowed.verdict, { accepted: true });
  assert.equal(allowed.findings.find((x) => x.id === 'revocation.ocsp-unknown')?.severity, 'warning');
});

test('--ocsp-url overrides the AIA; with --crl the CRL answers where the responder cannot (prefer-ocsp)', async () => {
  const viaUrl = await doctor(files.noAia, { ocsp: { url: responder.url } });
  // The responder does not know this serial, but it was asked: its answer, not "no responder".
  assert.deepEqual(ids(viaUrl), ['revocation.ocsp-unknown']);
  const fallback = await doctor(files.revoked, { ocsp: { url: slow.url, timeoutMs: 300 }, crls: [crl] });
  assert.equal(verdictFields(fallback.verdict!).code, 'CERT_REVOKED');
  assert.equal(fallback.revocation?.crl?.file, crl);
});

test('CLI: --ocsp needs --truststore, a bad --ocsp-url is one line, and --json carries the answer', async () => {
  const noTs = await cli(['doctor', '--cert', files.good.certFile, '--key', files.good.keyFile, '--ocsp']);
  assert.equal(noTs.code, 2);
  assert.match(noTs.err, /--ocsp needs --truststore/);
  const badUrl = await cli([
    'doctor',
    '--cert',
    files.good.certFile,
    '--truststore',
    truststore,
    '--ocsp-url',
    'ftp://x',
  ]);
  assert.equal(badUrl.code, 2);
  assert.equal(badUrl.err.trim().split('\n').length, 1);
  const json = await cli([
    'doctor', '--cert', files.revoked.certFile, '--key', files.revoked.keyFile, '--truststore', truststore,
    '--ocsp', '--json',
  ]); // prettier-ignore
  assert.equal(json.code, 1);
  const report = JSON.parse(json.out) as { verdict: { code: string }; revocation: { ocsp: { status: string } } };
  assert.equal(report.verdict.code, 'CERT_REVOKED');
  assert.equal(report.revocation.ocsp.status, 'revoked');
});
