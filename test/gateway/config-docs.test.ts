/**
 * docs/config.md and the config schema agree: every key the schema takes is documented in the Reference tables,
 * every documented key is one the schema takes, and the complete example is a valid config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configSchema, parseConfig } from '../../src/gateway/config.js';

const docs = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');

type Node = { _zod: { def: { type: string; [k: string]: unknown } } };
const WRAPPERS = new Set(['default', 'optional', 'nullable', 'prefault', 'readonly', 'catch']);

/** Every key path the schema takes: `domains[].mutualTls.revocation.crl.sources`. */
function schemaKeys(node: Node, prefix = ''): string[] {
  let s = node;
  for (;;) {
    const def = s._zod.def;
    if (WRAPPERS.has(def.type)) s = def.innerType as Node;
    else if (def.type === 'pipe') s = def.in as Node;
    else break;
  }
  const def = s._zod.def;
  if (def.type === 'object')
    return Object.entries(def.shape as Record<string, Node>).flatMap(([k, v]) => [
      prefix + k,
      ...schemaKeys(v, `${prefix}${k}.`),
    ]);
  if (def.type === 'array') return schemaKeys(def.element as Node, prefix.replace(/\.$/, '[].'));
  return [];
}

/** The keys of the Reference tables: each row's first cell, under its section's key (### `domains[]`). */
function documentedKeys(): string[] {
  const reference = docs.slice(docs.indexOf('## Reference'), docs.indexOf('\n## ', docs.indexOf('## Reference') + 5));
  const out: string[] = [];
  let section = '';
  for (const line of reference.split('\n')) {
    const heading = /^### (?:`([^`]+)`|Top level)/.exec(line);
    if (heading) section = heading[1] ? `${heading[1]}.` : '';
    const row = /^\| `([A-Za-z0-9.[\]]+)` \|/.exec(line);
    if (row) out.push(row[1]!.startsWith(section) ? row[1]! : section + row[1]);
  }
  return out;
}

test('every config key is documented in docs/config.md, and every documented key exists', () => {
  const schema = schemaKeys(configSchema as unknown as Node);
  const documented = new Set(documentedKeys());
  const headings = new Set([...docs.matchAll(/^### `([^`]+)`/gm)].map((m) => m[1]!));
  // A mapping is documented by its own row, its section, or rows for each of its keys.
  const missing = schema.filter(
    (k) => !documented.has(k) && !headings.has(k) && !schema.some((c) => c.startsWith(`${k}.`) && documented.has(c)),
  );
  assert.deepEqual(missing, []);
  const unknown = [...documented].filter((k) => !schema.includes(k));
  assert.deepEqual(unknown, []);
  assert.ok(documented.has('domains[].mutualTls.revocation.ocsp.responder'), 'the revocation table is read');
});

test("docs/config.md's complete example is a valid config", () => {
  const start = docs.indexOf('```yaml', docs.indexOf('## A complete example'));
  const example = docs.slice(start + '```yaml'.length, docs.indexOf('```', start + 7));
  const cfg = parseConfig(example, '/etc/mtlsgate/config.yaml');
  assert.equal(cfg.domains[0]!.mutualTls.revocation?.mode, 'crl');
  assert.deepEqual(cfg.domains[0]!.mutualTls.revocation?.crl.sources, ['file:///etc/mtlsgate/issuing-ca.crl']);
});
