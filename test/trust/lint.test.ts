import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import type { Issued, IssueSpec } from '../../src/pki/generate.js';
import { parseCert } from '../../src/pki/cert.js';
import { lintTruststore, TRUSTSTORE_FINDING_IDS } from '../../src/trust/lint.js';
import { readTruststore, truststoreFromPem } from '../../src/trust/load.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import type { Finding } from '../../src/report/finding.js';
import { inWorker } from '../helpers/hang-guard.js';
import { tmpDir } from '../helpers/pki.js';

const DAY = 86_400_000;
const now = new Date();

// One root and intermediate shared by the cases; each case adds what it is about.
const root = await issue({ subject: 'CN=Lint Root,O=mtlsgate test', profile: 'root-ca' });
const inter = await issue({
  subject: 'CN=Lint Intermediate,O=mtlsgate test',
  profile: 'intermediate-ca',
  issuer: root,
});

function ca(subject: string, issuer: Issued, extra: Partial<IssueSpec> = {}): Promise<Issued> {
  return issue({ subject, profile: 'intermediate-ca', issuer, publicKeyFrom: root, ...extra });
}

function lintPem(pem: string, at: Date = now): Finding[] {
  const { truststore, file, findings } = truststoreFromPem(pem, 'truststore.pem');
  assert.ok(truststore, 'the bundle has certificates');
  return [...findings, ...lintTruststore(truststore, file, at)];
}

function lintOf(...certs: Issued[]): Finding[] {
  return lintPem(certs.map((c) => c.certPem).join(''));
}

function only(findings: Finding[], id: string): Finding[] {
  return findings.filter((f) => f.id === id);
}

/** Each id and a bundle made to produce it. */
const cases: Array<{ id: string; severity: Finding['severity']; findings: () => Promise<Finding[]> }> = [
  {
    id: 'truststore.not-ca',
    severity: 'warning',
    findings: async () => lintOf(root, inter, await issue({ subject: 'CN=client', profile: 'client', issuer: inter })),
  },
  {
    id: 'truststore.expired',
    severity: 'warning',
    findings: async () =>
      lintOf(
        root,
        await ca('CN=Old CA', root, {
          notBefore: new Date(now.getTime() - 400 * DAY),
          notAfter: new Date(now.getTime() - DAY),
        }),
      ),
  },
  {
    id: 'truststore.expires-soon',
    severity: 'info',
    findings: async () => lintOf(root, await ca('CN=Soon CA', root, { notAfter: new Date(now.getTime() + 10 * DAY) })),
  },
  { id: 'truststore.duplicate', severity: 'warning', findings: async () => lintOf(root, inter, inter) },
  {
    id: 'truststore.insecure-signature',
    severity: 'warning',
    findings: async () => lintOf(root, await ca('CN=SHA1 CA', root, { hash: 'sha1' })),
  },
  {
    id: 'truststore.weak-key',
    severity: 'warning',
    findings: async () =>
      lintOf(
        root,
        await issue({
          subject: 'CN=RSA1024 CA',
          profile: 'intermediate-ca',
          issuer: root,
          key: { type: 'rsa', bits: 1024 },
        }),
      ),
  },
  { id: 'truststore.incomplete-chain', severity: 'warning', findings: async () => lintOf(inter) },
  {
    id: 'truststore.same-subject-different-key',
    severity: 'warning',
    findings: async () => lintOf(root, await issue({ subject: 'CN=Lint Root,O=mtlsgate test', profile: 'root-ca' })),
  },
  {
    id: 'truststore.contains-private-key',
    severity: 'error',
    findings: async () => lintPem(root.certPem + root.keyPem),
  },
  {
    id: 'truststore.too-deep',
    severity: 'warning',
    findings: async () => {
      const c1 = await ca('CN=CA 1', root);
      const c2 = await ca('CN=CA 2', c1);
      const c3 = await ca('CN=CA 3', c2);
      const c4 = await ca('CN=CA 4', c3);
      return lintOf(root, c1, c2, c3, c4);
    },
  },
  {
    id: 'truststore.ca-names-too-large',
    severity: 'warning',
    findings: async () => {
      // ~170-byte names: 420 of them overflow the 65,535 bytes of a CertificateRequest's CA list. One key for all.
      const long = (i: number): string =>
        `CN=Lint CA ${i} ${'with a long name '.repeat(6)},OU=Certificate Authorities,O=mtlsgate test`;
      const cas: Issued[] = [];
      for (let i = 0; i < 420; i++)
        cas.push(await issue({ subject: long(i), profile: 'root-ca', publicKeyFrom: root }));
      return lintOf(...cas);
    },
  },
  {
    id: 'truststore.constraints-not-judged',
    severity: 'warning',
    findings: async () => lintPem((await longNameCas()).map((c) => c.certPem).join('') + policyConstrainedCa()),
  },
];

/** ~170-byte names: 420 of them overflow the 65,535 bytes of a CertificateRequest's CA list. One key for all. */
async function longNameCas(): Promise<Issued[]> {
  const long = (i: number): string =>
    `CN=Lint CA ${i} ${'with a long name '.repeat(6)},OU=Certificate Authorities,O=mtlsgate test`;
  const cas: Issued[] = [];
  for (let i = 0; i < 420; i++) cas.push(await issue({ subject: long(i), profile: 'root-ca', publicKeyFrom: root }));
  return cas;
}

/** A root CA with policy constraints, made by the openssl binary (our generator writes none); its PEM. */
function policyConstrainedCa(): string {
  const dir = tmpDir();
  const key = join(dir, 'nc.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      join(dir, 'nc.pem'),
      '-subj',
      '/CN=Policy Constrained CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      'policyConstraints=critical,inhibitPolicyMapping:0',
    ],
    { stdio: 'pipe' },
  );
  return readFileSync(join(dir, 'nc.pem'), 'utf8');
}

test('constraints-not-judged names the constrained CA and its extension; a bundle that fits in a CertificateRequest does not get it', async () => {
  const nc = policyConstrainedCa();
  const big = only(
    lintPem((await longNameCas()).map((c) => c.certPem).join('') + nc),
    'truststore.constraints-not-judged',
  );
  assert.equal(big.length, 1);
  assert.match(big[0]!.title, /^1 CA certificate\(s\) carry policy constraints/);
  assert.deepEqual(big[0]!.evidence.certificates, ['420: CN=Policy Constrained CA (policy constraints)']);
  assert.deepEqual(only(lintPem(root.certPem + nc), 'truststore.constraints-not-judged'), []);
});

test('constraints-not-judged: name constraints are judged by the model, so a constrained CA gets no finding', async () => {
  const nc = await issue({
    subject: 'CN=Name Constrained CA',
    profile: 'root-ca',
    nameConstraints: { permitted: ['DNS:.example.com'] },
  });
  const all = lintPem((await longNameCas()).map((c) => c.certPem).join('') + nc.certPem);
  assert.deepEqual(only(all, 'truststore.constraints-not-judged'), []);
});

test('a clean root + intermediate bundle has no findings at all', () => {
  assert.deepEqual(lintOf(root, inter), []);
});

for (const c of cases) {
  test(`${c.id} is produced by a bundle made for it`, async () => {
    const findings = await c.findings();
    const hits = only(findings, c.id);
    assert.ok(hits.length > 0, `${c.id} not in ${findings.map((f) => f.id).join(', ')}`);
    assert.equal(hits[0]!.severity, c.severity);
    for (const f of hits) {
      assert.doesNotMatch(f.title, /\n/, 'titles are one line');
      assert.ok(f.detail.length > 40, 'the detail explains');
    }
  });
}

test('every lint id has a case here (and so is tested against the clean bundle above)', () => {
  const lintIds = TRUSTSTORE_FINDING_IDS.filter(
    (id) =>
      ![
        'truststore.file-not-found',
        'truststore.unreadable',
        'truststore.parse-error',
        'truststore.empty',
        'truststore.wrong-format',
        'truststore.contains-crl', // a load finding, tested in load.test.ts
      ].includes(id),
  );
  assert.deepEqual(
    lintIds.filter((id) => !cases.some((c) => c.id === id)),
    [],
  );
});

test('not-ca: a non-CA leaf is a warning naming index and subject; a self-signed one is a pinned client (info)', async () => {
  const leaf = await issue({ subject: 'CN=client', profile: 'client', issuer: inter });
  const pinned = await issue({ subject: 'CN=pinned client', profile: 'client' });
  const f = only(lintOf(root, inter, leaf, pinned), 'truststore.not-ca');
  assert.equal(f.length, 2);
  assert.equal(f[0]!.severity, 'warning');
  assert.match(f[0]!.title, /^certificate 2 \(CN=client\)/);
  assert.equal(f[0]!.evidence.index, 2);
  assert.equal(f[0]!.evidence.basicConstraints, 'CA:FALSE (critical)');
  assert.equal(f[1]!.severity, 'info');
  assert.match(f[1]!.title, /certificate 3 \(CN=pinned client\) is a pinned self-signed client certificate/);
});

test('not-ca: a self-signed CA:TRUE certificate without keyCertSign is a broken root (warning), not a pin', async () => {
  const broken = await issue({ subject: 'CN=No keyCertSign Root', profile: 'root-ca', keyUsage: ['digitalSignature'] });
  const [f] = only(lintOf(broken), 'truststore.not-ca');
  assert.ok(f);
  assert.equal(f.severity, 'warning');
  assert.match(f.title, /says CA:TRUE but its keyUsage lacks keyCertSign/);
});

test("incomplete-chain: a CA of the issuer's name with another key is named in the evidence", async () => {
  const rekeyed = await issue({ subject: 'CN=Lint Root,O=mtlsgate test', profile: 'root-ca' });
  const [f] = only(lintOf(rekeyed, inter), 'truststore.incomplete-chain');
  assert.ok(f);
  assert.equal(f.evidence.index, 1);
  assert.deepEqual(f.evidence.sameNameOtherKey, [
    `0: subject key id ${parseCert(rekeyed.der)
      .info.subjectKeyId!.replace(/(..)(?!$)/g, '$1:')
      .toUpperCase()}`,
  ]);
  assert.match(f.detail, /another key/);
});

test('expired and not-yet-valid certificates are warnings; with every certificate expired they are errors', async () => {
  const old = await ca('CN=Old CA', root, {
    notBefore: new Date(now.getTime() - 400 * DAY),
    notAfter: new Date(now.getTime() - DAY),
  });
  const future = await ca('CN=Future CA', root, { notBefore: new Date(now.getTime() + 10 * DAY) });
  const f = only(lintOf(root, old, future), 'truststore.expired');
  assert.deepEqual(
    f.map((x) => [x.evidence.index, x.severity]),
    [
      [1, 'warning'],
      [2, 'warning'],
    ],
  );
  assert.match(f[0]!.title, /expired on /);
  assert.match(f[1]!.title, /is not valid until /);
  // Ten years on, root and intermediate have both expired: every client is denied.
  const later = new Date(now.getTime() + 3650 * DAY);
  const all = only(lintPem(root.certPem + inter.certPem, later), 'truststore.expired');
  assert.deepEqual(
    all.map((x) => x.severity),
    ['error', 'error'],
  );
});

test('expires-soon names the date and the days left, and does not fire at 30 days or more', async () => {
  const soon = await ca('CN=Soon CA', root, { notAfter: new Date(now.getTime() + 10 * DAY + 3600_000) });
  const [f] = only(lintOf(root, soon), 'truststore.expires-soon');
  assert.ok(f);
  assert.match(f.title, /expires on \d{4}-\d\d-\d\d \(in 10 days\)/);
  assert.equal(f.evidence.daysLeft, 10);
  const later = await ca('CN=Later CA', root, { notAfter: new Date(now.getTime() + 31 * DAY) });
  assert.deepEqual(only(lintOf(root, later), 'truststore.expires-soon'), []);
});

test('duplicate names both indexes and is reported once per extra copy; other checks see the copy once', async () => {
  const leaf = await issue({ subject: 'CN=client', profile: 'client', issuer: inter });
  const findings = lintOf(root, leaf, inter, leaf);
  const dup = only(findings, 'truststore.duplicate');
  assert.equal(dup.length, 1);
  assert.equal(dup[0]!.evidence.index, 3);
  assert.equal(dup[0]!.evidence.duplicateOf, 1);
  assert.equal(only(findings, 'truststore.not-ca').length, 1);
});

test('insecure-signature notes when it is the self-signature of a root', async () => {
  const sha1Root = await issue({ subject: 'CN=SHA1 Root', profile: 'root-ca', hash: 'sha1' });
  const [f] = only(lintOf(sha1Root), 'truststore.insecure-signature');
  assert.ok(f);
  assert.match(f.title, /ecdsa-with-SHA1 \(its self-signature\)/);
  assert.match(f.detail, /OpenSSL never checks a trust anchor's own signature/);
  const [g] = only(lintOf(root, await ca('CN=SHA1 CA', root, { hash: 'sha1' })), 'truststore.insecure-signature');
  assert.ok(g);
  assert.doesNotMatch(g.title, /self-signature/);
  assert.equal(g.evidence.hash, 'sha1');
});

test('weak-key gives the key type and size', async () => {
  const weak = await issue({
    subject: 'CN=RSA1024 CA',
    profile: 'intermediate-ca',
    issuer: root,
    key: { type: 'rsa', bits: 1024 },
  });
  const [f] = only(lintOf(root, weak), 'truststore.weak-key');
  assert.ok(f);
  assert.match(f.title, /weak RSA 1024 bits key/);
  assert.equal(f.evidence.bits, 1024);
});

test('incomplete-chain gives the issuer DN and authority key id needed', async () => {
  const [f] = only(lintOf(inter), 'truststore.incomplete-chain');
  assert.ok(f);
  assert.equal(f.evidence.issuerNeeded, 'CN=Lint Root,O=mtlsgate test');
  assert.equal(
    f.evidence.authorityKeyId,
    parseCert(root.der)
      .info.subjectKeyId!.replace(/(..)(?!$)/g, '$1:')
      .toUpperCase(),
  );
  assert.match(f.fix, /cat issuer-ca\.pem >> truststore\.pem/);
  assert.match(f.detail, /Could not find issuer for certificate/);
});

test('same-subject-different-key lists the certificates sharing the subject; a same-key renewal is fine', async () => {
  const other = await issue({ subject: 'CN=Lint Root,O=mtlsgate test', profile: 'root-ca' });
  const [f] = only(lintOf(root, inter, other), 'truststore.same-subject-different-key');
  assert.ok(f);
  assert.deepEqual(f.evidence.indexes, ['0', '2']);
  const renewed = await issue({ subject: 'CN=Lint Root,O=mtlsgate test', profile: 'root-ca', publicKeyFrom: root });
  assert.deepEqual(only(lintOf(root, inter, renewed), 'truststore.same-subject-different-key'), []);
});

test('contains-private-key gives the block index and type, never the key', () => {
  const findings = lintPem(root.certPem + root.keyPem + inter.certPem);
  const [f] = only(findings, 'truststore.contains-private-key');
  assert.ok(f);
  assert.equal(f.severity, 'error');
  assert.equal(f.evidence.block, 1);
  assert.equal(f.evidence.type, 'PRIVATE KEY');
  const keyBody = root.keyPem.split('\n')[1]!;
  assert.ok(!JSON.stringify(findings).includes(keyBody), 'no key material in any finding');
});

test('too-deep flags only the CA whose clients would need five CAs', async () => {
  const c1 = await ca('CN=CA 1', root);
  const c2 = await ca('CN=CA 2', c1);
  const c3 = await ca('CN=CA 3', c2);
  assert.deepEqual(only(lintOf(root, c1, c2, c3), 'truststore.too-deep'), [], 'four CAs are allowed');
  const c4 = await ca('CN=CA 4', c3);
  const f = only(lintOf(c4, c3, c2, c1, root), 'truststore.too-deep');
  assert.equal(f.length, 1);
  assert.equal(f[0]!.evidence.index, 0);
  assert.equal(f[0]!.evidence.caCount, 5);
  assert.deepEqual(f[0]!.evidence.path, [
    '4: CN=Lint Root,O=mtlsgate test',
    '3: CN=CA 1',
    '2: CN=CA 2',
    '1: CN=CA 3',
    '0: CN=CA 4',
  ]);
});

test('a loop of cross-signed CAs neither hangs nor counts as a root', async () => {
  // A and B sign each other (same key, so the key ids agree): neither is self-signed.
  const a = await issue({
    subject: 'CN=Loop A',
    profile: 'intermediate-ca',
    issuer: await issue({ subject: 'CN=Loop B', profile: 'root-ca', publicKeyFrom: root }),
    publicKeyFrom: root,
  });
  const b = await issue({ subject: 'CN=Loop B', profile: 'intermediate-ca', issuer: a, publicKeyFrom: root });
  const f = lintOf(a, b);
  assert.deepEqual(only(f, 'truststore.incomplete-chain'), []);
  assert.deepEqual(only(f, 'truststore.too-deep'), []);
});

test('fix commands work: awk removes exactly the duplicate; the show command prints the named certificate', async () => {
  const dir = tmpDir();
  const path = join(dir, 'bundle.pem');
  const leaf = await issue({ subject: 'CN=client', profile: 'client', issuer: inter });
  writeFileSync(path, root.certPem + inter.certPem + leaf.certPem + inter.certPem);
  const read = await readTruststore(path);
  const findings = lintTruststore(read.truststore!, read.file, now);
  const [dup] = only(findings, 'truststore.duplicate');
  execFileSync('sh', ['-c', dup!.fix], { cwd: dir });
  assert.equal(readFileSync(`${path}.new`, 'utf8'), root.certPem + inter.certPem + leaf.certPem);
  const [notCa] = only(findings, 'truststore.not-ca');
  const show = notCa!.fix.split('\n')[0]!;
  assert.match(execFileSync('sh', ['-c', show], { cwd: dir, encoding: 'utf8' }), /Subject: CN ?= ?client/);
  const [key] = only(lintPem(root.certPem + root.keyPem), 'truststore.contains-private-key');
  writeFileSync(join(dir, 'truststore.pem'), root.certPem + root.keyPem);
  execFileSync('sh', ['-c', key!.fix.split('\n')[0]!], { cwd: dir });
  assert.equal(readFileSync(join(dir, 'truststore.pem.nokeys'), 'utf8'), root.certPem);
});

test('after a parse error, fix commands stop pointing at positions', () => {
  const broken = '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n';
  const findings = lintPem(root.certPem + broken + inter.certPem + inter.certPem);
  const [dup] = only(findings, 'truststore.duplicate');
  assert.ok(dup);
  assert.doesNotMatch(dup.fix, /awk/);
  assert.match(dup.fix, /by hand/);
});

/**
 * A 10,000-certificate bundle: 50 distinct CAs (root, 9 level-1 CAs, 40 level-2 CAs, one shared key so no key
 * generation), each copied with patched serial numbers. The signatures no longer verify, which lint never checks;
 * names and key ids still chain.
 */
async function bigBundle(total: number): Promise<string> {
  const marker = 'a7e57a7e57a7e57a7e57a7e57a7e57a7';
  const level1 = await Promise.all(Array.from({ length: 9 }, (_, i) => ca(`CN=Big CA ${i}`, root, { serial: marker })));
  const level2 = await Promise.all(
    Array.from({ length: 40 }, (_, i) => ca(`CN=Big CA ${i % 9}.${i}`, level1[i % 9]!, { serial: marker })),
  );
  const templates = [...level1, ...level2].map((c) => c.der);
  const markerBytes = Buffer.from(marker, 'hex');
  const blocks = [root.certPem];
  for (let n = 0; blocks.length < total; n++) {
    const der = Buffer.from(templates[n % templates.length]!);
    const at = der.indexOf(markerBytes);
    der.writeUInt32BE(n, at + 4);
    blocks.push(
      `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`,
    );
  }
  return blocks.join('');
}

test('a 10,000-certificate bundle lints well under the 2 s bound', async () => {
  const pem = await bigBundle(10_000);
  // Loaded and linted in a worker stopped after minutes (a hang guard that a loaded machine does not trip): 10,000
  // certificates under 50 names, so a chain walk that tries every same-named issuer never ends.
  const { certs, findings } = await inWorker<{ certs: number; findings: Pick<Finding, 'id' | 'evidence'>[] }>(
    'lint of 10,000 certificates',
    {
      load: new URL('../../src/trust/load.ts', import.meta.url),
      lint: new URL('../../src/trust/lint.ts', import.meta.url),
    },
    `((t) => ({ certs: t.truststore.certs.length,
      findings: m.lint.lintTruststore(t.truststore, t.file, data.now).map((f) => ({ id: f.id, evidence: f.evidence })) }))(m.load.truststoreFromPem(data.pem, 'big.pem'))`,
    { pem, now },
  );
  assert.equal(certs, 10_000);
  // Nothing wrong with any certificate; only the bundle's size: its CA names overflow a CertificateRequest.
  assert.deepEqual(
    findings.map((f) => f.id),
    ['truststore.ca-names-too-large'],
  );
  assert.ok(Number(findings[0]!.evidence.caNamesBytes) > 65_535);
});

test('lint also works on a truststore built without a file (the gateway path)', () => {
  const ts = makeTruststore('s3://bucket/truststore.pem', [parseCert(inter.der)]);
  const [f] = only(lintTruststore(ts), 'truststore.incomplete-chain');
  assert.ok(f);
  assert.match(f.fix, /cat issuer-ca\.pem >> truststore\.pem/);
});

test('a CA with a 20,000-character subject: lint titles stay one short line, the evidence keeps the whole name', async () => {
  const subject = `CN=long,${Array.from({ length: 300 }, (_, i) => `OU=${String(i).padStart(3, '0')}${'q'.repeat(60)}`).join(',')}`;
  const orphan = await ca(subject, await ca('CN=Missing Parent', root));
  const findings = lintOf(orphan);
  const f = only(findings, 'truststore.incomplete-chain')[0];
  assert.ok(f, findings.map((x) => x.id).join(', '));
  assert.ok(f.title.length < 700, `a ${f.title.length}-character title`);
  assert.match(f.title, /\.\.\. \(\d+ characters\)/);
  assert.ok(String(f.evidence.subject).length > 20_000, 'the evidence has the whole subject');
});
