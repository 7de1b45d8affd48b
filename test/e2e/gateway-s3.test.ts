/**
 * `s3://` truststores against a real S3 API: s3rver 3.7.1 on loopback, started here in its own temp directory,
 * objects written with @aws-sdk/client-s3, the gateway reading them through the SDK's standard configuration.
 *
 * s3rver does not implement versioning (GetObject ignores VersionId, PutBucketVersioning is misrouted), so a
 * pinned `truststoreVersion` is tested as "the version id is sent in every GetObject"; that the pinned content is
 * what gets served cannot be shown against s3rver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { runServe } from '../helpers/cli.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { request, type Target } from '../helpers/http.js';
import { makeWorld, s3Env, startS3, type S3Fake, type World } from '../helpers/lifecycle.js';

const DOMAIN = 's3.e2e.test';
const URI = 's3://trust/truststore.pem';
const FORBIDDEN_ISSUER = JSON.stringify({ message: 'Access denied. Reason: Could not find issuer for certificate' });

let w: World;
let s3: S3Fake;
let put: (key: string, body: string) => Promise<void>;
let echo: EchoBackend;
let gw: GatewayProcess | undefined;

before(async () => {
  [w, s3, echo] = await Promise.all([makeWorld(DOMAIN), startS3(['trust']), startEcho()]);
  // The SDK's Node-version notice would land in this test's output; the gateway's own stderr is checked below.
  const emit = process.emitWarning;
  process.emitWarning = () => undefined;
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  process.emitWarning = emit;
  put = async (key, body) =>
    void (await client.send(
      new PutObjectCommand({ Bucket: 'trust', Key: key, Body: body, ContentType: 'application/x-pem-file' }),
    ));
  await put('truststore.pem', w.ca.certPem);
});

after(async () => {
  await gw?.stop();
  await s3?.stop();
  await echo?.close();
});

const s3Domain = (mutualTls: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...domainConfig(DOMAIN, w.server, w.truststore, [{ basePath: '', target: echo.url }]),
  mutualTls: { truststoreUri: URI, exposeReason: true, ...mutualTls },
});
const target = (g: GatewayProcess, who: 'client' | 'other'): Target => ({
  port: g.port,
  servername: DOMAIN,
  ca: w.server.caPem,
  cert: who === 'client' ? w.client.certPem : w.otherClient.certPem,
  key: who === 'client' ? w.client.keyPem : w.otherClient.keyPem,
});
const getObjects = (from: number): URL[] =>
  s3.requests
    .slice(from)
    .filter((r) => r.startsWith('GET /trust/truststore.pem'))
    .map((r) => new URL(r.slice(4), 'http://s3'));

test('an s3:// truststore admits and denies as a file does; no SDK warning on stderr', async () => {
  const from = s3.requests.length;
  gw = await startGateway({ config: { domains: [s3Domain()] }, env: s3Env(s3.endpoint) });
  const ok = await request(target(gw, 'client'), false);
  assert.deepEqual([ok.status, JSON.parse(ok.body).path], [200, '/']);
  const denied = await request(target(gw, 'other'), false);
  assert.deepEqual([denied.status, denied.body], [403, FORBIDDEN_ISSUER]);

  const gets = getObjects(from);
  assert.equal(gets.length, 1, `one GetObject, path style: ${s3.requests.slice(from).join(', ')}`);
  assert.equal(gets[0]!.searchParams.get('versionId'), null, 'no version pinned, none asked for');
  const loaded = await gw.waitForLog((l) => l.msg === 'truststore loaded');
  assert.deepEqual([loaded.truststore, loaded.certificates, loaded.version], [URI, 1, null]);
  const domains = JSON.parse((await gw.admin('/domains')).body) as { truststoreUri: string }[];
  assert.equal(domains[0]!.truststoreUri, URI);
  assert.equal(gw.stderr, '', 'the AWS SDK NodeVersionSupportWarning must not reach the user');
});

test('overwriting the object and reloading (no version pinned) picks up the new content', async () => {
  assert.ok(gw);
  await put('truststore.pem', w.otherCa.certPem);
  const from = s3.requests.length;
  const r = await gw.admin('/reload', 'POST');
  assert.equal(r.status, 200, r.body);
  assert.equal(getObjects(from).length, 1, 'the reload fetched the object again');
  assert.deepEqual([(await request(target(gw, 'client'), false)).body], [FORBIDDEN_ISSUER]);
  assert.equal((await request(target(gw, 'other'), false)).status, 200);

  await put('truststore.pem', w.ca.certPem);
  assert.equal((await gw.admin('/reload', 'POST')).status, 200);
  assert.equal((await request(target(gw, 'client'), false)).status, 200);
  assert.equal((await request(target(gw, 'other'), false)).status, 403);
});

test('a missing object or bucket fails start-up: exit 2, one stderr line naming the URI', async () => {
  const dir = w.dir;
  const cases: [string, string, RegExp][] = [
    [
      'object',
      's3://trust/missing.pem',
      /: domains\[0\]\.mutualTls\.truststoreUri: s3:\/\/trust\/missing\.pem: no such object$/,
    ],
    [
      'bucket',
      's3://no-such-bucket/truststore.pem',
      /: domains\[0\]\.mutualTls\.truststoreUri: s3:\/\/no-such-bucket\/truststore\.pem: bucket no-such-bucket does not exist$/,
    ],
  ];
  await Promise.all(
    cases.map(async ([what, uri, pattern]) => {
      const file = join(dir, `missing-${what}.json`);
      writeFileSync(
        file,
        JSON.stringify({ listen: { port: 0 }, domains: [{ ...s3Domain(), mutualTls: { truststoreUri: uri } }] }),
      );
      const r = await runServe(['--config', file], { env: s3Env(s3.endpoint) });
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /^mtlsgate: [^\n]+\n$/, `${what}: exactly one line: ${JSON.stringify(r.stderr)}`);
      assert.ok(r.stderr.startsWith(`mtlsgate: ${file}: `), r.stderr);
      assert.match(r.stderr.trimEnd(), pattern);
      assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+/, 'no stack trace');
    }),
  );
});

test('a pinned truststoreVersion is sent with every GetObject (s3rver ignores it: the pinning itself is not provable here)', async () => {
  const version = '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY';
  const from = s3.requests.length;
  // The endpoint from the config's s3 block this time, not from AWS_ENDPOINT_URL_S3.
  const { AWS_ENDPOINT_URL_S3: _unused, ...env } = s3Env(s3.endpoint);
  const pinned = await startGateway({
    config: { s3: { endpoint: s3.endpoint }, domains: [s3Domain({ truststoreVersion: version })] },
    env: { ...env, AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: '' },
  });
  try {
    assert.equal((await request(target(pinned, 'client'), false)).status, 200);
    const ready = JSON.parse((await pinned.admin('/readyz')).body) as {
      domains: Record<string, { truststoreVersion: string | null }>;
    };
    assert.equal(ready.domains[DOMAIN]!.truststoreVersion, version, 'the pinned version is reported');
    assert.equal((await pinned.admin('/reload', 'POST')).status, 200);
    const gets = getObjects(from);
    assert.equal(gets.length, 2, `start-up and reload: ${s3.requests.slice(from).join(', ')}`);
    for (const g of gets) assert.equal(g.searchParams.get('versionId'), version, `GetObject ${g.pathname}${g.search}`);
    assert.equal(pinned.stderr, '');
    // The SDK's keep-alive sockets to S3 must not hold the process open after SIGTERM.
    const t0 = Date.now();
    await pinned.stop(5000);
    assert.deepEqual([pinned.exitCode, pinned.exitSignal], [0, null], `exit after SIGTERM (${Date.now() - t0} ms)`);
    assert.ok(Date.now() - t0 < 3000, `exited ${Date.now() - t0} ms after SIGTERM`);
  } finally {
    await pinned.stop();
  }
});

test('S3 unreachable on reload: the old truststore keeps serving and the error is reported', async () => {
  assert.ok(gw);
  await s3.stop();
  const mark = gw.mark();
  const r = await gw.admin('/reload', 'POST');
  assert.equal(r.status, 500, r.body);
  const body = JSON.parse(r.body) as { ok: boolean; errors: { domain: string; message: string }[] };
  assert.deepEqual(body.errors, [
    {
      domain: DOMAIN,
      message: `domains[0].mutualTls.truststoreUri: ${URI}: connection refused (is the S3 endpoint right?)`,
    },
  ]);
  const line = await gw.waitForLog((l) => l.msg === 'reload: domain kept its previous state', { from: mark });
  assert.equal(line.level, 'error');
  assert.equal((await request(target(gw, 'client'), false)).status, 200, 'the old truststore keeps serving');
  assert.equal((await request(target(gw, 'other'), false)).status, 403);
  const ready = await gw.admin('/readyz');
  assert.equal(ready.status, 200);
  assert.equal((JSON.parse(ready.body) as { degraded: boolean }).degraded, true);
  assert.equal(gw.stderr, '');
});
