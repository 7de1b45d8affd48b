/**
 * Every finding id of the offline doctor, each produced by a fixture made for it, with the verdict the gateway
 * would reach. Wherever a key is given the verdict comes from a real loopback handshake, and the doctor's model
 * must agree with it (no doctor.model-disagreement finding).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { certFromPem } from '../../src/pki/cert.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { diagnose, type DiagnoseReport } from '../../src/doctor/diagnose.js';
import { verdictFields } from '../../src/policy/verdict.js';
import type { DoctorInput } from '../../src/doctor/known.js';
import { tmpDir } from '../helpers/pki.js';

const DAY = 86_400_000;
let dir = '';
let root: Issued;
let int: Issued;
let good: Issued;
const w = (name: string, text: string | Buffer, mode = 0o600): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

before(async () => {
  dir = tmpDir();
  root = await issue({ subject: 'CN=Doctor Root', profile: 'root-ca' });
  int = await issue({ subject: 'CN=Doctor Intermediate', profile: 'intermediate-ca', issuer: root });
  good = await issue({ subject: 'CN=client', profile: 'client', issuer: int });
  w('truststore.pem', root.certPem + int.certPem, 0o644);
  w('good.crt', good.certPem, 0o644);
  w('good.key', good.keyPem);
});

const ts = (): string => join(dir, 'truststore.pem');
const ids = (r: DiagnoseReport): string[] => r.findings.map((f) => f.id);

const runDoctor = (files: DoctorInput): Promise<DiagnoseReport> => diagnose({ files });

async function expectFinding(input: DoctorInput, id: string, reason?: string | null): Promise<DiagnoseReport> {
  const r = await runDoctor(input);
  assert.ok(ids(r).includes(id), `expected ${id}, got ${ids(r).join(', ')}`);
  assert.ok(!ids(r).includes('doctor.model-disagreement'), 'model and handshake disagree');
  if (reason !== undefined) assert.equal(r.verdict && verdictFields(r.verdict).reason, reason);
  const f = r.findings.find((x) => x.id === id)!;
  assert.ok(f.title.length > 0 && !f.title.includes('\n'), 'one-line title');
  assert.ok(['error', 'warning', 'info'].includes(f.severity));
  return r;
}

test('the good client certificate is accepted by a real handshake, with no errors', async () => {
  const r = await runDoctor({ cert: join(dir, 'good.crt'), key: join(dir, 'good.key'), truststore: ts() });
  assert.deepEqual(r.verdict, { accepted: true });
  assert.equal(r.verdictSource, 'handshake');
  assert.deepEqual(
    r.findings.filter((f) => f.severity === 'error'),
    [],
  );
  assert.deepEqual(r.chain?.subjects, ['CN=client', 'CN=Doctor Intermediate', 'CN=Doctor Root']);
});

test('files: not found, swapped, wrong formats, passphrases', async () => {
  await expectFinding({ cert: join(dir, 'nope.crt'), truststore: ts() }, 'cert.file-not-found', null);
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'nope.key'), truststore: ts() },
    'key.file-not-found',
  );
  await expectFinding({ cert: join(dir, 'good.crt'), truststore: join(dir, 'nope.pem') }, 'truststore.file-not-found');
  await expectFinding(
    { cert: join(dir, 'good.key'), key: join(dir, 'good.crt'), truststore: ts() },
    'cert.is-private-key',
  );
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'good.crt'), truststore: ts() },
    'key.is-certificate',
  );
  await expectFinding({ cert: join(dir, 'good.crt'), truststore: ts() }, 'key.missing', null);
  w('good-der.crt', good.der, 0o644);
  const der = await expectFinding(
    { cert: join(dir, 'good-der.crt'), key: join(dir, 'good.key'), truststore: ts() },
    'cert.wrong-format',
  );
  assert.match(der.findings.find((f) => f.id === 'cert.wrong-format')!.fix, /openssl x509 -inform DER/);
  assert.equal(der.verdict?.accepted, true, 'the gateway itself does not care that the file was DER');
  w('garbage.crt', 'this is not a certificate\n', 0o644);
  await expectFinding({ cert: join(dir, 'garbage.crt'), truststore: ts() }, 'cert.wrong-format', null);
  w('broken.crt', '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n', 0o644);
  await expectFinding({ cert: join(dir, 'broken.crt'), truststore: ts() }, 'cert.parse-error', null);
  w('broken.key', '-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n');
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'broken.key'), truststore: ts() },
    'key.parse-error',
  );
  w('garbage.key', Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'garbage.key'), truststore: ts() },
    'key.wrong-format',
  );
  w('good-der.key', createPrivateKey(good.keyPem).export({ type: 'pkcs8', format: 'der' }));
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'good-der.key'), truststore: ts() },
    'key.wrong-format',
    null,
  );
  w(
    'enc.key',
    String(
      createPrivateKey(good.keyPem).export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'sesame',
      }),
    ),
  );
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'enc.key'), truststore: ts() },
    'key.passphrase-required',
  );
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'enc.key'), pass: 'wrong', truststore: ts() },
    'key.wrong-passphrase',
  );
  const unlocked = await runDoctor({
    cert: join(dir, 'good.crt'),
    key: join(dir, 'enc.key'),
    pass: 'sesame',
    truststore: ts(),
  });
  assert.equal(unlocked.verdictSource, 'handshake');
  assert.equal(unlocked.verdict?.accepted, true);
  // curl's --cert file:passphrase
  const curlStyle = await runDoctor({
    cert: `${join(dir, 'good.crt')}:sesame`,
    key: join(dir, 'enc.key'),
    truststore: ts(),
  });
  assert.equal(curlStyle.verdict?.accepted, true);
  w('loose.key', good.keyPem, 0o644);
  await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'loose.key'), truststore: ts() },
    'key.permissions',
    null,
  );
});

test('PKCS#12: as --cert, wrong password, legacy encryption', async () => {
  const p12 = join(dir, 'client.p12');
  openssl(
    'pkcs12',
    '-export',
    '-in',
    join(dir, 'good.crt'),
    '-inkey',
    join(dir, 'good.key'),
    '-out',
    p12,
    '-passout',
    'pass:p12pass',
  );
  const r = await expectFinding({ cert: `${p12}:p12pass`, truststore: ts() }, 'cert.is-pkcs12', null);
  assert.equal(r.verdictSource, 'handshake', 'the key inside the PKCS#12 is used for the handshake');
  await expectFinding({ cert: p12, pass: 'nope', truststore: ts() }, 'pkcs12.wrong-passphrase');
  const legacy = join(dir, 'legacy.p12');
  openssl(
    'pkcs12',
    '-export',
    '-legacy',
    '-in',
    join(dir, 'good.crt'),
    '-inkey',
    join(dir, 'good.key'),
    '-out',
    legacy,
    '-passout',
    'pass:p12pass',
  );
  await expectFinding({ cert: legacy, pass: 'p12pass', truststore: ts() }, 'pkcs12.legacy-encryption');
});

test('key mismatch shows the digests side by side', async () => {
  const rsaRoot = await issue({ subject: 'CN=RSA Root', profile: 'root-ca', key: { type: 'rsa', bits: 2048 } });
  const a = await issue({
    subject: 'CN=rsa client',
    profile: 'client',
    issuer: rsaRoot,
    key: { type: 'rsa', bits: 2048 },
  });
  const b = await issue({ subject: 'CN=other', profile: 'client', issuer: rsaRoot, key: { type: 'rsa', bits: 2048 } });
  w('rsa-ts.pem', rsaRoot.certPem, 0o644);
  w('a.crt', a.certPem, 0o644);
  w('b.key', b.keyPem);
  const r = await expectFinding(
    { cert: join(dir, 'a.crt'), key: join(dir, 'b.key'), truststore: join(dir, 'rsa-ts.pem') },
    'key.mismatch',
  );
  const ev = r.findings.find((f) => f.id === 'key.mismatch')!.evidence;
  const keyCmd = Object.keys(ev).find((k) => k.startsWith('openssl rsa'))!;
  const certCmd = Object.keys(ev).find((k) => k.startsWith('openssl x509'))!;
  assert.match(String(ev[keyCmd]), /^[0-9a-f]{40}$/);
  assert.notEqual(ev[keyCmd], ev[certCmd]);
  assert.equal(r.verdictSource, 'prediction', 'no handshake with a key that does not fit');
});

test('certificate findings', async () => {
  const mk = async (name: string, spec: Parameters<typeof issue>[0]): Promise<string> => {
    const c = await issue(spec);
    w(`${name}.crt`, c.certPem, 0o644);
    w(`${name}.key`, c.keyPem);
    return name;
  };
  const run = (name: string, id: string, reason: string | null): Promise<DiagnoseReport> =>
    expectFinding({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), truststore: ts() }, id, reason);
  const base = { subject: 'CN=client', profile: 'client' as const, issuer: int };
  await run(
    await mk('expired', { ...base, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) }),
    'cert.expired',
    'certificate has expired',
  );
  await run(
    await mk('future', { ...base, notBefore: new Date(Date.now() + 2 * DAY) }),
    'cert.not-yet-valid',
    'certificate is not yet valid',
  );
  await run(await mk('soon', { ...base, notAfter: new Date(Date.now() + 5 * DAY) }), 'cert.expires-soon', null);
  await run(
    await mk('server-only', { ...base, extKeyUsage: ['serverAuth'] }),
    'cert.no-client-auth',
    'unsuitable certificate purpose',
  );
  await run(
    await mk('ku', { ...base, keyUsage: ['keyEncipherment'] }),
    'cert.key-usage',
    'unsuitable certificate purpose',
  );
  const rsaInt = await issue({
    subject: 'CN=RSA Intermediate',
    profile: 'intermediate-ca',
    issuer: root,
    key: { type: 'rsa', bits: 2048 },
  });
  w('ts-rsa.pem', root.certPem + rsaInt.certPem, 0o644);
  const sha1 = await issue({
    subject: 'CN=sha1',
    profile: 'client',
    issuer: rsaInt,
    hash: 'sha1',
    key: { type: 'rsa', bits: 2048 },
  });
  w('sha1.crt', sha1.certPem, 0o644);
  w('sha1.key', sha1.keyPem);
  const r1 = await expectFinding(
    { cert: join(dir, 'sha1.crt'), key: join(dir, 'sha1.key'), truststore: join(dir, 'ts-rsa.pem') },
    'cert.insecure-signature',
    'Client cert using an insecure Signature Algorithm',
  );
  assert.ok(ids(r1).includes('cert.refused-by-client-tls'));
  await run(
    await mk('rsa1024', { ...base, key: { type: 'rsa', bits: 1024 } }),
    'cert.weak-key',
    'Client cert using an insecure Signature Algorithm',
  );
  await run('rsa1024', 'cert.refused-by-client-tls', 'Client cert using an insecure Signature Algorithm');
});

test('chain findings', async () => {
  const run = async (
    name: string,
    leaf: Issued,
    trust: Issued[],
    id: string,
    reason: string | null,
    sent: Issued[] = [],
  ): Promise<DiagnoseReport> => {
    w(`${name}.crt`, leaf.certPem + sent.map((s) => s.certPem).join(''), 0o644);
    w(`${name}.key`, leaf.keyPem);
    w(`${name}-ts.pem`, trust.map((t) => t.certPem).join(''), 0o644);
    return expectFinding(
      { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), truststore: join(dir, `${name}-ts.pem`) },
      id,
      reason,
    );
  };
  const self = await issue({ subject: 'CN=self', profile: 'client' });
  await run('self-untrusted', self, [root, int], 'chain.self-signed-untrusted', 'self-signed certificate');
  const selfAgain = await issue({ subject: 'CN=self', profile: 'client' });
  const mod = await run('self-modified', selfAgain, [self], 'chain.self-signed-modified', 'self-signed certificate');
  const ev = mod.findings.find((f) => f.id === 'chain.self-signed-modified')!.evidence;
  assert.notEqual(ev['client cert SPKI SHA-256'], ev['truststore copy SPKI SHA-256']);
  assert.ok(Array.isArray(ev.differs) && ev.differs.length > 0);
  const otherRoot = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
  await run('issuer-missing', good, [otherRoot], 'chain.issuer-missing', 'Could not find issuer for certificate');
  // The intermediate's name, another key: named as such, with both key ids, never as "no certificate for the issuer".
  const rekeyed = await issue({ subject: int.subject, profile: 'intermediate-ca', issuer: root });
  const mix = await run(
    'rekeyed',
    good,
    [root, rekeyed],
    'chain.issuer-key-mismatch',
    'Could not find issuer for certificate',
  );
  assert.ok(!mix.findings.some((f) => f.id === 'chain.issuer-missing'), 'no contradiction');
  const keyId = (hex: string | null): string => hex!.toUpperCase().match(/../g)!.join(':');
  const m = mix.findings.find((f) => f.id === 'chain.issuer-key-mismatch')!;
  assert.equal(m.evidence.authorityKeyId, keyId(certFromPem(good.certPem).info.authorityKeyId));
  assert.deepEqual(m.evidence.truststoreCaSubjectKeyIds, [keyId(certFromPem(rekeyed.certPem).info.subjectKeyId)]);
  assert.notEqual(m.evidence.authorityKeyId, (m.evidence.truststoreCaSubjectKeyIds as string[])[0]);
  assert.match(m.detail, new RegExp(String(m.evidence.authorityKeyId)));
  await run('root-missing', good, [int], 'chain.root-missing', 'Could not find issuer for certificate');
  const fenced = await issue({
    subject: 'CN=Fenced Intermediate',
    profile: 'intermediate-ca',
    issuer: root,
    nameConstraints: { permitted: ['DNS:.clients.example', 'IP:10.0.0.0/8'], excluded: ['DNS:bad.clients.example'] },
  });
  const stray = await issue({ subject: 'CN=stray', profile: 'client', issuer: fenced, sans: ['DNS:a.elsewhere.test'] });
  const nc = await run(
    'name-constraints',
    stray,
    [root, fenced],
    'chain.name-constraints',
    'permitted subtree violation',
  );
  const ncEv = nc.findings.find((f) => f.id === 'chain.name-constraints')!.evidence;
  assert.deepEqual(ncEv.permitted, ['DNS:.clients.example', 'IP:10.0.0.0/255.0.0.0']);
  assert.deepEqual(ncEv.excluded, ['DNS:bad.clients.example']);
  assert.ok((ncEv.names as string[]).includes('DNS:a.elsewhere.test'));
  const banned = await issue({ subject: 'CN=b', profile: 'client', issuer: fenced, sans: ['DNS:bad.clients.example'] });
  await run('excluded', banned, [root, fenced], 'chain.name-constraints', 'excluded subtree violation');
  await run('sent-int', good, [root], 'chain.client-intermediates-ignored', 'Could not find issuer for certificate', [
    int,
  ]);
  const der = Buffer.from(good.der);
  der[der.length - 1]! ^= 1;
  const corrupted = {
    ...good,
    certPem: `-----BEGIN CERTIFICATE-----\n${der
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END CERTIFICATE-----\n`,
  };
  await run('bad-sig', corrupted, [root, int], 'chain.signature-invalid', 'certificate signature failure');
  const oldInt = await issue({
    subject: 'CN=Old Intermediate',
    profile: 'intermediate-ca',
    issuer: root,
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  await run(
    'ca-expired',
    await issue({
      subject: 'CN=client',
      profile: 'client',
      issuer: oldInt,
      notBefore: new Date(Date.now() - 10 * DAY),
    }),
    [root, oldInt],
    'chain.ca-expired',
    'certificate has expired',
  );
  const newInt = await issue({
    subject: 'CN=New Intermediate',
    profile: 'intermediate-ca',
    issuer: root,
    notBefore: new Date(Date.now() + DAY),
  });
  await run(
    'ca-future',
    await issue({ subject: 'CN=client', profile: 'client', issuer: newInt, notBefore: new Date(Date.now() - DAY) }),
    [root, newInt],
    'chain.ca-not-yet-valid',
    'certificate is not yet valid',
  );
  const notCa = await issue({
    subject: 'CN=Not CA',
    issuer: root,
    ca: false,
    keyUsage: ['digitalSignature', 'keyCertSign'],
    extKeyUsage: null,
  });
  await run(
    'not-ca',
    await issue({ subject: 'CN=client', profile: 'client', issuer: notCa }),
    [root, notCa],
    'chain.not-a-ca',
    'unsuitable certificate purpose',
  );
  const p0 = await issue({ subject: 'CN=P0', profile: 'intermediate-ca', issuer: root, pathLength: 0 });
  const sub = await issue({ subject: 'CN=Sub', profile: 'intermediate-ca', issuer: p0 });
  await run(
    'pathlen',
    await issue({ subject: 'CN=client', profile: 'client', issuer: sub }),
    [root, p0, sub],
    'chain.path-length-exceeded',
    'path length constraint exceeded',
  );
  const chain: Issued[] = [root];
  for (let i = 1; i <= 4; i++)
    chain.push(
      await issue({ subject: `CN=Level ${i}`, profile: 'intermediate-ca', issuer: chain[i - 1]!, publicKeyFrom: int }),
    );
  await run(
    'too-long',
    await issue({ subject: 'CN=client', profile: 'client', issuer: chain[4]!, publicKeyFrom: int }),
    chain,
    'chain.too-long',
    'certificate chain too long',
  );
  const rsaRoot = await issue({ subject: 'CN=R', profile: 'root-ca', key: { type: 'rsa', bits: 2048 } });
  const sha1Int = await issue({
    subject: 'CN=SHA1 Int',
    profile: 'intermediate-ca',
    issuer: rsaRoot,
    hash: 'sha1',
    key: { type: 'rsa', bits: 2048 },
  });
  await run(
    'ca-sha1',
    await issue({ subject: 'CN=client', profile: 'client', issuer: sha1Int }),
    [rsaRoot, sha1Int],
    'chain.insecure-signature',
    'Client cert using an insecure Signature Algorithm',
  );
});

test('no truststore: files are checked, the verdict is unknown', async () => {
  const r = await expectFinding(
    { cert: join(dir, 'good.crt'), key: join(dir, 'good.key') },
    'doctor.no-truststore',
    null,
  );
  assert.equal(r.verdict, null);
  assert.equal(r.verdictSource, null);
});

test('a CRL given as --cert or --key is named as one', async () => {
  const { makeCrl } = await import('../../src/pki/generate-crl.js');
  const crl = makeCrl({ issuer: int, revoked: [] });
  for (const [name, bytes] of [
    ['crl.pem', crl.pem],
    ['crl.der', crl.der],
  ] as const) {
    const file = w(name, bytes, 0o644);
    const r = await expectFinding({ cert: file, key: join(dir, 'good.key'), truststore: ts() }, 'cert.wrong-format');
    assert.match(
      r.findings.find((f) => f.id === 'cert.wrong-format')!.title,
      /is a certificate revocation list \(CRL\)/,
    );
    await expectFinding(
      { cert: join(dir, 'good.crt'), key: file, truststore: ts() },
      name === 'crl.der' ? 'key.wrong-format' : 'key.parse-error',
    );
  }
});
