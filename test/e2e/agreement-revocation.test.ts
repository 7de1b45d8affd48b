/**
 * Agreement suite, revocation: one real `mtlsgate serve` with `mutualTls.revocation: { mode: crl }` on a domain per
 * case (its own CRL sources, file://, made by `openssl ca -gencrl`; exposeReason: true), and for each case three
 * views that must agree with each other and with the case:
 *   1. offline: `diagnose()` on the client's files with the domain's truststore and `crls` (doctor --crl), with the
 *      domain's scope and onUnavailable;
 *   2. live: the doctor's live probe of the domain (HTTP 2xx, or the reason of its http.access-denied finding), and
 *      its tie finding live.matches-offline;
 *   3. gateway: the HTTP status and the deny log line (`Access denied. Reason: ...`, field `code`) found by the
 *      answer's x-request-id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { issue, type Issued } from '../../src/pki/generate.js';
import { diagnose, type DiagnoseReport } from '../../src/doctor/diagnose.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { crlCa, gencrl, revoke } from '../helpers/crl.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { serverIdentity, tmpDir, writeClient, writeTruststore, type ServerIdentity } from '../helpers/pki.js';

const DAY = 24 * 3600_000;

interface Case {
  name: string;
  client: 'good' | 'revoked';
  crls: Array<'inter' | 'root' | 'expired'>;
  scope: 'leaf' | 'chain';
  onUnavailable: 'deny' | 'allow';
  /** null: accepted. */
  code: string | null;
  reason: string | null;
}

const CASES: Case[] = [
  {
    name: 'revoked',
    client: 'revoked',
    crls: ['inter'],
    scope: 'leaf',
    onUnavailable: 'deny',
    code: 'CERT_REVOKED',
    reason: 'certificate revoked',
  },
  { name: 'good', client: 'good', crls: ['inter'], scope: 'leaf', onUnavailable: 'deny', code: null, reason: null },
  {
    name: 'no CRL of the issuer',
    client: 'good',
    crls: ['root'],
    scope: 'leaf',
    onUnavailable: 'deny',
    code: 'UNABLE_TO_GET_CRL',
    reason: 'unable to get certificate CRL',
  },
  {
    name: 'no CRL of the issuer, onUnavailable allow',
    client: 'good',
    crls: ['root'],
    scope: 'leaf',
    onUnavailable: 'allow',
    code: null,
    reason: null,
  },
  {
    name: 'expired CRL',
    client: 'good',
    crls: ['expired'],
    scope: 'leaf',
    onUnavailable: 'deny',
    code: 'CRL_HAS_EXPIRED',
    reason: 'CRL has expired',
  },
  {
    name: 'scope chain, the root CRL missing',
    client: 'good',
    crls: ['inter'],
    scope: 'chain',
    onUnavailable: 'deny',
    code: 'UNABLE_TO_GET_CRL',
    reason: 'unable to get certificate CRL',
  },
];

interface View {
  accepted: boolean | null;
  reason: string | null;
  code: string | null;
}

const domainOf = (i: number): string => `rv${i}.revocation.test`;
let gw: GatewayProcess;
let echo: EchoBackend;
let server: ServerIdentity;
let truststore: string;
let crlFiles: Record<Case['crls'][number], string>;
let clients: Record<Case['client'], { certFile: string; keyFile: string }>;

before(async () => {
  const dir = tmpDir();
  const root = await issue({ subject: 'CN=Revocation e2e Root,O=mtlsgate e2e', profile: 'root-ca' });
  const inter: Issued = await issue({
    subject: 'CN=Revocation e2e Intermediate,O=mtlsgate e2e',
    profile: 'intermediate-ca',
    issuer: root,
  });
  const good = await issue({ subject: 'CN=good client', profile: 'client', issuer: inter });
  const revoked = await issue({ subject: 'CN=revoked client', profile: 'client', issuer: inter });
  const interCa = crlCa(dir, inter, 'inter');
  revoke(interCa, revoked, 'keyCompromise');
  const now = Date.now();
  crlFiles = {
    inter: gencrl(interCa, 'inter.crl'),
    root: gencrl(crlCa(dir, root, 'root'), 'root.crl'),
    expired: gencrl(interCa, 'expired.crl', { lastUpdate: new Date(now - 8 * DAY), nextUpdate: new Date(now - DAY) }),
  };
  truststore = writeTruststore(dir, 'truststore', [root, inter]);
  clients = { good: writeClient(dir, 'good', good), revoked: writeClient(dir, 'revoked', revoked) };
  [server, echo] = await Promise.all([
    serverIdentity(
      dir,
      CASES.map((_, i) => domainOf(i)),
    ),
    startEcho(),
  ]);
  const domains = CASES.map((c, i) =>
    domainConfig(domainOf(i), server, truststore, [{ basePath: '', target: echo.url }], {
      revocation: {
        mode: 'crl',
        crl: { sources: c.crls.map((k) => `file://${crlFiles[k]}`) },
        scope: c.scope,
        onUnavailable: c.onUnavailable,
      },
    }),
  );
  gw = await startGateway({ config: { domains }, dir });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

for (const [i, c] of CASES.entries()) {
  test(`revocation: doctor --crl, its live probe and the gateway agree: ${c.name}`, async () => {
    const files = {
      cert: clients[c.client].certFile,
      key: clients[c.client].keyFile,
      truststore,
      crls: c.crls.map((k) => crlFiles[k]),
      revocation: { scope: c.scope, onUnavailable: c.onUnavailable },
    };
    const url = `https://${domainOf(i)}:${gw.port}/revocation/${i}`;
    const report = await diagnose({
      files,
      live: { url, cacertPem: server.caPem, resolve: [`${domainOf(i)}:${gw.port}:127.0.0.1`], timeoutMs: 8000 },
    });
    const offline: View = verdictFields(report.verdict!);
    const live = liveView(report);
    const { view: gateway, deny } = await gatewayView(report);
    const expected: View = { accepted: c.code === null, reason: c.reason, code: c.code };
    const table = JSON.stringify({ expected, offline, live, gateway }, null, 2);
    assert.deepEqual(offline, expected, `offline\n${table}`);
    assert.deepEqual(gateway, expected, `gateway\n${table}`);
    assert.deepEqual(
      { accepted: live.accepted, reason: live.reason },
      { accepted: expected.accepted, reason: c.reason },
    );
    if (c.code !== null) assert.ok(live.code?.split('|').includes(c.code), `live codes ${live.code}`);
    const tie = report.findings.find((f) => f.id.startsWith('live.'));
    assert.equal(tie?.id, 'live.matches-offline', `${tie?.id}: ${tie?.title}\n${table}`);
    if (c.code === 'CERT_REVOKED') {
      assert.ok(report.findings.some((f) => f.id === 'revocation.revoked'));
      // When and why, as the gateway logs them.
      assert.equal(deny?.['revokedAt'], report.revocation?.revokedAt);
      assert.equal(deny?.['revocationReason'], report.revocation?.reason);
      assert.equal(report.revocation?.reason, 'keyCompromise');
    }
  });
}

function liveView(r: DiagnoseReport): View {
  const o = r.live!.outcome;
  if (o.kind === 'http' && o.status >= 200 && o.status < 300) return { accepted: true, reason: null, code: null };
  const denied = r.findings.find((f) => f.source === 'live' && f.id === 'http.access-denied');
  if (!denied) return { accepted: null, reason: null, code: null };
  const codes = (denied.evidence['codes'] as string[] | undefined) ?? [];
  return { accepted: false, reason: String(denied.evidence['reason']), code: codes.join('|') };
}

/** The gateway's verdict from its log lines, and its deny line when it denied. */
async function gatewayView(r: DiagnoseReport): Promise<{ view: View; deny: LogLine | null }> {
  const o = r.live!.outcome;
  assert.equal(o.kind, 'http', `the probe got an HTTP answer (${o.kind})`);
  if (o.kind !== 'http') return { view: { accepted: null, reason: null, code: null }, deny: null };
  const rid = o.headers['x-request-id'];
  assert.ok(rid, 'x-request-id');
  if (o.status === 200) {
    const line = await gw.waitForRequestLog(rid, 'request');
    assert.equal((line.verdict as { accepted: boolean }).accepted, true);
    return { view: { accepted: true, reason: null, code: null }, deny: null };
  }
  assert.equal(o.status, 403, o.body);
  const deny = await gw.waitForRequestLog(rid, /^Access denied\. Reason: /);
  const reason = deny.msg.replace(/^Access denied\. Reason: /, '');
  return { view: { accepted: false, reason, code: (deny.code as string | null) ?? null }, deny };
}
