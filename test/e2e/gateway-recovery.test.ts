/**
 * A truststore source that fails recovers by itself: the gateway keeps serving the last good truststore, retries
 * the failed load with backoff, and swaps the new one in once the source is back, with no reload signal.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { issue } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { serverIdentity, tmpDir, writeClient, writeTruststore } from '../helpers/pki.js';

const DOMAIN = 'recover.e2e.test';
let gw: GatewayProcess | undefined;
let echo: EchoBackend | undefined;
after(async () => {
  await gw?.stop();
  await echo?.close();
});

test('a failed truststore load is retried until the source is back; nothing signals a reload', async () => {
  const dir = tmpDir();
  const server = await serverIdentity(dir, [DOMAIN]);
  const root = await issue({ subject: 'CN=Recover Root', profile: 'root-ca' });
  const newRoot = await issue({ subject: 'CN=Recover New Root', profile: 'root-ca' });
  const oldClient = writeClient(dir, 'old', await issue({ subject: 'CN=old client', profile: 'client', issuer: root }));
  const newClient = writeClient(
    dir,
    'new',
    await issue({ subject: 'CN=new client', profile: 'client', issuer: newRoot }),
  );
  const truststore = writeTruststore(dir, 'truststore', [root]);
  echo = await startEcho();
  gw = await startGateway({
    config: { domains: [domainConfig(DOMAIN, server, truststore, [{ basePath: '', target: echo.url }])] },
    dir,
  });
  const g = gw;
  const get = (c: typeof oldClient) =>
    nodeRequest({
      port: g.port,
      servername: DOMAIN,
      ca: server.caPem,
      cert: c.certPem,
      key: c.keyPem,
      path: '/r',
      agent: false,
    });

  // The source breaks (a half-written file), and a reload notices.
  writeFileSync(truststore, '-----BEGIN CERTIFICATE-----\nMIIB');
  const r = await g.admin('/reload', 'POST');
  assert.equal(r.status, 500, r.body);
  assert.equal((await get(oldClient)).status, 200, 'the last good truststore keeps serving');
  await g.waitForLog((l) => l.msg === 'will retry the failed truststore load');

  // The source comes back with new content; only the automatic retry can pick it up.
  const mark = g.mark();
  writeFileSync(truststore, newRoot.certPem);
  await g.waitForLog((l) => l.msg === 'truststore loaded' && l.domain === DOMAIN, { from: mark, timeoutMs: 10_000 });
  const ready = JSON.parse((await g.admin('/readyz')).body) as { degraded: boolean };
  assert.equal(ready.degraded, false, 'recovered');
  assert.equal((await get(newClient)).status, 200, 'the new truststore serves');
  assert.equal((await get(oldClient)).status, 403, 'and the old CA is gone');
  assert.ok(!g.logsSince(mark).some((l) => l.msg === 'draining and stopping'));
});
