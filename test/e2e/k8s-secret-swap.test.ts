/**
 * Kubernetes Secret and ConfigMap updates reach a running `mtlsgate serve` with `watch.enabled`: the volumes are laid
 * out and updated exactly as the kubelet's atomic writer does it (helpers/kubelet.ts), under traffic. A swap of the
 * server certificate, key and truststore fails no request and takes effect (a client of the new CA is admitted, one
 * of the CA taken out is refused, new connections see the new server certificate); a swap to a broken truststore
 * keeps the one in use and says so in one line; a CRL swap rebuilds only the CRLs; with --workers 2 every worker
 * takes the change.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { opensslCrl } from '../helpers/crl.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { startGateway, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { request, type Target } from '../helpers/http.js';
import { kubeletWrite } from '../helpers/kubelet.js';
import { makeWorld, startLoad, type World } from '../helpers/lifecycle.js';
import { tmpDir } from '../helpers/pki.js';
import { tlsConnect } from '../helpers/tls.js';

let w: World;
let echo: EchoBackend;
let oldCa: Issued;
let newCa: Issued;
let oldClient: Issued;
let newClient: Issued;
/** A second server certificate of the same server CA: the rotated one. */
let rotated: Issued;

before(async () => {
  [w, echo, oldCa, newCa] = await Promise.all([
    makeWorld('swap.e2e.test'),
    startEcho(),
    issue({ subject: 'CN=swap Old CA,O=mtlsgate e2e', profile: 'root-ca' }),
    issue({ subject: 'CN=swap New CA,O=mtlsgate e2e', profile: 'root-ca' }),
  ]);
  [oldClient, newClient, rotated] = await Promise.all([
    issue({ subject: 'CN=old client,O=mtlsgate e2e', profile: 'client', issuer: oldCa }),
    issue({ subject: 'CN=new client,O=mtlsgate e2e', profile: 'client', issuer: newCa }),
    issue({ subject: `CN=${w.domain}`, profile: 'server', issuer: w.server.ca, sans: [`DNS:${w.domain}`] }),
  ]);
});

after(async () => {
  await echo?.close();
});

/** A Secret volume with the server certificate (+ its CA), its key, and a truststore of these CAs. */
function secret(server: { certPem: string; keyPem: string }, cas: Issued[] | string): Record<string, string> {
  return {
    'tls.crt': server.certPem + w.server.ca.certPem,
    'tls.key': server.keyPem,
    'ca.crt': typeof cas === 'string' ? cas : cas.map((c) => c.certPem).join(''),
  };
}

const firstServer = (): { certPem: string; keyPem: string } => ({
  certPem: readFileSync(w.server.certFile, 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/)[0]!,
  keyPem: readFileSync(w.server.keyFile, 'utf8'),
});

async function gatewayOn(
  volume: string,
  o: { args?: string[]; revocation?: Record<string, unknown> } = {},
): Promise<GatewayProcess> {
  return startGateway({
    config: {
      watch: { enabled: true, debounceMs: 200 },
      domains: [
        {
          domainName: w.domain,
          certificate: { cert: join(volume, 'tls.crt'), key: join(volume, 'tls.key') },
          mutualTls: {
            truststoreUri: `file://${join(volume, 'ca.crt')}`,
            exposeReason: true,
            ...(o.revocation ? { revocation: o.revocation } : {}),
          },
          basePathMappings: [{ target: echo.url }],
        },
      ],
    },
    ...(o.args ? { args: o.args } : {}),
  });
}

const target = (gw: GatewayProcess, client: Issued): Target => ({
  port: gw.port,
  servername: w.domain,
  ca: w.server.caPem,
  cert: client.certPem,
  key: client.keyPem,
});

/** The serial number of the server certificate a new connection is given. */
async function serverSerial(gw: GatewayProcess): Promise<string> {
  const s = await tlsConnect({ ...target(gw, w.client), servername: w.domain });
  const serial = s.getPeerCertificate().serialNumber;
  s.destroy();
  return serial.toUpperCase();
}

const updated = (l: LogLine): boolean => l.msg === 'reload: domain updated';

test('a Secret swap under traffic: no request fails, the new CA and server certificate serve, the old CA is out', async () => {
  const volume = join(tmpDir(), 'secret');
  kubeletWrite(volume, secret(firstServer(), [w.ca, oldCa]));
  const gw = await gatewayOn(volume);
  try {
    assert.equal((await request(target(gw, oldClient), false)).status, 200, 'the old CA is trusted at first');
    assert.equal((await request(target(gw, newClient), false)).status, 403, 'the new CA is not, yet');
    const firstSerial = await serverSerial(gw);

    // A client of the CA both truststores hold, on keep-alive and new connections, through the swap.
    const mark = gw.mark();
    const load = startLoad(target(gw, w.client), { ratePerSec: 60, durationMs: 4000, freshEvery: 2 });
    await gw.waitForLog((l) => l.msg === 'request', { from: mark });
    kubeletWrite(volume, secret(rotated, [w.ca, newCa]));
    const line = await gw.waitForLog(updated, { from: mark, timeoutMs: 10_000 });
    const r = await load.done;

    assert.deepEqual(r.failures.slice(0, 5), [], `tally ${JSON.stringify(r.tally)}`);
    assert.ok(r.outcomes.length >= 60, `requests completed: ${r.outcomes.length}`);
    const swappedAt = Date.parse(line.time);
    assert.ok(
      r.outcomes.some((o) => o.at > swappedAt + 200),
      'requests ran after the swap (the load outlived it)',
    );
    assert.deepEqual(line.changed, ['certificate', 'truststore']);
    const changed = gw.logsSince(mark).find((l) => l.msg === 'watched files changed: reloading what reads them');
    assert.deepEqual(
      changed?.files,
      ['ca.crt', 'tls.crt', 'tls.key'].map((n) => join(volume, n)),
    );

    assert.equal((await request(target(gw, newClient), false)).status, 200, 'a client of the new CA is admitted');
    const refused = await request(target(gw, oldClient), false);
    assert.equal(refused.status, 403, 'a client of the CA taken out is refused');
    assert.match(refused.body, /Could not find issuer/);
    const serial = await serverSerial(gw);
    assert.notEqual(serial, firstSerial);
    assert.equal(serial, rotated.x509.serialNumber.toUpperCase(), 'new connections get the rotated certificate');

    // A swap to a truststore that cannot be used: the one in use stays, and the reload says why in one line.
    const broken = gw.mark();
    const truncated = newCa.certPem.slice(0, newCa.certPem.length / 2);
    kubeletWrite(volume, secret(rotated, w.ca.certPem + truncated));
    const kept = await gw.waitForLog((l) => l.msg === 'reload: domain kept its previous state', { from: broken });
    await gw.waitForLog((l) => l.msg === 'will retry the failed truststore load', { from: broken });
    const errors = gw.logsSince(broken).filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(String(kept.error), /ca\.crt: truncated: the bundle ends inside a PEM block/);
    assert.equal((await request(target(gw, newClient), false)).status, 200, 'the previous truststore still serves');
    assert.equal((await request(target(gw, w.client), false)).status, 200);

    // Fixed: only the truststore is built again (the certificate and key did not change).
    const fixed = gw.mark();
    kubeletWrite(volume, secret(rotated, [w.ca, newCa, oldCa]));
    const again = await gw.waitForLog(updated, { from: fixed, timeoutMs: 10_000 });
    assert.deepEqual(again.changed, ['truststore']);
    assert.equal((await request(target(gw, oldClient), false)).status, 200);
    assert.equal(gw.stderr, '');
  } finally {
    await gw.stop();
  }
});

test('a CRL swap in a ConfigMap rebuilds the CRLs only: the truststore is not loaded again', async () => {
  const volume = join(tmpDir(), 'secret');
  const configMap = join(tmpDir(), 'crl');
  kubeletWrite(volume, secret(firstServer(), [w.ca]));
  kubeletWrite(configMap, { 'ca.crl': readFileSync(opensslCrl({ ca: w.ca }), 'utf8') });
  const gw = await gatewayOn(volume, {
    revocation: { mode: 'crl', crl: { sources: [`file://${join(configMap, 'ca.crl')}`] } },
  });
  try {
    assert.equal((await request(target(gw, w.client), false)).status, 200);
    const mark = gw.mark();
    kubeletWrite(configMap, {
      'ca.crl': readFileSync(opensslCrl({ ca: w.ca, revoked: [{ cert: w.client }] }), 'utf8'),
    });
    const line = await gw.waitForLog(updated, { from: mark, timeoutMs: 10_000 });
    assert.deepEqual(line.changed, ['crl']);
    assert.equal(
      gw.logsSince(mark).filter((l) => l.msg === 'truststore loaded').length,
      0,
      'the unchanged truststore was not loaded again',
    );
    const r = await request(target(gw, w.client), false);
    assert.equal(r.status, 403);
    assert.match(r.body, /certificate revoked/);
  } finally {
    await gw.stop();
  }
});

test('--workers 2: the primary watches, and every worker takes the swap', async () => {
  const volume = join(tmpDir(), 'secret');
  kubeletWrite(volume, secret(firstServer(), [w.ca]));
  const gw = await gatewayOn(volume, { args: ['--workers', '2'] });
  try {
    assert.equal((await request(target(gw, newClient), false)).status, 403);
    const mark = gw.mark();
    kubeletWrite(volume, secret(firstServer(), [w.ca, newCa]));
    const workers = new Set<unknown>();
    await gw.waitForLog((l) => updated(l) && workers.add(l.worker).size === 2, { from: mark, timeoutMs: 10_000 });
    // Each new connection lands on either worker: all of them admit the new CA now.
    for (let i = 0; i < 10; i++) assert.equal((await request(target(gw, newClient), false)).status, 200);
    const watching = gw.logs.filter((l) => l.msg === 'watching files');
    assert.equal(watching.length, 1, 'one watcher, in the primary');
    assert.equal(watching[0]!.worker, undefined);
  } finally {
    await gw.stop();
  }
});
