/** Every finding id the doctor's code can produce is documented in docs/findings.md (curl.* in docs/doctor-curl.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The ids of finding({ id: ... }) calls, across line breaks. */
function idsInSource(): Set<string> {
  const ids = new Set<string>();
  for (const f of [...files('src/doctor'), ...files('src/trust')]) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bfinding\(\{\s*id: '([a-z0-9]+\.[a-z0-9.-]+)'/g)) ids.add(m[1]!);
  }
  return ids;
}

function documented(file: string): Set<string> {
  const ids = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\|\s*`([a-z0-9]+\.[a-z0-9.-]+)`\s*\|/.exec(line);
    if (m) ids.add(m[1]!);
  }
  return ids;
}

test('every finding id in src/doctor and src/trust is in docs/findings.md, and no documented id is unknown', () => {
  const code = [...idsInSource()].filter((id) => !id.startsWith('curl.'));
  assert.ok(code.length > 80, `only ${code.length} ids found: the pattern is broken`);
  const docs = documented('docs/findings.md');
  assert.deepEqual(code.filter((id) => !docs.has(id)).sort(), [], 'undocumented ids');
  const all = new Set(code);
  assert.deepEqual([...docs].filter((id) => !all.has(id)).sort(), [], 'documented ids no code produces');
});

test("the issue's required finding ids all exist in the code", () => {
  const required =
    `cert.file-not-found key.file-not-found truststore.file-not-found cert.wrong-format cert.is-pkcs12 cert.is-private-key cert.parse-error key.wrong-format key.parse-error key.is-certificate key.missing key.passphrase-required key.wrong-passphrase pkcs12.wrong-passphrase pkcs12.legacy-encryption key.mismatch cert.expired cert.not-yet-valid cert.expires-soon cert.insecure-signature cert.weak-key cert.no-client-auth cert.key-usage cert.refused-by-client-tls chain.self-signed-untrusted chain.self-signed-modified chain.issuer-missing chain.root-missing chain.client-intermediates-ignored chain.signature-invalid chain.ca-expired chain.ca-not-yet-valid chain.not-a-ca chain.path-length-exceeded chain.too-long chain.insecure-signature truststore.parse-error truststore.empty truststore.not-ca truststore.expired truststore.duplicate truststore.insecure-signature truststore.weak-key truststore.incomplete-chain truststore.same-subject-different-key truststore.contains-private-key dns.unresolvable tcp.refused tcp.timeout server.untrusted server.name-mismatch server.expired tls.client-cert-not-requested tls.ca-not-accepted tls.client-cert-required tls.client-cert-rejected`.split(
      ' ',
    );
  const code = idsInSource();
  assert.deepEqual(
    required.filter((id) => !code.has(id)),
    [],
  );
});
