/**
 * decideWithoutHandshake: the verdict the gateway uses where OpenSSL's handshake result does not apply (a resumed
 * session, a truststore too large to name). It is the model's prediction, except that a chain carrying an extension
 * the model does not evaluate (policies, RFC 3779 resources) is refused rather than guessed; name constraints are
 * modelled. The constrained CAs here are made by the openssl binary, so the extensions are OpenSSL's own encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCert } from '../../src/pki/cert.js';
import { issue } from '../../src/pki/generate.js';
import { analyzeChain, decideWithoutHandshake, predictVerdict } from '../../src/policy/analyze.js';
import { unmodelledExtension } from '../../src/policy/rules.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { makeTruststore, truststoreOracle, MAX_CA_NAMES_BYTES } from '../../src/trust/truststore.js';

function opensslCa(dir: string, ext: string): { certPem: string; keyFile: string; certFile: string } {
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-subj',
      '/CN=Constrained CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      ext,
    ],
    { stdio: 'pipe' },
  );
  return { certPem: readFileSync(certFile, 'utf8'), keyFile, certFile };
}

function opensslLeaf(dir: string, ca: { keyFile: string; certFile: string }, cn: string): Buffer {
  const key = join(dir, `${cn}.key`);
  const csr = join(dir, `${cn}.csr`);
  const crt = join(dir, `${cn}.pem`);
  const extFile = join(dir, `${cn}.ext`);
  writeFileSync(extFile, `extendedKeyUsage=clientAuth\nsubjectAltName=DNS:${cn}\n`);
  execFileSync(
    'openssl',
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/CN=${cn}`,
    ],
    { stdio: 'pipe' },
  );
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.certFile,
      '-CAkey',
      ca.keyFile,
      '-CAcreateserial',
      '-out',
      crt,
      '-days',
      '10',
      '-extfile',
      extFile,
    ],
    { stdio: 'pipe' },
  );
  return execFileSync('openssl', ['x509', '-in', crt, '-outform', 'DER']);
}

test('a name-constrained CA: the model judges it as OpenSSL does (no longer refused as unmodelled)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-nc-'));
  const ca = opensslCa(dir, 'nameConstraints=critical,permitted;DNS:.example.com');
  const caCert = parseCert(execFileSync('openssl', ['x509', '-in', ca.certFile, '-outform', 'DER']));
  assert.equal(unmodelledExtension(caCert), null);
  const store = makeTruststore('nc', [caCert]);
  const outside = verdictFields(
    decideWithoutHandshake(analyzeChain(parseCert(opensslLeaf(dir, ca, 'client.other.org')), [], store)),
  );
  assert.deepEqual(
    [outside.accepted, outside.code, outside.reason],
    [false, 'PERMITTED_VIOLATION', 'permitted subtree violation'],
  );
  const inside = decideWithoutHandshake(analyzeChain(parseCert(opensslLeaf(dir, ca, 'client.example.com')), [], store));
  assert.equal(inside.accepted, true);
});

test('a CA with policy constraints: still refused where no handshake judged it, and says which extension', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-pc-'));
  const ca = opensslCa(dir, 'policyConstraints=critical,inhibitPolicyMapping:0');
  const caCert = parseCert(execFileSync('openssl', ['x509', '-in', ca.certFile, '-outform', 'DER']));
  assert.equal(unmodelledExtension(caCert), 'policy constraints');
  const analysis = analyzeChain(
    parseCert(opensslLeaf(dir, ca, 'client.example.com')),
    [],
    makeTruststore('pc', [caCert]),
  );
  assert.equal(predictVerdict(analysis).accepted, true, 'the bare model would accept (it does not evaluate policies)');
  const v = verdictFields(decideWithoutHandshake(analysis));
  assert.deepEqual([v.accepted, v.code], [false, 'MTLSGATE_UNMODELLED_EXTENSION']);
  assert.match(v.reason ?? '', /policy constraints/);
});

test("an ordinary chain: decideWithoutHandshake is the model's verdict, accepted or denied", async () => {
  const root = await issue({ subject: 'CN=Plain Root', profile: 'root-ca' });
  const other = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
  const leaf = await issue({ subject: 'CN=plain client', profile: 'client', issuer: root });
  assert.equal(unmodelledExtension(parseCert(root.der)), null);
  const ok = decideWithoutHandshake(analyzeChain(parseCert(leaf.der), [], makeTruststore('t', [parseCert(root.der)])));
  assert.equal(ok.accepted, true);
  const no = verdictFields(
    decideWithoutHandshake(analyzeChain(parseCert(leaf.der), [], makeTruststore('t', [parseCert(other.der)]))),
  );
  assert.deepEqual([no.accepted, no.reason], [false, 'Could not find issuer for certificate']);
});

test('caNamesBytes is what OpenSSL puts in a CertificateRequest: 2 + DER subject per CA (checked with openssl)', async () => {
  const cas = await Promise.all(
    ['CN=A', 'CN=Bb,O=Example Org,C=US', 'CN=Ccc Root CA,OU=Security,O=Example,L=Somewhere,ST=State,C=DE'].map((s) =>
      issue({ subject: s, profile: 'root-ca' }),
    ),
  );
  const store = makeTruststore(
    't',
    cas.map((c) => parseCert(c.der)),
  );
  let expected = 0;
  for (const c of cas) {
    // `openssl x509 -subject_hash`-free way to get the DER subject: asn1parse the certificate and take the subject's
    // length.
    const out = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: c.der }).toString('utf8').split('\n');
    // tbs children at depth 2: version (cont [0]), serial, sigAlg, issuer, validity, subject -> the 6th "d=2" line.
    const d2 = out.filter((l) => /d=2/.test(l));
    const m = /hl=\s*(\d+)\s+l=\s*(\d+)/.exec(d2[5]!)!;
    expected += 2 + Number(m[1]) + Number(m[2]);
  }
  assert.equal(store.caNamesBytes, expected);
  assert.equal(truststoreOracle(store), 'handshake');
  assert.ok(MAX_CA_NAMES_BYTES === 65_535);
});
