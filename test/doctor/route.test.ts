/**
 * `doctor --config FILE --domain NAME --path /x`: the mapping a path takes, its mode, the allow-list that applies and
 * why a certificate is or is not admitted, through the CLI in process, with the truststore taken from the config.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mtlsgate } from '../helpers/cli.js';
import { testPki, tmpDir, writeClient, type ClientFiles, type TestPki } from '../helpers/pki.js';
import { issue } from '../../src/pki/generate.js';

let pki: TestPki;
let configFile: string;
let spiffe: ClientFiles;
let other: ClientFiles;

interface Report {
  findings: { id: string; severity: string; title: string; evidence: Record<string, unknown> }[];
}

before(async () => {
  pki = await testPki();
  const dir = tmpDir();
  const [a, b] = await Promise.all([
    issue({
      subject: 'CN=web',
      profile: 'client',
      issuer: pki.intermediate,
      sans: ['URI:spiffe://t.example/ns/prod/sa/web'],
    }),
    issue({
      subject: 'CN=other',
      profile: 'client',
      issuer: pki.intermediate,
      sans: ['DNS:other.corp.example', 'IP:10.9.9.9'],
    }),
  ]);
  spiffe = writeClient(dir, 'web', a);
  other = writeClient(dir, 'other', b);
  configFile = join(dir, 'gateway.yaml');
  writeFileSync(
    configFile,
    `
domains:
  - domainName: "*.example.test"
    certificate: { cert: ${pki.serverCert}, key: ${pki.serverKey} }
    mutualTls:
      truststoreUri: file://${pki.truststore}
      clientCertificate: optional
      allow: { subjectAltNames: ["DNS:*.corp.example"] }
    basePathMappings:
      - { basePath: orders, target: "http://127.0.0.1:9000", allow: { subjectAltNames: ["URI:spiffe://t.example/ns/prod/*"] } }
      - { basePath: health, target: "http://127.0.0.1:9001", clientCertificate: none }
      - { basePath: api, target: "http://127.0.0.1:9002" }
`,
  );
});

async function doctor(...args: string[]): Promise<{ code: number; report: Report }> {
  const r = await mtlsgate('doctor', '--config', configFile, '--domain', 'mtls.example.test', '--json', ...args);
  return { code: r.code, report: JSON.parse(r.out) as Report };
}

const ids = (r: Report): string[] => r.findings.filter((f) => f.id.startsWith('route.')).map((f) => f.id);

test('admitted: the mapping, its mode, the entry that admits; the truststore comes from the config', async () => {
  const { code, report } = await doctor('--cert', spiffe.certFile, '--key', spiffe.keyFile, '--path', '/orders/42');
  assert.equal(code, 0, JSON.stringify(report.findings.filter((f) => f.severity === 'error')));
  assert.deepEqual(ids(report), ['route.matched', 'route.allowed']);
  const matched = report.findings.find((f) => f.id === 'route.matched')!;
  assert.equal(matched.evidence.clientCertificate, 'optional');
  assert.equal(matched.evidence.upstreamPath, '/42');
  const allowed = report.findings.find((f) => f.id === 'route.allowed')!;
  assert.equal(allowed.evidence.admittedBy, 'subjectAltNames: URI:spiffe://t.example/ns/prod/*');
  assert.equal(allowed.evidence.allowList, 'basePathMappings[0].allow');
});

test('refused by the allow-list: the certificate beside the entries, exit 1', async () => {
  const { code, report } = await doctor('--cert', other.certFile, '--key', other.keyFile, '--path', '/orders/42');
  assert.equal(code, 1);
  const f = report.findings.find((x) => x.id === 'route.not-allowed')!;
  assert.equal(f.severity, 'error');
  assert.match(f.title, /client certificate not allowed/);
  assert.deepEqual(f.evidence['SAN DNS'], ['other.corp.example']);
  assert.deepEqual(f.evidence['SAN IP'], ['10.9.9.9']);
  assert.match(String(f.evidence.sha256Fingerprint), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.deepEqual(f.evidence['allow.subjectAltNames'], ['URI:spiffe://t.example/ns/prod/*']);
  // The domain's list judges a mapping without its own: *.corp.example admits other.corp.example.
  const api = await doctor('--cert', other.certFile, '--key', other.keyFile, '--path', '/api/x');
  assert.equal(api.code, 0);
  assert.equal(api.report.findings.find((x) => x.id === 'route.allowed')?.evidence.allowList, 'mutualTls.allow');
});

test('none, optional without a certificate, and a path no mapping matches', async () => {
  const none = await doctor('--cert', other.certFile, '--key', other.keyFile, '--path', '/health');
  assert.deepEqual(ids(none.report), ['route.matched', 'route.certificate-not-required']);
  const noCert = await doctor('--path', '/api/x');
  assert.equal(noCert.code, 0);
  assert.deepEqual(ids(noCert.report), ['route.matched', 'route.certificate-not-required']);
  const miss = await doctor('--cert', spiffe.certFile, '--key', spiffe.keyFile, '--path', '/nowhere');
  assert.equal(miss.code, 1);
  // The domain's list judges the unknown path first (the spiffe certificate has no DNS name under *.corp.example).
  assert.deepEqual(ids(miss.report), ['route.not-allowed', 'route.no-mapping']);
  assert.match(miss.report.findings.find((f) => f.id === 'route.no-mapping')!.title, /404/);
});

test('usage: --config needs --domain, and a domain the config has', async () => {
  const r = await mtlsgate('doctor', '--config', configFile, '--path', '/x');
  assert.equal(r.code, 2);
  assert.match(r.err, /--config needs --domain/);
  const s = await mtlsgate('doctor', '--config', configFile, '--domain', 'nowhere.test');
  assert.equal(s.code, 2);
  assert.match(s.err, /--domain nowhere\.test: not in .*\*\.example\.test/);
});
