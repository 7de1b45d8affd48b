import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

/**
 * The CLI loads a command's heavy modules only when that command runs (src/cli/gateway-modules.ts, the lazy
 * generator imports): `--version`, `inspect` or `doctor` must not pay ~0.15 s for the gateway's and the
 * certificate generator's libraries. Measured by which packages a fresh process has loaded, not by time.
 */
function packagesLoadedBy(script: string): string[] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as string[];
}

const LIST_PACKAGES = `
  const { createRequire } = await import('node:module');
  const cache = createRequire(import.meta.url).cache;
  const names = new Set(Object.keys(cache).filter((f) => f.includes('/node_modules/')).map((f) => {
    const rest = f.split('/node_modules/').pop().split('/');
    return rest[0].startsWith('@') ? rest[0] + '/' + rest[1] : rest[0];
  }));
  console.log(JSON.stringify([...names].sort()));`;

const HEAVY = ['undici', 'pino', '@peculiar/asn1-x509', '@peculiar/asn1-schema', '@aws-sdk/client-s3', 'pkijs'];

test('building the command tree loads none of the gateway or generator libraries', () => {
  const loaded = packagesLoadedBy(
    `await import(${JSON.stringify(new URL('../../src/cli/main.ts', import.meta.url).href)});${LIST_PACKAGES}`,
  );
  assert.ok(loaded.includes('commander'), `commander should be loaded: ${loaded.join(', ')}`);
  for (const p of HEAVY) assert.ok(!loaded.includes(p), `${p} loaded at start-up: ${loaded.join(', ')}`);
});

test('the gateway modules, once asked for, do load undici and pino (the check above can fail)', () => {
  const loaded = packagesLoadedBy(
    `const m = await import(${JSON.stringify(new URL('../../src/cli/gateway-modules.ts', import.meta.url).href)}); await m.gatewayModules();${LIST_PACKAGES}`,
  );
  assert.ok(loaded.includes('undici') && loaded.includes('pino'), loaded.join(', '));
});

test('serve --check loads what can refuse a start, not the serving path (undici: the backend pools)', () => {
  const loaded = packagesLoadedBy(
    `await import(${JSON.stringify(new URL('../../src/gateway/prepare.ts', import.meta.url).href)});${LIST_PACKAGES}`,
  );
  assert.ok(loaded.includes('pino'), `the truststore warnings' logger should be loaded: ${loaded.join(', ')}`);
  assert.ok(!loaded.includes('undici'), `undici loaded by serve --check: ${loaded.join(', ')}`);
});

test("each lazily loaded command is registered under its own name (main.ts picks it by argv's first word)", async () => {
  const { COMMANDS } = await import('../../src/cli/main.js');
  const ctx = { io: { stdout: process.stdout, stderr: process.stderr, env: {} }, setExitCode: () => {} };
  for (const [name, load] of COMMANDS) assert.equal((await load())(ctx).name(), name);
});
