/**
 * Revocation by CRL on a real `mtlsgate serve`: CRLs made by `openssl ca -gencrl`, served from files, S3 (s3rver)
 * and HTTP, judged on every request, so a revocation reaches keep-alive connections and resumed sessions; a CRL
 * that fails to load keeps the previous one; a CRL past nextUpdate follows onUnavailable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { cli as mtlsgateCli, runServe } from '../helpers/cli.js';
import { opensslCrl, serialOf } from '../helpers/crl.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { makeWorld, s3Env, sleep, startS3, type S3Fake, type World } from '../helpers/lifecycle.js';
import { writeClient, writeTruststore } from '../helpers/pki.js';

const MAIN = 'crl.e2e.test';
const ALLOW = 'allow.crl.e2e.test';
const S3D = 's3.crl.e2e.test';
const HTTPD = 'http.crl.e2e.test';
const REVOKED = 'Access denied. Reason: certificate revoked';

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let s3: S3Fake;
let crlHttp: http.Server;
let crlHttpBody: Buffer;
let revokedClient: Issued;
let laterClient: Issued;
let crlFile: string;
let allowCrlFile: string;

const put = async (key: string, body: Buffer): Promise<void> => {
  const env = s3Env(s3.endpoint);
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
  await client.send(new PutObjectCommand({ Bucket: 'crls', Key: key, Body: body }));
  client.destroy();
};

before(async () => {
  w = await makeWorld(MAIN, [ALLOW, S3D, HTTPD]);
  echo = await startEcho();
  [revokedClient, laterClient] = await Promise.all([
    issue({ subject: 'CN=revoked client', profile: 'client', issuer: w.ca }),
    issue({ subject: 'CN=later client', profile: 'client', issuer: w.ca }),
  ]);
  crlFile = join(w.dir, 'main.crl');
  opensslCrl({ ca: w.ca, revoked: [{ cert: revokedClient, reason: 'keyCompromise' }], out: crlFile });
  allowCrlFile = join(w.dir, 'allow.crl');
  copyFileSync(crlFile, allowCrlFile);
  s3 = await startS3(['crls']);
  await put('main.crl', readFileSync(crlFile));
  crlHttpBody = readFileSync(opensslCrl({ ca: w.ca, revoked: [{ cert: revokedClient }], der: true }));
  crlHttp = http.createServer((_req, res) => res.end(crlHttpBody));
  await new Promise<void>((r) => crlHttp.listen(0, '127.0.0.1', r));
  const target = [{ basePath: '', target: echo.url }];
  const revocation = (sources: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    revocation: { mode: 'crl', crl: { sources, refreshSeconds: 1 }, ...extra },
  });
  gw = await startGateway({
    env: s3Env(s3.endpoint),
    config: {
      domains: [
        domainConfig(MAIN, w.server, w.truststore, target, revocation([`file://${crlFile}`])),
        domainConfig(ALLOW, w.server, w.truststore, target, {
          ...revocation([`file://${allowCrlFile}`], { onUnavailable: 'allow' }),
        }),
        domainConfig(S3D, w.server, w.truststore, target, revocation(['s3://crls/main.crl'])),
        domainConfig(HTTPD, w.server, w.truststore, target, {
          ...revocation([`http://127.0.0.1:${(crlHttp.address() as AddressInfo).port}/issuing.crl`]),
        }),
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await s3?.stop();
  crlHttp?.close();
});

const as = (
  c: Issued,
  servername = MAIN,
): { port: number; ca: string; cert: string; key: string; servername: string } => ({
  port: gw.port,
  ca: w.server.caPem,
  cert: c.certPem,
  key: c.keyPem,
  servername,
});

/** Replace the CRL file with a rename and wait until the gateway's refresher has taken it (refreshSeconds: 1). */
async function publish(file: string, revoked: Issued[], extra: { validSeconds?: number } = {}): Promise<void> {
  const mark = gw.mark();
  opensslCrl({ ca: w.ca, revoked: revoked.map((cert) => ({ cert })), out: file, ...extra });
  await gw.waitForLog((l) => l.msg === 'CRL loaded' && l.source === `file://${file}`, {
    from: mark,
    timeoutMs: 10_000,
  });
}

test('a revoked client gets 403 "certificate revoked" with when and why in the log; others pass', async () => {
  const good = await nodeRequest(as(w.client));
  assert.equal(good.status, 200, good.text);
  const mark = gw.mark();
  const r = await nodeRequest({ ...as(revokedClient), path: '/secret' });
  assert.equal(r.status, 403);
  assert.deepEqual(JSON.parse(r.text), { message: REVOKED });
  const line = await gw.waitForLog((l) => l.msg === REVOKED, { from: mark });
  assert.equal(line.code, 'CERT_REVOKED');
  assert.equal(line.domain, MAIN);
  assert.equal(line.serial, serialOf(revokedClient));
  assert.equal(line.revocationReason, 'keyCompromise');
  assert.match(String(line.revokedAt), /^\d{4}-\d\d-\d\dT/);
  assert.equal(line.revocationSource, `file://${crlFile}`);
  assert.equal(echo.received.filter((q) => q.path === '/secret').length, 0, 'nothing reached the backend');
});

test('S3 and HTTP CRL sources are judged the same way', async () => {
  for (const name of [S3D, HTTPD]) {
    assert.equal((await nodeRequest(as(w.client, name))).status, 200, name);
    const r = await nodeRequest(as(revokedClient, name));
    assert.equal(r.status, 403, name);
    assert.deepEqual(JSON.parse(r.text), { message: REVOKED });
  }
});

test('revoked while holding a keep-alive connection and a TLS session: the next request is refused', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await nodeRequest({ ...as(laterClient), agent });
    assert.equal(first.status, 200, first.text);
    const session = first.session!;
    await publish(crlFile, [revokedClient, laterClient]);
    const again = await nodeRequest({ ...as(laterClient), agent });
    assert.equal(again.socketReused, true, 'the same keep-alive connection');
    assert.equal(again.status, 403, again.text);
    assert.deepEqual(JSON.parse(again.text), { message: REVOKED });
    const resumed = await nodeRequest({ ...as(laterClient), session });
    assert.equal(resumed.sessionReused, true, 'the session was resumed');
    assert.equal(resumed.status, 403, resumed.text);
  } finally {
    agent.destroy();
    await publish(crlFile, [revokedClient]);
  }
  assert.equal((await nodeRequest(as(laterClient))).status, 200, 'un-revoked by the next CRL');
});

test('a CRL that fails to load keeps the previous one, and says so', async () => {
  // A CA of the same name as the truststore's, with another key: its CRL's signature does not verify.
  const twin = await issue({ subject: w.ca.subject, profile: 'root-ca' });
  for (const bad of ['garbage', 'another CA', 'signed by another key']) {
    const mark = gw.mark();
    if (bad === 'garbage') {
      writeFileSync(`${crlFile}.tmp`, 'not a CRL at all\n');
      renameSync(`${crlFile}.tmp`, crlFile);
    } else if (bad === 'another CA') {
      // The other CA's CRL: its issuer is not in the truststore, so it cannot be used.
      opensslCrl({ ca: w.otherCa, out: crlFile });
    } else {
      opensslCrl({ ca: twin, out: crlFile });
    }
    const err = await gw.waitForLog((l) => l.msg === 'CRL source not loaded' && l.domain === MAIN, {
      from: mark,
      timeoutMs: 10_000,
    });
    assert.match(String(err.error), /keeping the CRLs loaded before/);
    if (bad === 'signed by another key') assert.match(String(err.error), /is not the key of CA|another key/);
    assert.equal((await nodeRequest(as(revokedClient))).status, 403, `${bad}: still revoked`);
    assert.equal((await nodeRequest(as(w.client))).status, 200, `${bad}: still served`);
  }
  await publish(crlFile, [revokedClient]);
});

test('a CRL past nextUpdate: denied under onUnavailable deny, served under allow; warned before', async () => {
  const markMain = gw.mark();
  await publish(crlFile, [revokedClient], { validSeconds: 3 });
  await gw.waitForLog((l) => l.msg.startsWith('CRL expires soon') && l.domain === MAIN, { from: markMain });
  await publish(allowCrlFile, [revokedClient], { validSeconds: 3 });
  await sleep(3500);
  // Stop the refresher from replacing them before the requests: they stay expired, whatever it re-reads.
  const r = await nodeRequest(as(w.client));
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(JSON.parse(r.text), { message: 'Access denied. Reason: CRL has expired' });
  const allowed = await nodeRequest(as(w.client, ALLOW));
  assert.equal(allowed.status, 200, allowed.text);
  assert.equal((await nodeRequest(as(revokedClient, ALLOW))).status, 403, 'a revoked entry still counts');
  await publish(crlFile, [revokedClient]);
  assert.equal((await nodeRequest(as(w.client))).status, 200);
});

test("a serial on another CA's CRL does not revoke this CA's certificate", async () => {
  // Same serial as the good client, issued and revoked by the other CA.
  const twin = await issue({
    subject: 'CN=twin serial',
    profile: 'client',
    issuer: w.otherCa,
    serial: w.client.x509.serialNumber,
  });
  const both = writeTruststore(w.dir, 'both', [w.ca, w.otherCa]);
  const crls = [
    opensslCrl({ ca: w.ca, revoked: [] }),
    opensslCrl({ ca: w.otherCa, revoked: [{ cert: twin, reason: 'keyCompromise' }] }),
  ];
  const target = [{ basePath: '', target: echo.url }];
  const g = await startGateway({
    config: {
      domains: [
        domainConfig(MAIN, w.server, both, target, {
          revocation: { mode: 'crl', crl: { sources: crls.map((c) => `file://${c}`) } },
        }),
      ],
    },
  });
  try {
    const good = await nodeRequest({ ...as(w.client), port: g.port });
    assert.equal(good.status, 200, good.text);
    const twinR = await nodeRequest({ ...as(twin), port: g.port });
    assert.equal(twinR.status, 403, twinR.text);
    assert.deepEqual(JSON.parse(twinR.text), { message: REVOKED });
  } finally {
    await g.stop();
  }
});

let checks = 0;
function check(config: Record<string, unknown>): ReturnType<typeof runServe> {
  const file = join(w.dir, `check-${++checks}.json`);
  writeFileSync(file, JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, ...config }));
  return runServe(['--config', file, '--check']);
}

test('serve --check: a CRL source that cannot be loaded is one line naming the key; a CA without a CRL is named', async () => {
  const target = [{ basePath: '', target: echo.url }];
  const missing = join(w.dir, 'nope.crl');
  const bad = await check({
    domains: [
      domainConfig(MAIN, w.server, w.truststore, target, {
        revocation: { mode: 'crl', crl: { sources: [`file://${missing}`] } },
      }),
    ],
  });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /domains\[0\]\.mutualTls\.revocation\.crl\.sources: file:\/\/\S+nope\.crl: no such file/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');

  const both = writeTruststore(w.dir, 'both-check', [w.ca, w.otherCa]);
  const warned = await check({
    domains: [
      domainConfig(MAIN, w.server, both, target, {
        revocation: { mode: 'crl', crl: { sources: [`file://${crlFile}`] } },
      }),
    ],
  });
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stdout, /no CRL from CA CN=lifecycle Other CA/);
  assert.doesNotMatch(warned.stdout, /no CRL from CA CN=lifecycle Client CA/);
});

test('config: mode crl without sources is refused with the key path', async () => {
  const r = await check({
    domains: [
      domainConfig(MAIN, w.server, w.truststore, [{ basePath: '', target: echo.url }], {
        revocation: { mode: 'crl' },
      }),
    ],
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /domains\[0\]\.mutualTls\.revocation\.crl\.sources: crl\.sources is empty/);
});

test('metrics and /domains show the CRLs in force, their next update, source health and revocation denials', async () => {
  await nodeRequest(as(revokedClient));
  const metrics = (await gw.admin('/metrics')).body;
  const issuer = 'CN=lifecycle Client CA,O=mtlsgate e2e';
  const labels = `domain="${MAIN}",source="file://${crlFile}",issuer="${issuer}"`;
  const next = new RegExp(`^mtlsgate_crl_next_update_timestamp_seconds\\{${escape(labels)}\\} (\\d+)$`, 'm').exec(
    metrics,
  );
  assert.ok(next, metrics);
  const domains = JSON.parse((await gw.admin('/domains')).body) as Array<{
    domainName: string;
    revocation: { mode: string; crls: Array<{ issuer: string; nextUpdate: string; entries: number }> } | null;
  }>;
  const main = domains.find((d) => d.domainName === MAIN)!;
  assert.equal(main.revocation?.mode, 'crl');
  assert.equal(main.revocation.crls.length, 1);
  assert.equal(main.revocation.crls[0]!.issuer, issuer);
  assert.equal(main.revocation.crls[0]!.entries, 1);
  assert.equal(Number(next[1]), Date.parse(main.revocation.crls[0]!.nextUpdate) / 1000);
  assert.match(
    metrics,
    new RegExp(`^mtlsgate_crl_source_up\\{domain="${escape(MAIN)}",source="file://[^"]+"\\} 1$`, 'm'),
  );
  const denied = new RegExp(`^mtlsgate_denials_total\\{domain="${escape(MAIN)}",code="CERT_REVOKED"\\} (\\d+)$`, 'm');
  assert.ok(Number(denied.exec(metrics)?.[1]) >= 1, metrics);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

test("a source bundling another CA's CRL with this truststore's: loaded, the foreign one named as not used", async () => {
  const bundle = join(w.dir, 'bundle.crl');
  writeFileSync(
    bundle,
    readFileSync(opensslCrl({ ca: w.ca, revoked: [{ cert: revokedClient }] }), 'utf8') +
      readFileSync(opensslCrl({ ca: w.otherCa }), 'utf8'),
  );
  const target = [{ basePath: '', target: echo.url }];
  const r = await check({
    domains: [
      domainConfig(MAIN, w.server, w.truststore, target, {
        revocation: { mode: 'crl', crl: { sources: [`file://${bundle}`] } },
      }),
    ],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"msg":"CRL not used"/);
  assert.match(r.stdout, /the CRL of CN=lifecycle Other CA,O=mtlsgate e2e is not used: no CA in the truststore named/);
  assert.doesNotMatch(r.stdout, /CRL source not loaded/);
});

test('crl.fromDistributionPoints: the CRL a client certificate points to is fetched once, then judged', async () => {
  let fetches = 0;
  const body = readFileSync(opensslCrl({ ca: w.ca, revoked: [{ cert: revokedClient }], der: true }));
  const dp = http.createServer((req, res) => {
    fetches++;
    if (req.url === '/issuing.crl') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => dp.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(dp.address() as AddressInfo).port}`;
  const [pointed, pointedRevoked, pointedNowhere] = await Promise.all([
    issue({ subject: 'CN=dp good', profile: 'client', issuer: w.ca, crlUrls: [`${base}/issuing.crl`] }),
    issue({
      subject: 'CN=dp revoked',
      profile: 'client',
      issuer: w.ca,
      crlUrls: [`${base}/issuing.crl`],
      serial: revokedClient.x509.serialNumber,
    }),
    issue({ subject: 'CN=dp missing', profile: 'client', issuer: w.ca, crlUrls: [`${base}/missing.crl`] }),
  ]);
  const g = await startGateway({
    config: {
      domains: [
        domainConfig(MAIN, w.server, w.truststore, [{ basePath: '', target: echo.url }], {
          revocation: { mode: 'crl', crl: { fromDistributionPoints: true } },
        }),
      ],
    },
  });
  try {
    const at = (c: Issued) => ({ ...as(c), port: g.port });
    // A distribution point that has no CRL, while no other CRL of the issuer is known: no answer, denied.
    const missing = await nodeRequest(at(pointedNowhere));
    assert.equal(missing.status, 403);
    assert.deepEqual(JSON.parse(missing.text), { message: 'Access denied. Reason: unable to get certificate CRL' });
    // Concurrent first requests share one fetch.
    const first = await Promise.all([nodeRequest(at(pointed)), nodeRequest(at(pointed)), nodeRequest(at(pointed))]);
    assert.deepEqual(
      first.map((r) => r.status),
      [200, 200, 200],
    );
    const revokedR = await nodeRequest(at(pointedRevoked));
    assert.equal(revokedR.status, 403);
    assert.deepEqual(JSON.parse(revokedR.text), { message: REVOKED });
    assert.equal(fetches, 2, 'one fetch of each distribution point');
    // The issuer's CRL now in force covers every certificate it issued, whatever distribution point they name.
    assert.equal((await nodeRequest(at(pointedNowhere))).status, 200);
    const domains = JSON.parse((await g.admin('/domains')).body) as Array<{
      revocation: { sources: Array<{ uri: string; error: string | null }> };
    }>;
    const uris = domains[0]!.revocation.sources.map((s) => [s.uri, s.error === null]);
    assert.deepEqual(uris, [
      [`${base}/missing.crl`, false],
      [`${base}/issuing.crl`, true],
    ]);
  } finally {
    await g.stop();
    dp.close();
  }
});

test('doctor --url --json: the server revokes what the files accept; the live findings carry the verdict and exit 1', async () => {
  const files = writeClient(w.dir, 'json-revoked', revokedClient);
  const r = await mtlsgateCli([
    'doctor', '--json', '--cert', files.certFile, '--key', files.keyFile, '--truststore', w.truststore,
    '--url', `https://${MAIN}:${gw.port}/`, '--resolve', `${MAIN}:${gw.port}:127.0.0.1`, '--cacert', w.server.caFile,
  ]); // prettier-ignore
  const j = JSON.parse(r.out) as {
    verdict: { accepted: boolean };
    findings: Array<{ id: string; severity: string; source: string; title: string }>;
  };
  assert.deepEqual(j.verdict, { accepted: true }, 'offline, without --crl, the files are fine');
  const live = j.findings.filter((f) => f.source === 'live');
  const denied = live.find((f) => f.id === 'http.access-denied');
  assert.ok(denied && denied.severity === 'error', JSON.stringify(live));
  assert.match(denied.title, /revoked/);
  assert.ok(live.some((f) => f.id === 'live.differs-from-offline'));
  assert.ok(j.findings.every((f) => ['offline', 'live'].includes(f.source)));
  assert.equal(r.code, 1, 'the exit status follows the live error');
});
