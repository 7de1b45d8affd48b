/**
 * The Lambda emulation on a real `mtlsgate serve`, driven by real `curl` with client certificates: authorizers
 * (local modules written here, AWS's example, and an HTTP url authorizer in this process) allowing, denying,
 * failing, timing out and cached per certificate; the Lambda proxy integration with both payload versions and binary
 * bodies both ways; the authorizer's context reaching an echo backend, spoofed x-authorizer-* headers stripped;
 * modules that are missing or broken at start and on reload.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { runServe } from '../helpers/cli.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { writeClient, type ClientFiles } from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';
import { parseMetrics, value } from '../helpers/metrics.js';
import { REPO } from '../helpers/build.js';

const DOMAIN = 'lambda.e2e.test';
const EXPLICIT = 'User is not authorized to access this resource with an explicit deny';
const IMPLICIT = 'User is not authorized to access this resource';

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let urlAuth: http.Server;
const urlEvents: Record<string, unknown>[] = [];
let second: ClientFiles;

/**
 * The authorizer under test: what it answers depends on x-api-key; every call is appended to calls.log (one line:
 * the key and the certificate's subject), so the tests count calls, and cache hits are the calls that did not happen.
 */
const AUTH = `
import { appendFileSync } from 'node:fs';
const log = new URL('./calls.log', import.meta.url);
export const handler = async (event) => {
  const key = event.headers['x-api-key'] ?? event.headers['X-Api-Key'];
  const subject = event.requestContext.identity.clientCert.subjectDN;
  appendFileSync(log, key + ' ' + subject + '\\n');
  const base = event.methodArn.split('/').slice(0, 2).join('/');
  const policy = (effect, resource, context) => ({
    principalId: 'user-' + key,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    context,
  });
  switch (key) {
    case 'allow': return policy('Allow', base + '/*', { user: 'alice', evil: 'a\\r\\nx-injected: 1', n: 7 });
    case 'deny': return policy('Deny', base + '/*');
    case 'other': return policy('Allow', 'arn:aws:execute-api:us-east-1:123456789012:elsewhere/*');
    case 'narrow': return policy('Allow', event.methodArn);
    case 'cert': return subject.startsWith('CN=lifecycle client') ? policy('Allow', base + '/*') : policy('Deny', base + '/*');
    case 'unauth': throw new Error('Unauthorized');
    case 'throw': throw new Error('boom');
    case 'garbage': return 'garbage';
    case 'big': return { principalId: 'x'.repeat(10 * 1024 * 1024) };
    case 'hang': return new Promise(() => {});
    default: return policy('Deny', '*');
  }
};
`;

/** The integration: answers what it was given; a binary body comes back reversed, base64. */
const APP = `
export const handler = async (event) => {
  if (event.headers['x-binary'] || event.headers['X-Binary']) {
    const bytes = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').reverse();
    return { statusCode: 201, headers: { 'content-type': 'application/octet-stream' }, body: bytes.toString('base64'), isBase64Encoded: true };
  }
  if (event.version === '2.0' && event.rawQueryString === 'bare') return { bare: true, path: event.rawPath };
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-from': 'lambda' },
    multiValueHeaders: { 'x-multi': ['1', '2'] },
    cookies: event.version === '2.0' ? ['a=1', 'b=2'] : undefined,
    body: JSON.stringify(event),
  };
};
`;

before(async () => {
  w = await makeWorld(DOMAIN);
  echo = await startEcho();
  const other = await issue({ subject: 'CN=second client,O=mtlsgate e2e', profile: 'client', issuer: w.ca });
  second = writeClient(w.dir, 'second', other);
  writeFileSync(join(w.dir, 'auth.mjs'), AUTH);
  writeFileSync(join(w.dir, 'calls.log'), '');
  writeFileSync(join(w.dir, 'app.mjs'), APP);
  writeFileSync(join(w.dir, 'boom.mjs'), 'export const handler = async () => { throw new Error("app failed"); };\n');
  writeFileSync(join(w.dir, 'hang.mjs'), 'export const handler = () => new Promise(() => {});\n');
  writeFileSync(join(w.dir, 'bad.mjs'), 'export const handler = async () => ({ statusCode: "teapot", body: 5 });\n');
  urlAuth = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const event = JSON.parse(body) as { headers: Record<string, string> };
      urlEvents.push(event);
      const key = event.headers['x-api-key'];
      if (key === 'unauth') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ isAuthorized: key === 'yes', context: { via: 'url' } }));
    });
  });
  await new Promise<void>((r) => urlAuth.listen(0, '127.0.0.1', r));
  const urlPort = (urlAuth.address() as AddressInfo).port;
  const m = (basePath: string, target: string, extra: Record<string, unknown> = {}) => ({ basePath, target, ...extra });
  const d = domainConfig(DOMAIN, w.server, w.truststore, [
    m('api', echo.url, { authorizer: 'auth' }),
    m('short', echo.url, { authorizer: 'short' }),
    m('url', echo.url, { authorizer: 'remote' }),
    m('aws', echo.url, { authorizer: 'aws' }),
    m('v1', 'lambda:./app.mjs#handler', { authorizer: 'auth' }),
    m('v2', 'lambda:./app.mjs', { payloadFormatVersion: '2.0' }),
    m('boom', 'lambda:./boom.mjs#handler'),
    m('hang', 'lambda:./hang.mjs#handler'),
    m('bad', 'lambda:./bad.mjs#handler'),
  ]);
  gw = await startGateway({
    dir: w.dir,
    config: {
      domains: [d],
      // Bounds the integration's wait for a handler that never answers.
      timeouts: { backendMs: 1500 },
      // API Gateway's access log format, with the authorizer's variables.
      logs: {
        format: 'json',
        level: 'info',
        accessLogFormat:
          '{"kind":"access","path":"$context.path","status":"$context.status",' +
          '"principal":"$context.authorizer.principalId","authLatency":"$context.authorizer.latency"}',
      },
      arn: { region: 'eu-west-1', accountId: '111122223333', apiId: 'orders', stage: 'prod' },
      stageVariables: { StageVar1: 'stageValue1' },
      authorizers: [
        { name: 'auth', handler: './auth.mjs#handler', identitySource: ['$request.header.x-api-key'] },
        { name: 'short', handler: './auth.mjs', timeoutMs: 500, authorizerResultTtlInSeconds: 0 },
        {
          name: 'remote',
          url: `http://127.0.0.1:${urlPort}/auth`,
          payloadFormatVersion: '2.0',
          enableSimpleResponses: true,
          identitySource: ['$request.header.x-api-key'],
          authorizerResultTtlInSeconds: 60,
        },
        {
          name: 'aws',
          handler: `${join(REPO, 'test/gateway/lambda/aws-request-authorizer.mjs')}#handler`,
          authorizerResultTtlInSeconds: 0,
        },
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  urlAuth?.close();
});

const get = (path: string, headers: string[] = [], client: ClientFiles = w.clientFiles, extra: string[] = []) =>
  curl({
    domain: DOMAIN,
    port: gw.port,
    cacert: w.server.caFile,
    cert: client.certFile,
    key: client.keyFile,
    path,
    headers,
    extra,
  });

const calls = (): string[] => readFileSync(join(w.dir, 'calls.log'), 'utf8').split('\n').filter(Boolean);
const json = (t: string): unknown => JSON.parse(t);

test('allow: the backend gets the context as x-authorizer-* (sanitised); spoofed ones are stripped', async () => {
  const before = echo.received.length;
  const r = await get('/api/orders/1', ['x-api-key: allow', 'X-Authorizer-User: mallory', 'x_authorizer_role: admin']);
  assert.equal(r.response?.status, 200, r.stderr);
  const h = echo.received[before]!.headers;
  assert.equal(h['x-authorizer-user'], 'alice');
  assert.equal(h['x-authorizer-evil'], 'ax-injected: 1');
  assert.equal(h['x-injected'], undefined);
  assert.equal(h['x-authorizer-n'], '7');
  assert.equal(h['x-authorizer-role'], undefined);
  assert.equal(h['x_authorizer_role'], undefined);
  assert.equal(h['x-client-cert-subject-dn'], 'CN=lifecycle client,O=mtlsgate e2e');
  // The access log line in API Gateway's format carries what the authorizer said.
  const line = await gw.waitForLog(
    (l) => (l as Record<string, unknown>).kind === 'access' && (l as Record<string, unknown>).path === '/api/orders/1',
  );
  const access = line as unknown as Record<string, string>;
  assert.equal(access.status, '200');
  assert.notEqual(access.principal, '-');
  assert.ok(access.principal, JSON.stringify(access));
  assert.match(access.authLatency ?? '', /^\d+(\.\d+)?$/);
});

test('explicit deny, implicit deny and Unauthorized are answered as API Gateway does', async () => {
  const deny = await get('/api/x', ['x-api-key: deny']);
  assert.equal(deny.response?.status, 403);
  assert.deepEqual(json(deny.response!.text), { message: EXPLICIT });
  assert.equal(deny.response!.headers['x-amzn-errortype'], 'AccessDeniedException');
  const implicit = await get('/api/x', ['x-api-key: other']);
  assert.equal(implicit.response?.status, 403);
  assert.deepEqual(json(implicit.response!.text), { message: IMPLICIT });
  const thrown = await get('/api/x', ['x-api-key: unauth']);
  assert.equal(thrown.response?.status, 401);
  assert.deepEqual(json(thrown.response!.text), { message: 'Unauthorized' });
  assert.equal(thrown.response!.headers['x-amzn-errortype'], 'UnauthorizedException');
});

test('a missing or empty identity source is 401 without calling the authorizer', async () => {
  const n = calls().length;
  const missing = await get('/api/x');
  const empty = await get('/api/x', ['x-api-key;']);
  assert.equal(missing.response?.status, 401);
  assert.equal(empty.response?.status, 401);
  assert.deepEqual(json(missing.response!.text), { message: 'Unauthorized' });
  assert.equal(calls().length, n);
});

test('a throwing authorizer, a bad result and a 10 MB result are 500 AuthorizerConfigurationException', async () => {
  for (const key of ['throw', 'garbage', 'big']) {
    const mark = gw.mark();
    const r = await get('/api/x', [`x-api-key: ${key}`]);
    assert.equal(r.response?.status, 500, key);
    assert.deepEqual(json(r.response!.text), { message: null });
    assert.equal(r.response!.headers['x-amzn-errortype'], 'AuthorizerConfigurationException');
    const line = await gw.waitForLog((l) => l.msg === 'authorizer error', { from: mark });
    assert.equal(line.authorizer, 'auth');
    assert.equal(typeof line.latencyMs, 'number');
    assert.match(String(line.error), key === 'throw' ? /boom/ : key === 'big' ? /larger than/ : /bad result/);
  }
  // The gateway is still up and serving.
  assert.equal((await get('/api/x', ['x-api-key: allow'])).response?.status, 200);
});

test('an authorizer that never answers is a 500 after timeoutMs; the gateway keeps serving', async () => {
  const started = Date.now();
  const r = await get('/short/x', ['x-api-key: hang']);
  assert.equal(r.response?.status, 500);
  assert.ok(Date.now() - started >= 450, 'waited for the timeout');
  assert.ok(Date.now() - started < 5000, 'not much longer');
  assert.equal((await get('/short/x', ['x-api-key: allow'])).response?.status, 200);
});

test('cache: a decision is reused for the same certificate and key, never for another certificate', async () => {
  const count = (key: string) => calls().filter((l) => l.startsWith(`${key} `)).length;
  const a = await get('/api/one', ['x-api-key: cert']);
  const b = await get('/api/two', ['x-api-key: cert']);
  assert.equal(a.response?.status, 200);
  assert.equal(b.response?.status, 200);
  assert.equal(count('cert'), 1, 'second request: a cache hit');
  // Same token, another certificate: a miss, and the authorizer denies that one.
  const other = await get('/api/one', ['x-api-key: cert'], second);
  assert.equal(other.response?.status, 403);
  assert.deepEqual(json(other.response!.text), { message: EXPLICIT });
  assert.equal(count('cert'), 2);
  // The TTL 0 authorizer is called every time.
  const before = calls().length;
  await get('/short/x', ['x-api-key: allow']);
  await get('/short/x', ['x-api-key: allow']);
  assert.equal(calls().length, before + 2);
});

test('a cached policy naming one path is judged again for the next path (implicit deny)', async () => {
  const first = await get('/api/orders/1', ['x-api-key: narrow']);
  assert.equal(first.response?.status, 200);
  const next = await get('/api/orders/2', ['x-api-key: narrow']);
  assert.equal(next.response?.status, 403);
  assert.deepEqual(json(next.response!.text), { message: IMPLICIT });
  assert.equal(calls().filter((l) => l.startsWith('narrow ')).length, 1, 'the cached policy decided');
});

test("AWS's example REQUEST authorizer, unchanged, allows with its parameters and says Unauthorized without", async () => {
  const ok = await get('/aws/pets?QueryString1=queryValue1', ['headerauth1: headerValue1']);
  assert.equal(ok.response?.status, 200, ok.response?.text);
  assert.equal(echo.received.at(-1)!.headers['x-authorizer-stringkey'], 'stringval');
  assert.equal(echo.received.at(-1)!.headers['x-authorizer-numberkey'], '123');
  const no = await get('/aws/pets?QueryString1=wrong', ['headerauth1: headerValue1']);
  assert.equal(no.response?.status, 401);
});

test('url authorizer (2.0, simple responses): the event arrives as JSON; allow, deny, 401, cached', async () => {
  const n = urlEvents.length;
  const yes = await get('/url/a?q=1', ['x-api-key: yes']);
  assert.equal(yes.response?.status, 200);
  assert.equal(echo.received.at(-1)!.headers['x-authorizer-via'], 'url');
  const e = urlEvents[n] as {
    version: string;
    identitySource: string[];
    routeArn: string;
    requestContext: { authentication: { clientCert: { subjectDN: string; clientCertPem: string } } };
  };
  assert.equal(e.version, '2.0');
  assert.deepEqual(e.identitySource, ['yes']);
  assert.equal(e.routeArn, 'arn:aws:execute-api:eu-west-1:111122223333:orders/prod/GET/a');
  assert.equal(e.requestContext.authentication.clientCert.subjectDN, 'CN=lifecycle client,O=mtlsgate e2e');
  assert.equal(e.requestContext.authentication.clientCert.clientCertPem, w.client.certPem);
  assert.equal((await get('/url/b', ['x-api-key: yes'])).response?.status, 200);
  assert.equal(urlEvents.length, n + 1, 'the second request was a cache hit');
  const no = await get('/url/a', ['x-api-key: no']);
  assert.equal(no.response?.status, 403);
  assert.deepEqual(json(no.response!.text), { message: 'Forbidden' });
  assert.equal((await get('/url/a', ['x-api-key: unauth'])).response?.status, 401);
});

test('Lambda integration 1.0: the REST proxy event with clientCert and the authorizer context', async () => {
  const r = await get('/v1/items/9?a=1&a=2', ['x-api-key: allow', 'X-Custom: yes']);
  assert.equal(r.response?.status, 200, r.response?.text);
  assert.equal(r.response!.headers['x-from'], 'lambda');
  const e = json(r.response!.text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(e.resource, '/{proxy+}');
  assert.equal(e.path, '/v1/items/9');
  assert.deepEqual(e.pathParameters, { proxy: 'items/9' });
  assert.deepEqual(e.multiValueQueryStringParameters, { a: ['1', '2'] });
  assert.equal(e.headers['X-Custom'], 'yes');
  assert.equal(e.requestContext.identity.clientCert.subjectDN, 'CN=lifecycle client,O=mtlsgate e2e');
  assert.equal(e.requestContext.identity.clientCert.clientCertPem, w.client.certPem);
  assert.equal(e.requestContext.authorizer.principalId, 'user-allow');
  assert.equal(e.requestContext.authorizer.user, 'alice');
  assert.deepEqual(e.stageVariables, { StageVar1: 'stageValue1' });
  assert.equal(e.body, null);
  // The authorizer guards the integration too.
  assert.equal((await get('/v1/items/9', ['x-api-key: deny'])).response?.status, 403);
});

test('Lambda integration 2.0: the HTTP API event, cookies, and a bare result as a 200 body', async () => {
  const r = await get('/v2/x?z=1', ['Cookie: c=1; d=2']);
  assert.equal(r.response?.status, 200);
  const e = json(r.response!.text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(e.version, '2.0');
  assert.equal(e.routeKey, '$default');
  assert.equal(e.rawPath, '/v2/x');
  assert.equal(e.rawQueryString, 'z=1');
  assert.deepEqual(e.cookies, ['c=1', 'd=2']);
  assert.equal(e.requestContext.authentication.clientCert.serialNumber.includes(':'), true);
  assert.equal(e.requestContext.http.method, 'GET');
  assert.match(String(r.stdout), /set-cookie: a=1/i);
  const bare = await get('/v2/y?bare');
  assert.equal(bare.response?.status, 200);
  assert.deepEqual(json(bare.response!.text), { bare: true, path: '/v2/y' });
});

test('Lambda integration: a binary body goes in as base64 and comes back decoded (both versions)', async () => {
  const bytes = randomBytes(70_000);
  const file = join(w.dir, 'body.bin');
  writeFileSync(file, bytes);
  for (const [path, key] of [
    ['/v1/bin', ['x-api-key: allow']],
    ['/v2/bin', []],
  ] as const) {
    const r = await get(path, [...key, 'x-binary: 1', 'content-type: application/octet-stream'], w.clientFiles, [
      '--data-binary',
      `@${file}`,
    ]);
    assert.equal(r.response?.status, 201, path);
    assert.deepEqual(r.response!.body, Buffer.from(bytes).reverse(), path);
  }
});

test('Lambda integration: a handler that throws, hangs or answers garbage is 502 Internal server error', async () => {
  const lambdaErrors = async () =>
    value(parseMetrics((await gw.admin('/metrics')).body), 'mtlsgate_backend_errors_total', {
      domain: DOMAIN,
      kind: 'lambda',
    });
  const before = await lambdaErrors();
  for (const path of ['/boom/x', '/hang/x', '/bad/x']) {
    const mark = gw.mark();
    const r = await get(path);
    assert.equal(r.response?.status, 502, path);
    assert.deepEqual(json(r.response!.text), { message: 'Internal server error' });
    const line = await gw.waitForLog((l) => l.msg === 'lambda integration error', { from: mark });
    assert.match(
      String(line.error),
      path === '/boom/x' ? /app failed/ : path === '/hang/x' ? /timed out/ : /bad result/,
    );
  }
  assert.equal((await get('/v2/still-up')).response?.status, 200);
  assert.equal(await lambdaErrors(), before + 3, 'each counted as a backend error of kind lambda');
});

test('Lambda integration: a body over 10 MB is 413 and the handler is not called', async () => {
  const file = join(w.dir, 'big.bin');
  writeFileSync(file, randomBytes(10 * 1024 * 1024 + 1));
  const r = await get('/v2/big', ['x-binary: 1', 'content-type: application/octet-stream'], w.clientFiles, [
    '--data-binary',
    `@${file}`,
  ]);
  assert.equal(r.response?.status, 413, r.stderr);
  assert.deepEqual(json(r.response!.text), { message: 'Request Entity Too Large' });
});

test('reload: a broken authorizer module keeps the previous one and the reload says so; fixed, the new one serves', async () => {
  const file = join(w.dir, 'auth.mjs');
  writeFileSync(`${file}.tmp`, 'export const nothing = 1;\n');
  renameSync(`${file}.tmp`, file);
  const r = await gw.admin('/reload', 'POST');
  assert.equal(r.status, 500);
  assert.match(
    r.body,
    /authorizers\[0\]\.handler: .*auth\.mjs: no function exported as \\"handler\\" \(the module loaded before keeps serving\)/,
  );
  assert.equal((await get('/api/after', ['x-api-key: allow'])).response?.status, 200, 'previous module');
  writeFileSync(
    `${file}.tmp`,
    AUTH.replace("case 'deny':", "case 'deny-now-allowed': return policy('Allow', base + '/*');\n    case 'deny':"),
  );
  renameSync(`${file}.tmp`, file);
  const ok = await gw.admin('/reload', 'POST');
  assert.equal(ok.status, 200, ok.body);
  assert.equal((await get('/api/x', ['x-api-key: deny-now-allowed'])).response?.status, 200, 'the new module');
});

test('start: a missing handler module or export is an error naming the key path', async () => {
  const dir = w.dir;
  const mapping = { basePath: '', target: echo.url, authorizer: 'a' };
  const base = { domains: [domainConfig(DOMAIN, w.server, w.truststore, [mapping])] };
  const write = (name: string, cfg: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(cfg));
    return p;
  };
  const missing = write('missing.json', { ...base, authorizers: [{ name: 'a', handler: './nope.mjs' }] });
  const r1 = await runServe(['--config', missing, '--check']);
  assert.equal(r1.code, 2, r1.stderr);
  assert.match(r1.stderr, /authorizers\[0\]\.handler: .*nope\.mjs: no such file/);
  const noExport = write('noexport.json', {
    domains: [domainConfig(DOMAIN, w.server, w.truststore, [{ basePath: '', target: 'lambda:./boom.mjs#other' }])],
  });
  const r2 = await runServe(['--config', noExport, '--check']);
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /domains\[0\]\.basePathMappings\[0\]\.target: .*boom\.mjs: no function exported as "other"/);
  const unknown = write('unknown.json', base);
  const r3 = await runServe(['--config', unknown, '--check']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /domains\[0\]\.basePathMappings\[0\]\.authorizer: unknown authorizer "a"/);
});
