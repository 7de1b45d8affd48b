/**
 * The request pipeline in-process: no listener, no TLS handshake. Each request is a RequestContext over a
 * connection that presented a certificate (an X509Certificate made by the test PKI), run through runPipeline();
 * the decisions are read off the context (domain, verdict, route, status, headers sent to the backend), the
 * mtlsgate:request and mtlsgate:deny events, and the log records. Where no handshake ran, the policy's model
 * decides, as for a resumed session; the expected reasons are those of test/policy/scenarios.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { testPki, tmpDir, type TestPki } from '../helpers/pki.js';
import { RecordingSink } from '../helpers/sink.js';
import { buildScenarios, type Scenario } from '../policy/scenarios.js';
import { configSchema, type GatewayConfig } from '../../src/gateway/config.js';
import { connectionContext, requestContext, type RequestContext, type Runtime } from '../../src/gateway/context.js';
import { startEcho, type EchoBackend } from '../../src/gateway/echo.js';
import type { DenyEvent, ReloadEvent, RequestEvent } from '../../src/gateway/events.js';
import { makeLogger } from '../../src/gateway/log.js';
import { snapshotMetrics } from '../../src/gateway/metrics.js';
import { refuseWithoutCertificate, runPipeline } from '../../src/gateway/pipeline.js';
import { closePools } from '../../src/gateway/proxy.js';
import { reloader } from '../../src/gateway/reload.js';
import { type Generations } from '../../src/gateway/state.js';
import { recentDenials } from '../../src/gateway/denials.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { testRuntime } from '../helpers/runtime.js';

const MAIN = 'localhost';
const OTHER = 'other.test';
const STRICT = 'strict.test';
const BACKEND_MS = 400;

let pki: TestPki;
let dir: string;
let echo: EchoBackend;
let refusedUrl: string;
let resetServer: net.Server;
let slowServer: http.Server;
let scenarios: Scenario[];
let rt: Runtime;
let configPath: string;
let generations: Generations;
const logs: Record<string, unknown>[] = [];
const requests: RequestEvent[] = [];
const denies: DenyEvent[] = [];
const reloads: ReloadEvent[] = [];
const onRequest = (m: unknown): void => void requests.push(m as RequestEvent);
const onDeny = (m: unknown): void => void denies.push(m as DenyEvent);
const onReload = (m: unknown): void => void reloads.push(m as ReloadEvent);

const url = (s: { address(): AddressInfo | string | null }): string =>
  `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
const scenarioDomain = (i: number): string => `s${i}.test`;

function config(backendMs: number): Record<string, unknown> {
  const server = { cert: pki.serverCert, key: pki.serverKey };
  type Json = Record<string, unknown>;
  const domain = (domainName: string, truststore: string, extra: Json = {}): Json => ({
    domainName,
    certificate: server,
    mutualTls: { truststoreUri: `file://${truststore}`, exposeReason: true, noCertificate: 'http403' },
    basePathMappings: [
      { basePath: 'api', target: `${echo.url}/base` },
      { basePath: 'down', target: refusedUrl },
      { basePath: 'reset', target: url(resetServer) },
      { basePath: 'slow', target: url(slowServer) },
    ],
    ...extra,
  });
  return {
    listen: { host: '127.0.0.1', port: 0 },
    timeouts: { backendMs },
    domains: [
      domain(MAIN, pki.truststore),
      domain(OTHER, pki.truststore),
      domain(STRICT, pki.truststore, { securityPolicy: 'TLS_1_3' }),
      ...scenarios.map((sc, i) => {
        const file = join(dir, `scenario-${i}.pem`);
        writeFileSync(file, sc.truststore.map((c) => c.certPem).join(''));
        const d = domain(scenarioDomain(i), file);
        (d.mutualTls as Record<string, unknown>).trustClientIntermediates = sc.trustClientIntermediates ?? false;
        return d;
      }),
    ],
  };
}

before(async () => {
  pki = await testPki();
  dir = tmpDir();
  // The certificate a client sends after its own can only come through a handshake (Node links it to the peer).
  scenarios = (await buildScenarios()).filter((s) => s.clientIntermediates.length === 0);
  echo = await startEcho();
  const gone = net.createServer().listen(0, '127.0.0.1');
  await once(gone, 'listening');
  refusedUrl = url(gone);
  await new Promise((r) => gone.close(r));
  resetServer = net.createServer((s) => s.on('data', () => s.destroy())).listen(0, '127.0.0.1');
  slowServer = http.createServer(() => {}).listen(0, '127.0.0.1');
  await Promise.all([once(resetServer, 'listening'), once(slowServer, 'listening')]);

  configPath = join(dir, 'gateway.json');
  const raw = config(BACKEND_MS);
  writeFileSync(configPath, JSON.stringify(raw));
  const cfg: GatewayConfig = configSchema.parse(raw);
  generations = { last: 0 };
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  const log = makeLogger('json', 'info', out);
  rt = await testRuntime({ cfg, log, generations });
  subscribe('mtlsgate:request', onRequest);
  subscribe('mtlsgate:deny', onDeny);
  subscribe('mtlsgate:reload', onReload);
});

after(async () => {
  unsubscribe('mtlsgate:request', onRequest);
  unsubscribe('mtlsgate:deny', onDeny);
  unsubscribe('mtlsgate:reload', onReload);
  await closePools(rt.pools);
  slowServer.closeAllConnections();
  await Promise.all([echo.close(), new Promise((r) => resetServer.close(r)), new Promise((r) => slowServer.close(r))]);
});

interface Sent {
  servername?: string;
  cert?: string | null;
  protocol?: string;
  method?: string;
  path?: string;
  headers?: [string, string][];
}

let n = 0;
interface Answered {
  ctx: RequestContext;
  sink: RecordingSink;
  event: RequestEvent;
  log: Record<string, unknown>;
}

async function send(s: Sent = {}): Promise<Answered> {
  const pem = s.cert === undefined ? pki.clientCert : s.cert;
  const peer = pem === null ? null : new X509Certificate(pem.includes('-----BEGIN') ? pem : readFileSync(pem));
  const servername = s.servername ?? MAIN;
  const conn = connectionContext({
    servername,
    protocol: s.protocol ?? 'TLSv1.3',
    remoteAddress: '192.0.2.7',
    presented: { resumed: false, openssl: null, peer },
  });
  const rawHeaders = (s.headers ?? [['Host', servername]]).flat();
  const headers: Record<string, string> = {};
  for (const [k, v] of s.headers ?? [['Host', servername]]) headers[k.toLowerCase()] ??= v;
  const sink = new RecordingSink();
  const requestId = `req-${++n}`;
  const ctx = requestContext({
    conn,
    requestId,
    method: s.method ?? 'GET',
    url: s.path ?? '/api/hello?x=1',
    headers,
    rawHeaders,
    body: Readable.from([]),
    sink,
  });
  await runPipeline(rt, ctx);
  const event = requests.find((e) => e.requestId === requestId);
  const log = logs.find((l) => l.requestId === requestId && l.msg === 'request');
  assert.ok(event, 'a mtlsgate:request event');
  assert.ok(log, 'a request log line');
  return { ctx, sink, event, log };
}

const header = (list: string[] | null, name: string): string | undefined => {
  const i = list?.findIndex((v, j) => j % 2 === 0 && v === name) ?? -1;
  return i === -1 ? undefined : list![i + 1];
};

test('accepted: routed to the backend with the identity headers, logged and published', async () => {
  const before = echo.received.length;
  const { ctx, sink, event, log } = await send({
    headers: [
      ['Host', MAIN],
      ['X-Forwarded-For', '6.6.6.6'],
    ],
  });
  assert.equal(ctx.domain?.name, MAIN);
  assert.equal(ctx.verdict?.verdict.accepted, true);
  assert.equal(ctx.match?.route.basePath, 'api');
  assert.equal(ctx.match?.upstreamPath, '/base/hello?x=1');
  assert.equal(sink.status, 200);
  assert.equal(ctx.status, 200);
  assert.equal(ctx.outcome, 'proxied');
  const leaf = new X509Certificate(readFileSync(pki.clientCert));
  const xff = header(ctx.upstreamHeaders, 'x-forwarded-for');
  assert.equal(xff, '192.0.2.7', "the client's X-Forwarded-For is not passed on");
  assert.equal(header(ctx.upstreamHeaders, 'x-request-id'), ctx.requestId);
  assert.match(header(ctx.upstreamHeaders, 'x-client-cert-sha256') ?? '', /^[0-9a-f]{64}$/);
  assert.equal(header(ctx.upstreamHeaders, 'client-cert'), `:${leaf.raw.toString('base64')}:`);
  assert.equal(echo.received.length, before + 1);
  assert.equal(echo.received.at(-1)!.path, '/base/hello?x=1');
  assert.equal(echo.received.at(-1)!.headers['x-forwarded-for'], '192.0.2.7');
  assert.deepEqual(
    { ...event, durationMs: 0 },
    {
      requestId: ctx.requestId,
      domain: MAIN,
      method: 'GET',
      path: '/api/hello?x=1',
      status: 200,
      outcome: 'proxied',
      route: 'api',
      accepted: true,
      durationMs: 0,
    },
  );
  assert.equal(log.domain, MAIN);
  assert.equal(log.status, 200);
  assert.deepEqual(log.verdict, { accepted: true, reason: null, code: null });
  assert.equal((log.client as { fingerprint: string }).fingerprint, leaf.fingerprint256);
});

test("every policy scenario: the pipeline's verdict, status, deny event and log are the policy's", async () => {
  for (const [i, sc] of scenarios.entries()) {
    const denied0 = denies.length;
    const { ctx, sink, event, log } = await send({ servername: scenarioDomain(i), cert: sc.leaf.certPem });
    const v = verdictFields(ctx.verdict!.verdict);
    assert.equal(v.reason, sc.reason, `${sc.name}: reason`);
    assert.equal(v.code, sc.code, `${sc.name}: code`);
    assert.deepEqual(log.verdict, { accepted: sc.reason === null, reason: sc.reason, code: sc.code }, sc.name);
    if (sc.reason === null) {
      assert.equal(sink.status, 200, sc.name);
      assert.equal(event.outcome, 'proxied', sc.name);
      continue;
    }
    assert.equal(sink.status, 403, sc.name);
    assert.deepEqual(JSON.parse(sink.body), { message: `Access denied. Reason: ${sc.reason}` }, sc.name);
    // The mapping is found first (it decides how the certificate is judged); nothing reaches the backend.
    assert.equal(ctx.match?.route.basePath, 'api', `${sc.name}: its mapping`);
    assert.equal(ctx.upstreamHeaders, null, `${sc.name}: never forwarded`);
    assert.equal(event.outcome, 'denied', sc.name);
    assert.deepEqual(
      denies.slice(denied0),
      [
        {
          domain: scenarioDomain(i),
          requestId: ctx.requestId,
          reason: sc.reason,
          code: sc.code,
          stage: 'request',
          remoteAddress: '192.0.2.7',
          fingerprint: new X509Certificate(sc.leaf.certPem).fingerprint256,
        },
      ],
      sc.name,
    );
    const line = logs.find((l) => l.requestId === ctx.requestId && l.msg === `Access denied. Reason: ${sc.reason}`);
    assert.equal(line?.code, sc.code, `${sc.name}: the deny line`);
  }
});

test('no certificate: 403 under noCertificate http403; at the handshake, one deny event and one counter', async () => {
  const denied0 = denies.length;
  const { ctx, sink, event } = await send({ cert: null });
  assert.equal(sink.status, 403);
  assert.deepEqual(ctx.verdict?.verdict, {
    accepted: false,
    reason: 'No required SSL certificate was sent',
    code: 'MTLSGATE_NO_CERTIFICATE',
  });
  assert.equal(event.accepted, false);
  assert.equal(denies.slice(denied0)[0]?.fingerprint, null);

  refuseWithoutCertificate(rt, MAIN, '192.0.2.8');
  const hs = denies.at(-1)!;
  assert.deepEqual(hs, {
    domain: MAIN,
    requestId: null,
    reason: 'No required SSL certificate was sent',
    code: 'MTLSGATE_NO_CERTIFICATE',
    stage: 'handshake',
    remoteAddress: '192.0.2.8',
    fingerprint: null,
  });
  const counted = snapshotMetrics(rt.metrics).denials.find(([d, c]) => d === MAIN && c === 'MTLSGATE_NO_CERTIFICATE');
  assert.equal(counted?.[2], 2, 'the 403 and the handshake refusal');
  assert.ok(logs.some((l) => l.msg === 'connection refused: no client certificate' && l.remote === '192.0.2.8'));
  // Both kept for /denials, newest first: the handshake refusal (no status, no request), then the 403.
  const [handshake, request] = recentDenials(rt.denials, 2);
  assert.deepEqual(
    [handshake?.stage, handshake?.status, handshake?.requestId, handshake?.sourceIp, handshake?.path],
    ['handshake', null, null, '192.0.2.8', null],
  );
  assert.deepEqual(
    [request?.stage, request?.status, request?.code, request?.requestId, request?.leaf],
    ['request', 403, 'MTLSGATE_NO_CERTIFICATE', ctx.requestId, null],
  );
});

test('421: a Host naming another domain, an unknown server name, TLS 1.2 on a TLS_1_3 domain', async () => {
  for (const s of [
    { servername: MAIN, headers: [['Host', OTHER]] as [string, string][] },
    { servername: 'nowhere.test' },
    { servername: STRICT, protocol: 'TLSv1.2' },
  ]) {
    const { ctx, sink, event, log } = await send(s);
    assert.equal(sink.status, 421, JSON.stringify(s));
    assert.deepEqual(JSON.parse(sink.body), { message: 'Misdirected Request' });
    assert.equal(sink.headers['x-request-id'], ctx.requestId);
    assert.equal(ctx.verdict, null, 'never verified');
    assert.equal(event.outcome, 'misdirected');
    assert.equal(log.verdict, null);
  }
  const ok = await send({ servername: STRICT, protocol: 'TLSv1.3', headers: [['Host', `${STRICT}:443`]] });
  assert.equal(ok.sink.status, 200, 'TLS 1.3 and a Host with a port are fine');
});

test('400: two Host headers, a path that climbs out of its base path', async () => {
  const two = await send({
    headers: [
      ['Host', MAIN],
      ['host', MAIN],
    ],
  });
  assert.equal(two.sink.status, 400);
  assert.equal(two.ctx.refusal, 'more than one Host header');
  assert.equal(two.ctx.verdict, null, 'refused before verification');
  const dots = await send({ path: '/api/%2e%2e/admin' });
  assert.equal(dots.sink.status, 400);
  assert.equal(dots.ctx.refusal, 'dot segment in path');
  assert.equal(dots.event.outcome, 'refused');
  const refused = logs.find((l) => l.requestId === dots.ctx.requestId && l.msg === 'request refused');
  assert.equal(refused?.reason, 'dot segment in path');
});

test('route miss: 404, nothing reaches a backend', async () => {
  const before = echo.received.length;
  const { ctx, sink, event } = await send({ path: '/nothing/here' });
  assert.equal(sink.status, 404);
  assert.deepEqual(JSON.parse(sink.body), { message: 'Not Found' });
  assert.equal(ctx.match, null);
  assert.equal(event.outcome, 'no-route');
  assert.equal(event.route, null);
  assert.equal(echo.received.length, before);
});

test('backend errors: refused and reset are 502, no answer within backendMs is 504', async () => {
  for (const [path, status, message] of [
    ['/down/x', 502, 'Bad Gateway'],
    ['/reset/x', 502, 'Bad Gateway'],
    ['/slow/x', 504, 'Gateway Timeout'],
  ] as const) {
    const { ctx, sink, event } = await send({ path });
    assert.equal(sink.status, status, path);
    assert.deepEqual(JSON.parse(sink.body), { message }, path);
    assert.equal(sink.headers['x-request-id'], ctx.requestId);
    assert.equal(event.status, status);
    assert.equal(event.outcome, 'proxied');
  }
});

test('a reload that changes timeouts.backendMs takes effect on the backend pools; it is published', async () => {
  await send();
  const origin = new URL(echo.url).origin;
  assert.equal(rt.pools.byOrigin.get(origin)?.timeoutMs, BACKEND_MS);
  const r = reloader({ rt, generations, configPath, afterSwap: async () => {} });
  writeFileSync(configPath, JSON.stringify(config(BACKEND_MS * 3)));
  const reloaded0 = reloads.length;
  const result = await r.reload();
  r.stop();
  assert.equal(result.ok, true);
  assert.equal(rt.pools.byOrigin.get(origin), undefined, 'the pool made with the old timeout is closed');
  await send();
  assert.equal(rt.pools.byOrigin.get(origin)?.timeoutMs, BACKEND_MS * 3);
  const event = reloads[reloaded0]!;
  assert.equal(event.ok, true);
  assert.equal(event.generation, rt.state.generation);
  assert.ok(event.domains.includes(MAIN));
  // A verdict judged under the old truststore generation is judged again.
  const again = await send();
  assert.equal(again.ctx.verdict?.generation, rt.state.domains.get(MAIN)!.verify.generation);
});
