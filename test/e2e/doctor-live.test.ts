/**
 * `mtlsgate doctor --url` against a real `mtlsgate serve` process: the live diagnosis of an accepted client, a
 * self-signed one (the server's stated reason tied to chain.self-signed-untrusted), a modified pinned self-signed
 * one (tied to chain.self-signed-modified with the digests), a client from another CA (the TLS 1.2
 * CertificateRequest's CA names read, tls.ca-not-accepted), no certificate, a hidden reason, an unknown name, an IP
 * address URL; and the CLI's usage errors. The doctor runs in-process (main()), the gateway as its own process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { issue, type Issued } from '../../src/pki/generate.js';
import type { DiagnoseReport } from '../../src/doctor/diagnose.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { cli } from '../helpers/cli.js';
import {
  serverIdentity,
  tmpDir,
  writeClient,
  writeTruststore,
  type ClientFiles,
  type ServerIdentity,
} from '../helpers/pki.js';

const LIVE = 'live.e2e.test';
const HIDDEN = 'hidden.e2e.test';
const RSA = { type: 'rsa', bits: 2048 } as const;

let gw: GatewayProcess;
let echo: EchoBackend;
let server: ServerIdentity;
let truststore = '';
let root: Issued;
let int: Issued;
let otherRoot: Issued;
const files: Record<'good' | 'lonely' | 'modified' | 'stranger', ClientFiles> = {} as never;

before(async () => {
  const dir = tmpDir();
  server = await serverIdentity(dir, [LIVE, HIDDEN]);
  root = await issue({ subject: 'CN=Live Root CA,O=mtlsgate e2e', profile: 'root-ca' });
  otherRoot = await issue({ subject: 'CN=Some Other CA,O=elsewhere', profile: 'root-ca' });
  int = await issue({ subject: 'CN=Live Intermediate CA,O=mtlsgate e2e', profile: 'intermediate-ca', issuer: root });
  const [good, lonely, pinned, modified, stranger] = await Promise.all([
    issue({ subject: 'CN=live client', profile: 'client', issuer: int }),
    issue({ subject: 'CN=lonely client', profile: 'client' }),
    issue({ subject: 'CN=pinned client', profile: 'client', key: RSA }),
    issue({ subject: 'CN=pinned client', profile: 'client', key: RSA }),
    issue({ subject: 'CN=stranger', profile: 'client', issuer: otherRoot }),
  ]);
  truststore = writeTruststore(dir, 'truststore', [root, int, pinned]);
  Object.assign(files, {
    good: writeClient(dir, 'good', good),
    lonely: writeClient(dir, 'lonely', lonely),
    modified: writeClient(dir, 'modified', modified),
    stranger: writeClient(dir, 'stranger', stranger),
  });
  echo = await startEcho();
  const route = [{ basePath: '', target: echo.url }];
  gw = await startGateway({
    config: {
      domains: [
        domainConfig(LIVE, server, truststore, route),
        domainConfig(HIDDEN, server, truststore, route, { exposeReason: false }),
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

/** doctor --url for `domain` with the client files, the gateway's truststore and its server CA; JSON report. */
async function live(
  client: ClientFiles | null,
  domain = LIVE,
  ts = truststore,
): Promise<{ code: number; r: DiagnoseReport }> {
  const args = [
    '--url',
    `https://${domain}:${gw.port}/hello`,
    '--resolve',
    `${domain}:${gw.port}:127.0.0.1`,
    '--cacert',
    server.caFile,
    '--json',
    '--timeout',
    '5',
  ];
  if (client) args.push('--cert', client.certFile, '--key', client.keyFile, '--truststore', ts);
  const { code, out, err } = await cli(['doctor', ...args]);
  assert.equal(err, '');
  return { code, r: JSON.parse(out) as DiagnoseReport };
}
const liveFindings = (r: DiagnoseReport) => r.findings.filter((f) => f.source === 'live');
const liveIds = (r: DiagnoseReport): string[] => liveFindings(r).map((f) => f.id);
const liveFinding = (r: DiagnoseReport, id: string) => {
  const f = liveFindings(r).find((x) => x.id === id);
  assert.ok(f, `expected ${id}, got ${liveIds(r).join(', ')}`);
  return f;
};

test("accepted: HTTP 200, the server verified, the TLS 1.2 CertificateRequest names the truststore's CAs, and live matches offline", async () => {
  const { code, r } = await live(files.good);
  assert.equal(code, 0);
  for (const key of ['verdict', 'verdictSource', 'findings', 'certificates', 'key', 'chain', 'openssl', 'live'])
    assert.ok(key in r, key);
  assert.deepEqual(r.verdict, { accepted: true });
  assert.equal(r.live!.outcome.kind === 'http' && r.live!.outcome.status, 200);
  assert.equal(r.live!.tls!.serverVerified, true);
  assert.equal(r.live!.tls!.clientCertSent, true);
  assert.deepEqual(r.live!.tls!.acceptableCAs, [
    'CN=Live Root CA,O=mtlsgate e2e',
    'CN=Live Intermediate CA,O=mtlsgate e2e',
    'CN=pinned client',
  ]);
  assert.deepEqual(liveIds(r), ['http.ok', 'live.matches-offline']);
});

test('self-signed: the server says "self-signed certificate", tied to chain.self-signed-untrusted; the gateway logged the same request', async () => {
  const mark = gw.mark();
  const { code, r } = await live(files.lonely);
  assert.equal(code, 1);
  const denied = liveFinding(r, 'http.access-denied');
  assert.equal(denied.evidence['reason'], 'self-signed certificate');
  assert.deepEqual(denied.evidence['explainedBy'], ['chain.self-signed-untrusted', 'chain.self-signed-modified']);
  const tie = liveFinding(r, 'live.matches-offline');
  assert.match(
    tie.title,
    /^the server said "self-signed certificate"; the client certificate is self-signed and is not in the truststore/,
  );
  assert.ok('chain.self-signed-untrusted' in tie.evidence);
  assert.equal(tie.evidence['offline'], 'denied: "self-signed certificate"');
  await gw.waitForRequestLog(
    String(denied.evidence['requestId']),
    'Access denied. Reason: self-signed certificate',
    mark,
  );
  // The client is self-signed, so its "issuer" is itself: not among the server's CA names either.
  assert.equal(liveFinding(r, 'tls.ca-not-accepted').evidence['clientIssuer'], 'CN=lonely client');
});

test('a modified pinned self-signed certificate: "your client.crt differs from the truststore copy", with the modulus digests', async () => {
  const { r } = await live(files.modified);
  assert.equal(liveFinding(r, 'http.access-denied').evidence['reason'], 'self-signed certificate');
  const tie = liveFinding(r, 'live.matches-offline');
  assert.match(
    tie.title,
    /the server said "self-signed certificate"; the truststore holds a different certificate with this subject/,
  );
  const digests = ['key modulus sha1', 'client cert modulus sha1', 'truststore copy modulus sha1'].map(
    (k) => tie.evidence[k],
  );
  assert.ok(
    digests.every((d) => typeof d === 'string' && /^[0-9a-f]{40}$/.test(d)),
    JSON.stringify(tie.evidence),
  );
  assert.equal(digests[0], digests[1], 'the key matches the client certificate');
  assert.notEqual(digests[1], digests[2], 'the truststore copy differs');
  assert.ok(!liveIds(r).includes('tls.ca-not-accepted'), 'the pinned subject is among the CA names');
});

test('a client from another CA: its issuer is not among the CA names (tls.ca-not-accepted), and the server says why', async () => {
  const { code, r } = await live(files.stranger);
  assert.equal(code, 1);
  const ca = liveFinding(r, 'tls.ca-not-accepted');
  assert.equal(ca.severity, 'error');
  assert.equal(ca.evidence['clientIssuer'], 'CN=Some Other CA,O=elsewhere');
  assert.deepEqual(ca.evidence['acceptableCAs'], r.live!.tls!.acceptableCAs);
  assert.equal(liveFinding(r, 'http.access-denied').evidence['reason'], 'Could not find issuer for certificate');
  assert.equal(
    liveFinding(r, 'live.matches-offline').evidence['offline'],
    'denied: "Could not find issuer for certificate"',
  );
});

test("live and offline disagree when the truststore given is not the server's: both directions", async () => {
  const dir = tmpDir();
  // Without the intermediate the offline doctor denies the good client; the gateway (which has it) accepts.
  const a = await live(files.good, LIVE, writeTruststore(dir, 'root-only', [root]));
  const fa = liveFinding(a.r, 'live.differs-from-offline');
  assert.equal(fa.severity, 'warning');
  assert.match(
    fa.title,
    /^the server accepted it \(HTTP 200\), but the offline doctor says denied: "Could not find issuer for certificate"/,
  );
  assert.match(fa.fix, /get the truststore the server really uses/);
  // A truststore that trusts the stranger's CA: the offline doctor accepts, the gateway does not.
  const b = await live(files.stranger, LIVE, writeTruststore(dir, 'other', [otherRoot]));
  assert.deepEqual(b.r.verdict, { accepted: true });
  const fb = liveFinding(b.r, 'live.differs-from-offline');
  assert.match(
    fb.title,
    /^the server said "Could not find issuer for certificate" \(HTTP 403\), but the offline doctor says accepted/,
  );
  assert.match(fb.detail, /passes against the truststore given: the server uses another truststore/);
  assert.equal(b.code, 1);
});

test('no certificate: the gateway ends the handshake (certificate required); nothing to compare', async () => {
  const { code, r } = await live(null);
  assert.equal(code, 1);
  assert.equal(r.verdict, null, 'no files: the verdict is unknown, not a denial');
  assert.equal(r.verdictSource, null);
  assert.equal(r.live!.tls!.clientCertSent, false);
  assert.equal(r.live!.tls!.clientCertRequested, true);
  const f = liveFindings(r).find((x) => x.id === 'tls.client-cert-required' || x.id === 'tls.closed-after-handshake');
  assert.ok(f, liveIds(r).join());
  assert.match(f.title, /none was sent|no client certificate was sent/);
  assert.ok(!liveIds(r).some((id) => id.startsWith('live.')));
});

test('exposeReason off: 403 Forbidden, the reason hidden; the offline doctor supplies it', async () => {
  const { r } = await live(files.lonely, HIDDEN);
  const f = liveFinding(r, 'http.forbidden');
  assert.match(f.fix, /exposeReason: true/);
  const tie = liveFinding(r, 'live.matches-offline');
  assert.match(
    tie.title,
    /refused it without saying why \(HTTP 403\); the offline doctor's reason: "self-signed certificate"/,
  );
});

test('an unknown name and an IP address URL: the gateway has no certificate to offer; the doctor says SNI', async () => {
  const unknown = await live(null, 'unknown.e2e.test');
  assert.match(liveFindings(unknown.r)[0]!.detail, /does not serve the name "unknown\.e2e\.test"/);
  const { r } = await (async () => {
    const { out } = await cli([
      'doctor',
      '--url',
      `https://127.0.0.1:${gw.port}/`,
      '--cacert',
      server.caFile,
      '--json',
    ]);
    return { r: JSON.parse(out) as DiagnoseReport };
  })();
  assert.equal(liveFindings(r)[0]!.id, 'tls.no-server-name');
  assert.match(liveFindings(r)[0]!.fix, new RegExp(`--resolve NAME:${gw.port}:127\\.0\\.0\\.1`));
});

test('the text report: offline verdict, then the live part with its findings', async () => {
  const { code, out } = await cli([
    'doctor',
    '--url',
    `https://${LIVE}:${gw.port}/hello`,
    '--resolve',
    `${LIVE}:${gw.port}:127.0.0.1`,
    '--cacert',
    server.caFile,
    '--cert',
    files.lonely.certFile,
    '--key',
    files.lonely.keyFile,
    '--truststore',
    truststore,
  ]);
  assert.equal(code, 1);
  assert.match(out, /^✗ The gateway would deny this client certificate/);
  assert.match(
    out,
    new RegExp(
      `\\nLive: https://${LIVE.replace(/\./g, '\\.')}:${gw.port}/hello → 127\\.0\\.0\\.1:${gw.port}  \\(--resolve `,
    ),
  );
  assert.match(out, /\n {2}answer: {2}HTTP 403 \{"message":"Access denied\. Reason: self-signed certificate"\}\n/);
  assert.match(out, /\n {2}client certificate: requested from 3 CA name\(s\); sent\n/);
  assert.match(
    out,
    /\[error\] the server refused the client certificate: "self-signed certificate" \(HTTP 403\) {2}\[http\.access-denied\]/,
  );
  assert.match(out, /\[info\] the server said "self-signed certificate"; .*\[live\.matches-offline\]/);
});

test('usage errors exit 2 with one line: http:// URL, bad --timeout, bad --resolve, live options without --url', async () => {
  const cases: [string[], RegExp][] = [
    [['--url', `http://${LIVE}:${gw.port}/`], /plain HTTP; the doctor probes HTTPS \(mutual TLS\) only/],
    [['--url', `https://${LIVE}/`, '--timeout', 'soon'], /--timeout: "soon" is not a number of seconds/],
    [['--url', `https://${LIVE}/`, '--resolve', `${LIVE}:443`], /--resolve: ".*" is not host:port:address/],
    [['--cert', files.good.certFile, '--cacert', server.caFile], /--cacert applies to the live probe; add --url/],
    [['--url', `https://${LIVE}/`, '--cacert', '/nonexistent/ca.pem'], /--cacert: \/nonexistent\/ca\.pem/],
  ];
  for (const [args, message] of cases) {
    const { code, out, err } = await cli(['doctor', ...args]);
    assert.equal(code, 2, args.join(' '));
    assert.equal(out, '');
    assert.match(err, message);
    assert.equal(err.trim().split('\n').length, 1, err);
  }
});
