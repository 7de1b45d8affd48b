/**
 * Client certificate modes and allow-lists, in-process (see pipeline.test.ts for the set-up's idea): every mapping
 * mode against no certificate, a verified one and one that fails verification; allow-list hits and misses for each
 * matcher; the domain's list for paths no mapping matches; the access log format over real requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { testPki, type TestPki } from '../helpers/pki.js';
import { RecordingSink } from '../helpers/sink.js';
import { configSchema } from '../../src/gateway/config.js';
import { connectionContext, requestContext, type RequestContext, type Runtime } from '../../src/gateway/context.js';
import { startEcho, type EchoBackend } from '../../src/gateway/echo.js';
import { makeLogger } from '../../src/gateway/log.js';
import { snapshotMetrics } from '../../src/gateway/metrics.js';
import { runPipeline } from '../../src/gateway/pipeline.js';
import { closePools } from '../../src/gateway/proxy.js';
import { compileAccessLogFormat } from '../../src/gateway/access-format.js';
import { issue, type Issued } from '../../src/pki/generate.js';
import { testRuntime } from '../helpers/runtime.js';

const OPT = 'opt.test';
const REQ = 'req.test';

let pki: TestPki;
let echo: EchoBackend;
let rt: Runtime;
const logs: Record<string, unknown>[] = [];
const certs: Record<string, Issued> = {};
let goodPem: string;
let selfSignedPem: string;

const leafOf = (name: string, sans: string[], extra: { subject?: string; serial?: string } = {}) =>
  issue({
    subject: extra.subject ?? `CN=${name}`,
    profile: 'client',
    issuer: pki.intermediate,
    sans,
    ...(extra.serial !== undefined && { serial: extra.serial }),
  });

before(async () => {
  pki = await testPki();
  echo = await startEcho();
  goodPem = readFileSync(pki.clientCert, 'utf8');
  selfSignedPem = readFileSync(pki.selfSignedCert, 'utf8');
  const made = await Promise.all([
    leafOf('dns', ['DNS:a.allowed.test']),
    leafOf('dns-deep', ['DNS:a.b.allowed.test']),
    leafOf('dns-exact', ['DNS:Exact.Test']),
    leafOf('dns-crlf', ['DNS:evil\r\nx-injected: 1.allowed.test']),
    leafOf('uri', ['URI:spiffe://trust.example/ns/prod/sa/web']),
    leafOf('uri-miss', ['URI:spiffe://trust.example/ns/prodx/sa/web']),
    leafOf('email', ['email:Alice@OPS.test']),
    leafOf('email-miss', ['email:alice@ops.test.evil.example']),
    leafOf('ip4', ['IP:10.1.2.3']),
    leafOf('ip6', ['IP:2001:db8::5']),
    leafOf('ip-miss', ['IP:10.2.0.1', 'IP:2001:db9::1']),
    leafOf('subject', [], { subject: 'CN=named client,O=mtlsgate test' }),
    leafOf('serial', [], { serial: '0a:bc:de:f0' }),
  ]);
  for (const c of made) certs[c.subject.replace(/^CN=/, '').replace(/,.*$/, '')] = c;
  const fingerprint = new X509Certificate(goodPem).fingerprint256;

  const server = { cert: pki.serverCert, key: pki.serverKey };
  const truststoreUri = `file://${pki.truststore}`;
  const route = (basePath: string, extra: Record<string, unknown> = {}) => ({
    basePath,
    target: `${echo.url}/${basePath}`,
    ...extra,
  });
  const cfg = configSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    domains: [
      {
        domainName: OPT,
        certificate: server,
        mutualTls: { truststoreUri, exposeReason: true, clientCertificate: 'optional' },
        basePathMappings: [
          route('req', { clientCertificate: 'required' }),
          route('opt'),
          route('none', { clientCertificate: 'none' }),
          route('dns', { allow: { subjectAltNames: ['DNS:*.allowed.test', 'DNS:exact.test'] } }),
          route('uri', { allow: { subjectAltNames: ['URI:spiffe://trust.example/ns/prod/*'] } }),
          route('email', { allow: { subjectAltNames: ['email:*@ops.test'] } }),
          route('ip', { allow: { subjectAltNames: ['IP:10.1.0.0/16', 'IP:2001:db8::/32'] } }),
          route('subject', { allow: { subjects: ['CN=named client,O=mtlsgate test'] } }),
          route('fp', { allow: { sha256Fingerprints: [fingerprint.replace(/:/g, '').toLowerCase()] } }),
          route('serial', { allow: { serialNumbers: ['ABCDEF0'] } }),
        ],
      },
      {
        domainName: REQ,
        certificate: server,
        mutualTls: {
          truststoreUri,
          exposeReason: true,
          noCertificate: 'http403',
          allow: { subjectAltNames: ['DNS:*.allowed.test'] },
        },
        basePathMappings: [
          route('api'),
          route('own', { allow: { subjectAltNames: ['URI:spiffe://trust.example/ns/prod/*'] } }),
        ],
      },
    ],
  });
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ raw: line });
        }
      }
      cb();
    },
  });
  const log = makeLogger('json', 'info', out);
  rt = await testRuntime({ cfg, log });
});

after(async () => {
  await closePools(rt.pools);
  await echo.close();
});

let n = 0;

async function send(o: {
  domain?: string;
  cert: string | null;
  path: string;
  headers?: [string, string][];
}): Promise<{ ctx: RequestContext; sink: RecordingSink }> {
  const domain = o.domain ?? OPT;
  const conn = connectionContext({
    servername: domain,
    protocol: 'TLSv1.3',
    remoteAddress: '192.0.2.9',
    presented: { resumed: false, openssl: null, peer: o.cert === null ? null : new X509Certificate(o.cert) },
  });
  const list: [string, string][] = [['Host', domain], ...(o.headers ?? [])];
  const headers: Record<string, string> = {};
  for (const [k, v] of list) headers[k.toLowerCase()] ??= v;
  const sink = new RecordingSink();
  const ctx = requestContext({
    conn,
    requestId: `modes-${++n}`,
    method: 'GET',
    url: o.path,
    headers,
    rawHeaders: list.flat(),
    body: Readable.from([]),
    sink,
  });
  await runPipeline(rt, ctx);
  return { ctx, sink };
}

const header = (list: string[] | null, name: string): string | undefined => {
  const i = list?.findIndex((v, j) => j % 2 === 0 && v === name) ?? -1;
  return i === -1 ? undefined : list![i + 1];
};

/** Headers a client might send to pass as someone: every spelling the gateway owns. */
const SPOOFED: [string, string][] = [
  ['Client-Cert', ':AAAA:'],
  ['Client-Cert-Chain', ':AAAA:'],
  ['X-Client-Cert-Subject-DN', 'CN=admin'],
  ['X-Client-Cert-Serial', '01'],
  ['X-Client-Cert-Sha256', 'f'.repeat(64)],
  ['Client_Cert', ':AAAA:'],
  ['X_Client_Cert_Subject_DN', 'CN=admin'],
];

test('every mode × no certificate, a verified one, one that fails verification', async () => {
  const leaf = new X509Certificate(goodPem);
  type Expect = { status: number; identity: boolean; reason?: string };
  const table: [string, 'none' | 'good' | 'bad', Expect][] = [
    ['req', 'none', { status: 403, identity: false, reason: 'No required SSL certificate was sent' }],
    ['req', 'good', { status: 200, identity: true }],
    ['req', 'bad', { status: 403, identity: false, reason: 'self-signed certificate' }],
    ['opt', 'none', { status: 200, identity: false }],
    ['opt', 'good', { status: 200, identity: true }],
    ['opt', 'bad', { status: 403, identity: false, reason: 'self-signed certificate' }],
    ['none', 'none', { status: 200, identity: false }],
    ['none', 'good', { status: 200, identity: false }],
    ['none', 'bad', { status: 200, identity: false }],
  ];
  for (const [route, presented, want] of table) {
    const cert = presented === 'none' ? null : presented === 'good' ? goodPem : selfSignedPem;
    const what = `${route} × ${presented}`;
    const { ctx, sink } = await send({ cert, path: `/${route}/x`, headers: SPOOFED });
    assert.equal(sink.status, want.status, `${what}: ${sink.body}`);
    if (want.reason !== undefined) {
      assert.deepEqual(JSON.parse(sink.body), { message: `Access denied. Reason: ${want.reason}` }, what);
      assert.equal(ctx.upstreamHeaders, null, `${what}: never forwarded`);
      continue;
    }
    const up = ctx.upstreamHeaders!;
    assert.equal(header(up, 'client-cert'), want.identity ? `:${leaf.raw.toString('base64')}:` : undefined, what);
    assert.equal(
      header(up, 'x-client-cert-sha256'),
      want.identity ? leaf.fingerprint256.replace(/:/g, '').toLowerCase() : undefined,
      what,
    );
    // The client's own copies never pass, whatever the mode: the gateway's once when verified, else none.
    const names = up.filter((_, i) => i % 2 === 0);
    for (const owned of ['client-cert', 'x-client-cert-subject-dn', 'x-client-cert-serial', 'x-client-cert-sha256'])
      assert.equal(names.filter((h) => h === owned).length, want.identity ? 1 : 0, `${what}: ${owned}`);
    for (const never of ['client-cert-chain', 'client_cert', 'x_client_cert_subject_dn'])
      assert.ok(!names.includes(never), `${what}: ${never}`);
    assert.notEqual(header(up, 'x-client-cert-subject-dn'), 'CN=admin', what);
    assert.equal(echo.received.at(-1)!.path, `/${route}/x`, what);
    // Nothing judged on a none route, nor a missing certificate on an optional one.
    if (!want.identity) assert.equal(ctx.verdict, null, `${what}: no verdict`);
  }
});

test('allow-lists: a hit and a miss for every matcher type', async () => {
  const cases: [string, string, boolean][] = [
    ['dns', certs.dns!.certPem, true],
    ['dns', certs['dns-exact']!.certPem, true],
    ['dns', certs['dns-deep']!.certPem, false],
    ['dns', goodPem, false],
    ['uri', certs.uri!.certPem, true],
    ['uri', certs['uri-miss']!.certPem, false],
    ['email', certs.email!.certPem, true],
    ['email', certs['email-miss']!.certPem, false],
    ['ip', certs.ip4!.certPem, true],
    ['ip', certs.ip6!.certPem, true],
    ['ip', certs['ip-miss']!.certPem, false],
    ['subject', certs['named client']!.certPem, true],
    ['subject', certs.dns!.certPem, false],
    ['fp', goodPem, true],
    ['fp', certs.dns!.certPem, false],
    ['serial', certs.serial!.certPem, true],
    ['serial', goodPem, false],
  ];
  const counted0 = deniedCount(OPT, 'MTLSGATE_NOT_ALLOWED');
  for (const [route, cert, admitted] of cases) {
    const what = `${route} ${new X509Certificate(cert).subject.replace(/\n/g, ',')}`;
    const { ctx, sink } = await send({ cert, path: `/${route}/x` });
    if (admitted) {
      assert.equal(sink.status, 200, `${what}: ${sink.body}`);
      assert.ok(header(ctx.upstreamHeaders, 'client-cert'), what);
      continue;
    }
    assert.equal(sink.status, 403, what);
    assert.deepEqual(JSON.parse(sink.body), { message: 'Access denied. Reason: client certificate not allowed' }, what);
    assert.equal(ctx.denied?.code, 'MTLSGATE_NOT_ALLOWED', what);
    const line = logs.find((l) => l.requestId === ctx.requestId && l.code === 'MTLSGATE_NOT_ALLOWED');
    assert.equal(line?.msg, 'Access denied. Reason: client certificate not allowed', what);
    const request = logs.find((l) => l.requestId === ctx.requestId && l.msg === 'request');
    assert.deepEqual(
      request?.verdict,
      { accepted: false, reason: 'client certificate not allowed', code: 'MTLSGATE_NOT_ALLOWED' },
      `${what}: the request line carries the allow-list's verdict`,
    );
  }
  assert.equal(deniedCount(OPT, 'MTLSGATE_NOT_ALLOWED') - counted0, cases.filter((c) => !c[2]).length);
});

function deniedCount(domain: string, code: string): number {
  return snapshotMetrics(rt.metrics).denials.find(([d, c]) => d === domain && c === code)?.[2] ?? 0;
}

test('one connection, two routes with different lists: each judged, each remembered', async () => {
  const conn = connectionContext({
    servername: OPT,
    protocol: 'TLSv1.3',
    remoteAddress: '192.0.2.9',
    presented: { resumed: false, openssl: null, peer: new X509Certificate(certs.dns!.certPem) },
  });
  const statuses: number[] = [];
  for (const path of ['/dns/1', '/uri/1', '/dns/2', '/uri/2', '/opt/1']) {
    const sink = new RecordingSink();
    const ctx = requestContext({
      conn,
      requestId: `conn-${path}`,
      method: 'GET',
      url: path,
      headers: { host: OPT },
      rawHeaders: ['Host', OPT],
      body: Readable.from([]),
      sink,
    });
    await runPipeline(rt, ctx);
    statuses.push(sink.status);
  }
  assert.deepEqual(statuses, [200, 403, 200, 403, 200]);
  assert.equal(conn.allowed?.size, 2, 'one judgement per list on this connection');
});

test("a SAN with CR/LF: never a header, never a raw log line, and no wildcard's label", async () => {
  const cert = certs['dns-crlf']!.certPem;
  const denied = await send({ cert, path: '/dns/x' });
  assert.equal(denied.sink.status, 403, 'escaped bytes are not a DNS label: *.allowed.test does not admit it');
  const passed = await send({ cert, path: '/opt/x' });
  assert.equal(passed.sink.status, 200);
  for (const v of passed.ctx.upstreamHeaders!) assert.doesNotMatch(v, /[\r\n]/);
  assert.equal(header(passed.ctx.upstreamHeaders, 'x-injected'), undefined);
  const raw = logs.filter((l) => l.requestId === denied.ctx.requestId || l.requestId === passed.ctx.requestId);
  assert.ok(raw.length >= 3);
  for (const l of raw) assert.doesNotMatch(JSON.stringify(l), /\r|\n/);
});

test('a required domain: its allow-list judges mappings without their own and unknown paths; 403 before 404', async () => {
  const admitted = certs.dns!.certPem;
  const other = goodPem;
  assert.equal((await send({ domain: REQ, cert: admitted, path: '/api/x' })).sink.status, 200);
  assert.equal((await send({ domain: REQ, cert: other, path: '/api/x' })).sink.status, 403);
  // A mapping's own list replaces the domain's.
  assert.equal((await send({ domain: REQ, cert: admitted, path: '/own/x' })).sink.status, 403);
  assert.equal((await send({ domain: REQ, cert: certs.uri!.certPem, path: '/own/x' })).sink.status, 200);
  // API Gateway judges the certificate before it routes: unknown paths give an unverified, a missing or a refused
  // certificate 403, and only an admitted one learns of the 404.
  const unknown = async (cert: string | null): Promise<number> =>
    (await send({ domain: REQ, cert, path: '/nowhere' })).sink.status;
  assert.equal(await unknown(admitted), 404);
  assert.equal(await unknown(other), 403);
  assert.equal(await unknown(null), 403);
  assert.equal(await unknown(selfSignedPem), 403);
  // An optional domain without a list: an unknown path is a 404 without a certificate, a 403 with a bad one.
  assert.equal((await send({ cert: null, path: '/nowhere' })).sink.status, 404);
  assert.equal((await send({ cert: selfSignedPem, path: '/nowhere' })).sink.status, 403);
});

test('logs.accessLogFormat: the variables, JSON escaping, one line per request in place of the JSON record', async () => {
  const saved = rt.state;
  try {
    const format =
      '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod",' +
      '"path":"$context.path","resource":"$context.resourcePath","status":$context.status,' +
      '"length":$context.responseLength,"time":"$context.requestTime","epoch":$context.requestTimeEpoch,' +
      '"domain":"$context.domainName","protocol":"$context.protocol","subject":"$context.identity.clientCert.subjectDN",' +
      '"issuer":"$context.identity.clientCert.issuerDN","serial":"$context.identity.clientCert.serialNumber",' +
      '"notBefore":"$context.identity.clientCert.validity.notBefore",' +
      '"notAfter":"$context.identity.clientCert.validity.notAfter","principal":"$context.authorizer.principalId",' +
      '"authError":"$context.authorizer.error","authLatency":"$context.authorizer.latency","error":"$context.error.message"}';
    rt.state = { ...saved, accessLog: compileAccessLogFormat(format) };
    const t0 = Date.now();
    const quoted = leafOf('quoted', [], { subject: 'CN=a "quoted" \\ name,O=x' });
    const cert = (await quoted).certPem;
    const { ctx, sink } = await send({ cert, path: '/opt/p?q=1' });
    assert.equal(sink.status, 200);
    const line = logs.find((l) => typeof l.raw === 'string' && l.raw.includes(ctx.requestId));
    assert.equal(line, undefined, 'a JSON format is a JSON line');
    const rec = logs.find((l) => l.requestId === ctx.requestId && l.msg === undefined)!;
    assert.ok(rec, 'the formatted line');
    const info = new X509Certificate(cert);
    assert.equal(rec.ip, '192.0.2.9');
    assert.equal(rec.method, 'GET');
    assert.equal(rec.path, '/opt/p');
    assert.equal(rec.resource, '/opt');
    assert.equal(rec.status, 200);
    assert.equal(rec.length, Buffer.byteLength(sink.body));
    assert.ok((rec.epoch as number) >= t0 - 1000 && (rec.epoch as number) <= Date.now());
    assert.match(rec.time as string, /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    assert.equal(rec.domain, OPT);
    assert.equal(rec.protocol, 'HTTP/1.1');
    assert.equal(rec.subject, ctx.verdict!.client!.leaf.info.subject, 'escaped for JSON, read back as it was');
    assert.match(rec.subject as string, /"/);
    assert.equal(rec.issuer, 'CN=mtlsgate Test Intermediate CA,O=mtlsgate test PKI');
    assert.equal((rec.serial as string).replace(/:/g, ''), info.serialNumber.toLowerCase().replace(/^0+/, ''));
    assert.match(rec.notAfter as string, / GMT$/);
    assert.equal(rec.principal, '-');
    assert.equal(rec.authLatency, '-');
    assert.equal(rec.error, '-');
    assert.equal(logs.filter((l) => l.requestId === ctx.requestId && l.msg === 'request').length, 0);

    const denied = await send({ cert: selfSignedPem, path: '/opt/x' });
    const d = logs.find((l) => l.requestId === denied.ctx.requestId && l.msg === undefined)!;
    assert.equal(d.status, 403);
    assert.equal(d.error, 'self-signed certificate');
    assert.equal(d.resource, '/opt');

    rt.state = { ...saved, accessLog: compileAccessLogFormat('$context.requestId "$context.path" $context.status') };
    const odd = await send({ cert: null, path: '/none/a"b' });
    const text = logs.find((l) => typeof l.raw === 'string' && l.raw.startsWith(odd.ctx.requestId));
    assert.equal(text?.raw, `${odd.ctx.requestId} "/none/a\\x22b" 200`);
  } finally {
    rt.state = saved;
  }
});
