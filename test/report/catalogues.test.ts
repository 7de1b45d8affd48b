/**
 * The code tables and their documents agree both ways: deny codes and CLI error codes (docs/errors.md), finding ids
 * (docs/findings.md, docs/doctor-curl.md for curl.*). A table entry the code never produces is caught too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_ERROR_CODES } from '../../src/errors.js';
import { categoryOf, reasonFor, reasonForCode } from '../../src/policy/defect.js';
import { DENY_CODES, OWN_DENY_CODES, type OwnDenyCode } from '../../src/policy/verdict.js';
import { FINDING_IDS } from '../../src/report/finding-ids.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Source text of src/, without the files that hold the tables themselves. */
const TABLES = ['src/errors.ts', 'src/policy/verdict.ts', 'src/report/finding-ids.ts'];
const code = sources('src')
  .filter((p) => !TABLES.includes(p))
  .map((p) => readFileSync(p, 'utf8'))
  .join('\n');

/** `| \`ID\` | second column |` rows: of the section under `heading` up to the next `## `, or of the whole file. */
function rows(file: string, heading?: string): Map<string, string> {
  const text = readFileSync(file, 'utf8');
  const start = heading === undefined ? 0 : text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `${file}: no "${heading}" section`);
  const end = heading === undefined ? -1 : text.indexOf('\n## ', start + 1);
  const out = new Map<string, string>();
  for (const line of text.slice(start, end < 0 ? undefined : end).split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|\s*(.*?)\s*\|/.exec(line);
    if (m) out.set(m[1]!, m[2]!.replace(/\\\|/g, '|'));
  }
  return out;
}

function sameSets(actual: Iterable<string>, expected: Iterable<string>, what: string): void {
  const a = new Set(actual);
  const e = new Set(expected);
  assert.deepEqual([...e].filter((x) => !a.has(x)).sort(), [], `${what}: in the table, not in the docs`);
  assert.deepEqual([...a].filter((x) => !e.has(x)).sort(), [], `${what}: in the docs, not in the table`);
}

test('docs/errors.md lists every deny code with the reason the gateway gives, and no other code', () => {
  const docs = rows('docs/errors.md', '## Deny codes');
  sameSets(docs.keys(), DENY_CODES, 'deny codes');
  for (const c of DENY_CODES) assert.equal(docs.get(c), reasonForCode(c), `${c}: documented reason`);
});

test("every mtlsgate deny code is produced somewhere, and a rule's reason is the one its table row gives", () => {
  const own = Object.keys(OWN_DENY_CODES) as OwnDenyCode[];
  for (const c of own) assert.ok(code.includes(`'${c}'`), `${c} is in no source file but the table`);
  for (const c of own.filter((x) => categoryOf(x) !== 'other')) {
    assert.equal(reasonFor({ code: c, category: categoryOf(c), depth: 0, openssl: false }), OWN_DENY_CODES[c], c);
  }
});

test('docs/errors.md lists every CLI error code, each thrown somewhere, and no other', () => {
  const docs = rows('docs/errors.md', '## CLI error codes');
  sameSets(docs.keys(), Object.keys(CLI_ERROR_CODES), 'CLI error codes');
  for (const c of Object.keys(CLI_ERROR_CODES)) assert.ok(code.includes(`'${c}'`), `${c} is thrown nowhere`);
});

test('FINDING_IDS and the finding docs agree both ways, and every id in the table is produced somewhere', () => {
  const findings = rows('docs/findings.md');
  const curl = rows('docs/doctor-curl.md', '## Finding ids');
  const curlIds = [...curl.keys()].filter((id) => id.startsWith('curl.') && id !== 'curl.exit-N');
  const documented = [...findings.keys(), ...curlIds];
  sameSets(documented, FINDING_IDS, 'finding ids');
  for (const id of FINDING_IDS) assert.ok(code.includes(`'${id}'`), `${id} is produced nowhere`);
  assert.ok(code.includes('`curl.exit-${code}`') && curl.has('curl.exit-N'), 'curl.exit-N');
});
