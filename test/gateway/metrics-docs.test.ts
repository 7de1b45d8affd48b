/**
 * docs/metrics.md and the metrics the gateway exports agree, both ways: every `# TYPE` line /metrics can write is
 * documented with its type and labels, and every documented metric is exported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { DomainSummary } from '../../src/gateway/admin.js';
import { inc, newMetrics, renderMetrics } from '../../src/gateway/metrics.js';

const docs = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

/** A rendering with one series of everything, so that every family shows its labels. */
function everything(): string {
  const m = newMetrics();
  m.requests.set('a.test', new Map([[200, 1]]));
  inc(m.denials, 'a.test CERT_REVOKED');
  inc(m.truststoreErrors, 'a.test');
  inc(m.revocationUnavailableAllowed, 'a.test');
  inc(m.crlRefreshErrors, 'a.test');
  const domain = {
    domainName: 'a.test',
    revocation: {
      mode: 'crl',
      scope: 'leaf',
      onUnavailable: 'deny',
      sources: [{ uri: 'file:///x.crl', version: null, loadedAt: new Date().toISOString(), error: null }],
      crls: [
        {
          source: 'file:///x.crl',
          issuer: 'CN=CA',
          thisUpdate: new Date().toISOString(),
          nextUpdate: new Date().toISOString(),
          crlNumber: '1',
          entries: 0,
        },
      ],
    },
  } as unknown as DomainSummary;
  return renderMetrics(m, true, false, [domain]);
}

test('every exported metric is documented with its type and labels, and every documented one is exported', () => {
  const text = everything();
  const exported = new Map<string, { type: string; labels: Set<string> }>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) exported.set(m[1]!, { type: m[2]!, labels: new Set() });
  for (const m of text.matchAll(/^([a-z_]+)\{([^}]*)\} /gm))
    for (const l of m[2]!.matchAll(/([a-z_]+)="/g)) exported.get(m[1]!)?.labels.add(l[1]!);
  const documented = new Map<string, { type: string; labels: string }>();
  for (const m of docs.matchAll(/^\| `(mtlsgate_[a-z_]+)` \| (counter|gauge|histogram) \|([^|]*)\|/gm))
    documented.set(m[1]!, { type: m[2]!, labels: m[3]!.trim() });
  assert.deepEqual(
    [...exported.keys()].filter((n) => !documented.has(n)),
    [],
    'exported, not documented',
  );
  assert.deepEqual(
    [...documented.keys()].filter((n) => !exported.has(n)),
    [],
    'documented, not exported',
  );
  for (const [name, e] of exported) {
    const d = documented.get(name)!;
    assert.equal(d.type, e.type, `${name}: type`);
    for (const l of e.labels) assert.match(d.labels, new RegExp(`\`${l}\``), `${name}: label ${l} documented`);
  }
});
