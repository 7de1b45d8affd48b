/**
 * bin/mtlsgate.js gives `serve` one glibc malloc arena (MALLOC_ARENA_MAX=1: less resident memory per idle TLS
 * connection, see BENCHMARKS.md) by replacing its process with itself; a value the caller set is kept. Read from the
 * running gateway's own environment (/proc/PID/environ), so the serving process itself is checked, same pid.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { domainConfig, startGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';

let w: World;
let echo: EchoBackend;

before(async () => {
  [w, echo] = await Promise.all([makeWorld('launcher.e2e.test'), startEcho()]);
});

after(async () => {
  await echo?.close();
});

function environOf(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
    env.set(kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1));
  }
  return env;
}

async function serveWith(env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const gw = await startGateway({
    config: { domains: [domainConfig(w.domain, w.server, w.truststore, [{ basePath: '', target: echo.url }])] },
    env,
    args: ['--workers', '1'],
  });
  try {
    const good = {
      port: gw.port,
      servername: w.domain,
      ca: w.server.caPem,
      cert: w.client.certPem,
      key: w.client.keyPem,
    };
    const r = await request(good, false);
    assert.equal(r.status, 200, 'the replaced process serves');
    return environOf(gw.pid);
  } finally {
    await gw.stop();
  }
}

test('serve runs with one malloc arena, in the process the caller started', async () => {
  const env = { ...process.env };
  delete env.MALLOC_ARENA_MAX;
  const seen = await serveWith(env);
  assert.equal(seen.get('MALLOC_ARENA_MAX'), '1');
});

test('a MALLOC_ARENA_MAX the caller set is kept', async () => {
  const seen = await serveWith({ ...process.env, MALLOC_ARENA_MAX: '4' });
  assert.equal(seen.get('MALLOC_ARENA_MAX'), '4');
});
