/**
 * The admin's views on a real gateway (issue 17, point 2): /certs lists the server chain and every truststore
 * certificate with its expiry and lint warnings, a page at a time; /denials keeps the last admin.denialsBuffer
 * refusals, newest first, each with the doctor's explanation; /domains says when certificates expire and how the
 * last reload went; bad query parameters get one line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { issue, type Issued } from '../../src/pki/generate.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { serverIdentity, tmpDir, writeClient, writeTruststore, type ServerIdentity } from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';
import type { CertsPage, DenialView } from '../../src/gateway/admin-views.js';
import type { DomainSummary } from '../../src/gateway/admin.js';

const DOMAIN = 'views.e2e.test';
const DAY = 86_400_000;
let gw: GatewayProcess;
let dir: string;
let server: ServerIdentity;
let soonCa: Issued;
let laterCa: Issued;
let pinnedLeaf: Issued;
let truststore: string;

before(async () => {
  dir = tmpDir();
  server = await serverIdentity(dir, [DOMAIN]);
  soonCa = await issue({ subject: 'CN=Views Soon CA', profile: 'root-ca', notAfter: new Date(Date.now() + 10 * DAY) });
  laterCa = await issue({
    subject: 'CN=Views Later CA',
    profile: 'root-ca',
    notAfter: new Date(Date.now() + 900 * DAY),
  });
  // A client certificate with a CA's issuer in a truststore: truststore lint warns about it (truststore.not-ca).
  pinnedLeaf = await issue({ subject: 'CN=Views stray leaf', profile: 'client', issuer: laterCa });
  truststore = writeTruststore(dir, 'truststore', [laterCa, soonCa, pinnedLeaf]);
  gw = await startGateway({
    config: {
      admin: { host: '127.0.0.1', port: 0, denialsBuffer: 5 },
      domains: [domainConfig(DOMAIN, server, truststore, [{ basePath: '', target: 'http://127.0.0.1:9' }])],
    },
    dir,
  });
});

after(async () => {
  await gw?.stop();
});

const json = async <T = unknown>(path: string): Promise<{ status: number; body: T }> => {
  const r = await gw.admin(path);
  return { status: r.status, body: JSON.parse(r.body) as T };
};
const certs = (q = '') => json<CertsPage>(`/certs${q}`);
const denials = (q = '') => json<{ limit: number; denials: DenialView[] }>(`/denials${q}`);
const domains = async () => (await json<DomainSummary[]>('/domains')).body[0]!;

test('/certs: server chain and truststore, soonest expiry first, with days to expiry and lint warnings', async () => {
  const { status, body } = await certs();
  assert.equal(status, 200);
  assert.deepEqual([body.total, body.truncated, body.next, body.expiresSoonDays], [5, false, null, 30]);
  const rows = body.certificates.map((c) => [c.role, c.index, c.subject, c.status] as const);
  assert.deepEqual(rows[0], ['truststore', 1, 'CN=Views Soon CA', 'expires-soon']);
  assert.deepEqual(rows.at(-1), ['truststore', 0, 'CN=Views Later CA', 'valid']);
  assert.deepEqual(
    rows
      .filter((r) => r[0] === 'server')
      .map((r) => [r[1], r[2]])
      .sort((a, b) => Number(a[0]) - Number(b[0])),
    [
      [0, `CN=${DOMAIN}`],
      [1, 'CN=e2e Server CA,O=mtlsgate e2e'],
    ],
  );
  const soon = body.certificates[0]!;
  assert.equal(soon.daysToExpiry, 9, 'ten days minus the seconds since issue: 9 whole days');
  assert.equal(soon.notAfter.slice(0, 10), new Date(Date.now() + 10 * DAY).toISOString().slice(0, 10));
  assert.match(soon.fingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  for (const key of ['issuer', 'serial', 'notBefore'] as const) assert.equal(typeof soon[key], 'string', key);
  const stray = body.certificates.find((c) => c.subject === 'CN=Views stray leaf')!;
  assert.ok(
    stray.warnings.some((w) => w.id === 'truststore.not-ca' && w.severity !== 'info'),
    JSON.stringify(stray.warnings),
  );
  assert.deepEqual(soon.warnings, []);

  const page = (await certs('?limit=2&offset=1&role=truststore')).body;
  assert.deepEqual([page.total, page.certificates.length, page.truncated, page.next], [3, 2, false, null]);
  const first = (await certs('?limit=1')).body;
  assert.deepEqual([first.certificates.length, first.truncated, first.next], [1, true, 1]);
  assert.equal((await certs('?domain=other.test')).body.total, 0);

  for (const [q, message] of [
    ['limit=0', 'limit: expected an integer from 1 to 500, got "0"'],
    ['limit=501', 'limit: expected an integer from 1 to 500, got "501"'],
    ['role=ca', 'role: expected server or truststore, got "ca"'],
  ]) {
    const r = await certs(`?${q}`);
    assert.deepEqual([r.status, r.body], [400, { message }], q!);
  }
});

test('/denials: the last denialsBuffer refusals, newest first, with the doctor explaining each', async () => {
  const stranger = await issue({ subject: 'CN=Views stranger CA', profile: 'root-ca' });
  const unknown = writeClient(
    dir,
    'unknown',
    await issue({ subject: 'CN=unknown issuer client', profile: 'client', issuer: stranger }),
  );
  const lone = writeClient(dir, 'lone', await issue({ subject: 'CN=lone self-signed client', profile: 'client' }));
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const c = i % 2 === 0 ? unknown : lone;
    const r = await nodeRequest({
      port: gw.port,
      servername: DOMAIN,
      ca: server.caPem,
      cert: c.certPem,
      key: c.keyPem,
      path: `/n${i}`,
      agent: false,
    });
    assert.equal(r.status, 403, r.text);
    ids.push(String(r.headers['x-request-id']));
  }
  // And one with real curl, the way a user meets it.
  const c = await curl({
    domain: DOMAIN,
    port: gw.port,
    cacert: server.caFile,
    cert: lone.certFile,
    key: lone.keyFile,
    path: '/curl',
  });
  assert.equal(c.response?.status, 403, c.stderr);
  ids.push(String(c.response!.headers['x-request-id']));

  const { status, body } = await denials('?limit=1000');
  assert.equal(status, 200);
  assert.equal(body.denials.length, 5, 'denialsBuffer: 5 of the 8 denials are kept');
  assert.deepEqual(
    body.denials.map((d) => d.requestId),
    ids.slice(-5).reverse(),
    'newest first',
  );
  const times = body.denials.map((d) => Date.parse(d.time));
  assert.deepEqual(
    times,
    [...times].sort((a, b) => b - a),
  );

  const [newest, next] = body.denials as [DenialView, DenialView];
  assert.deepEqual(
    [newest.domain, newest.route, newest.status, newest.code, newest.reason, newest.stage, newest.sourceIp],
    [DOMAIN, '', 403, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', 'request', '127.0.0.1'],
  );
  assert.equal(newest.client!.subject, 'CN=lone self-signed client');
  assert.equal(newest.client!.issuer, 'CN=lone self-signed client');
  assert.match(newest.client!.fingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(newest.explanation!.findingId, 'chain.self-signed-untrusted');
  assert.equal(newest.explanation!.fix.split('   #')[0], `cat client.crt >> ${truststore}`);
  assert.equal(newest.reloadedSince, false);
  assert.equal(newest.pid, gw.pid);
  assert.equal(next.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.equal(next.explanation!.findingId, 'chain.issuer-missing');
  assert.match(next.explanation!.title, /Views stranger CA/);

  assert.deepEqual(
    (await denials('?limit=2')).body.denials.map((d) => d.requestId),
    ids.slice(-2).reverse(),
  );
  assert.equal((await denials()).body.limit, 50);
  for (const bad of ['abc', '0', '1001', '-3']) {
    const r = await denials(`?limit=${bad}`);
    assert.deepEqual(
      [r.status, r.body],
      [400, { message: `limit: expected an integer from 1 to 1000, got "${bad}"` }],
      bad,
    );
  }
});

test('/domains: server and truststore expiry, and the last reload per domain (failed, then ok)', async () => {
  const before = await domains();
  assert.equal(before.serverCertificate!.subject, `CN=${DOMAIN}`);
  assert.equal(before.serverCertificate!.status, 'valid');
  const earliest = before.truststoreEarliestExpiry!;
  assert.deepEqual([earliest.subject, earliest.status, earliest.daysToExpiry], ['CN=Views Soon CA', 'expires-soon', 9]);
  assert.equal(before.reload, null, 'no reload yet');
  assert.ok(Date.parse(before.loadedAt) <= Date.now());

  writeFileSync(truststore, 'not a certificate\n');
  const failed = await gw.admin('/reload', 'POST');
  assert.equal(failed.status, 500, failed.body);
  const afterFail = await domains();
  assert.equal(afterFail.reload?.result, 'failed');
  assert.match(afterFail.reload!.error!, /^domains\[0\]\.mutualTls\.truststoreUri: /);
  assert.equal(afterFail.loadedAt, before.loadedAt, 'the domain kept its previous state');

  writeTruststore(dir, 'truststore', [laterCa, soonCa, pinnedLeaf]);
  const ok = await gw.admin('/reload', 'POST');
  assert.equal(ok.status, 200, ok.body);
  const afterOk = await domains();
  assert.deepEqual([afterOk.reload?.result, afterOk.reload?.error], ['ok', null]);
  assert.ok(Date.parse(afterOk.reload!.at) >= Date.parse(afterFail.reload!.at));
  assert.notEqual(afterOk.loadedAt, before.loadedAt);

  // A denial from before the reload is now explained against the truststore loaded since, and says so.
  const d = (await denials('?limit=1')).body.denials[0]!;
  assert.equal(d.reloadedSince, true);
});
