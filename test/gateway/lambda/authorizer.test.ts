/**
 * The authorizer stage in-process (the pipeline of pipeline.test.ts, a handler in its worker): requests that miss
 * the cache together with the same identity make one handler call (counted in a file the handler appends to), other
 * identities their own; a shared failure fails them all and is not cached; a cache hit does not touch the handler's
 * workers (they are stopped, and the cached decision still answers).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { testPki, tmpDir } from '../../helpers/pki.js';
import { RecordingSink } from '../../helpers/sink.js';
import { configSchema } from '../../../src/gateway/config.js';
import { connectionContext, requestContext, type Runtime } from '../../../src/gateway/context.js';
import { startEcho, type EchoBackend } from '../../../src/gateway/echo.js';
import { makeLogger } from '../../../src/gateway/log.js';
import { runPipeline } from '../../../src/gateway/pipeline.js';
import { closePools } from '../../../src/gateway/proxy.js';
import { closeHost, closePool } from '../../../src/gateway/lambda/pool.js';
import { testRuntime } from '../../helpers/runtime.js';

const DOMAIN = 'authz.test';
let echo: EchoBackend;
let rt: Runtime;
let dir: string;

/** Appends the key of every call to calls.log; `fail` throws. */
const AUTH = `
import { appendFileSync } from 'node:fs';
const log = new URL('./calls.log', import.meta.url);
export const handler = async (event) => {
  const key = event.headers['x-key'];
  appendFileSync(log, key + '\\n');
  if (key === 'fail') throw new Error('boom');
  return {
    principalId: 'p-' + key,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] },
  };
};
`;

before(async () => {
  const pki = await testPki();
  echo = await startEcho();
  dir = tmpDir();
  writeFileSync(join(dir, 'auth.mjs'), AUTH);
  writeFileSync(join(dir, 'calls.log'), '');
  const cfg = configSchema.parse({
    listen: { host: '127.0.0.1', port: 0 },
    domains: [
      {
        domainName: DOMAIN,
        certificate: { cert: pki.serverCert, key: pki.serverKey },
        mutualTls: { truststoreUri: `file://${pki.truststore}` },
        basePathMappings: [{ basePath: 'api', target: echo.url, authorizer: 'auth', clientCertificate: 'none' }],
      },
    ],
    authorizers: [
      { name: 'auth', handler: `${join(dir, 'auth.mjs')}#handler`, identitySource: ['$request.header.x-key'] },
    ],
  });
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const log = makeLogger('json', 'info', quiet);
  rt = await testRuntime({ cfg, log, denials: 0 });
});

after(async () => {
  if (rt) await Promise.all([closeHost(rt.handlers), closePools(rt.pools)]);
  await echo?.close();
});

let n = 0;

/** One request through the pipeline; the stages up to the authorizer run before this returns. */
async function send(key: string): Promise<RecordingSink> {
  const conn = connectionContext({
    servername: DOMAIN,
    protocol: 'TLSv1.3',
    remoteAddress: '192.0.2.7',
    presented: { resumed: false, openssl: null, peer: null },
  });
  const list: [string, string][] = [
    ['Host', DOMAIN],
    ['x-key', key],
  ];
  const sink = new RecordingSink();
  const ctx = requestContext({
    conn,
    requestId: `authz-${++n}`,
    method: 'GET',
    url: '/api/x',
    headers: Object.fromEntries(list.map(([k, v]) => [k.toLowerCase(), v])),
    rawHeaders: list.flat(),
    body: Readable.from([]),
    sink,
  });
  await runPipeline(rt, ctx);
  return sink;
}

const calls = (): string[] => readFileSync(join(dir, 'calls.log'), 'utf8').split('\n').filter(Boolean);

test('simultaneous cache misses with one identity make one handler call; other identities one each', async () => {
  const same = await Promise.all(Array.from({ length: 10 }, () => send('alice')));
  assert.deepEqual(
    same.map((s) => s.status),
    Array(10).fill(200),
  );
  assert.deepEqual(calls(), ['alice']);
  const mixed = await Promise.all(['bob', 'carol', 'bob', 'dave', 'carol'].map((k) => send(k)));
  assert.deepEqual(
    mixed.map((s) => s.status),
    Array(5).fill(200),
  );
  assert.deepEqual(calls().slice(1).sort(), ['bob', 'carol', 'dave']);
  assert.equal(rt.state.lambda.authorizers.get('auth')!.cache.pending.size, 0, 'nothing left in progress');
});

test('a shared failure answers every waiting request 500 and is not cached', async () => {
  const before = calls().length;
  const failed = await Promise.all(Array.from({ length: 5 }, () => send('fail')));
  assert.deepEqual(
    failed.map((s) => s.status),
    Array(5).fill(500),
  );
  assert.equal(failed[0]!.headers['x-amzn-errortype'], 'AuthorizerConfigurationException');
  assert.equal(calls().length, before + 1);
  assert.equal((await send('fail')).status, 500);
  assert.equal(calls().length, before + 2, 'the failure was not cached');
});

test("a cache hit does not touch the handler's workers", async () => {
  assert.equal((await send('erin')).status, 200);
  const before = calls().length;
  await closePool(rt.state.lambda.authorizers.get('auth')!.handler!, 'test');
  assert.equal((await send('erin')).status, 200, 'answered from the cache');
  assert.equal(calls().length, before);
  assert.equal((await send('frank')).status, 500, 'a miss needs the stopped handler');
});
