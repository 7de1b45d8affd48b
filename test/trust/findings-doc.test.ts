import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRUSTSTORE_FINDING_IDS } from '../../src/trust/lint.js';

/** Rows of every `| id | severity | meaning |` table in docs/findings.md. */
function documented(): Array<{ id: string; severity: string }> {
  const rows: Array<{ id: string; severity: string }> = [];
  for (const line of readFileSync('docs/findings.md', 'utf8').split('\n')) {
    const m = /^\|\s*`([a-z0-9.-]+)`\s*\|\s*([a-z]+)\s*\|/.exec(line);
    if (m) rows.push({ id: m[1]!, severity: m[2]! });
  }
  return rows;
}

/** Every id passed to finding({ id }) in src/trust, so an id added to a check but not to the list is caught too. */
function idsInSource(): string[] {
  const ids = new Set<string>();
  for (const name of readdirSync('src/trust').filter((n) => n.endsWith('.ts'))) {
    for (const m of readFileSync(join('src/trust', name), 'utf8').matchAll(
      /finding\(\{\s*id: '(truststore\.[a-z-]+)'/g,
    ))
      ids.add(m[1]!);
  }
  return [...ids].sort();
}

test('every truststore finding id in the code is in TRUSTSTORE_FINDING_IDS', () => {
  assert.deepEqual(idsInSource(), [...TRUSTSTORE_FINDING_IDS].sort());
});

test('every truststore finding id appears in docs/findings.md, and the docs list no truststore id the code lacks', () => {
  const rows = documented();
  const docIds = new Set(rows.map((r) => r.id));
  assert.deepEqual(
    TRUSTSTORE_FINDING_IDS.filter((id) => !docIds.has(id)),
    [],
  );
  const known = new Set<string>(TRUSTSTORE_FINDING_IDS);
  assert.deepEqual(
    [...docIds].filter((id) => id.startsWith('truststore.') && !known.has(id)),
    [],
  );
  for (const r of rows) assert.ok(['error', 'warning', 'info'].includes(r.severity), `${r.id}: severity ${r.severity}`);
});
