/**
 * Bounded cardinality (issue 17): 1,000 distinct client certificates — accepted, expired and of an unknown CA,
 * each its own key, subject and serial — connect to a real `mtlsgate serve`. After the first few of each kind have
 * shown every series they can make, the other 970 add none: no client's serial or subject is a label.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { parseMetrics, seriesKeys, value } from '../helpers/metrics.js';
import { serverIdentity, tmpDir, writeTruststore, type ServerIdentity } from '../helpers/pki.js';

const DOMAIN = 'cardinality.e2e.test';
const CLIENTS = 1_000;
const FIRST = 30;
const DAY = 86_400_000;
/** Connections at once: enough to be quick, few enough for a loaded 2-core machine. */
const PARALLEL = 8;

type Kind = 'good' | 'expired' | 'stranger';
const KINDS: Kind[] = ['good', 'good', 'good', 'good', 'expired', 'stranger'];

let gw: GatewayProcess;
let echo: EchoBackend;
let server: ServerIdentity;
let clients: { kind: Kind; cert: Issued }[];

before(async () => {
  const dir = tmpDir();
  server = await serverIdentity(dir, [DOMAIN]);
  const root = await issue({ subject: 'CN=Cardinality Root', profile: 'root-ca' });
  const stranger = await issue({ subject: 'CN=Cardinality Stranger', profile: 'root-ca' });
  const now = Date.now();
  // Each client its own EC key, subject and (random) serial.
  clients = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const kind = KINDS[i % KINDS.length]!;
      const cert = await issue({
        subject: `CN=client-${i},O=cardinality`,
        profile: 'client',
        issuer: kind === 'stranger' ? stranger : root,
        ...(kind === 'expired' && { notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) }),
      });
      return { kind, cert };
    }),
  );
  echo = await startEcho();
  gw = await startGateway({
    config: {
      domains: [
        domainConfig(DOMAIN, server, writeTruststore(dir, 'truststore', [root]), [
          { basePath: 'api', target: echo.url },
        ]),
      ],
    },
    dir,
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

async function connect(list: { kind: Kind; cert: Issued }[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const { kind, cert } = list[next++]!;
      const r = await nodeRequest({
        port: gw.port,
        servername: DOMAIN,
        ca: server.caPem,
        cert: cert.certPem,
        key: cert.keyPem,
        path: `/api/${cert.x509.serialNumber}`,
        timeoutMs: 30_000,
      });
      assert.equal(r.status, kind === 'good' ? 200 : 403, `${kind}: ${r.text}`);
      assert.equal(r.sessionReused, false, 'a full handshake for every client');
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

test('1,000 distinct client certificates add no series after the first few', async () => {
  await connect(clients.slice(0, FIRST));
  const first = parseMetrics((await gw.admin('/metrics')).body);
  await connect(clients.slice(FIRST));
  const text = (await gw.admin('/metrics')).body;
  const all = parseMetrics(text);

  assert.deepEqual(seriesKeys(all), seriesKeys(first), 'the same series after 1,000 clients as after 30');
  const count = (kind: Kind) => clients.filter((c) => c.kind === kind).length;
  assert.equal(value(all, 'mtlsgate_requests_total', { domain: DOMAIN, status: '200' }), count('good'));
  assert.equal(value(all, 'mtlsgate_requests_total', { domain: DOMAIN, status: '403' }), CLIENTS - count('good'));
  const reason = (r: string) => value(all, 'mtlsgate_client_cert_verify_failures_total', { domain: DOMAIN, reason: r });
  assert.equal(reason('expired'), count('expired'));
  assert.equal(reason('unknown_issuer'), count('stranger'));
  const handshakes = value(all, 'mtlsgate_tls_handshakes_total', { domain: DOMAIN, result: 'ok', resumed: 'false' });
  assert.equal(handshakes, CLIENTS);
  const api = { domain: DOMAIN, route: '/api' };
  assert.equal(value(all, 'mtlsgate_request_duration_seconds_count', api), CLIENTS);

  // Nothing of any client is in the text: subjects, serials (as hex either way), the paths they asked for.
  for (const { cert } of clients.filter((_, i) => i % 97 === 0)) {
    const serial = cert.x509.serialNumber.toLowerCase();
    const colons = serial.match(/../g)!.join(':');
    for (const needle of [cert.subject, 'client-', serial, colons])
      assert.ok(!text.toLowerCase().includes(needle.toLowerCase()), `${needle} in /metrics`);
  }
});
