/**
 * The Lambda emulation's parts in-process: the events (type-checked against @types/aws-lambda's, so `npm run
 * typecheck` fails when a field is missing or of the wrong type, and asserted at run time), AWS's example REQUEST
 * authorizer run unchanged, policy evaluation (with NotAction and NotResource), Lambda's invocation semantics (async,
 * callback, throwing, hanging, garbage, oversized; the worker threads that run them are pool.test.ts's), proxy
 * results, context headers, and the config's cross-references.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
} from 'aws-lambda';
import { issue } from '../../src/pki/generate.js';
import { parseCert } from '../../src/pki/cert.js';
import { clientCertHeaders } from '../../src/gateway/headers.js';
import { parseConfig } from '../../src/gateway/config.js';
import {
  authorizerEventV1,
  authorizerEventV2,
  clientCertOf,
  eventBody,
  proxyEventV1,
  proxyEventV2,
  type RequestFacts,
} from '../../src/gateway/lambda/events.js';
import { importHandler, InvokeError, invokeHandler, MAX_RESULT_BYTES } from '../../src/gateway/lambda/invoke.js';
import { BadResult, contextHeaders, judge, parseResult } from '../../src/gateway/lambda/policy.js';
import { responseV1, responseV2 } from '../../src/gateway/lambda/integration.js';
import type { Cert } from '../../src/pki/types.js';

const ARN = { region: 'eu-west-1', accountId: '111122223333', apiId: 'orders', stage: 'prod' };
let leaf: Cert;

before(async () => {
  const ca = await issue({ subject: 'CN=Lambda Test CA,O=mtlsgate', profile: 'root-ca' });
  const client = await issue({ subject: 'CN=lambda client,O=mtlsgate', profile: 'client', issuer: ca });
  leaf = parseCert(client.der);
});

function facts(o: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'GET',
    path: '/orders/42',
    apiPath: '/42',
    rawQuery: 'a=1&a=2&b=x%20y',
    rawHeaders: ['Host', 'mtls.example.test', 'X-Api-Key', 'k1', 'Accept', 'a', 'accept', 'b', 'Cookie', 'c1=1; c2=2'],
    host: 'mtls.example.test',
    domainName: 'mtls.example.test',
    sourceIp: '127.0.0.1',
    requestId: 'req-1',
    cert: clientCertOf(leaf),
    arn: ARN,
    stageVariables: { env: 'dev' },
    now: new Date('2026-03-05T07:08:09Z'),
    ...o,
  };
}

test('clientCert is built from the same parsed certificate as the backend headers', () => {
  const c = clientCertOf(leaf);
  const h = clientCertHeaders(leaf, []);
  assert.equal(c.subjectDN, 'CN=lambda client,O=mtlsgate');
  assert.equal(c.subjectDN, h['x-client-cert-subject-dn']);
  assert.equal(c.issuerDN, h['x-client-cert-issuer-dn']);
  assert.equal(c.serialNumber, h['x-client-cert-serial']);
  assert.match(c.serialNumber, /^[0-9a-f]{2}(:[0-9a-f]{2})*$/);
  assert.equal(c.validity.notBefore, h['x-client-cert-not-before']);
  assert.equal(c.validity.notAfter, h['x-client-cert-not-after']);
  assert.match(c.validity.notAfter, /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/);
  assert.equal(
    parseCert(Buffer.from(c.clientCertPem.replace(/-----[^-]+-----|\n/g, ''), 'base64')).der.equals(leaf.der),
    true,
  );
});

test('REST REQUEST authorizer event (1.0) has the type and fields of APIGatewayRequestAuthorizerEvent', () => {
  const e: APIGatewayRequestAuthorizerEvent = authorizerEventV1(facts());
  assert.equal(e.type, 'REQUEST');
  assert.equal(e.methodArn, 'arn:aws:execute-api:eu-west-1:111122223333:orders/prod/GET/42');
  assert.equal(e.resource, '/{proxy+}');
  assert.deepEqual(e.pathParameters, { proxy: '42' });
  assert.equal(e.path, '/orders/42');
  assert.equal(e.httpMethod, 'GET');
  assert.equal(e.headers!['X-Api-Key'], 'k1');
  assert.deepEqual(e.multiValueHeaders!['Accept'], ['a']);
  assert.equal(e.headers!['X-Forwarded-Proto'], 'https');
  assert.deepEqual(e.queryStringParameters, { a: '2', b: 'x y' });
  assert.deepEqual(e.multiValueQueryStringParameters, { a: ['1', '2'], b: ['x y'] });
  assert.deepEqual(e.stageVariables, { env: 'dev' });
  assert.equal(e.requestContext.identity.clientCert!.subjectDN, 'CN=lambda client,O=mtlsgate');
  assert.equal(e.requestContext.identity.sourceIp, '127.0.0.1');
  assert.equal(e.requestContext.accountId, '111122223333');
  assert.equal(e.requestContext.stage, 'prod');
  assert.equal(e.requestContext.requestTime, '05/Mar/2026:07:08:09 +0000');
  assert.equal(e.requestContext.resourcePath, '/{proxy+}');
  const root = authorizerEventV1(facts({ path: '/orders', apiPath: '/', rawQuery: '' }));
  assert.equal(root.resource, '/');
  assert.equal(root.pathParameters, null);
  assert.equal(root.queryStringParameters, null);
  assert.equal(root.methodArn, 'arn:aws:execute-api:eu-west-1:111122223333:orders/prod/GET/');
});

test('HTTP API authorizer event (2.0) has the type and fields of APIGatewayRequestAuthorizerEventV2', () => {
  const e: APIGatewayRequestAuthorizerEventV2 = authorizerEventV2(facts(), ['k1']);
  assert.equal(e.version, '2.0');
  assert.equal(e.routeArn, 'arn:aws:execute-api:eu-west-1:111122223333:orders/prod/GET/42');
  assert.deepEqual(e.identitySource, ['k1']);
  assert.equal(e.routeKey, '$default');
  assert.equal(e.rawPath, '/orders/42');
  assert.equal(e.rawQueryString, 'a=1&a=2&b=x%20y');
  assert.deepEqual(e.cookies, ['c1=1', 'c2=2']);
  assert.equal(e.headers!['accept'], 'a,b');
  assert.equal(e.headers!['cookie'], undefined);
  assert.deepEqual(e.queryStringParameters, { a: '1,2', b: 'x y' });
  assert.equal(e.requestContext.authentication!.clientCert.issuerDN, 'CN=Lambda Test CA,O=mtlsgate');
  assert.equal(e.requestContext.http.method, 'GET');
  assert.equal(e.requestContext.http.sourceIp, '127.0.0.1');
  assert.equal(e.requestContext.timeEpoch, Date.parse('2026-03-05T07:08:09Z'));
});

test('a route whose client certificate is optional or not looked at, with none: clientCert null, no authentication', () => {
  const v1: APIGatewayRequestAuthorizerEvent = authorizerEventV1(facts({ cert: null }));
  assert.equal(v1.requestContext.identity.clientCert, null);
  const v2: APIGatewayRequestAuthorizerEventV2 = authorizerEventV2(facts({ cert: null }), ['k1']);
  assert.equal(v2.requestContext.authentication, undefined);
  const p2: APIGatewayProxyEventV2 = proxyEventV2(facts({ cert: null }), eventBody(null, undefined), {});
  assert.equal(p2.requestContext.authentication, undefined);
});

test('proxy events (1.0 and 2.0) have the types of APIGatewayProxyEvent and APIGatewayProxyEventV2', () => {
  const bin = Buffer.from([0, 1, 2, 255]);
  const e1: APIGatewayProxyEvent = proxyEventV1(facts(), eventBody(bin, 'application/octet-stream'), {
    principalId: 'me',
    k: 'v',
  });
  assert.equal(e1.isBase64Encoded, true);
  assert.deepEqual(Buffer.from(e1.body!, 'base64'), bin);
  assert.deepEqual(e1.requestContext.authorizer, { principalId: 'me', k: 'v' });
  assert.equal(e1.requestContext.identity.clientCert!.serialNumber, leaf.info.serial);
  const e2: APIGatewayProxyEventV2 = proxyEventV2(
    facts(),
    eventBody(Buffer.from('{"a":1}'), 'application/json'),
    undefined,
  );
  assert.equal(e2.isBase64Encoded, false);
  assert.equal(e2.body, '{"a":1}');
  assert.equal(e2.requestContext.authentication!.clientCert.subjectDN, 'CN=lambda client,O=mtlsgate');
  assert.equal(e2.requestContext.http.path, '/orders/42');
  const empty = proxyEventV2(facts(), eventBody(null, undefined), { lambda: 1 });
  assert.equal(empty.body, undefined);
  assert.equal(eventBody(Buffer.from([0xff, 0xfe]), 'text/plain').isBase64Encoded, true, 'not UTF-8: base64');
});

test("AWS's example REQUEST authorizer runs unchanged: Allow for the right parameters, Unauthorized otherwise", async () => {
  const fn = await importHandler(join(import.meta.dirname, 'lambda', 'aws-request-authorizer.mjs'), 'handler');
  const f = facts({
    rawHeaders: ['headerauth1', 'headerValue1'],
    rawQuery: 'QueryString1=queryValue1',
    stageVariables: { StageVar1: 'stageValue1' },
  });
  const event = authorizerEventV1(f);
  const log = console.log;
  console.log = () => undefined;
  try {
    const result = JSON.parse(await invokeHandler({ fn, event, timeoutMs: 2000, functionName: 'aws' })) as
      APIGatewayAuthorizerResult | undefined;
    assert.equal(result?.principalId, 'me');
    const d = parseResult(result, { version: '1.0', simple: false });
    assert.equal(judge(d, event.methodArn), 'allow');
    assert.deepEqual(d.context, { stringKey: 'stringval', numberKey: 123, booleanKey: true });
    const wrong = authorizerEventV1({ ...f, rawQuery: 'QueryString1=nope' });
    await assert.rejects(
      invokeHandler({ fn, event: wrong, timeoutMs: 2000, functionName: 'aws' }),
      (e: InvokeError) => e.handlerMessage === 'Unauthorized',
    );
  } finally {
    console.log = log;
  }
});

const policy = (statements: unknown[], context?: unknown) => ({
  principalId: 'p',
  policyDocument: { Version: '2012-10-17', Statement: statements },
  ...(context !== undefined && { context }),
});
const st = (Effect: string, Resource: unknown, Action: unknown = 'execute-api:Invoke') => ({
  Effect,
  Action,
  Resource,
});
const BASE = 'arn:aws:execute-api:eu-west-1:111122223333:orders/prod';

test('policy evaluation: explicit Deny wins, wildcards, resource matching against the ARN', () => {
  const cases: [string, unknown[], string, string][] = [
    ['exact allow', [st('Allow', `${BASE}/GET/42`)], `${BASE}/GET/42`, 'allow'],
    ['exact allow, other path', [st('Allow', `${BASE}/GET/42`)], `${BASE}/GET/43`, 'implicit-deny'],
    ['* across paths', [st('Allow', `${BASE}/*`)], `${BASE}/POST/a/b`, 'allow'],
    ['* in the verb', [st('Allow', `${BASE}/*/42`)], `${BASE}/PUT/42`, 'allow'],
    ['? is one character', [st('Allow', `${BASE}/GET/4?`)], `${BASE}/GET/42`, 'allow'],
    ['? is not two', [st('Allow', `${BASE}/GET/4?`)], `${BASE}/GET/421`, 'implicit-deny'],
    [
      'Deny wins over Allow',
      [st('Allow', '*'), st('Deny', `${BASE}/GET/secret`)],
      `${BASE}/GET/secret`,
      'explicit-deny',
    ],
    ['Deny wins, in either order', [st('Deny', `${BASE}/*`), st('Allow', '*')], `${BASE}/GET/x`, 'explicit-deny'],
    ['a Deny elsewhere', [st('Allow', '*'), st('Deny', `${BASE}/GET/secret`)], `${BASE}/GET/open`, 'allow'],
    ['other action', [st('Allow', '*', 's3:GetObject')], `${BASE}/GET/42`, 'implicit-deny'],
    ['action wildcard', [st('Allow', '*', 'execute-api:*')], `${BASE}/GET/42`, 'allow'],
    ['action case-insensitive', [st('Allow', '*', 'Execute-API:invoke')], `${BASE}/GET/42`, 'allow'],
    ['lists', [st('Allow', ['x', `${BASE}/GET/42`], ['s3:*', 'execute-api:Invoke'])], `${BASE}/GET/42`, 'allow'],
    ['regex characters are literal', [st('Allow', `${BASE}/GET/a.c`)], `${BASE}/GET/abc`, 'implicit-deny'],
    [
      'other api',
      [st('Allow', 'arn:aws:execute-api:eu-west-1:111122223333:other/*')],
      `${BASE}/GET/42`,
      'implicit-deny',
    ],
    ['no statements', [], `${BASE}/GET/42`, 'implicit-deny'],
  ];
  for (const [name, statements, arn, want] of cases)
    assert.equal(judge(parseResult(policy(statements), { version: '1.0', simple: false }), arn), want, name);
});

test('NotAction and NotResource apply a statement to what they do not name, as IAM does', () => {
  const notAction = (Effect: string, NotAction: unknown, Resource: unknown = '*') => ({ Effect, NotAction, Resource });
  const notResource = (Effect: string, NotResource: unknown, Action: unknown = 'execute-api:Invoke') => ({
    Effect,
    Action,
    NotResource,
  });
  const cases: [string, unknown[], string, string][] = [
    ['NotAction of another action: Invoke is allowed', [notAction('Allow', 's3:*')], `${BASE}/GET/42`, 'allow'],
    ['NotAction of Invoke: not allowed', [notAction('Allow', 'execute-api:Invoke')], `${BASE}/GET/42`, 'implicit-deny'],
    ['NotAction wildcard covers Invoke', [notAction('Allow', 'execute-api:*')], `${BASE}/GET/42`, 'implicit-deny'],
    ['NotAction is case-insensitive', [notAction('Allow', 'EXECUTE-API:INVOKE')], `${BASE}/GET/42`, 'implicit-deny'],
    ['NotAction list', [notAction('Allow', ['s3:GetObject', 'sqs:*'])], `${BASE}/GET/42`, 'allow'],
    [
      'Deny with NotAction of others denies Invoke',
      [st('Allow', '*'), notAction('Deny', 'execute-api:ManageConnections')],
      `${BASE}/GET/42`,
      'explicit-deny',
    ],
    [
      'NotResource: everything but the admin path',
      [notResource('Allow', `${BASE}/*/admin/*`)],
      `${BASE}/GET/orders/1`,
      'allow',
    ],
    [
      'NotResource: the named path is not allowed',
      [notResource('Allow', `${BASE}/*/admin/*`)],
      `${BASE}/GET/admin/users`,
      'implicit-deny',
    ],
    [
      'Deny NotResource: all but the public path denied',
      [st('Allow', '*'), notResource('Deny', [`${BASE}/GET/public`, `${BASE}/GET/health`])],
      `${BASE}/GET/private`,
      'explicit-deny',
    ],
    [
      'Deny NotResource: the public path stays allowed',
      [st('Allow', '*'), notResource('Deny', [`${BASE}/GET/public`, `${BASE}/GET/health`])],
      `${BASE}/GET/health`,
      'allow',
    ],
    [
      'NotAction and NotResource together',
      [{ Effect: 'Allow', NotAction: 's3:*', NotResource: `${BASE}/DELETE/*` }],
      `${BASE}/DELETE/x`,
      'implicit-deny',
    ],
  ];
  for (const [name, statements, arn, want] of cases)
    assert.equal(judge(parseResult(policy(statements), { version: '1.0', simple: false }), arn), want, name);
  const bad: [unknown, RegExp][] = [
    [{ Effect: 'Allow', Action: 'execute-api:Invoke', NotAction: 's3:*', Resource: '*' }, /both Action and NotAction/],
    [
      { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*', NotResource: 'x' },
      /both Resource and NotResource/,
    ],
    [{ Effect: 'Allow', NotAction: [], Resource: '*' }, /NotAction is missing/],
    [{ Effect: 'Allow', Action: 'execute-api:Invoke', NotResource: 5 }, /NotResource is missing/],
  ];
  for (const [statement, message] of bad)
    assert.throws(() => parseResult(policy([statement]), { version: '1.0', simple: false }), message);
});

test('a policy cached on one path is judged again for the next: {proxy+} needs a wildcard Resource', () => {
  // What API Gateway's docs warn of: the authorizer allowed the methodArn it was asked about, and the cached policy
  // then serves the requests to other paths under the same identity.
  const narrow = parseResult(policy([st('Allow', `${BASE}/GET/orders/1`)]), { version: '1.0', simple: false });
  assert.equal(judge(narrow, `${BASE}/GET/orders/1`), 'allow');
  assert.equal(judge(narrow, `${BASE}/GET/orders/2`), 'implicit-deny');
  const wide = parseResult(policy([st('Allow', `${BASE}/GET/orders/*`)]), { version: '1.0', simple: false });
  assert.equal(judge(wide, `${BASE}/GET/orders/2`), 'allow');
});

test('bad results are refused: no principalId, bad Effect, no Resource, object context in 1.0, simple without boolean', () => {
  const bad: [unknown, '1.0' | '2.0', boolean][] = [
    [null, '1.0', false],
    ['Allow', '1.0', false],
    [{ policyDocument: { Statement: [st('Allow', '*')] } }, '1.0', false],
    [policy([st('allow', '*')]), '1.0', false],
    [policy([{ Effect: 'Allow', Action: 'execute-api:Invoke' }]), '1.0', false],
    [policy([st('Allow', '*')], { nested: { a: 1 } }), '1.0', false],
    [{ principalId: 'p' }, '1.0', false],
    [{ isAuthorized: 'yes' }, '2.0', true],
  ];
  for (const [r, version, simple] of bad)
    assert.throws(() => parseResult(r, { version, simple }), BadResult, JSON.stringify(r));
  // 2.0 takes objects in context; a simple response decides alone.
  assert.equal(
    parseResult(policy([st('Allow', '*')], { nested: { a: 1 } }), { version: '2.0', simple: false }).kind,
    'policy',
  );
  assert.equal(judge(parseResult({ isAuthorized: false }, { version: '2.0', simple: true }), 'x'), 'implicit-deny');
  assert.equal(judge(parseResult({ isAuthorized: true }, { version: '2.0', simple: true }), 'x'), 'allow');
});

test('context headers: lowercase token names, no control characters in values, non-ASCII percent-encoded', () => {
  const h = contextHeaders({
    UserId: 'u1',
    'bad name\r\n': 'x',
    evil: 'a\r\nx-injected: 1',
    n: 5,
    b: true,
    o: { k: 'é' },
  });
  assert.deepEqual(h, [
    ['x-authorizer-userid', 'u1'],
    ['x-authorizer-bad-name--', 'x'],
    ['x-authorizer-evil', 'ax-injected: 1'],
    ['x-authorizer-n', '5'],
    ['x-authorizer-b', 'true'],
    ['x-authorizer-o', '{"k":"%C3%A9"}'],
  ]);
  for (const [name, value] of h) {
    assert.match(name, /^[a-z0-9!#$%&'*+.^_`|~-]+$/);
    assert.match(value, /^[\x20-\x7e]*$/);
  }
});

test('invokeHandler: async, callback and plain return values; throw, reject, hang, garbage and oversize fail', async () => {
  const run = async (fn: (...a: never[]) => unknown, timeoutMs = 300) =>
    JSON.parse(await invokeHandler({ fn: fn as never, event: { x: 1 }, timeoutMs, functionName: 't' })) as unknown;
  assert.deepEqual(await run(async (e: { x: number }) => ({ got: e.x })), { got: 1 });
  assert.deepEqual(await run((_e: unknown, _c: unknown, cb: (e: null, r: unknown) => void) => cb(null, 'ok')), 'ok');
  assert.deepEqual(
    await run((_e: unknown, c: { getRemainingTimeInMillis(): number }) => c.getRemainingTimeInMillis() > 0),
    true,
  );
  const fails = async (fn: (...a: never[]) => unknown, kind: InvokeError['kind'], msg?: string) =>
    assert.rejects(
      run(fn),
      (e: InvokeError) =>
        e instanceof InvokeError && e.kind === kind && (msg === undefined || e.handlerMessage === msg),
    );
  await fails(
    () => {
      throw new Error('boom');
    },
    'error',
    'boom',
  );
  await fails(async () => Promise.reject(new Error('Unauthorized')), 'error', 'Unauthorized');
  await fails(() => new Promise(() => undefined), 'timeout');
  await fails((_e: unknown, _c: unknown, _cb: unknown) => undefined, 'timeout');
  await fails(async () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    return a;
  }, 'not-json');
  await fails(async () => ({ n: 1n }), 'not-json');
  await fails(async () => 'x'.repeat(10 * 1024 * 1024), 'too-large');
  assert.ok(MAX_RESULT_BYTES < 10 * 1024 * 1024);
});

test('proxy results: 1.0 structured, 2.0 inferred, base64 decoded, bad ones refused', () => {
  const r1 = responseV1({
    statusCode: 201,
    headers: { 'X-A': 1 },
    multiValueHeaders: { 'x-b': ['1', '2'] },
    body: 'hi',
  });
  assert.ok(typeof r1 !== 'string');
  assert.equal(r1.status, 201);
  assert.deepEqual(r1.headers, ['x-a', '1', 'x-b', '1', 'x-b', '2', 'content-type', 'application/json']);
  assert.equal(r1.body.toString(), 'hi');
  const bin = responseV1({ statusCode: 200, body: Buffer.from([1, 2, 255]).toString('base64'), isBase64Encoded: true });
  assert.ok(typeof bin !== 'string');
  assert.deepEqual([...bin.body], [1, 2, 255]);
  const inferred = responseV2({ hello: 'world' });
  assert.ok(typeof inferred !== 'string');
  assert.equal(inferred.status, 200);
  assert.equal(inferred.body.toString(), '{"hello":"world"}');
  const cookies = responseV2({ statusCode: 200, cookies: ['a=1', 'b=2'], body: '' });
  assert.ok(typeof cookies !== 'string');
  assert.deepEqual(cookies.headers.slice(0, 4), ['set-cookie', 'a=1', 'set-cookie', 'b=2']);
  for (const bad of [
    null,
    'text',
    { statusCode: '200' },
    { statusCode: 99 },
    { statusCode: 200, body: 5 },
    { statusCode: 200, headers: { 'a b': 'x' } },
  ])
    assert.equal(typeof responseV1(bad), 'string', JSON.stringify(bad));
});

test('config: an unknown authorizer name, handler and url together, simple responses on 1.0 are errors naming the key', () => {
  const base = (extra: Record<string, unknown>, mapping: Record<string, unknown> = {}): string =>
    JSON.stringify({
      domains: [
        {
          domainName: 'a.test',
          certificate: { cert: 'c', key: 'k' },
          mutualTls: { truststoreUri: 'file://t' },
          basePathMappings: [
            { target: 'http://127.0.0.1:1' },
            { basePath: 'x', target: 'http://127.0.0.1:1', ...mapping },
          ],
        },
      ],
      ...extra,
    });
  assert.throws(
    () => parseConfig(base({ authorizers: [{ name: 'a', handler: './a.mjs' }] }, { authorizer: 'b' }), '/etc/g.json'),
    /g\.json: domains\[0\]\.basePathMappings\[1\]\.authorizer: unknown authorizer "b" \(authorizers: a\)/,
  );
  assert.throws(
    () => parseConfig(base({ authorizers: [{ name: 'a', handler: './a.mjs', url: 'http://x' }] }), '/etc/g.json'),
    /authorizers\[0\]\.handler: set exactly one of handler and url/,
  );
  assert.throws(
    () =>
      parseConfig(base({ authorizers: [{ name: 'a', url: 'http://x', enableSimpleResponses: true }] }), '/etc/g.json'),
    /authorizers\[0\]\.enableSimpleResponses: simple responses need payloadFormatVersion "2.0"/,
  );
  assert.throws(
    () => parseConfig(base({}, { payloadFormatVersion: '2.0' }), '/etc/g.json'),
    /basePathMappings\[1\]\.payloadFormatVersion: only for lambda: targets/,
  );
  assert.throws(
    () =>
      parseConfig(base({ authorizers: [{ name: 'a', url: 'http://x', identitySource: ['header.x'] }] }), '/etc/g.json'),
    /authorizers\[0\]\.identitySource\[0\]/,
  );
  const cfg = parseConfig(
    base(
      { authorizers: [{ name: 'a', handler: './auth.mjs#check' }] },
      { target: 'lambda:./app.mjs', authorizer: 'a' },
    ),
    '/etc/gw/g.json',
  );
  assert.equal(cfg.authorizers[0]!.handler, '/etc/gw/auth.mjs#check');
  assert.equal(cfg.domains[0]!.basePathMappings[1]!.target, 'lambda:/etc/gw/app.mjs#handler');
  assert.deepEqual(cfg.arn, { region: 'us-east-1', accountId: '123456789012', apiId: 'mtlsgate', stage: '$default' });
});
