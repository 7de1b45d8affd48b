/**
 * The bench's mtlsgate config template (bench/peers/mtlsgate.yaml), filled in as bench/run.mjs fills it, is a config
 * the gateway accepts: a formatter or an edit that breaks it would otherwise show only as a failed bench run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/gateway/config.js';

const template = readFileSync(new URL('../../bench/peers/mtlsgate.yaml', import.meta.url), 'utf8');
const vars: Record<string, string> = {
  PORT: '8443',
  SNI: 'bench.test',
  SERVER_CERT: '/pki/server.crt',
  SERVER_KEY: '/pki/server.key',
  TRUSTSTORE: '/pki/truststore.pem',
  BACKEND_PORT: '9000',
  LOG_LEVEL: 'info',
  REVOCATION: '{ mode: off }',
};
const filled = (over: Record<string, string> = {}) =>
  parseConfig(
    template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => ({ ...vars, ...over })[k]!),
    'mtlsgate.yaml',
  );

test('bench/peers/mtlsgate.yaml, filled in, is a valid gateway config with its placeholders in place', () => {
  const names = [...template.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!);
  assert.deepEqual([...new Set(names)].sort(), Object.keys(vars).sort());
  const cfg = filled();
  assert.equal(cfg.listen.port, 8443);
  assert.equal(cfg.domains[0]!.domainName, 'bench.test');
  assert.equal(cfg.domains[0]!.mutualTls.truststoreUri, 'file:///pki/truststore.pem');
  assert.equal(cfg.domains[0]!.mutualTls.revocation?.mode, 'off');
  assert.equal(cfg.logs.level, 'info');
});

test('bench/peers/mtlsgate.yaml takes the revocation test’s values for {{REVOCATION}} (run.mjs writes these)', () => {
  const crl = filled({ REVOCATION: '{ mode: crl, crl: { sources: ["file:///fx/intermediate-100000.crl.pem"] } }' });
  const r = crl.domains[0]!.mutualTls.revocation;
  assert.equal(r?.mode, 'crl');
  assert.deepEqual(r?.crl.sources, ['file:///fx/intermediate-100000.crl.pem']);
  const ocsp = filled({ REVOCATION: '{ mode: ocsp, ocsp: { responder: "http://127.0.0.1:9999" } }' });
  assert.equal(ocsp.domains[0]!.mutualTls.revocation?.mode, 'ocsp');
  assert.equal(ocsp.domains[0]!.mutualTls.revocation?.ocsp.responder, 'http://127.0.0.1:9999');
});
