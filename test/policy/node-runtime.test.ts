/**
 * The Node / OpenSSL facts in docs/node-openssl.md, each checked against the runtime the suite runs on with a real
 * handshake, so that a runtime change that breaks one fails here by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { issue, type Issued } from '../../src/pki/generate.js';
import { opensslAtLeast, SECURITY_LEVEL } from '../../src/policy/openssl-model.js';
import { clientChainWarning, openSslText, opensslResultOf } from '../../src/policy/node-tls.js';
import { NODE_VERSION } from '../../scripts/node-runtime.mjs';

interface Seen {
  socket: tls.TLSSocket;
  rawMessage: string | null;
  chain: string[];
}

/** One handshake: a server like the gateway's (requestCert, rejectUnauthorized false) sees `client` present `sent`. */
async function handshake(o: { trust: Issued[]; client: Issued; sent?: Issued[] }): Promise<Seen> {
  const server = await issue({ subject: 'CN=server', profile: 'server', sans: ['DNS:localhost'] });
  return new Promise((resolve, reject) => {
    const srv = tls.createServer(
      {
        cert: server.certPem,
        key: server.keyPem,
        ca: o.trust.map((i) => i.certPem),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (socket) => {
        const err = (socket as unknown as { _handle: { verifyError(): Error | null } })._handle.verifyError();
        const chain: string[] = [];
        let cur = socket.getPeerX509Certificate();
        while (cur && chain.length < 5) {
          chain.push(cur.subject);
          cur = cur.issuerCertificate;
        }
        resolve({ socket, rawMessage: err?.message ?? null, chain });
        socket.end();
        srv.close();
      },
    );
    srv.on('tlsClientError', reject);
    srv.listen(0, '127.0.0.1', () => {
      const c = tls.connect({
        port: (srv.address() as AddressInfo).port,
        host: '127.0.0.1',
        servername: 'localhost',
        cert: o.client.certPem + (o.sent ?? []).map((i) => i.certPem).join(''),
        key: o.client.keyPem,
        ciphers: 'DEFAULT@SECLEVEL=0',
        rejectUnauthorized: false,
      });
      c.on('error', () => undefined);
      c.on('data', () => undefined);
    });
  });
}

test('the suite runs on the Node release scripts/node-runtime.mjs pins (or the machine Node when told to)', () => {
  if (process.env.MTLSGATE_SYSTEM_NODE === '1') assert.ok(Number(process.versions.node.split('.')[0]) >= 22);
  else assert.equal(process.versions.node, NODE_VERSION);
});

test('security level: OpenSSL >= 3.2 refuses a 1024-bit client key itself (EE_KEY_TOO_SMALL); 2048 passes', async () => {
  assert.equal(SECURITY_LEVEL, opensslAtLeast(process.versions.openssl, 3, 2) ? 2 : 1);
  const root = await issue({ subject: 'CN=Level Root', profile: 'root-ca', key: { type: 'rsa', bits: 2048 } });
  const small = await issue({ subject: 'CN=small', profile: 'client', issuer: root, key: { type: 'rsa', bits: 1024 } });
  const big = await issue({ subject: 'CN=big', profile: 'client', issuer: root, key: { type: 'rsa', bits: 2048 } });
  const refused = opensslResultOf((await handshake({ trust: [root], client: small })).socket);
  if (SECURITY_LEVEL >= 2) assert.deepEqual([refused.authorized, refused.code], [false, 'EE_KEY_TOO_SMALL']);
  else assert.equal(refused.authorized, true);
  assert.equal(opensslResultOf((await handshake({ trust: [root], client: big })).socket).authorized, true);
});

test("Node's --use-system-ca hint is cut from OpenSSL's verify text", async () => {
  const root = await issue({ subject: 'CN=Hint Root', profile: 'root-ca' });
  const stranger = await issue({ subject: 'CN=stranger', profile: 'client' });
  const seen = await handshake({ trust: [root], client: stranger });
  const r = opensslResultOf(seen.socket);
  assert.deepEqual([r.code, r.message], ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate']);
  if (Number(process.versions.node.split('.')[0]) >= 24) assert.match(seen.rawMessage ?? '', /--use-system-ca/);
  assert.equal(openSslText('self-signed certificate'), 'self-signed certificate');
});

test('the server sees what the client sent after its certificate (lost on Node 24.21, nodejs/node#65579)', async () => {
  const root = await issue({ subject: 'CN=Chain Root', profile: 'root-ca' });
  const int = await issue({ subject: 'CN=Chain Intermediate', profile: 'intermediate-ca', issuer: root });
  const leaf = await issue({ subject: 'CN=chain client', profile: 'client', issuer: int });
  const seen = await handshake({ trust: [root], client: leaf, sent: [int] });
  assert.equal(seen.socket.authorized, true);
  assert.deepEqual(seen.chain.slice(0, 2), ['CN=chain client', 'CN=Chain Intermediate']);
});

test('serve warns on the releases that lose the client chain, and only on those', () => {
  for (const v of ['v24.21.0', 'v24.21.3', 'v26.8.0'])
    assert.match(clientChainWarning(v) ?? '', /nodejs\/node#65579/, v);
  for (const v of ['v22.23.5', 'v24.20.0', 'v24.22.3', 'v26.9.0', 'v26.10.0'])
    assert.equal(clientChainWarning(v), null, v);
  // The runtime the suite runs on is not one of them: this file's chain test above would fail on it.
  assert.equal(clientChainWarning(process.version), null);
});
