/**
 * End to end with real curl against a real `mtlsgate serve`: a domain with `clientCertificate: optional` (its
 * handshake completes without a certificate) whose mappings are required, optional and none; spoofed certificate
 * headers stripped in every mode; allow-list hits and misses for each SAN type; a 10,000-entry allow-list that
 * loads and matches; and logs.accessLogFormat lines on stdout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { serverIdentity, tmpDir, writeClient, writeTruststore, type ClientFiles } from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';
import { issue } from '../../src/pki/generate.js';

const OPT = 'optional.e2e.test';
const REQ = 'required.e2e.test';

let gw: GatewayProcess;
let echo: EchoBackend;
let cacert: string;
const clients: Record<string, ClientFiles> = {};
const subjects: Record<string, string> = {};

before(async () => {
  const dir = tmpDir();
  const root = await issue({ subject: 'CN=Modes Root', profile: 'root-ca' });
  const stranger = await issue({ subject: 'CN=Stranger Root', profile: 'root-ca' });
  const leaf = (cn: string, sans: string[], issuer = root) =>
    issue({ subject: `CN=${cn}`, profile: 'client', issuer, sans });
  const [server, backend, ...made] = await Promise.all([
    serverIdentity(dir, [OPT, REQ]),
    startEcho(),
    leaf('dns', ['DNS:svc.allowed.e2e']),
    leaf('uri', ['URI:spiffe://trust.e2e/ns/prod/sa/web']),
    leaf('email', ['email:robot@ops.e2e']),
    leaf('ip', ['IP:10.20.30.40']),
    leaf('big', ['URI:spiffe://trust.e2e/ns/n7776/sa/api']),
    leaf('miss', [
      'DNS:svc.other.e2e',
      'URI:spiffe://trust.e2e/ns/dev/sa/web',
      'email:robot@ops.e2e.evil',
      'IP:10.21.0.1',
    ]),
    leaf('untrusted', ['DNS:svc.allowed.e2e'], stranger),
  ]);
  echo = backend;
  cacert = server.caFile;
  for (const c of made) {
    const name = c.subject.replace(/^CN=/, '');
    clients[name] = writeClient(dir, name, c);
    subjects[name] = c.subject;
  }
  const ts = writeTruststore(dir, 'truststore', [root]);
  // 10,000 entries, none of which admits `miss`; one URI prefix admits `big`.
  const big: string[] = [];
  for (let i = 0; i < 2500; i++) {
    big.push(`DNS:host${i}.big.e2e`, `DNS:*.zone${i}.big.e2e`, `URI:spiffe://trust.e2e/ns/n${i * 4}/*`);
    big.push(`IP:172.${16 + (i >> 8)}.${i & 255}.0/24`);
  }
  assert.equal(big.length, 10_000);
  const route = (basePath: string, extra: Record<string, unknown> = {}) => ({
    basePath,
    target: `${echo.url}/${basePath}`,
    ...extra,
  });
  gw = await startGateway({
    dir,
    config: {
      logs: {
        accessLogFormat:
          'access $context.requestId $context.status $context.resourcePath "$context.identity.clientCert.subjectDN"',
      },
      domains: [
        domainConfig(
          OPT,
          server,
          ts,
          [
            route('req', { clientCertificate: 'required' }),
            route('opt'),
            route('none', { clientCertificate: 'none' }),
            route('dns', { allow: { subjectAltNames: ['DNS:*.allowed.e2e'] } }),
            route('uri', { allow: { subjectAltNames: ['URI:spiffe://trust.e2e/ns/prod/*'] } }),
            route('email', { allow: { subjectAltNames: ['email:*@ops.e2e'] } }),
            route('ip', { allow: { subjectAltNames: ['IP:10.20.0.0/16'] } }),
            route('big', { allow: { subjectAltNames: big } }),
          ],
          { clientCertificate: 'optional' },
        ),
        domainConfig(REQ, server, ts, [route('api')]),
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

const SPOOF = [
  'Client-Cert: :AAAA:',
  'Client-Cert-Chain: :AAAA:',
  'X-Client-Cert-Subject-DN: CN=admin',
  'X-Client-Cert-Sha256: ffff',
  'Client_Cert: :BBBB:',
];

async function get(o: { domain?: string; client?: string; path: string; spoof?: boolean }) {
  const c = o.client === undefined ? undefined : clients[o.client]!;
  const r = await curl({
    domain: o.domain ?? OPT,
    port: gw.port,
    cacert,
    ...(c && { cert: c.certFile, key: c.keyFile }),
    path: o.path,
    ...(o.spoof && { headers: SPOOF }),
  });
  return r;
}

/** The headers the backend got for the last request. */
const lastHeaders = () => echo.received.at(-1)!.headers;

test('optional domain: the handshake completes without a certificate; each mapping decides', async () => {
  const noCert = await get({ path: '/opt/a', spoof: true });
  assert.equal(noCert.response?.status, 200, noCert.stderr.toString());
  for (const h of [
    'client-cert',
    'client-cert-chain',
    'x-client-cert-subject-dn',
    'x-client-cert-sha256',
    'client_cert',
  ])
    assert.equal(lastHeaders()[h], undefined, `optional, no certificate: ${h}`);
  const none = await get({ path: '/none/a', spoof: true });
  assert.equal(none.response?.status, 200);
  assert.equal(lastHeaders()['x-client-cert-subject-dn'], undefined);
  const req = await get({ path: '/req/a' });
  assert.equal(req.response?.status, 403);
  assert.equal(
    req.response?.body.toString(),
    '{"message":"Access denied. Reason: No required SSL certificate was sent"}',
  );
});

test('a verified certificate: its headers on required and optional mappings, none on none; spoofs stripped', async () => {
  for (const path of ['/req/a', '/opt/a', '/none/a']) {
    const before = echo.received.length;
    const r = await get({ client: 'dns', path, spoof: true });
    assert.equal(r.response?.status, 200, path);
    assert.equal(echo.received.length, before + 1);
    const h = lastHeaders();
    if (path === '/none/a') {
      assert.equal(h['x-client-cert-subject-dn'], undefined, path);
      assert.equal(h['client-cert'], undefined, path);
    } else {
      assert.equal(h['x-client-cert-subject-dn'], subjects.dns, path);
      assert.notEqual(h['client-cert'], ':AAAA:', path);
      assert.match(String(h['client-cert']), /^:[A-Za-z0-9+/=]+:$/, path);
    }
    assert.equal(h['client-cert-chain'], undefined, path);
    assert.equal(h['client_cert'], undefined, path);
    assert.notEqual(h['x-client-cert-sha256'], 'ffff', path);
  }
});

test('a certificate that fails verification: 403 on required and optional, ignored on none', async () => {
  for (const [path, status] of [
    ['/req/a', 403],
    ['/opt/a', 403],
    ['/none/a', 200],
  ] as const) {
    const r = await get({ client: 'untrusted', path, spoof: true });
    assert.equal(r.response?.status, status, path);
    if (status === 403)
      assert.equal(
        r.response?.body.toString(),
        '{"message":"Access denied. Reason: Could not find issuer for certificate"}',
      );
    else assert.equal(lastHeaders()['x-client-cert-subject-dn'], undefined);
  }
});

test('a required domain still ends a handshake without a certificate', async () => {
  const r = await get({ domain: REQ, path: '/api/a' });
  assert.equal(r.response, null, 'no HTTP answer');
  assert.notEqual(r.code, 0);
  assert.equal((await get({ domain: REQ, client: 'dns', path: '/api/a' })).response?.status, 200);
});

test('allow-lists: a hit and a miss for each SAN type, and the 10,000-entry list', async () => {
  for (const [path, hit] of [
    ['/dns/x', 'dns'],
    ['/uri/x', 'uri'],
    ['/email/x', 'email'],
    ['/ip/x', 'ip'],
    ['/big/x', 'big'],
  ] as const) {
    const ok = await get({ client: hit, path });
    assert.equal(ok.response?.status, 200, `${path} admits ${hit}`);
    assert.equal(lastHeaders()['x-client-cert-subject-dn'], subjects[hit]);
    const before = echo.received.length;
    const no = await get({ client: 'miss', path });
    assert.equal(no.response?.status, 403, `${path} refuses miss`);
    assert.equal(no.response?.body.toString(), '{"message":"Access denied. Reason: client certificate not allowed"}');
    assert.equal(echo.received.length, before, 'nothing reached the backend');
  }
  const line = gw.logs.find((l) => l.code === 'MTLSGATE_NOT_ALLOWED');
  assert.equal(line?.msg, 'Access denied. Reason: client certificate not allowed');
});

test('logs.accessLogFormat: one line per request in the format, on stdout', async () => {
  const r = await get({ client: 'uri', path: '/uri/log' });
  const id = r.response?.headers['x-request-id'];
  assert.ok(id);
  const deadline = Date.now() + 5000;
  let line: string | undefined;
  while (!line && Date.now() < deadline) {
    line = gw.otherOutput.find((l) => l.startsWith(`access ${String(id)} `));
    if (!line) await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(line, `access ${String(id)} 200 /uri "${subjects.uri}"`);
  assert.equal(gw.logs.filter((l) => l.msg === 'request').length, 0, 'the format replaces the JSON request record');
});
