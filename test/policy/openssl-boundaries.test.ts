/**
 * OpenSSL's exact boundaries, where the model must say what OpenSSL says: a certificate judged at the very second
 * of its notAfter (and notBefore), an EC key with explicit curve parameters, and client keys the TLS stack refuses
 * (P-192, DSA, RSA-1024), which a handshake reports as an issuer error but the gateway must deny for the key.
 * References: `openssl verify` (with -attime, -auth_level 2 as Node 22+ use) and a real loopback handshake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certFromPem } from '../../src/pki/cert.js';
import { analyzeChain, decide, predictVerdict } from '../../src/policy/analyze.js';
import { loopbackVerdict } from '../../src/policy/loopback.js';
import { SECURITY_LEVEL } from '../../src/policy/openssl-model.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { openssl, opensslTmpDir } from '../helpers/openssl.js';

const dir = opensslTmpDir();
const f = (name: string): string => join(dir, name);

openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key')]
  .concat(['-subj', '/CN=Boundary CA', '-days', '30', '-out', f('ca.pem')])
  .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])); // prettier-ignore
writeFileSync(f('ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
const ca = certFromPem(readFileSync(f('ca.pem'), 'utf8'));
const truststore = makeTruststore('ca.pem', [ca]);

/** A client certificate from the CA for the key in `name`.key (made by `genkey`). */
function leaf(name: string, genkey: string[][]): { pem: string; key: string } {
  for (const args of genkey) openssl(args);
  openssl(['req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${name}`, '-out', f(`${name}.csr`)]);
  openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-days', '10']
    .concat(['-extfile', f('ext'), '-out', f(`${name}.pem`)])); // prettier-ignore
  return { pem: f(`${name}.pem`), key: f(`${name}.key`) };
}

/** `openssl verify`'s error code name for a certificate (OK when none), at `attime` seconds if given. */
function opensslVerify(pem: string, extra: string[] = []): string {
  try {
    openssl(['verify', '-CAfile', f('ca.pem'), '-purpose', 'sslclient', ...extra, pem]);
    return 'OK';
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
    return /error (\d+) at/.exec(out)?.[1] ?? out;
  }
}

const codeNumber: Record<string, string> = {
  CERT_HAS_EXPIRED: '10',
  EE_KEY_TOO_SMALL: '66',
  EC_KEY_EXPLICIT_PARAMS: '94',
};

test('the notAfter second itself is expired, the notBefore second itself is valid, as openssl verify -attime says', () => {
  const c = leaf('time', [
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('time.key')],
  ]);
  const cert = certFromPem(readFileSync(c.pem, 'utf8'));
  const notAfter = Date.parse(cert.info.notAfter) / 1000;
  const notBefore = Date.parse(cert.info.notBefore) / 1000;
  for (const [t, label] of [
    [notAfter - 1, 'a second before notAfter'],
    [notAfter, 'at notAfter'],
    [notAfter + 1, 'a second after notAfter'],
    [notBefore - 1, 'a second before notBefore'],
    [notBefore, 'at notBefore'],
  ] as const) {
    const model = verdictFields(predictVerdict(analyzeChain(cert, [], truststore, undefined, new Date(t * 1000))));
    const real = opensslVerify(c.pem, ['-attime', String(t)]);
    const ours =
      model.code === null ? 'OK' : (codeNumber[model.code] ?? (model.code === 'CERT_NOT_YET_VALID' ? '9' : model.code));
    assert.equal(ours, real, `${label}: model ${model.code ?? 'accepted'}, openssl ${real}`);
  }
});

test('an EC key with explicit curve parameters: refused by the model, openssl verify and a real handshake alike', async () => {
  const c = leaf('explicit', [
    ['ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey', '-noout', '-out', f('explicit.key')],
  ]);
  const cert = certFromPem(readFileSync(c.pem, 'utf8'));
  const a = analyzeChain(cert, [], truststore);
  assert.equal(verdictFields(predictVerdict(a)).code, 'EC_KEY_EXPLICIT_PARAMS');
  assert.equal(opensslVerify(c.pem), codeNumber.EC_KEY_EXPLICIT_PARAMS);
  const real = await loopbackVerdict({
    chainPem: readFileSync(c.pem, 'utf8'),
    key: createPrivateKey(readFileSync(c.key)),
    truststorePem: truststore.pem,
  });
  assert.ok(!('error' in real), JSON.stringify(real));
  assert.equal(verdictFields(decide(a, real)).code, 'EC_KEY_EXPLICIT_PARAMS');
});

for (const [name, genkey] of [
  ['p192', [['ecparam', '-name', 'prime192v1', '-genkey', '-noout', '-out', f('p192.key')]]],
  [
    'dsa',
    [
      ['dsaparam', '-out', f('dsa.params'), '2048'],
      ['gendsa', '-out', f('dsa.key'), f('dsa.params')],
    ],
  ],
  ['rsa1024', [['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', f('rsa1024.key')]]],
] as const) {
  test(`a ${name} client key: denied for the key (weak-key rule), never "Could not find issuer", in a handshake too`, async () => {
    const c = leaf(name, genkey as unknown as string[][]);
    const cert = certFromPem(readFileSync(c.pem, 'utf8'));
    const a = analyzeChain(cert, [], truststore);
    const model = verdictFields(predictVerdict(a));
    assert.equal(model.reason, 'Client cert using an insecure Signature Algorithm', `${name} model: ${model.code}`);
    const real = await loopbackVerdict({
      chainPem: readFileSync(c.pem, 'utf8'),
      key: createPrivateKey(readFileSync(c.key)),
      truststorePem: truststore.pem,
    });
    assert.ok(!('error' in real), `${name}: the loopback handshake ran: ${JSON.stringify(real)}`);
    const hs = verdictFields(decide(a, real));
    assert.equal(hs.reason, model.reason, `${name} handshake (OpenSSL said ${real.code}): ${hs.code}`);
    assert.equal(hs.code, model.code, `${name}: the handshake's verdict is the model's`);
    // OpenSSL's own verification at the gateway's security level names the key, where it refuses it at all.
    const verify = opensslVerify(c.pem, ['-auth_level', String(SECURITY_LEVEL)]);
    if (model.code === 'EE_KEY_TOO_SMALL') assert.equal(verify, codeNumber.EE_KEY_TOO_SMALL);
    else assert.equal(model.code, 'MTLSGATE_WEAK_KEY', `${name}: API Gateway's rule decides where OpenSSL accepts`);
  });
}
