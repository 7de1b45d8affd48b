/**
 * Admin security (issue 17, point 4): the admin listener stays on loopback unless a token guards it; with a token,
 * every endpoint but the health probes wants `Authorization: Bearer TOKEN`; lists in answers are bounded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/gateway/config.js';
import { MAX_LIST } from '../../src/gateway/admin.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { writeTruststore } from '../helpers/pki.js';
import { issue } from '../../src/pki/generate.js';

const TOKEN = 'a-long-admin-token-0123456789';
let w: World;
let gw: GatewayProcess;

before(async () => {
  w = await makeWorld('admin.e2e.test');
  gw = await startGateway({
    config: {
      admin: { host: '127.0.0.1', port: 0, token: TOKEN },
      domains: [
        domainConfig('admin.e2e.test', w.server, w.truststore, [{ basePath: '', target: 'http://127.0.0.1:9' }]),
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
});

const call = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`http://127.0.0.1:${gw.adminPort}${path}`, init);

test('with admin.token: metrics, domains and reload want the bearer token; health probes do not', async () => {
  for (const path of ['/metrics', '/domains']) {
    const bare = await call(path);
    assert.equal(bare.status, 401, path);
    assert.match(bare.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await call(path, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
    assert.equal(wrong.status, 401, `${path}: a wrong token`);
    const ok = await call(path, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200, path);
  }
  assert.equal((await call('/reload', { method: 'POST' })).status, 401);
  assert.equal((await call('/reload', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  for (const path of ['/healthz', '/readyz']) assert.equal((await call(path)).status, 200, path);
  assert.ok(!gw.logs.some((l) => JSON.stringify(l).includes(TOKEN)), 'the token is never logged');
});

test('off loopback the admin listener needs a token: a config error naming admin.token', () => {
  const base = {
    domains: [domainConfig('admin.e2e.test', w.server, w.truststore, [{ basePath: '', target: 'http://127.0.0.1:9' }])],
  };
  for (const host of ['0.0.0.0', '10.1.2.3', '::']) {
    assert.throws(
      () => parseConfig(JSON.stringify({ ...base, admin: { host, port: 9901 } }), 'c.json'),
      /c\.json: admin\.token: required when admin\.host is not a loopback address/,
      host,
    );
  }
  for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost'])
    assert.doesNotThrow(() => parseConfig(JSON.stringify({ ...base, admin: { host, port: 9901 } }), 'c.json'), host);
  assert.doesNotThrow(() =>
    parseConfig(JSON.stringify({ ...base, admin: { host: '0.0.0.0', port: 1, token: TOKEN } }), 'c.json'),
  );
  assert.throws(
    () => parseConfig(JSON.stringify({ ...base, admin: { host: '0.0.0.0', port: 1, token: 'short' } }), 'c.json'),
    /admin\.token: at least 16 characters/,
  );
});

test('lists in admin answers are bounded: 150 truststore warnings give MAX_LIST and a count of the rest', async () => {
  const leaves = await Promise.all(
    Array.from({ length: 150 }, (_, i) => issue({ subject: `CN=leaf ${i}`, profile: 'client', issuer: w.ca })),
  );
  const ts = writeTruststore(w.dir, 'noisy', [w.ca, ...leaves]);
  const g = await startGateway({
    config: {
      domains: [domainConfig('admin.e2e.test', w.server, ts, [{ basePath: '', target: 'http://127.0.0.1:9' }])],
    },
  });
  try {
    const domains = JSON.parse((await g.admin('/domains')).body) as Array<{ warnings: string[] }>;
    const warnings = domains[0]!.warnings;
    assert.equal(warnings.length, MAX_LIST + 1);
    assert.match(warnings[MAX_LIST]!, /^\.\.\. and \d+ more$/);
  } finally {
    await g.stop();
  }
});
