/**
 * `serve --workers 2`: each worker keeps its own denial ring; the main thread's /denials merges them newest first (more
 * than one ring holds), /certs comes from one worker, and the dashboard is served by the main thread.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { issue } from '../../src/pki/generate.js';
import type { CertsPage, DenialView } from '../../src/gateway/admin-views.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import {
  serverIdentity,
  tmpDir,
  writeClient,
  writeTruststore,
  type ClientFiles,
  type ServerIdentity,
} from '../helpers/pki.js';

const DOMAIN = 'views-workers.e2e.test';
const RING = 3;
let gw: GatewayProcess;
let server: ServerIdentity;
let refused: ClientFiles;

before(async () => {
  const dir = tmpDir();
  server = await serverIdentity(dir, [DOMAIN]);
  const root = await issue({ subject: 'CN=Workers Views Root', profile: 'root-ca' });
  refused = writeClient(dir, 'lone', await issue({ subject: 'CN=workers lone client', profile: 'client' }));
  gw = await startGateway({
    config: {
      admin: { host: '127.0.0.1', port: 0, denialsBuffer: RING },
      domains: [
        domainConfig(DOMAIN, server, writeTruststore(dir, 'truststore', [root]), [
          { basePath: '', target: 'http://127.0.0.1:9' },
        ]),
      ],
    },
    dir,
    args: ['--workers', '2'],
  });
});

after(async () => {
  await gw?.stop();
});

type Denials = { limit: number; workers: number; denials: DenialView[] };
const denials = async (limit: number): Promise<Denials> => JSON.parse((await gw.admin(`/denials?limit=${limit}`)).body);

test('/denials merges both workers’ rings: newest first, more than one ring holds, limit respected', async () => {
  let seen: Denials | null = null;
  // New connections land on either worker (the kernel picks); refuse until both rings are full, within bounds.
  for (let i = 0; i < 200; i++) {
    const r = await nodeRequest({
      port: gw.port,
      servername: DOMAIN,
      ca: server.caPem,
      cert: refused.certPem,
      key: refused.keyPem,
      path: `/w${i}`,
      agent: false,
    });
    assert.equal(r.status, 403);
    if (i % 5 !== 4) continue;
    seen = await denials(2 * RING);
    if (seen.denials.length === 2 * RING && new Set(seen.denials.map((d) => d.worker)).size === 2) break;
  }
  assert.ok(seen, 'asked');
  const workers = seen.denials.map((d) => d.worker);
  assert.equal(seen.workers, 2);
  assert.equal(new Set(workers).size, 2, `both workers refused some of 200 fresh connections: ${workers.join(',')}`);
  assert.equal(seen.denials.length, 2 * RING, 'both rings merged: twice what one ring holds');
  assert.ok(!workers.includes(0), 'recorded by the worker threads, not the main thread');
  assert.ok(
    seen.denials.every((d) => d.pid === gw.pid),
    'one process: the threads are the gateway process',
  );
  for (const w of new Set(workers)) assert.equal(workers.filter((x) => x === w).length, RING);
  const times = seen.denials.map((d) => d.time);
  assert.deepEqual(times, [...times].sort().reverse(), 'newest first across workers');
  assert.ok(seen.denials.every((d) => d.explanation?.findingId === 'chain.self-signed-untrusted'));
  const four = await denials(4);
  assert.deepEqual(
    four.denials.map((d) => d.requestId),
    seen.denials.slice(0, 4).map((d) => d.requestId),
  );
  const bad = await gw.admin('/denials?limit=x');
  assert.deepEqual(
    [bad.status, JSON.parse(bad.body)],
    [400, { message: 'limit: expected an integer from 1 to 1000, got "x"' }],
  );
});

test('/certs from one worker, the dashboard from the main thread', async () => {
  const certs = JSON.parse((await gw.admin('/certs')).body) as CertsPage;
  assert.equal(certs.total, 3);
  assert.deepEqual(certs.certificates.map((c) => `${c.role} ${c.subject}`).sort(), [
    'server CN=e2e Server CA,O=mtlsgate e2e',
    `server CN=${DOMAIN}`,
    'truststore CN=Workers Views Root',
  ]);
  const ui = await gw.admin('/ui');
  assert.equal(ui.status, 200);
  assert.match(ui.body, /<script type="module" src="\/ui\/app.js"><\/script>/);
});
