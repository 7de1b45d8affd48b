/**
 * The policy's three views of every scenario must agree: the model's prediction of OpenSSL (offline, no key),
 * a real loopback handshake through Node's TLS stack (the gateway's path), and the expected API Gateway reason.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { buildScenarios, type Scenario } from './scenarios.js';
import { parseCert } from '../../src/pki/cert.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { analyzeChain, decide, predictVerdict } from '../../src/policy/analyze.js';
import { loopbackVerdict } from '../../src/policy/loopback.js';
import { DEFAULT_POLICY } from '../../src/policy/rules.js';
import { verdictFields } from '../../src/policy/verdict.js';

let scenarios: Scenario[] = [];
before(async () => {
  scenarios = await buildScenarios();
});

test('every scenario: offline prediction == loopback handshake == expected reason', async (t) => {
  assert.ok(scenarios.length >= 25, `only ${scenarios.length} scenarios`);
  for (const sc of scenarios) {
    await t.test(sc.name, async () => {
      const store = makeTruststore(
        'test',
        sc.truststore.map((i) => parseCert(i.der)),
      );
      const leaf = parseCert(sc.leaf.der);
      const intermediates = sc.clientIntermediates.map((i) => parseCert(i.der));
      const analysis = analyzeChain(leaf, intermediates, store, {
        ...DEFAULT_POLICY,
        trustClientIntermediates: sc.trustClientIntermediates ?? false,
      });
      const real = await loopbackVerdict({
        chainPem: sc.leaf.certPem + sc.clientIntermediates.map((i) => i.certPem).join(''),
        key: createPrivateKey(sc.leaf.keyPem),
        truststorePem: store.pem,
      });
      assert.ok(!('error' in real), `loopback failed: ${'error' in real ? real.error : ''}`);
      assert.deepEqual(analysis.predicted, real, 'the OpenSSL model predicts what Node reports');
      const offline = predictVerdict(analysis);
      const handshake = decide(analysis, real);
      assert.deepEqual(offline, handshake, 'offline verdict == handshake verdict');
      assert.equal(verdictFields(handshake).reason, sc.reason, 'deny reason');
      assert.equal(verdictFields(handshake).code, sc.code, 'code');
      assert.equal(handshake.accepted, sc.reason === null);
    });
  }
});
