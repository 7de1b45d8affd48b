/**
 * End to end, with real clients (Node's https/tls, the curl binary, openssl s_client) against one real
 * `mtlsgate serve` process serving many domains by SNI: every scenario of the verification policy on its own
 * domain (status, body, x-request-id, the deny log line, and whether the backend saw the request), no
 * certificate (handshake and http403), per-domain truststore isolation, Host/SNI mismatch, and the headers the
 * backend receives (spoofed ones removed, RFC 9440 Client-Cert and API Gateway's clientCert fields set).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildScenarios, type Scenario } from '../policy/scenarios.js';
import { headLines, startEcho, startRawBackend, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { nodeRequest, type HttpResult } from '../helpers/http.js';
import {
  serverIdentity,
  tmpDir,
  writeClient,
  writeTruststore,
  type ClientFiles,
  type ServerIdentity,
} from '../helpers/pki.js';
import { curl, run, sClient } from '../helpers/proc.js';
import { tlsConnect } from '../helpers/tls.js';
import { escapeDnValue, issue, type Issued } from '../../src/pki/generate.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NO_ISSUER = 'Could not find issuer for certificate';

const scDomain = (i: number): string => `sc${i}.e2e.test`;
const ISO_A = 'iso-a.e2e.test';
const ISO_B = 'iso-b.e2e.test';
const NOCERT_HS = 'nocert-handshake.e2e.test';
const NOCERT_403 = 'nocert-403.e2e.test';
const QUIET = 'quiet.e2e.test';
const HEADERS = 'headers.e2e.test';

interface World {
  dir: string;
  server: ServerIdentity;
  gw: GatewayProcess;
  echo: EchoBackend;
  raw: Awaited<ReturnType<typeof startRawBackend>>;
  scenarios: Scenario[];
  isoA: { root: Issued; client: Issued };
  isoB: { root: Issued; client: Issued };
  /** Good chain of the scenarios' PKI (root, intermediate) and a client under it. */
  policyRoot: Issued;
  policyInt: Issued;
  /** A client whose validity prints with a space-padded day. */
  dated: Issued;
  odd: Issued;
  oddCn: string;
}

let w: World;
/** Every path sent to the echo backend that the gateway had to accept; nothing else may arrive there. */
const acceptedPaths = new Set<string>();
let seq = 0;
const nextPath = (tag: string): string => `/${tag}/${++seq}?n=${seq}`;

function scenario(name: string): { sc: Scenario; index: number } {
  const index = w.scenarios.findIndex((s) => s.name === name);
  assert.ok(index >= 0, `scenario "${name}" exists in test/policy/scenarios.ts`);
  return { sc: w.scenarios[index]!, index };
}

before(async () => {
  const dir = tmpDir();
  const [scenarios, isoARoot, isoBRoot] = await Promise.all([
    buildScenarios(),
    issue({ subject: 'CN=Isolation Root A', profile: 'root-ca' }),
    issue({ subject: 'CN=Isolation Root B', profile: 'root-ca' }),
  ]);
  const good = scenarios.find((s) => s.name === 'valid EC chain')!;
  const [policyRoot, policyInt] = good.truststore as [Issued, Issued];
  const oddCn = 'Doe, "J" é\r\nX-Injected: 1';
  const [isoAClient, isoBClient, dated, odd] = await Promise.all([
    issue({ subject: 'CN=client A', profile: 'client', issuer: isoARoot }),
    issue({ subject: 'CN=client B', profile: 'client', issuer: isoBRoot }),
    issue({
      subject: 'CN=dated client,O=mtlsgate e2e',
      profile: 'client',
      issuer: policyInt,
      notBefore: new Date(Date.UTC(2025, 10, 5, 9, 36, 4)),
      notAfter: new Date(Date.UTC(2027, 10, 5, 9, 36, 4)),
    }),
    issue({ subject: `CN=${escapeDnValue(oddCn)}`, profile: 'client', issuer: policyInt, publicKeyFrom: good.leaf }),
  ]);

  const domains = [...scenarios.map((_, i) => scDomain(i)), ISO_A, ISO_B, NOCERT_HS, NOCERT_403, QUIET, HEADERS];
  const [server, echo, raw] = await Promise.all([serverIdentity(dir, domains), startEcho(), startRawBackend()]);
  const toEcho = [{ basePath: '', target: echo.url }];
  const policyStore = writeTruststore(dir, 'policy', [policyRoot, policyInt]);
  const config = {
    domains: [
      ...scenarios.map((sc, i) =>
        domainConfig(scDomain(i), server, writeTruststore(dir, `sc${i}`, sc.truststore), toEcho, {
          trustClientIntermediates: sc.trustClientIntermediates ?? false,
        }),
      ),
      domainConfig(ISO_A, server, writeTruststore(dir, 'iso-a', [isoARoot]), toEcho),
      domainConfig(ISO_B, server, writeTruststore(dir, 'iso-b', [isoBRoot]), toEcho),
      domainConfig(NOCERT_HS, server, policyStore, toEcho, { noCertificate: 'handshake' }),
      domainConfig(NOCERT_403, server, policyStore, toEcho, { noCertificate: 'http403' }),
      domainConfig(QUIET, server, policyStore, toEcho, { exposeReason: false }),
      domainConfig(HEADERS, server, policyStore, [...toEcho, { basePath: 'raw', target: raw.url }]),
    ],
  };
  const gw = await startGateway({ config, dir });
  w = {
    dir,
    server,
    gw,
    echo,
    raw,
    scenarios,
    isoA: { root: isoARoot, client: isoAClient },
    isoB: { root: isoBRoot, client: isoBClient },
    policyRoot,
    policyInt,
    dated,
    odd,
    oddCn,
  };
});

after(async () => {
  await w?.gw.stop();
  await Promise.all([w?.echo.close(), w?.raw.close()]);
});

/** Node's X509Certificate names are one attribute per line in DER order; RFC 4514 is the reverse, comma-joined. */
function rfc4514(nodeName: string): string {
  return nodeName.split('\n').reverse().join(',');
}

/** API Gateway's clientCert.serialNumber form: colon-separated lowercase hex octets. */
function colonSerial(hex: string): string {
  const h = hex.length % 2 ? `0${hex}` : hex;
  return h.toLowerCase().match(/../g)!.join(':');
}

function echoHits(path: string): number {
  return w.echo.received.filter((r) => r.path === path).length;
}

interface Expectation {
  domain: string;
  path: string;
  leafDer: Buffer;
  /** null: accepted. */
  reason: string | null;
  code: string | null;
  exposeReason?: boolean;
}

/**
 * The whole contract for one request: status, body, x-request-id; for a denial the one deny log line with every
 * field; for an acceptance the echo's view of it. Returns the request id.
 */
async function expectOutcome(res: HttpResult, e: Expectation): Promise<string> {
  const requestId = res.headers['x-request-id'];
  assert.equal(typeof requestId, 'string', 'x-request-id response header');
  assert.match(requestId as string, UUID);
  const rid = requestId as string;
  if (e.reason === null) {
    assert.equal(res.status, 200, `accepted: ${res.text}`);
    const echoed = JSON.parse(res.text) as { path: string; headers: Record<string, string> };
    assert.equal(echoed.path, e.path, 'the backend saw the request path');
    assert.equal(
      echoed.headers['client-cert'],
      `:${e.leafDer.toString('base64')}:`,
      'the backend got the presented certificate',
    );
    assert.equal(echoed.headers['x-request-id'], rid, 'the backend got the same request id');
    assert.equal(echoHits(e.path), 1, 'the backend received the request exactly once');
    acceptedPaths.add(e.path);
    const line = await w.gw.waitForRequestLog(rid, 'request');
    assert.equal(line.status, 200);
    assert.deepEqual(line.verdict, { accepted: true, reason: null, code: null });
    return rid;
  }
  assert.equal(res.status, 403, `denied (${e.reason}): ${res.text}`);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(
    JSON.parse(res.text),
    e.exposeReason === false ? { message: 'Forbidden' } : { message: `Access denied. Reason: ${e.reason}` },
  );
  const x509 = new X509Certificate(e.leafDer);
  const line: LogLine = await w.gw.waitForRequestLog(rid, `Access denied. Reason: ${e.reason}`);
  assert.equal(line.level, 'warn');
  assert.equal(line.domain, e.domain);
  assert.equal(line.code, e.code);
  assert.equal(line.subject, rfc4514(x509.subject));
  assert.equal(line.issuer, rfc4514(x509.issuer));
  assert.equal(line.serial, colonSerial(x509.serialNumber));
  assert.equal(line.fingerprint, x509.fingerprint256);
  const reqLine = await w.gw.waitForRequestLog(rid, 'request');
  assert.equal(reqLine.status, 403);
  assert.deepEqual(reqLine.verdict, { accepted: false, reason: e.reason, code: e.code });
  assert.equal(echoHits(e.path), 0, 'nothing unverified reaches the backend');
  return rid;
}

function scenarioClient(sc: Scenario): { cert: string; key: string } {
  return { cert: sc.leaf.certPem + sc.clientIntermediates.map((i) => i.certPem).join(''), key: sc.leaf.keyPem };
}

const clientFiles = new Map<string, ClientFiles>();
function filesFor(sc: Scenario, index: number): ClientFiles {
  let f = clientFiles.get(sc.name);
  if (!f) {
    f = writeClient(w.dir, `client-${index}`, sc.leaf, sc.clientIntermediates);
    clientFiles.set(sc.name, f);
  }
  return f;
}

test("every policy scenario, through Node's TLS client, gets its status, reason, code and log line", async (t) => {
  assert.ok(w.scenarios.length >= 29, `only ${w.scenarios.length} scenarios`);
  assert.ok(w.scenarios.some((s) => s.reason === null) && w.scenarios.some((s) => s.reason !== null));
  for (const [i, sc] of w.scenarios.entries()) {
    await t.test(sc.name, async () => {
      const path = nextPath(`node-sc${i}`);
      const res = await nodeRequest({
        port: w.gw.port,
        servername: scDomain(i),
        ca: w.server.caPem,
        ...scenarioClient(sc),
        path,
      });
      await expectOutcome(res, { domain: scDomain(i), path, leafDer: sc.leaf.der, reason: sc.reason, code: sc.code });
    });
  }
});

test('curl: accepted, self-signed, issuer missing, expired, client-sent intermediate (ignored and trusted)', async (t) => {
  const names = [
    'valid EC chain',
    'self-signed not in truststore',
    'issuer not in truststore',
    'expired leaf',
    'client-sent intermediate ignored',
    'client-sent intermediate trusted when allowed',
  ];
  for (const name of names) {
    await t.test(name, async () => {
      const { sc, index } = scenario(name);
      const files = filesFor(sc, index);
      if (sc.clientIntermediates.length > 0)
        assert.ok(
          (files.certPem.match(/BEGIN CERTIFICATE/g) ?? []).length >= 2,
          'the --cert file holds leaf + intermediate',
        );
      const path = nextPath(`curl-sc${index}`);
      const r = await curl({
        domain: scDomain(index),
        port: w.gw.port,
        cacert: w.server.caFile,
        cert: files.certFile,
        key: files.keyFile,
        path,
      });
      assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
      await expectOutcome(r.response!, {
        domain: scDomain(index),
        path,
        leafDer: sc.leaf.der,
        reason: sc.reason,
        code: sc.code,
      });
      if (name === 'client-sent intermediate trusted when allowed') {
        const echoed = JSON.parse(r.response!.text) as { headers: Record<string, string> };
        assert.equal(echoed.headers['client-cert-chain'], `:${sc.clientIntermediates[0]!.der.toString('base64')}:`);
      }
    });
  }
});

test('curl with SHA-1 / RSA-1024 certificates: refused by curl at SECLEVEL 2, by the gateway once curl sends them', async (t) => {
  const conf = join(w.dir, 'openssl-seclevel0.cnf');
  writeFileSync(
    conf,
    [
      'openssl_conf = openssl_init',
      '[openssl_init]',
      'ssl_conf = ssl_sect',
      '[ssl_sect]',
      'system_default = system_default_sect',
      '[system_default_sect]',
      'CipherString = DEFAULT@SECLEVEL=0',
      '',
    ].join('\n'),
  );
  for (const name of ['SHA-1 signed leaf', 'RSA-1024 leaf']) {
    await t.test(name, async () => {
      const { sc, index } = scenario(name);
      const files = filesFor(sc, index);
      const base = {
        domain: scDomain(index),
        port: w.gw.port,
        cacert: w.server.caFile,
        cert: files.certFile,
        key: files.keyFile,
      };
      const mark = w.gw.mark();
      const refused = await curl({ ...base, path: nextPath(`curl-weak-${index}`), env: { OPENSSL_CONF: '/dev/null' } });
      // Debian's curl refuses to load the certificate (58) unless told otherwise: the gateway never saw it.
      assert.equal(refused.code, 58, `curl should refuse its own certificate: ${refused.stderr}`);
      assert.match(refused.stderr, /ca md too weak|ee key too small/);
      const path = nextPath(`curl-weak-${index}`);
      const r = await curl({ ...base, path, env: { OPENSSL_CONF: conf } });
      assert.equal(r.code, 0, `curl with OPENSSL_CONF failed: ${r.stderr}`);
      await expectOutcome(r.response!, {
        domain: scDomain(index),
        path,
        leafDer: sc.leaf.der,
        reason: sc.reason,
        code: sc.code,
      });
      assert.equal(
        w.gw.logsSince(mark).filter((l) => l.msg === 'request').length,
        1,
        'only the second curl reached the gateway',
      );
    });
  }
});

test('openssl s_client: accepted and self-signed', async (t) => {
  for (const name of ['valid EC chain', 'self-signed not in truststore']) {
    await t.test(name, async () => {
      const { sc, index } = scenario(name);
      const files = filesFor(sc, index);
      const path = nextPath(`sclient-sc${index}`);
      const r = await sClient({
        port: w.gw.port,
        servername: scDomain(index),
        cafile: w.server.caFile,
        cert: files.certFile,
        key: files.keyFile,
        path,
      });
      assert.ok(r.verifyOk, `s_client verified the gateway's certificate: ${r.stderr}`);
      assert.ok(r.response, `an HTTP response came back: ${r.stdout.toString()} ${r.stderr}`);
      await expectOutcome(r.response, {
        domain: scDomain(index),
        path,
        leafDer: sc.leaf.der,
        reason: sc.reason,
        code: sc.code,
      });
    });
  }
});

test('exposeReason false: 403 {"message":"Forbidden"}, the reason only in the log', async () => {
  const { sc } = scenario('expired leaf');
  const path = nextPath('quiet');
  const res = await nodeRequest({
    port: w.gw.port,
    servername: QUIET,
    ca: w.server.caPem,
    ...scenarioClient(sc),
    path,
  });
  await expectOutcome(res, {
    domain: QUIET,
    path,
    leafDer: sc.leaf.der,
    reason: sc.reason,
    code: sc.code,
    exposeReason: false,
  });
  assert.doesNotMatch(res.text, /expired/);
});

test('no certificate, noCertificate: handshake: the handshake fails, nothing reaches a backend', async () => {
  const mark = w.gw.mark();
  const path = nextPath('nocert-hs');
  const r = await curl({ domain: NOCERT_HS, port: w.gw.port, cacert: w.server.caFile, path });
  assert.ok(r.code === 35 || r.code === 56, `curl exit ${r.code} (want 35 or 56): ${r.stderr}`);
  // A TLS alert from the handshake itself, as API Gateway's, not a connection closed after it.
  assert.match(r.stderr, /alert certificate required/);
  assert.equal(r.response, null);
  const line = await w.gw.waitForLog((l) => /no client certificate/.test(l.msg), { from: mark });
  assert.equal(line.domain, NOCERT_HS);
  // TLS 1.2: the handshake itself fails.
  const r12 = await curl({
    domain: NOCERT_HS,
    port: w.gw.port,
    cacert: w.server.caFile,
    path: nextPath('nocert-hs'),
    extra: ['--tls-max', '1.2'],
  });
  assert.equal(r12.code, 35, `TLS 1.2 without a certificate: curl exit ${r12.code}: ${r12.stderr}`);
  assert.match(r12.stderr, /alert handshake failure/);
  // Node's client: the exchange errors out, no HTTP response.
  await assert.rejects(
    nodeRequest({ port: w.gw.port, servername: NOCERT_HS, ca: w.server.caPem, path: nextPath('nocert-hs') }),
  );
  await new Promise((r) => setTimeout(r, 100));
  const after = w.gw.logsSince(mark);
  assert.equal(
    after.filter((l) => l.msg === 'request' || /^Access denied/.test(l.msg)).length,
    0,
    `no request was processed: ${JSON.stringify(after)}`,
  );
  assert.equal(w.echo.received.filter((x) => x.path.startsWith('/nocert-hs/')).length, 0);
  // Requiring a certificate in the handshake does not make the handshake judge it: over TLS 1.2 and 1.3, a valid one
  // is served and a bad one still completes the handshake and gets its 403 with a reason.
  for (const name of ['valid EC chain', 'self-signed not in truststore']) {
    const { sc, index } = scenario(name);
    const files = filesFor(sc, index);
    for (const tlsMax of ['1.2', '1.3']) {
      const p = nextPath('nocert-hs-with-cert');
      const res = await curl({
        domain: NOCERT_HS,
        port: w.gw.port,
        cacert: w.server.caFile,
        cert: files.certFile,
        key: files.keyFile,
        path: p,
        extra: ['--tls-max', tlsMax],
      });
      assert.equal(res.code, 0, `${name} over TLS ${tlsMax}: ${res.stderr}`);
      await expectOutcome(res.response!, {
        domain: NOCERT_HS,
        path: p,
        leafDer: sc.leaf.der,
        reason: sc.reason,
        code: sc.code,
      });
    }
  }
});

test('no certificate, noCertificate: http403: 403 "No required SSL certificate was sent"', async () => {
  const path = nextPath('nocert-403');
  const r = await curl({ domain: NOCERT_403, port: w.gw.port, cacert: w.server.caFile, path });
  assert.equal(r.code, 0, r.stderr);
  const res = r.response!;
  assert.equal(res.status, 403);
  assert.deepEqual(JSON.parse(res.text), { message: 'Access denied. Reason: No required SSL certificate was sent' });
  const rid = res.headers['x-request-id'] as string;
  assert.match(rid, UUID);
  const line = await w.gw.waitForRequestLog(rid, 'Access denied. Reason: No required SSL certificate was sent');
  assert.equal(line.domain, NOCERT_403);
  assert.equal(line.code, 'MTLSGATE_NO_CERTIFICATE');
  assert.equal(line.subject, null);
  assert.equal(echoHits(path), 0);
  // A presented, valid certificate is still accepted on that domain.
  const { sc } = scenario('valid EC chain');
  const okPath = nextPath('nocert-403');
  const ok = await nodeRequest({
    port: w.gw.port,
    servername: NOCERT_403,
    ca: w.server.caPem,
    ...scenarioClient(sc),
    path: okPath,
  });
  await expectOutcome(ok, { domain: NOCERT_403, path: okPath, leafDer: sc.leaf.der, reason: null, code: null });
});

test('per-domain truststore isolation: each domain admits only its own CA; unknown or no SNI fails the handshake', async () => {
  const { isoA, isoB } = w;
  const pathA = nextPath('iso');
  const a = await nodeRequest({
    port: w.gw.port,
    servername: ISO_A,
    ca: w.server.caPem,
    cert: isoA.client.certPem,
    key: isoA.client.keyPem,
    path: pathA,
  });
  await expectOutcome(a, { domain: ISO_A, path: pathA, leafDer: isoA.client.der, reason: null, code: null });
  const pathB = nextPath('iso');
  const b = await nodeRequest({
    port: w.gw.port,
    servername: ISO_B,
    ca: w.server.caPem,
    cert: isoB.client.certPem,
    key: isoB.client.keyPem,
    path: pathB,
  });
  await expectOutcome(b, { domain: ISO_B, path: pathB, leafDer: isoB.client.der, reason: null, code: null });

  const aOnB = nextPath('iso');
  const r1 = await nodeRequest({
    port: w.gw.port,
    servername: ISO_B,
    ca: w.server.caPem,
    cert: isoA.client.certPem,
    key: isoA.client.keyPem,
    path: aOnB,
  });
  await expectOutcome(r1, {
    domain: ISO_B,
    path: aOnB,
    leafDer: isoA.client.der,
    reason: NO_ISSUER,
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
  const bOnA = nextPath('iso');
  const r2 = await nodeRequest({
    port: w.gw.port,
    servername: ISO_A,
    ca: w.server.caPem,
    cert: isoB.client.certPem,
    key: isoB.client.keyPem,
    path: bOnA,
  });
  await expectOutcome(r2, {
    domain: ISO_A,
    path: bOnA,
    leafDer: isoB.client.der,
    reason: NO_ISSUER,
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });

  const mark = w.gw.mark();
  const client = { ca: w.server.caPem, cert: isoA.client.certPem, key: isoA.client.keyPem };
  await assert.rejects(
    tlsConnect(
      { port: w.gw.port, servername: 'unknown.e2e.test', ...client },
      { checkServerIdentity: () => undefined, timeoutMs: 5000 },
    ),
    'unknown SNI',
  );
  await assert.rejects(tlsConnect({ port: w.gw.port, servername: false, ...client }, { timeoutMs: 5000 }), 'no SNI');
  await assert.rejects(
    nodeRequest({ port: w.gw.port, servername: false, ...client, path: nextPath('iso') }),
    'no SNI, https',
  );
  const byIp = await run('curl', [
    '-sS',
    '--max-time',
    '5',
    '-k',
    '--cert',
    writeClient(w.dir, 'iso-a', isoA.client).certFile,
    '--key',
    join(w.dir, 'iso-a.key'),
    `https://127.0.0.1:${w.gw.port}/`,
  ]);
  assert.equal(byIp.code, 35, `curl by IP (no SNI) must fail the handshake: exit ${byIp.code} ${byIp.stderr}`);
  const unknown = await curl({
    domain: 'unknown.e2e.test',
    port: w.gw.port,
    cacert: w.server.caFile,
    cert: join(w.dir, 'iso-a.crt'),
    key: join(w.dir, 'iso-a.key'),
  });
  assert.equal(unknown.code, 35, `curl with an unknown SNI: exit ${unknown.code} ${unknown.stderr}`);
  await w.gw.waitForLog((l) => l.msg === 'tls handshake failed', { from: mark });
  assert.equal(
    w.gw.logsSince(mark).filter((l) => l.msg === 'request').length,
    0,
    'no request was served without a known SNI',
  );
});

test('TLS session resumption (1.2 and 1.3): a reconnect with a saved session is served and judged by its own SNI domain', async (t) => {
  const { isoA } = w;
  const client = { ca: w.server.caPem, cert: isoA.client.certPem, key: isoA.client.keyPem };
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    await t.test(maxVersion, async () => {
      const p1 = nextPath('resume');
      const first = await nodeRequest({
        port: w.gw.port,
        servername: ISO_A,
        ...client,
        path: p1,
        maxVersion,
        headers: { connection: 'close' },
      });
      await expectOutcome(first, { domain: ISO_A, path: p1, leafDer: isoA.client.der, reason: null, code: null });
      assert.ok(first.session, 'the client got a session to resume');
      const p2 = nextPath('resume');
      const again = await nodeRequest({
        port: w.gw.port,
        servername: ISO_A,
        ...client,
        path: p2,
        maxVersion,
        session: first.session,
      });
      await expectOutcome(again, { domain: ISO_A, path: p2, leafDer: isoA.client.der, reason: null, code: null });
      // A's session offered on B's name: B's truststore decides (a resumed session must not carry A's verdict over).
      const p3 = nextPath('resume');
      const other = await nodeRequest({
        port: w.gw.port,
        servername: ISO_B,
        ...client,
        path: p3,
        maxVersion,
        session: first.session,
      });
      await expectOutcome(other, {
        domain: ISO_B,
        path: p3,
        leafDer: isoA.client.der,
        reason: NO_ISSUER,
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    });
  }
});

test('Host naming another domain than the SNI: 421 Misdirected Request, backend untouched', async () => {
  const { isoA } = w;
  for (const host of [`${ISO_B}:${w.gw.port}`, ISO_B, `unknown.e2e.test:${w.gw.port}`]) {
    const path = nextPath('misdirected');
    const res = await nodeRequest({
      port: w.gw.port,
      servername: ISO_A,
      host,
      ca: w.server.caPem,
      cert: isoA.client.certPem,
      key: isoA.client.keyPem,
      path,
    });
    assert.equal(res.status, 421, `Host ${host}`);
    assert.deepEqual(JSON.parse(res.text), { message: 'Misdirected Request' });
    assert.match(String(res.headers['x-request-id']), UUID);
    assert.equal(echoHits(path), 0);
  }
  // Same client, right Host, same SNI: served (the 421 came from the mismatch, not the client).
  const path = nextPath('misdirected');
  const ok = await nodeRequest({
    port: w.gw.port,
    servername: ISO_A,
    host: ISO_A.toUpperCase(),
    ca: w.server.caPem,
    cert: isoA.client.certPem,
    key: isoA.client.keyPem,
    path,
  });
  await expectOutcome(ok, { domain: ISO_A, path, leafDer: isoA.client.der, reason: null, code: null });
});

/** `openssl x509 -noout <flag> -nameopt RFC2253`, the value after `name=`. */
async function opensslField(certPem: string, flag: string): Promise<string> {
  const r = await run('openssl', ['x509', '-noout', flag, '-nameopt', 'RFC2253'], { input: certPem });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString('utf8').trim();
  return out.slice(out.indexOf('=') + 1);
}

test("client-sent identity headers are replaced by the gateway's (RFC 9440 Client-Cert, API Gateway clientCert fields, X-Forwarded-*)", async () => {
  const { dated, policyInt } = w;
  const path = nextPath('headers');
  const host = `${HEADERS}:${w.gw.port}`;
  const spoofed = {
    'Client-Cert': ':AAAA:',
    'Client-Cert-Chain': ':AAAA:',
    'X-Client-Cert-Subject-DN': 'CN=admin',
    'X-Client-Cert-Issuer-DN': 'CN=Trusted Root',
    'X-Client-Cert-Serial': '00',
    'X-Client-Cert-Not-After': 'Dec 31 23:59:59 9999 GMT',
    'X-Client-Cert-Sha256': 'ff',
    'X-Forwarded-For': '6.6.6.6',
    'X-Forwarded-Proto': 'http',
    'X-Forwarded-Host': 'evil.example',
    // The rest of the X-Forwarded-* family: frameworks read these too (Spring's X-Forwarded-Prefix and -Port build
    // redirect URLs, Rack's X-Forwarded-Ssl and -Scheme decide https), and only the gateway may speak for the client.
    'X-Forwarded-Port': '80',
    'X-Forwarded-Prefix': '/evil',
    'X-Forwarded-Server': 'evil.example',
    'X-Forwarded-Ssl': 'off',
    'X-Forwarded-Scheme': 'http',
    X_Forwarded_Uri: '/admin',
    'X-Request-Id': 'spoofed-request-id',
    Forwarded: 'for=6.6.6.6;proto=http',
    'X-Forwarded-Client-Cert': 'Hash=deadbeef;Subject="CN=admin"',
    'X-Custom': 'kept',
    // Underscore variants: CGI-style backends (PHP, WSGI, Rack) read both as HTTP_CLIENT_CERT etc.
    Client_Cert: ':BBBB:',
    X_Client_Cert_Subject_DN: 'CN=admin',
    'X-Forwarded_For': '6.6.6.6',
    X_Request_Id: 'spoofed-request-id',
    // Connection names hop-by-hop headers (RFC 9110 §7.6.1): X-Hop goes; naming a gateway header removes nothing of
    // ours.
    Connection: 'keep-alive, X-Hop, X-Client-Cert-Subject-DN',
    'X-Hop': 'must not reach the backend',
    // httpoxy: a CGI-style backend would make it HTTP_PROXY, its HTTP client's outbound proxy.
    Proxy: 'http://evil.example:8080',
  };
  const res = await nodeRequest({
    port: w.gw.port,
    servername: HEADERS,
    ca: w.server.caPem,
    cert: dated.certPem + policyInt.certPem,
    key: dated.keyPem,
    path,
    headers: spoofed,
  });
  assert.equal(res.status, 200, res.text);
  acceptedPaths.add(path);
  const h = (JSON.parse(res.text) as { headers: Record<string, string> }).headers;
  assert.equal(
    h['client-cert'],
    `:${dated.der.toString('base64')}:`,
    'RFC 9440 Client-Cert: the DER of the presented certificate',
  );
  assert.equal(
    h['client-cert-chain'],
    `:${policyInt.der.toString('base64')}:`,
    'Client-Cert-Chain: what the client sent after it',
  );
  assert.equal(h['x-client-cert-subject-dn'], await opensslField(dated.certPem, '-subject'));
  assert.equal(h['x-client-cert-subject-dn'], 'CN=dated client,O=mtlsgate e2e');
  assert.equal(h['x-client-cert-issuer-dn'], await opensslField(dated.certPem, '-issuer'));
  assert.equal(h['x-client-cert-serial'], colonSerial(await opensslField(dated.certPem, '-serial')));
  assert.match(h['x-client-cert-serial']!, /^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
  assert.equal(h['x-client-cert-not-before'], 'Nov  5 09:36:04 2025 GMT');
  assert.equal(h['x-client-cert-not-after'], 'Nov  5 09:36:04 2027 GMT');
  assert.equal(h['x-client-cert-not-before'], await opensslField(dated.certPem, '-startdate'));
  assert.equal(h['x-client-cert-not-after'], await opensslField(dated.certPem, '-enddate'));
  assert.equal(h['x-client-cert-sha256'], createHash('sha256').update(dated.der).digest('hex'));
  assert.equal(h['x-forwarded-for'], '127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'https');
  assert.equal(h['x-forwarded-host'], host);
  assert.equal(h['x-request-id'], res.headers['x-request-id']);
  assert.notEqual(h['x-request-id'], 'spoofed-request-id');
  assert.equal(h.forwarded, undefined);
  assert.equal(h['x-forwarded-client-cert'], undefined);
  assert.deepEqual(
    Object.keys(h)
      .filter((n) => n.startsWith('x-forwarded'))
      .sort(),
    ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'],
    "no X-Forwarded-* header of the client's reaches the backend",
  );
  assert.equal(h['x-custom'], 'kept', 'other headers pass through');
  assert.equal(h['x-hop'], undefined, 'a header named in Connection is hop-by-hop');
  assert.equal(h.proxy, undefined, 'Proxy (httpoxy) is dropped');
  const underscored = Object.keys(h).filter((n) => n.includes('_'));
  assert.deepEqual(underscored, [], 'no underscore variant of a gateway header reaches the backend');

  // Without intermediates from the client there is no Client-Cert-Chain, even a spoofed one.
  const path2 = nextPath('headers');
  const res2 = await nodeRequest({
    port: w.gw.port,
    servername: HEADERS,
    ca: w.server.caPem,
    cert: dated.certPem,
    key: dated.keyPem,
    path: path2,
    headers: spoofed,
  });
  assert.equal(res2.status, 200, res2.text);
  acceptedPaths.add(path2);
  const h2 = (JSON.parse(res2.text) as { headers: Record<string, string> }).headers;
  assert.equal(h2['client-cert-chain'], undefined);
  assert.equal(h2['client-cert'], `:${dated.der.toString('base64')}:`);

  // A denied client's spoofed headers never reach anything.
  const { sc } = scenario('self-signed not in truststore');
  const path3 = nextPath('headers');
  const denied = await nodeRequest({
    port: w.gw.port,
    servername: HEADERS,
    ca: w.server.caPem,
    ...scenarioClient(sc),
    path: path3,
    headers: spoofed,
  });
  await expectOutcome(denied, { domain: HEADERS, path: path3, leafDer: sc.leaf.der, reason: sc.reason, code: sc.code });
});

test('a subject with a comma, quotes, non-ASCII and CR/LF reaches the backend escaped on one header line', async () => {
  const { odd } = w;
  assert.ok(
    odd.der.includes(Buffer.from('é\r\nX-Injected: 1', 'utf8')),
    'the certificate really carries CR/LF in its CN',
  );
  const before = w.raw.heads.length;
  const path = nextPath('raw');
  const res = await nodeRequest({
    port: w.gw.port,
    servername: HEADERS,
    ca: w.server.caPem,
    cert: odd.certPem,
    key: odd.keyPem,
    path,
  });
  assert.equal(res.status, 200, res.text);
  const heads = w.raw.heads.slice(before);
  assert.equal(heads.length, 1, 'exactly one request reached the backend');
  const head = heads[0]!;
  assert.ok(head.startsWith(`GET ${path.replace(/^\/raw/, '')} HTTP/1.1\r\n`), head);
  const lines = headLines(head);
  for (const line of lines)
    assert.match(line, /^[A-Za-z0-9-]+: [\x20-\x7e]*$/, `one well-formed header per line: ${JSON.stringify(line)}`);
  const names = lines.map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
  assert.equal(new Set(names).size, names.length, `no header twice: ${names.join(', ')}`);
  assert.ok(!names.includes('x-injected'), 'the CR/LF in the CN did not add a header');
  const expected = new Set([
    'host',
    'connection',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'x-request-id',
    'client-cert',
    'x-client-cert-subject-dn',
    'x-client-cert-issuer-dn',
    'x-client-cert-serial',
    'x-client-cert-not-before',
    'x-client-cert-not-after',
    'x-client-cert-sha256',
  ]);
  assert.deepEqual(
    names.filter((n) => !expected.has(n)),
    [],
    'no header the gateway did not mean to send',
  );
  const subjectLine = lines.find((l) => l.toLowerCase().startsWith('x-client-cert-subject-dn:'))!;
  const value = subjectLine.slice(subjectLine.indexOf(':') + 2);
  // openssl's RFC 2253 rendering escapes the same way: \, \" for specials, \C3\A9 for UTF-8 bytes, \0D\0A for CR LF.
  assert.equal(value, await opensslField(odd.certPem, '-subject'));
  assert.equal(value, 'CN=Doe\\, \\"J\\" \\C3\\A9\\0D\\0AX-Injected: 1');
  assert.equal(
    lines.find((l) => l.startsWith('client-cert:')),
    `client-cert: :${odd.der.toString('base64')}:`,
  );
});

test('the echo backend received exactly the requests the gateway accepted, nothing else', () => {
  const got = w.echo.received.map((r) => r.path).sort();
  assert.deepEqual(got, [...acceptedPaths].sort());
  assert.ok(acceptedPaths.size >= 10, `only ${acceptedPaths.size} accepted requests were checked`);
});
