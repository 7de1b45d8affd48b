/**
 * A truststore whose CA names overflow a TLS CertificateRequest (2^16-1 bytes: about 1,000 CAs with ordinary names,
 * fewer with long ones). OpenSSL cannot build that message, so a server that names its CAs fails every handshake
 * (nginx with ssl_client_certificate does). mtlsgate names none for such a truststore and its policy judges chains:
 * real curl and Node clients are served or denied exactly as with a small truststore, and the doctor agrees.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { cli } from '../helpers/cli.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { writeClient, writeTruststore, type ClientFiles } from '../helpers/pki.js';
import { curl, run } from '../helpers/proc.js';

const DOMAIN = 'large.e2e.test';
/** Long names make the list overflow with fewer certificates (each name here is ~150 bytes of DER). */
const CAS = 600;

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let bundle: string;
let trusted: ClientFiles;
let untrusted: ClientFiles;
let trustedCa: Issued;

before(async () => {
  w = await makeWorld(DOMAIN);
  echo = await startEcho();
  const first = await issue({
    subject:
      'CN=Large truststore CA 0000 with a long name to fill the list,OU=Certificate Authorities of a large organisation,O=mtlsgate e2e',
    profile: 'root-ca',
  });
  const cas: Issued[] = [first];
  for (let i = 1; i < CAS; i++) {
    // One key for all (key generation is the slow part); names and certificates differ.
    cas.push(
      await issue({
        subject: `CN=Large truststore CA ${String(i).padStart(4, '0')} with a long name to fill the list,OU=Certificate Authorities of a large organisation,O=mtlsgate e2e`,
        profile: 'root-ca',
        publicKeyFrom: first,
      }),
    );
  }
  // The trusted client's CA has a key of its own, in the middle of the bundle.
  trustedCa = await issue({ subject: 'CN=Large truststore issuing CA,O=mtlsgate e2e', profile: 'root-ca' });
  cas.splice(CAS / 2, 0, trustedCa);
  bundle = writeTruststore(w.dir, 'large', cas);
  const leaf = await issue({ subject: 'CN=large client,O=mtlsgate e2e', profile: 'client', issuer: trustedCa });
  trusted = writeClient(w.dir, 'large-client', leaf);
  untrusted = writeClient(w.dir, 'other-client', w.otherClient);
  gw = await startGateway({
    config: { domains: [domainConfig(DOMAIN, w.server, bundle, [{ basePath: '', target: echo.url }])] },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

test('the gateway starts with it and says it will not name the CAs', async () => {
  const line = await gw.waitForLog((l) => l.msg.startsWith('truststore too large to name in the TLS handshake'));
  assert.equal(line.domain, DOMAIN);
  assert.equal(line.certificates, CAS + 1);
  assert.ok(Number(line.caNamesBytes) > 65_535, `caNamesBytes ${String(line.caNamesBytes)}`);
});

test('curl (TLS 1.3 and 1.2): the trusted client is served, another is denied with the usual reason', async () => {
  for (const tlsMax of ['1.3', '1.2']) {
    const ok = await curl({
      domain: DOMAIN,
      port: gw.port,
      cacert: w.server.caFile,
      cert: trusted.certFile,
      key: trusted.keyFile,
      path: `/ok-${tlsMax}`,
      extra: ['--tls-max', tlsMax],
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.response?.status, 200, `TLS ${tlsMax}`);
    const no = await curl({
      domain: DOMAIN,
      port: gw.port,
      cacert: w.server.caFile,
      cert: untrusted.certFile,
      key: untrusted.keyFile,
      path: `/no-${tlsMax}`,
      extra: ['--tls-max', tlsMax],
    });
    assert.equal(no.response?.status, 403, `TLS ${tlsMax}: ${no.stderr}`);
    assert.deepEqual(JSON.parse(no.response!.text), {
      message: 'Access denied. Reason: Could not find issuer for certificate',
    });
  }
  assert.deepEqual(
    echo.received.filter((r) => r.path.startsWith('/no-')),
    [],
    'nothing denied reached the backend',
  );
});

test('openssl s_client: the CertificateRequest names no CA', async () => {
  const input = `GET /s-client HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: close\r\n\r\n`;
  const r = await run(
    'openssl',
    [
      's_client',
      '-connect',
      `127.0.0.1:${gw.port}`,
      '-servername',
      DOMAIN,
      '-cert',
      trusted.certFile,
      '-key',
      trusted.keyFile,
      '-CAfile',
      w.server.caFile,
      '-tls1_2',
      '-ign_eof',
    ],
    { input },
  );
  const out = r.stdout.toString('utf8');
  assert.match(out, /No client certificate CA names sent/, out.slice(0, 3000));
  assert.match(out, /HTTP\/1\.1 200 OK/);
});

test('a client signed by a look-alike of a trusted CA (same name, other key) is denied: signatures are checked', async () => {
  const fake = await issue({ subject: 'CN=Large truststore issuing CA,O=mtlsgate e2e', profile: 'root-ca' });
  const forged = await issue({ subject: 'CN=large client,O=mtlsgate e2e', profile: 'client', issuer: fake });
  const res = await nodeRequest({
    port: gw.port,
    servername: DOMAIN,
    ca: w.server.caPem,
    cert: forged.certPem,
    key: forged.keyPem,
    path: '/forged',
  });
  assert.equal(res.status, 403, res.text);
  assert.equal(echo.received.filter((r) => r.path === '/forged').length, 0);
});

test('doctor and truststore lint on the same files: the same verdict, and the size warning', async () => {
  const good = JSON.parse(
    (await cli(['doctor', '--cert', trusted.certFile, '--key', trusted.keyFile, '--truststore', bundle, '--json'])).out,
  ) as { verdict: { accepted: boolean }; verdictSource: string };
  assert.deepEqual([good.verdict.accepted, good.verdictSource], [true, 'prediction']);
  const bad = JSON.parse(
    (await cli(['doctor', '--cert', untrusted.certFile, '--key', untrusted.keyFile, '--truststore', bundle, '--json']))
      .out,
  ) as { verdict: { accepted: boolean; reason: string } };
  assert.deepEqual([bad.verdict.accepted, bad.verdict.reason], [false, 'Could not find issuer for certificate']);
  const lint = await cli(['truststore', 'lint', bundle, '--json']);
  assert.match(lint.out, /truststore\.ca-names-too-large/);
});
