/**
 * The gateway's path where no handshake judged the chain: a resumed TLS session (verifyConnection with
 * `resumed: true`) through a name-constrained CA. It used to be refused as unmodelled; now the model judges it,
 * and must say what a full handshake says (the real one, over loopback) for a client inside and outside the
 * permitted subtree, whatever the stale result the session carries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { issue } from '../../src/pki/generate.js';
import { parseCert } from '../../src/pki/cert.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { boundedCache, certCaches, verifyConnection, type VerifyContext } from '../../src/gateway/verify.js';
import { loopbackVerdict } from '../../src/policy/loopback.js';
import { DEFAULT_POLICY } from '../../src/policy/rules.js';
import { verdictFields } from '../../src/policy/verdict.js';

test('a resumed session through a name-constrained CA is judged by the model, as the full handshake is', async () => {
  const ca = await issue({
    subject: 'CN=Constrained Root',
    profile: 'root-ca',
    nameConstraints: { permitted: ['DNS:.example.com'], excluded: ['IP:0.0.0.0/0'] },
  });
  const ctx: VerifyContext = {
    generation: 1,
    truststore: makeTruststore('nc', [parseCert(ca.der)]),
    policy: DEFAULT_POLICY,
    oracle: 'handshake',
    cache: boundedCache(),
  };
  const cases = [
    { sans: ['DNS:client.example.com'], want: [true, null] },
    { sans: ['DNS:client.other.org'], want: [false, 'PERMITTED_VIOLATION'] },
    { sans: ['DNS:client.example.com', 'IP:10.0.0.1'], want: [false, 'EXCLUDED_VIOLATION'] },
  ] as const;
  for (const c of cases) {
    const leaf = await issue({ subject: 'CN=client', profile: 'client', issuer: ca, sans: [...c.sans] });
    const peer = new X509Certificate(leaf.der);
    const real = await loopbackVerdict({
      chainPem: leaf.certPem,
      key: createPrivateKey(leaf.keyPem),
      truststorePem: ca.certPem,
    });
    assert.ok(!('error' in real), 'loopback handshake ran');
    const full = verifyConnection({ resumed: false, openssl: real, peer }, ctx, certCaches());
    // The stored result of some earlier handshake: it must not decide a resumed session.
    const stale = { authorized: true, code: null, message: null };
    const resumed = verifyConnection({ resumed: true, openssl: stale, peer }, ctx, certCaches());
    assert.equal(resumed.openssl, null, 'the model decided');
    const v = verdictFields(resumed.verdict);
    assert.deepEqual([v.accepted, v.code], [...c.want], c.sans.join(' '));
    assert.deepEqual(resumed.verdict, full.verdict, 'resumed (model) == full handshake (OpenSSL)');
  }
});
