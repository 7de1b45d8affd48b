/**
 * Every curl.* finding id the code can produce is documented in docs/doctor-curl.md, with its severity, and no other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function documented(): Set<string> {
  const rows = new Set<string>();
  for (const line of readFileSync('docs/doctor-curl.md', 'utf8').split('\n')) {
    const m = /^\|\s*`(curl\.[a-zA-Z0-9.-]+)`\s*\|\s*(error|warning|info)\s*\|/.exec(line);
    if (m) rows.add(`${m[1]} ${m[2]}`);
  }
  return rows;
}

/**
 * `finding({ id: 'curl.x', severity: 'error'` in src/doctor/curl; a severity chosen at run time (`pem ? 'warning' :
 * 'info'`) counts as both.
 */
function inSource(): Set<string> {
  const out = new Set<string>();
  for (const name of readdirSync('src/doctor/curl').filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join('src/doctor/curl', name), 'utf8');
    for (const m of text.matchAll(
      /finding\(\{\s*id: (?:'(curl\.[a-z0-9-]+)'|`curl\.exit-\$\{code\}`),\s*severity: ('(?:error|warning|info)'|[^,]*\?\s*'(?:error|warning|info)'\s*:\s*'(?:error|warning|info)')/g,
    )) {
      const id = m[1] ?? 'curl.exit-N';
      for (const sev of m[2]!.matchAll(/'(error|warning|info)'/g)) out.add(`${id} ${sev[1]}`);
    }
  }
  return out;
}

test('every curl.* finding (id and severity) is in docs/doctor-curl.md, and the docs list none the code lacks', () => {
  const docs = documented();
  const code = inSource();
  assert.ok(code.size > 40, `only ${code.size} ids found in the source: the pattern is stale`);
  assert.deepEqual([...code].filter((x) => !docs.has(x)).sort(), [], 'in the code, not in the docs');
  assert.deepEqual([...docs].filter((x) => !code.has(x)).sort(), [], 'in the docs, not in the code');
});
