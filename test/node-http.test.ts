import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const UNDICI = 'NativeModule internal/deps/undici/undici';

test("the CLI, the gateway, the live doctor and OCSP load no Node-bundled undici (ESM's import of node:http did)", () => {
  const modules = [
    'cli/main.ts',
    'cli/health.ts',
    'gateway/server.ts',
    'gateway/workers.ts',
    'gateway/echo.ts',
    'doctor/live/connect.ts',
    'trust/ocsp.ts',
  ].map((m) => fileURLToPath(new URL(`../src/${m}`, import.meta.url)));
  const child = `for (const m of process.argv.slice(1)) await import(m);
    const list = process.moduleLoadList;
    console.log(JSON.stringify({ http: list.includes('NativeModule http'), undici: list.includes(${JSON.stringify(UNDICI)}) }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child, ...modules], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  // node:http itself is loaded (the gateway serves with it), without the facade's undici.
  assert.deepEqual(JSON.parse(r.stdout), { http: true, undici: false });
});
