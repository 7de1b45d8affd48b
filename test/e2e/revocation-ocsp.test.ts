/**
 * Revocation by OCSP on a real `mtlsgate serve`: OpenSSL's own responder (`openssl ocsp -index`) for the answers,
 * the tests' fault responder for the misbehaving ones. Revoked is refused; a responder that cannot answer follows
 * onUnavailable; a slow responder holds up only the requests that wait for it; prefer-ocsp falls back to the CRL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { opensslCrl } from '../helpers/crl.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { writeClient } from '../helpers/pki.js';
import { diagnose } from '../../src/doctor/diagnose.js';
import { verdictFields } from '../../src/policy/verdict.js';
import {
  startFaultResponder,
  startOpensslResponder,
  writeIdentity,
  writeIndex,
  type FaultResponder,
  type Responder,
} from '../helpers/ocsp.js';

const AIA = 'aia.ocsp.e2e.test';
const SLOW = 'slow.ocsp.e2e.test';
const ALLOW = 'allow.ocsp.e2e.test';
const PREFER = 'prefer.ocsp.e2e.test';
const FORGED = 'forged.ocsp.e2e.test';
const REVOKED = 'Access denied. Reason: certificate revoked';
const UNAVAILABLE = 'Access denied. Reason: revocation status unavailable';

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let openssl: Responder;
let slow: FaultResponder;
let broken: FaultResponder;
let forged: FaultResponder;
let good: Issued;
let revoked: Issued;

before(async () => {
  w = await makeWorld(AIA, [SLOW, ALLOW, PREFER, FORGED]);
  echo = await startEcho();
  const ca = writeIdentity(w.dir, 'ocsp-ca', w.ca);
  // openssl ocsp reads its index once, and the certificates name the responder (AIA), known once it listens: the
  // index lists the serials the certificates are then issued with.
  const index = join(w.dir, 'index.txt');
  const entry = (serial: string, cn: string) => ({
    x509: { serialNumber: serial, validTo: new Date(Date.now() + 30 * 86_400_000).toUTCString(), subject: `CN=${cn}` },
  });
  writeIndex(index, [
    { cert: entry('0A0B0C01', 'ocsp good') },
    {
      cert: entry('0A0B0C02', 'ocsp revoked'),
      revoked: { at: new Date(Date.now() - 3600_000), reason: 'keyCompromise' },
    },
  ]);
  openssl = await startOpensslResponder({ index, ca: ca.cert, rsigner: ca.cert, rkey: ca.key, nmin: 5 });
  [good, revoked] = await Promise.all([
    issue({ subject: 'CN=ocsp good', profile: 'client', issuer: w.ca, serial: '0a0b0c01', ocspUrls: [openssl.url] }),
    issue({ subject: 'CN=ocsp revoked', profile: 'client', issuer: w.ca, serial: '0a0b0c02', ocspUrls: [openssl.url] }),
  ]);
  [slow, broken, forged] = await Promise.all([
    startFaultResponder('slow', { issuer: w.ca }),
    startFaultResponder('http500', { issuer: w.ca }),
    startFaultResponder('wrong-signer', { issuer: w.ca }),
  ]);
  const crl = opensslCrl({ ca: w.ca, revoked: [{ cert: revoked, reason: 'keyCompromise' }] });
  const target = [{ basePath: '', target: echo.url }];
  const ocsp = (responder: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    revocation: { mode: 'ocsp', ocsp: { timeoutMs: 800, ...(responder && { responder }) }, ...extra },
  });
  gw = await startGateway({
    config: {
      domains: [
        domainConfig(AIA, w.server, w.truststore, target, ocsp(null)),
        domainConfig(SLOW, w.server, w.truststore, target, ocsp(slow.url)),
        domainConfig(ALLOW, w.server, w.truststore, target, ocsp(broken.url, { onUnavailable: 'allow' })),
        domainConfig(FORGED, w.server, w.truststore, target, ocsp(forged.url)),
        domainConfig(PREFER, w.server, w.truststore, target, {
          revocation: {
            mode: 'prefer-ocsp',
            ocsp: { responder: broken.url, timeoutMs: 800 },
            crl: { sources: [`file://${crl}`] },
          },
        }),
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await Promise.all([openssl, slow, broken, forged].map((r) => r?.stop()));
});

const as = (c: Issued, servername: string): Parameters<typeof nodeRequest>[0] => ({
  port: gw.port,
  ca: w.server.caPem,
  cert: c.certPem,
  key: c.keyPem,
  servername,
});

test("the certificate's own responder (AIA): good passes, revoked gets 403 with the responder's time and reason", async () => {
  const ok = await nodeRequest(as(good, AIA));
  assert.equal(ok.status, 200, ok.text);
  const mark = gw.mark();
  const r = await nodeRequest(as(revoked, AIA));
  assert.equal(r.status, 403);
  assert.deepEqual(JSON.parse(r.text), { message: REVOKED });
  const line = await gw.waitForLog((l) => l.msg === REVOKED, { from: mark });
  assert.equal(line.code, 'CERT_REVOKED');
  assert.equal(line.revocationReason, 'keyCompromise');
  assert.match(String(line.revocationSource), /^OCSP CN=lifecycle Client CA/);
  // A resumed session is judged again, from the cache.
  const resumed = await nodeRequest({ ...as(revoked, AIA), session: r.session! });
  assert.equal(resumed.sessionReused, true);
  assert.equal(resumed.status, 403);
});

test('a responder that never answers: 403 unavailable after ocsp.timeoutMs, and other domains are not held up', async () => {
  const mark = gw.mark();
  const t = performance.now();
  const waiting = nodeRequest(as(good, SLOW));
  // While that request waits for the slow responder, another domain answers at once.
  const other = performance.now();
  const meanwhile = await nodeRequest(as(good, AIA));
  assert.equal(meanwhile.status, 200);
  assert.ok(performance.now() - other < 700, `${(performance.now() - other).toFixed(0)} ms`);
  const r = await waiting;
  const took = performance.now() - t;
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(JSON.parse(r.text), { message: UNAVAILABLE });
  assert.ok(took >= 700 && took < 5000, `${took.toFixed(0)} ms`);
  const line = await gw.waitForLog((l) => l.msg === UNAVAILABLE, { from: mark });
  assert.equal(line.code, 'MTLSGATE_REVOCATION_UNAVAILABLE');
  assert.match(String(line.revocationUnavailable), /timed out/);
  assert.equal(line.revocationLevel, 0, 'the leaf had no answer');
  assert.equal(line.level, 'warn', "the record's own level is not overwritten");
});

test('a responder answering 500 under onUnavailable allow: served, and counted', async () => {
  const r = await nodeRequest(as(good, ALLOW));
  assert.equal(r.status, 200, r.text);
  const metrics = (await gw.admin('/metrics')).body;
  assert.match(metrics, new RegExp(`^mtlsgate_revocation_unavailable_allowed_total\\{domain="${ALLOW}"\\} [1-9]`, 'm'));
});

test('an answer signed by neither the CA nor a delegated responder is no answer: denied under deny', async () => {
  const r = await nodeRequest(as(good, FORGED));
  assert.equal(r.status, 403, r.text);
  assert.deepEqual(JSON.parse(r.text), { message: UNAVAILABLE });
});

test('prefer-ocsp: with the responder down, the CRL answers (revoked refused, good served)', async () => {
  assert.equal((await nodeRequest(as(good, PREFER))).status, 200);
  const r = await nodeRequest(as(revoked, PREFER));
  assert.equal(r.status, 403);
  assert.deepEqual(JSON.parse(r.text), { message: REVOKED });
});

test('the doctor with --ocsp agrees with the gateway: same verdict and code for good, revoked and no answer', async () => {
  const truststore = w.truststore;
  const cases: Array<[Issued, string, string | null]> = [
    [good, AIA, null],
    [revoked, AIA, null],
    [good, SLOW, slow.url],
  ];
  for (const c of cases) {
    const [client, domain, url] = c;
    const files = writeClient(w.dir, `agree-${cases.indexOf(c)}`, client);
    const report = await diagnose({
      files: { cert: files.certFile, key: files.keyFile, truststore, ocsp: { url, timeoutMs: 800 } },
    });
    const mark = gw.mark();
    const r = await nodeRequest(as(client, domain));
    if (r.status === 200) {
      assert.deepEqual(report.verdict, { accepted: true }, `${domain} ${client.subject}`);
      continue;
    }
    const line = await gw.waitForLog((l) => l.msg.startsWith('Access denied'), { from: mark });
    assert.equal(verdictFields(report.verdict!).code, line.code, `${domain} ${client.subject}`);
    assert.equal(`Access denied. Reason: ${verdictFields(report.verdict!).reason}`, line.msg);
  }
});

test('metrics count OCSP answers by result, requests sent and cache hits', async () => {
  for (let i = 0; i < 3; i++) await nodeRequest(as(good, AIA));
  const metrics = (await gw.admin('/metrics')).body;
  const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  assert.ok(value('mtlsgate_ocsp_answers_total\\{result="good"\\}') >= 3, metrics);
  assert.ok(value('mtlsgate_ocsp_answers_total\\{result="revoked"\\}') >= 1);
  assert.ok(value('mtlsgate_ocsp_answers_total\\{result="error"\\}') >= 1);
  assert.ok(value('mtlsgate_ocsp_cache_hits_total') >= 2, 'later requests are answered from the cache');
  assert.ok(value('mtlsgate_ocsp_requests_total') < value('mtlsgate_ocsp_answers_total\\{result="good"\\}') + 10);
  // The good client's answer at least is cached now (until its nextUpdate, or for an hour without one).
  assert.ok(value('mtlsgate_ocsp_cache_entries') >= 1, metrics);
});
