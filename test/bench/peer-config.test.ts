/**
 * The bench's mtlsgate config template (bench/peers/mtlsgate.yaml), filled in as bench/run.mjs fills it, is a config
 * the gateway accepts: a formatter or an edit that breaks it would otherwise show only as a failed bench run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/gateway/config.js';

test('bench/peers/mtlsgate.yaml, filled in, is a valid gateway config with its placeholders in place', () => {
  const template = readFileSync(new URL('../../bench/peers/mtlsgate.yaml', import.meta.url), 'utf8');
  const vars: Record<string, string> = {
    PORT: '8443',
    SNI: 'bench.test',
    SERVER_CERT: '/pki/server.crt',
    SERVER_KEY: '/pki/server.key',
    TRUSTSTORE: '/pki/truststore.pem',
    BACKEND_PORT: '9000',
    LOG_LEVEL: 'info',
  };
  const names = [...template.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!);
  assert.deepEqual([...new Set(names)].sort(), Object.keys(vars).sort());
  const cfg = parseConfig(
    template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => vars[k]!),
    'mtlsgate.yaml',
  );
  assert.equal(cfg.listen.port, 8443);
  assert.equal(cfg.domains[0]!.domainName, 'bench.test');
  assert.equal(cfg.domains[0]!.mutualTls.truststoreUri, 'file:///pki/truststore.pem');
  assert.equal(cfg.logs.level, 'info');
});
