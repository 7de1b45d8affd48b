import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certFromPem, parseCert } from '../../src/pki/cert.js';
import { parseCrls } from '../../src/pki/crl.js';
import { issue } from '../../src/pki/generate.js';
import type { Issued } from '../../src/pki/generate.js';
import { makeCrl } from '../../src/pki/generate-crl.js';
import type { CrlSpec } from '../../src/pki/generate-crl.js';
import type { Finding } from '../../src/report/finding.js';
import { CRL_FINDING_IDS, lintCrls } from '../../src/trust/crl-lint.js';
import type { CrlSource } from '../../src/trust/crl-lint.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { openssl, opensslTmpDir } from '../helpers/openssl.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = new Date('2026-03-01T12:00:00Z');
const dir = opensslTmpDir();

const root = await issue({ subject: 'CN=Lint Root,O=Example', profile: 'root-ca' });
const inter = await issue({ subject: 'CN=Lint Intermediate,O=Example', profile: 'intermediate-ca', issuer: root });
const twin = await issue({ subject: 'CN=Lint Intermediate,O=Example', profile: 'intermediate-ca', issuer: root });
const stranger = await issue({ subject: 'CN=Stranger CA', profile: 'root-ca' });
const noCrlSign = await issue({ subject: 'CN=No cRLSign CA', profile: 'root-ca', keyUsage: ['keyCertSign'] });
const noKeyUsage = await issue({ subject: 'CN=No KU CA', profile: 'root-ca', keyUsage: null });
const truststore = makeTruststore(
  'ts.pem',
  [root, inter, noCrlSign, noKeyUsage].map((c) => parseCert(c.der)),
);

/** A CRL file as parseCrls reads it, made by makeCrl; valid from an hour before `now` for 7 days by default. */
function source(name: string, spec: Partial<CrlSpec> & { issuer: Issued }): CrlSource {
  const crl = makeCrl({
    revoked: [{ serial: '0a1b', revokedAt: new Date(now.getTime() - 2 * HOUR), reason: 'keyCompromise' }],
    thisUpdate: new Date(now.getTime() - HOUR),
    nextUpdate: new Date(now.getTime() - HOUR + 7 * DAY),
    ...spec,
  });
  return { path: name, ...parseCrls(crl.der, name) };
}

function lint(...crls: CrlSource[]): Finding[] {
  return lintCrls({ crls, truststore, now });
}

const ids = (fs: Finding[]): string[] => fs.map((f) => f.id);

test('a good CRL of each truststore CA: no findings (a CA without key usage may sign CRLs)', () => {
  assert.deepEqual(
    lint(
      source('inter.crl', { issuer: inter }),
      source('root.crl', { issuer: root }),
      source('nku.crl', { issuer: noKeyUsage }),
    ),
    [],
  );
});

test('every finding names the file and the issuer, explains, and gives a fix and evidence', () => {
  const all = [
    ...lint(source('other.crl', { issuer: stranger })),
    ...lint(source('twin.crl', { issuer: twin })),
    ...lint(source('nocrlsign.crl', { issuer: noCrlSign })),
    ...lint(
      source('old.crl', {
        issuer: inter,
        thisUpdate: new Date(now.getTime() - 8 * DAY),
        nextUpdate: new Date(now.getTime() - DAY),
      }),
    ),
    ...lint(
      source('soon.crl', {
        issuer: inter,
        thisUpdate: new Date(now.getTime() - 6 * DAY),
        nextUpdate: new Date(now.getTime() + 20 * HOUR),
      }),
    ),
    ...lint(source('future.crl', { issuer: inter, thisUpdate: new Date(now.getTime() + HOUR) })),
    ...lint(source('forever.crl', { issuer: inter, nextUpdate: null })),
    ...lint(
      source('critical.crl', {
        issuer: inter,
        extraExtensions: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: Buffer.from([5, 0]) }],
      }),
    ),
  ];
  assert.deepEqual(ids(all), [
    'crl.issuer-not-in-truststore',
    'crl.signature-invalid',
    'crl.issuer-no-crlsign',
    'crl.expired',
    'crl.expires-soon',
    'crl.not-yet-valid',
    'crl.no-next-update',
    'crl.unknown-critical-extension',
  ]);
  for (const f of all) {
    const file = f.evidence.file as string;
    assert.ok(f.title.startsWith(`${file} (issuer ${f.evidence.issuer})`), f.title);
    assert.ok(f.detail.length > 80, f.id);
    assert.ok(f.fix.length > 0, f.id);
    assert.equal(typeof f.evidence.thisUpdate, 'string', f.id);
  }
  const bySeverity = Object.fromEntries(all.map((f) => [f.id, f.severity]));
  assert.deepEqual(bySeverity, {
    'crl.issuer-not-in-truststore': 'error',
    'crl.signature-invalid': 'error',
    'crl.issuer-no-crlsign': 'error',
    'crl.expired': 'error',
    'crl.expires-soon': 'warning',
    'crl.not-yet-valid': 'error',
    'crl.no-next-update': 'warning',
    'crl.unknown-critical-extension': 'error',
  });
  const expired = all.find((f) => f.id === 'crl.expired')!;
  assert.match(
    expired.title,
    /^old\.crl \(issuer CN=Lint Intermediate,O=Example\) expired on 2026-02-28T12:00:00\.000Z$/,
  );
  assert.match(expired.detail, /onUnavailable/);
  assert.match(expired.fix, /openssl ca -config CA\.cnf -gencrl -out old\.crl/);
  assert.match(expired.fix, /mtlsgate pki crl DIR/);
  assert.match(
    all.find((f) => f.id === 'crl.signature-invalid')!.fix,
    /openssl crl -in twin\.crl -CAfile ts\.pem -noout/,
  );
  assert.deepEqual(all.find((f) => f.id === 'crl.unknown-critical-extension')!.evidence.extensions, [
    '1.3.6.1.4.1.55555.1',
  ]);
});

test('expires-soon: under 24 hours or under a quarter of the lifetime left, whichever is shorter', () => {
  const at = (life: number, left: number): string[] =>
    ids(
      lint(
        source('x.crl', {
          issuer: inter,
          thisUpdate: new Date(now.getTime() + left - life),
          nextUpdate: new Date(now.getTime() + left),
        }),
      ),
    );
  assert.deepEqual(at(7 * DAY, 23 * HOUR), ['crl.expires-soon']);
  assert.deepEqual(at(7 * DAY, 25 * HOUR), []);
  assert.deepEqual(at(12 * HOUR, 2 * HOUR), ['crl.expires-soon']);
  assert.deepEqual(at(12 * HOUR, 4 * HOUR), [], 'a 12-hour CRL warns in its last 3 hours only');
  assert.deepEqual(at(7 * DAY, -1), ['crl.expired']);
});

test('unreadable files and blocks are crl.parse-error; the readable CRLs beside them are still checked', () => {
  const good = makeCrl({ issuer: stranger, revoked: [], thisUpdate: now });
  const bytes = Buffer.from(`${good.pem}-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n`);
  const found = lint(
    { path: 'mixed.crl', ...parseCrls(bytes, 'mixed.crl') },
    { path: 'junk.crl', ...parseCrls(Buffer.from('hello'), 'junk.crl') },
  );
  assert.deepEqual(ids(found), ['crl.parse-error', 'crl.issuer-not-in-truststore', 'crl.parse-error']);
  assert.match(found[0]!.title, /^mixed\.crl: cannot be read as a CRL \(pem block 1 \(X509 CRL\): /);
  assert.equal(found[2]!.title, 'junk.crl: cannot be read as a CRL (no X509 CRL in it (neither PEM nor DER))');
});

test('several CRLs in one file are told apart by their index; no truststore means no known issuer', () => {
  const a = makeCrl({ issuer: inter, revoked: [], thisUpdate: now, nextUpdate: null });
  const b = makeCrl({ issuer: root, revoked: [], thisUpdate: now, nextUpdate: null });
  const src: CrlSource = { path: 'both.pem', ...parseCrls(Buffer.from(a.pem + b.pem), 'both.pem') };
  const found = lint(src);
  assert.deepEqual(
    found.map((f) => f.title.split(' has ')[0]),
    ['both.pem CRL 0 (issuer CN=Lint Intermediate,O=Example)', 'both.pem CRL 1 (issuer CN=Lint Root,O=Example)'],
  );
  assert.equal(found[1]!.evidence.index, 1);
  assert.deepEqual(ids(lintCrls({ crls: [src], truststore: null, now })).slice(0, 1), ['crl.issuer-not-in-truststore']);
});

test('CRLs made by openssl ca -gencrl: clean, partitioned (crl.unsupported), unknown critical, signed by a twin', () => {
  const ca = join(dir, 'ossl');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${ca}.key`]);
  openssl(['req', '-x509', '-new', '-key', `${ca}.key`, '-subj', '/O=Example/CN=OpenSSL CA', '-days', '30']
    .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${ca}.pem`])); // prettier-ignore
  writeFileSync(`${ca}.index`, '');
  writeFileSync(`${ca}.crlnumber`, '10\n');
  writeFileSync(
    `${ca}.cnf`,
    [
      '[ca]', 'default_ca = CA_default', '[CA_default]', `database = ${ca}.index`, `certificate = ${ca}.pem`,
      `private_key = ${ca}.key`, `crlnumber = ${ca}.crlnumber`, 'default_md = sha256', 'default_crl_days = 7',
      '[idp_ext]', 'issuingDistributionPoint = critical,@idp', '[idp]', 'fullname = URI:http://example.com/p1.crl',
      '[odd_ext]', 'authorityKeyIdentifier = keyid:always', '1.3.6.1.4.1.55555.2 = critical,ASN1:NULL', '',
    ].join('\n'), // prettier-ignore
  );
  const gencrl = (name: string, ...extra: string[]): CrlSource => {
    const out = join(dir, name);
    openssl(['ca', '-config', `${ca}.cnf`, '-gencrl', '-out', out, ...extra]);
    return { path: out, ...parseCrls(readFileSync(out), out) };
  };
  const store = makeTruststore('ossl-ts.pem', [certFromPem(readFileSync(`${ca}.pem`, 'utf8'))]);
  const run = (s: CrlSource, at = new Date()): string[] => ids(lintCrls({ crls: [s], truststore: store, now: at }));
  assert.deepEqual(run(gencrl('clean.crl')), []);
  assert.deepEqual(run(gencrl('idp.crl', '-crlexts', 'idp_ext')), ['crl.unsupported']);
  assert.deepEqual(run(gencrl('odd.crl', '-crlexts', 'odd_ext')), ['crl.unknown-critical-extension']);
  assert.deepEqual(run(gencrl('later.crl'), new Date(Date.now() + 8 * DAY)), ['crl.expired']);
  // The same name as the openssl CA, another key: the signature fails.
  const impostor = lintCrls({
    crls: [source('imp.crl', { issuer: inter })],
    truststore: makeTruststore('t', [parseCert(twin.der)]),
    now,
  });
  assert.deepEqual(ids(impostor), ['crl.signature-invalid']);
  const unsupported = lintCrls({ crls: [gencrl('idp2.crl', '-crlexts', 'idp_ext')], truststore: store })[0]!;
  assert.match(unsupported.title, /uses issuing distribution point, which mtlsgate does not support: it is not used$/);
});

test('CRL_FINDING_IDS holds every crl.* id lintCrls has in its source', () => {
  const code = readFileSync('src/trust/crl-lint.ts', 'utf8');
  const used = [...code.matchAll(/id: '(crl\.[a-z-]+)'/g)].map((m) => m[1]!).sort();
  assert.deepEqual([...new Set(used)], [...CRL_FINDING_IDS].sort());
});
