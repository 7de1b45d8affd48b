import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { escapeDnValue, initPki, issue, issueVariant, loadPki, VARIANTS } from '../../src/pki/generate.js';
import type { Variant } from '../../src/pki/generate.js';
import { UserError } from '../../src/errors.js';
import { TEST_DOMAIN, testPki, testVariant, tmpDir } from '../helpers/pki.js';

function opensslText(certPath: string): string {
  return execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-text', '-nameopt', 'RFC2253'], {
    encoding: 'utf8',
  });
}

function opensslTextOf(pem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text', '-nameopt', 'RFC2253'], { input: pem, encoding: 'utf8' });
}

/** `openssl verify` as an independent judge of what we generated. */
function opensslVerify(
  cert: string,
  opts: { truststore: string; untrusted?: string | null; purpose?: string },
): { ok: boolean; out: string } {
  const args = ['verify', '-CAfile', opts.truststore, '-purpose', opts.purpose ?? 'sslclient'];
  if (opts.untrusted) args.push('-untrusted', opts.untrusted);
  const r = spawnSync('openssl', [...args, cert], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

function pemBlocks(path: string): string[] {
  return readFileSync(path, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

const mode = (path: string): number => statSync(path).mode & 0o777;

test('initPki writes a root, an intermediate, server and client leaves, a self-signed client and a truststore', async () => {
  const pki = await testPki();
  for (const path of [
    pki.rootCert,
    pki.intermediateCert,
    pki.serverCert,
    pki.clientCert,
    pki.selfSignedCert,
    pki.truststore,
  ]) {
    assert.ok(new X509Certificate(readFileSync(path)), path);
  }
  for (const key of [pki.rootKey, pki.intermediateKey, pki.serverKey, pki.clientKey, pki.selfSignedKey]) {
    assert.equal(mode(key), 0o600, key);
    assert.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  }
  const [trustRoot, trustIntermediate] = pemBlocks(pki.truststore);
  assert.equal(new X509Certificate(trustRoot!).subject, pki.root.x509.subject, 'truststore: root first');
  assert.equal(new X509Certificate(trustIntermediate!).subject, pki.intermediate.x509.subject);
  const [serverLeaf, serverChain] = pemBlocks(pki.serverCert);
  assert.ok(new X509Certificate(serverLeaf!).checkIssued(pki.intermediate.x509), 'server.crt: leaf first');
  assert.equal(serverChain && new X509Certificate(serverChain).fingerprint256, pki.intermediate.x509.fingerprint256);

  assert.ok(pki.root.x509.verify(pki.root.x509.publicKey), 'root is self-signed');
  assert.ok(pki.intermediate.x509.verify(pki.root.x509.publicKey));
  assert.equal(pki.intermediate.chainPem, pki.intermediate.certPem + pki.root.certPem);
  assert.match(opensslText(pki.intermediateCert), /Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
  assert.match(opensslText(pki.intermediateCert), /Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);

  const client = opensslText(pki.clientCert);
  assert.match(client, /Subject: CN=client\n/);
  assert.match(client, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(client, /Public-Key: \(256 bit\)/);
  assert.match(client, /Key Usage: critical\n\s+Digital Signature\n/);
  assert.match(client, /Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
  assert.match(opensslText(pki.serverCert), /Subject Alternative Name: \n\s+DNS:localhost\n/);
  const selfSigned = new X509Certificate(readFileSync(pki.selfSignedCert));
  assert.equal(selfSigned.subject, selfSigned.issuer);
  assert.match(opensslText(pki.selfSignedCert), /TLS Web Client Authentication/);

  assert.deepEqual(opensslVerify(pki.clientCert, { truststore: pki.truststore }), {
    ok: true,
    out: `${pki.clientCert}: OK\n`,
  });
  assert.equal(opensslVerify(pki.serverCert, { truststore: pki.truststore, purpose: 'sslserver' }).ok, true);
});

test('initPki refuses to overwrite a PKI unless forced, and keeps keys 0600 when it does', async () => {
  const dir = join(tmpDir(), 'nested', 'pki'); // created if missing
  const files = await initPki(dir, { domain: 'api.example.test' });
  await assert.rejects(initPki(dir, { domain: 'api.example.test' }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'E_PKI_EXISTS');
    assert.ok(e.message.includes(files.rootCert), e.message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
  const before = readFileSync(files.clientCert, 'utf8');
  chmodSync(files.clientKey, 0o644);
  await initPki(dir, { domain: 'api.example.test', force: true });
  assert.notEqual(readFileSync(files.clientCert, 'utf8'), before);
  assert.equal(mode(files.clientKey), 0o600);
});

test('issue: a DN with several attributes, in RFC 4514 order, with PrintableString for C', async () => {
  const dn = 'CN=client,OU=Payments,O=Example Corp,L=Springfield,ST=Oregon,C=US';
  const cert = await issue({ subject: dn });
  assert.equal(cert.subject, dn);
  const subjectLine = execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253,show_type'], {
    input: cert.certPem,
    encoding: 'utf8',
  });
  assert.equal(
    subjectLine,
    'subject=CN=UTF8STRING:client,OU=UTF8STRING:Payments,O=UTF8STRING:Example Corp,L=UTF8STRING:Springfield,ST=UTF8STRING:Oregon,C=PRINTABLESTRING:US\n',
  );
  assert.equal(cert.x509.subject, 'C=US\nST=Oregon\nL=Springfield\nO=Example Corp\nOU=Payments\nCN=client');
});

test('issue: odd characters in a CN survive, through escapeDnValue or as a bare CN', async () => {
  const odd = 'Doe, "Jane" <ä> + ; \\ =x\u0000y ';
  const escaped = await issue({ subject: `CN=${escapeDnValue(odd)},O=Example` });
  assert.deepEqual({ ...escaped.x509.toLegacyObject().subject }, { O: 'Example', CN: odd });
  const bare = await issue({ subject: 'Smith, John "JJ" Ünïcødé', publicKeyFrom: escaped });
  assert.deepEqual({ ...bare.x509.toLegacyObject().subject }, { CN: 'Smith, John "JJ" Ünïcødé' });
  const hexEscapes = await issue({ subject: 'CN=caf\\C3\\A9', publicKeyFrom: escaped });
  assert.equal(hexEscapes.x509.toLegacyObject().subject.CN, 'café');
  await assert.rejects(issue({ subject: 'CN=a+O=b' }), /multi-valued RDNs/);
});

test('issue: signature algorithms, key types and sizes', async () => {
  const rsaCa = await issue({ subject: 'RSA CA', profile: 'root-ca', key: { type: 'rsa', bits: 1024 } });
  const edCa = await issue({ subject: 'Ed CA', profile: 'root-ca', key: { type: 'ed25519' } });
  const ecLeaf = await issue({ subject: 'p521', key: { type: 'ec', curve: 'P-521' }, issuer: rsaCa, hash: 'sha1' });
  const cases = [
    { cert: rsaCa, sig: 'sha256WithRSAEncryption', key: /Public-Key: \(1024 bit\)/ },
    { cert: ecLeaf, sig: 'sha1WithRSAEncryption', key: /Public-Key: \(521 bit\)/ },
    {
      cert: await issue({ subject: 'x', issuer: rsaCa, hash: 'sha512', publicKeyFrom: ecLeaf }),
      sig: 'sha512WithRSAEncryption',
      key: /521 bit/,
    },
    {
      cert: await issue({ subject: 'x', issuer: ecLeaf, hash: 'sha1', publicKeyFrom: ecLeaf }),
      sig: 'ecdsa-with-SHA1',
      key: /521 bit/,
    },
    {
      cert: await issue({ subject: 'x', issuer: ecLeaf, hash: 'sha384', publicKeyFrom: ecLeaf }),
      sig: 'ecdsa-with-SHA384',
      key: /521 bit/,
    },
    {
      cert: await issue({ subject: 'x', issuer: edCa, hash: 'sha1', publicKeyFrom: rsaCa }),
      sig: 'ED25519',
      key: /1024 bit/,
    },
    { cert: edCa, sig: 'ED25519', key: /ED25519 Public-Key/ },
  ];
  for (const { cert, sig, key } of cases) {
    const text = opensslTextOf(cert.certPem);
    assert.match(text, new RegExp(`Signature Algorithm: ${sig}\\n`), cert.subject);
    assert.match(text, key, cert.subject);
  }
  assert.ok(ecLeaf.x509.verify(rsaCa.x509.publicKey));
  assert.ok(ecLeaf.x509.checkIssued(rsaCa.x509));
  assert.equal(ecLeaf.chainPem, ecLeaf.certPem + rsaCa.certPem);
});

test('issue: extensions can be left out entirely, and validity, serial and key reuse are exact', async () => {
  const bare = await issue({ subject: 'bare', ca: null, keyUsage: null, extKeyUsage: null, serial: '00:ff:01' });
  const text = opensslTextOf(bare.certPem);
  assert.doesNotMatch(text, /Basic Constraints|Key Usage|Subject Alternative Name/);
  assert.equal(bare.x509.serialNumber, 'FF01');
  assert.match((await issue({ subject: 'r', publicKeyFrom: bare })).x509.serialNumber, /^[0-9A-F]{32}$/);

  const notBefore = new Date('1999-12-31T23:59:58Z');
  const notAfter = new Date('2051-06-01T12:00:00Z'); // past 2049: GeneralizedTime
  const dated = await issue({
    subject: 'dated',
    notBefore,
    notAfter,
    publicKeyFrom: bare,
    sans: ['DNS:a.example', 'IP:127.0.0.1', 'IP:::1', 'email:a@example.com', 'URI:spiffe://example/ns/x'],
  });
  assert.equal(new Date(dated.x509.validFrom).toISOString(), notBefore.toISOString());
  assert.equal(new Date(dated.x509.validTo).toISOString(), notAfter.toISOString());
  assert.equal(dated.keyPem, bare.keyPem);
  assert.equal(
    dated.x509.publicKey.export({ type: 'spki', format: 'pem' }),
    bare.x509.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  assert.equal(
    dated.x509.subjectAltName,
    'DNS:a.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, email:a@example.com, URI:spiffe://example/ns/x',
  );

  const defaults = await issue({ subject: 'defaults', publicKeyFrom: bare });
  const hours = (Date.parse(defaults.x509.validTo) - Date.parse(defaults.x509.validFrom)) / 3600_000;
  assert.equal(Math.round(hours), 365 * 24);
  assert.ok(Date.parse(defaults.x509.validFrom) < Date.now() - 3500_000);
});

/** What each variant must look like to `openssl x509 -text` and `openssl verify -purpose sslclient`. */
const EXPECTED: Record<Variant, { text: RegExp[]; verify: RegExp | 'OK' }> = {
  expired: { text: [/ecdsa-with-SHA256/], verify: /error 10 at 0 depth lookup: certificate has expired/ },
  'not-yet-valid': { text: [/ecdsa-with-SHA256/], verify: /error 9 at 0 depth lookup: certificate is not yet valid/ },
  sha1: { text: [/Signature Algorithm: ecdsa-with-SHA1\n/], verify: 'OK' },
  'rsa-1024': { text: [/rsaEncryption/, /Public-Key: \(1024 bit\)/], verify: 'OK' },
  'ec-p256': { text: [/Public-Key: \(256 bit\)/, /NIST CURVE: P-256/], verify: 'OK' },
  'ec-p384': { text: [/Public-Key: \(384 bit\)/, /NIST CURVE: P-384/], verify: 'OK' },
  ed25519: { text: [/Public Key Algorithm: ED25519/], verify: 'OK' },
  'rsa-2048': { text: [/Public-Key: \(2048 bit\)/], verify: 'OK' },
  'no-client-auth': {
    text: [/Extended Key Usage: \n\s+Code Signing\n/],
    verify: /error 26 at 0 depth lookup: unsuitable certificate purpose/,
  },
  'server-auth-only': {
    text: [/Extended Key Usage: \n\s+TLS Web Server Authentication\n/],
    verify: /error 26 at 0 depth lookup: unsuitable certificate purpose/,
  },
  'no-digital-signature': {
    text: [/Key Usage: critical\n\s+Key Encipherment\n/, /TLS Web Client Authentication/],
    verify: /error 26 at 0 depth lookup: unsuitable certificate purpose/,
  },
  'issuer-not-ca': { text: [/TLS Web Client Authentication/], verify: /at 1 depth lookup: invalid CA certificate/ },
  'deep-chain': { text: [/Issuer: CN=deep-chain CA 5,O=mtlsgate test PKI\n/], verify: 'OK' },
  'self-signed': { text: [/Issuer: CN=self-signed\n/], verify: /error 18 at 0 depth lookup: self-signed certificate/ },
  'expired-ca': {
    text: [/Issuer: CN=expired-ca expired CA,O=mtlsgate test PKI\n/],
    verify: /error 10 at 1 depth lookup: certificate has expired/,
  },
  'pathlen-exceeded': {
    text: [/Issuer: CN=pathlen-exceeded sub-CA,O=mtlsgate test PKI\n/],
    verify: /error 25 at 2 depth lookup: path length constraint exceeded/,
  },
};

test('every variant is what its name says, by openssl x509 -text and openssl verify', async () => {
  const pki = await testPki();
  assert.deepEqual(Object.keys(EXPECTED).sort(), Object.keys(VARIANTS).sort());
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    const v = await testVariant(variant);
    const expected = EXPECTED[variant];
    assert.equal(v.cert, join(pki.dir, `${variant}.crt`));
    assert.equal(mode(v.key), 0o600, variant);
    assert.equal(pemBlocks(v.cert).length, 1, `${variant}.crt holds the leaf only`);
    assert.equal(v.cas !== null, v.issuers.length > 0);
    const text = opensslText(v.cert);
    assert.match(text, new RegExp(`Subject: CN=${variant}\\n`));
    for (const re of expected.text) assert.match(text, re, variant);
    const verdict = opensslVerify(v.cert, { truststore: pki.truststore, untrusted: v.cas });
    if (expected.verify === 'OK') assert.ok(verdict.ok, `${variant}: ${verdict.out}`);
    else {
      assert.equal(verdict.ok, false, `${variant} verified but should not`);
      assert.match(verdict.out, expected.verify, variant);
    }
  }
});

test('variants: CA files, CN, depth, and bad options', async () => {
  const pki = await testPki();
  const deep = await testVariant('deep-chain', { name: 'deep3', depth: 3, cn: 'Doe, Jane' });
  assert.equal(deep.leaf.x509.toLegacyObject().subject.CN, 'Doe, Jane');
  assert.equal(pemBlocks(deep.cas!).length, 3);
  assert.deepEqual(
    deep.issuers.map((c) => c.x509.toLegacyObject().subject.CN),
    ['deep3 CA 3', 'deep3 CA 2', 'deep3 CA 1'],
  );
  assert.ok(deep.leaf.x509.checkIssued(deep.issuers[0]!.x509));

  const pathlen = await testVariant('pathlen-exceeded');
  assert.match(opensslTextOf(pathlen.issuers[1]!.certPem), /CA:TRUE, pathlen:0/);
  const notCa = await testVariant('issuer-not-ca');
  assert.match(opensslTextOf(notCa.issuers[0]!.certPem), /Basic Constraints: critical\n\s+CA:FALSE\n/);
  const expiredCa = await testVariant('expired-ca');
  assert.ok(Date.parse(expiredCa.issuers[0]!.x509.validTo) < Date.now());
  assert.ok(Date.parse(expiredCa.leaf.x509.validTo) > Date.now());
  assert.equal(existsSync(join(pki.dir, 'sha1-cas.pem')), false);

  await assert.rejects(issueVariant(pki, 'expired', { name: '../escape' }), { code: 'E_BAD_NAME' });
  await assert.rejects(issueVariant(pki, 'deep-chain', { name: 'x', depth: 0 }), { code: 'E_BAD_DEPTH' });
  await assert.rejects(issueVariant(pki, 'expired', { name: 'x', depth: 2 }), { code: 'E_BAD_DEPTH' });
  await assert.rejects(issueVariant(pki, 'nope' as Variant, { name: 'x' }), { code: 'E_UNKNOWN_VARIANT' });
});

test('loadPki explains a missing directory or missing CA files in one line', async () => {
  const missing = join(tmpDir(), 'absent');
  await assert.rejects(
    loadPki(missing),
    (e: unknown) => e instanceof UserError && e.code === 'E_PKI_NOT_FOUND' && e.message.includes(missing),
  );
  const empty = tmpDir();
  await assert.rejects(
    loadPki(empty),
    (e: unknown) =>
      e instanceof UserError && e.code === 'E_PKI_FILE_MISSING' && e.message.includes(join(empty, 'root-ca.crt')),
  );
});

/** Handshakes once; resolves with what the server saw of the client certificate. */
async function handshake(
  pki: { truststore: string; serverCert: string; serverKey: string },
  cert: string,
  key: string,
): Promise<{ authorized: boolean; error: string | null }> {
  const ca = readFileSync(pki.truststore);
  const server = tls.createServer({
    cert: readFileSync(pki.serverCert),
    key: readFileSync(pki.serverKey),
    ca,
    requestCert: true,
    rejectUnauthorized: false,
  });
  const seen = new Promise<{ authorized: boolean; error: string | null }>((resolve) => {
    server.once('secureConnection', (s) => {
      resolve({ authorized: s.authorized, error: s.authorizationError === null ? null : String(s.authorizationError) });
      s.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = tls.connect({
      host: '127.0.0.1',
      port,
      servername: TEST_DOMAIN,
      ca,
      cert: readFileSync(cert),
      key: readFileSync(key),
    });
    client.on('error', () => undefined); // the server closing first is fine
    const result = await seen;
    client.destroy();
    return result;
  } finally {
    server.close();
  }
}

test('a real TLS loopback accepts the client certificate and names the self-signed one', async () => {
  const pki = await testPki();
  assert.deepEqual(await handshake(pki, pki.clientCert, pki.clientKey), { authorized: true, error: null });
  assert.deepEqual(await handshake(pki, pki.selfSignedCert, pki.selfSignedKey), {
    authorized: false,
    error: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  });
});
