/**
 * A gateway thread of `serve --workers N` is handed its config already validated (workers.ts), so what it runs loads
 * no config parser (zod, yaml: ~10 MiB a thread) until a reload reads the file again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = (m: string): string => fileURLToPath(new URL(`../../src/${m}`, import.meta.url));

/** The packages (of zod, yaml) each import step loaded, in a fresh process. */
function loadedParsers(steps: string[][]): string[][] {
  const child = `import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ load(url, context, next) {
      const m = /\\/node_modules\\/(zod|yaml)\\//.exec(url);
      if (m) seen.add(m[1]);
      return next(url, context);
    } });
    const out = [];
    for (const step of JSON.parse(process.argv[1])) {
      for (const m of step) await import(m);
      out.push([...seen].sort());
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', child, JSON.stringify(steps)],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[][];
}

test('a gateway thread loads no config parser; the config module does (so this check can fail)', () => {
  // worker-thread.ts runs on import (it needs its workerData): its own imports are checked, and read from its source.
  const imports = [
    ...readFileSync(src('gateway/worker-thread.ts'), 'utf8').matchAll(/^import (?!type )[^'"]*'(\.[^']+)';$/gm),
  ];
  const thread = imports.map((m) => fileURLToPath(new URL(m[1]!.replace(/\.js$/, '.ts'), `file://${src('gateway/')}`)));
  assert.ok(
    thread.some((p) => p.endsWith('server.ts')),
    thread.join(', '),
  );
  assert.deepEqual(loadedParsers([thread, [src('gateway/reload.ts')], [src('gateway/config.ts')]]), [
    [],
    [],
    ['yaml', 'zod'],
  ]);
});
