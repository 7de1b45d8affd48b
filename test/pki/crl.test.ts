import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { AsnParser, AsnSerializer, OctetString } from '@peculiar/asn1-schema';
import { CertificateList, Extension } from '@peculiar/asn1-x509';
import { certFromPem } from '../../src/pki/cert.js';
import type { Cert } from '../../src/pki/types.js';
import { parseCrls, verifyCrlSignature } from '../../src/pki/crl.js';
import { buildCrlSet } from '../../src/policy/revocation.js';
import type { Crl } from '../../src/pki/crl.js';
import { openssl, opensslTmpDir } from '../helpers/openssl.js';

// Fixtures: CAs made with `openssl req`, leaves with `openssl x509 -req`, revocations and CRLs with `openssl ca`.
const dir = opensslTmpDir();

type KeyKind = 'ec' | 'rsa' | 'rsa-pss' | 'ed25519';

interface TestCa {
  name: string;
  cert: Cert;
  config: string;
  keyFile: string;
  certFile: string;
}

function makeCa(name: string, subject: string, kind: KeyKind, keyUsage = 'critical,keyCertSign,cRLSign'): TestCa {
  const base = join(dir, name);
  const keyFile = `${base}.key`;
  const certFile = `${base}.pem`;
  const genkey: Record<KeyKind, string[]> = {
    ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
    'rsa-pss': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
    ed25519: ['-algorithm', 'ED25519'],
  };
  openssl(['genpkey', ...genkey[kind], '-out', keyFile]);
  openssl([
    'req', '-x509', '-new', '-key', keyFile, '-subj', subject, '-days', '30', '-out', certFile,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', `keyUsage=${keyUsage}`,
  ]); // prettier-ignore
  writeFileSync(`${base}.index`, '');
  writeFileSync(`${base}.crlnumber`, '1000\n');
  const config = `${base}.cnf`;
  writeFileSync(
    config,
    [
      '[ca]',
      'default_ca = CA_default',
      '[CA_default]',
      `database = ${base}.index`,
      `certificate = ${certFile}`,
      `private_key = ${keyFile}`,
      `crlnumber = ${base}.crlnumber`,
      kind === 'ed25519' ? 'default_md = default' : 'default_md = sha256',
      'default_crl_days = 7',
      'crl_extensions = crl_ext',
      '[crl_ext]',
      'authorityKeyIdentifier = keyid:always',
      '[crl_ext_unknown_critical]',
      'authorityKeyIdentifier = keyid:always',
      '1.3.6.1.4.1.55555.1 = critical,ASN1:UTF8String:must understand',
      '[crl_ext_idp]',
      'issuingDistributionPoint = critical,@idp',
      '[idp]',
      'fullname = URI:http://pki.example.com/partition-1.crl',
      '',
    ].join('\n'),
  );
  return { name, cert: certFromPem(readFileSync(certFile, 'utf8')), config, keyFile, certFile };
}

function makeLeaf(ca: TestCa, name: string, serial: string): string {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key]
    .concat(['-subj', `/CN=${name}`, '-out', csr])); // prettier-ignore
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', serial, '-out', cert]);
  return cert;
}

function revoke(ca: TestCa, certFile: string, reason?: string): void {
  openssl(['ca', '-config', ca.config, '-revoke', certFile, ...(reason ? ['-crl_reason', reason] : [])]);
}

function gencrl(ca: TestCa, out: string, extra: string[] = []): string {
  const file = join(dir, out);
  const sigopt = ca.name.includes('pss') ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
  openssl(['ca', '-config', ca.config, '-gencrl', '-out', file, ...sigopt, ...extra]);
  return file;
}

function onlyCrl(bytes: Buffer, source = 'test'): Crl {
  const { crls, problems } = parseCrls(bytes, source);
  assert.deepEqual(problems, []);
  assert.equal(crls.length, 1);
  return crls[0]!;
}

// The main CA (EC) revokes three of four leaves; serials chosen for the DER sign octet and a leading zero nibble.
const ca = makeCa('main-ca', '/C=US/O=Example/CN=CRL Test CA', 'ec');
const twin = makeCa('twin-ca', '/C=US/O=Example/CN=CRL Test CA', 'ec'); // same name, another key
const noCrlSign = makeCa('no-crlsign-ca', '/CN=No cRLSign CA', 'rsa', 'critical,keyCertSign,digitalSignature');
const leaves = {
  compromised: makeLeaf(ca, 'compromised', '0x0a1b'),
  superseded: makeLeaf(ca, 'superseded', '0x80ff'),
  plain: makeLeaf(ca, 'plain', '0x01'),
  good: makeLeaf(ca, 'good', '0x02'),
};
revoke(ca, leaves.compromised, 'keyCompromise');
revoke(ca, leaves.superseded, 'superseded');
revoke(ca, leaves.plain);
const crlPem = gencrl(ca, 'main.crl.pem', ['-crlhours', '12']);
const crlDer = join(dir, 'main.crl.der');
openssl(['crl', '-in', crlPem, '-outform', 'DER', '-out', crlDer]);

test('a PEM CRL: issuer, times, CRL number and every revoked serial and reason as openssl recorded them', () => {
  const crl = onlyCrl(readFileSync(crlPem), crlPem);
  const text = openssl(['crl', '-in', crlPem, '-noout', '-text']);
  assert.equal(crl.issuer, 'CN=CRL Test CA,O=Example,C=US');
  assert.equal(crl.issuer, openssl(['crl', '-in', crlPem, '-noout', '-issuer', '-nameopt', 'RFC2253']).trim().slice(7));
  const last = openssl(['crl', '-in', crlPem, '-noout', '-lastupdate']).trim().split('=')[1]!;
  const next = openssl(['crl', '-in', crlPem, '-noout', '-nextupdate']).trim().split('=')[1]!;
  assert.equal(crl.thisUpdate.getTime(), Date.parse(last));
  assert.equal(crl.nextUpdate?.getTime(), Date.parse(next));
  assert.equal(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime(), 12 * 3600_000); // -crlhours 12
  assert.equal(crl.crlNumber, 0x1000n); // the crlnumber file holds hex
  assert.equal(crl.signatureAlgorithm.name, 'ecdsa-with-SHA256');
  assert.equal(crl.authorityKeyId, ca.cert.info.subjectKeyId); // crl_ext: authorityKeyIdentifier = keyid:always
  assert.ok(crl.authorityKeyId);
  assert.deepEqual(crl.unknownCriticalExtensions, []);
  assert.deepEqual(crl.unsupported, []);

  // openssl's text: "Serial Number: 0A1B", "Revocation Date: ...", then optionally the reason's display name.
  const recorded = [...text.matchAll(/Serial Number: (\w+)\s+Revocation Date: ([^\n]+)((?:\n {8,}.*)*)/g)];
  assert.equal(recorded.length, 3);
  assert.deepEqual([...crl.revoked.keys()].sort(), ['01', '0a:1b', '80:ff']);
  for (const [, serialHex, date, tail] of recorded) {
    const key = serialHex!.toLowerCase().match(/../g)!.join(':');
    const entry = crl.revoked.get(key);
    assert.ok(entry, key);
    assert.equal(entry.revokedAt.getTime(), Date.parse(date!));
    const shown = /Reason Code:\s*\n\s*(.+)/.exec(tail!)?.[1]?.trim() ?? null;
    const squash = (s: string | null): string | null => s && s.replace(/\s+/g, '').toLowerCase();
    assert.equal(squash(entry.reason), squash(shown));
  }
  assert.equal(crl.revoked.get('0a:1b')?.reason, 'keyCompromise');
  assert.equal(crl.revoked.get('80:ff')?.reason, 'superseded');
  assert.equal(crl.revoked.get('01')?.reason, null);

  // Keyed like CertInfo.serial, so a certificate finds itself.
  const revokedCert = certFromPem(readFileSync(leaves.superseded, 'utf8'));
  assert.ok(crl.revoked.has(revokedCert.info.serial));
  assert.ok(!crl.revoked.has(certFromPem(readFileSync(leaves.good, 'utf8')).info.serial));
});

test('DER reads the same as PEM', () => {
  const pem = onlyCrl(readFileSync(crlPem));
  const der = onlyCrl(readFileSync(crlDer));
  assert.ok(der.der.equals(pem.der));
  assert.deepEqual([...der.revoked], [...pem.revoked]);
  assert.equal(der.issuer, pem.issuer);
  assert.ok(verifyCrlSignature(der, ca.cert.x509.publicKey));
});

test('every CRL in a PEM file counts, and text around them is ignored', () => {
  const other = gencrl(twin, 'twin.crl.pem');
  const both = Buffer.from(`comment\n${readFileSync(crlPem, 'utf8')}\n${readFileSync(other, 'utf8')}`);
  const { crls, problems } = parseCrls(both, 'both.pem');
  assert.deepEqual(problems, []);
  assert.equal(crls.length, 2);
  assert.equal(crls[0]!.revoked.size, 3);
  assert.equal(crls[1]!.revoked.size, 0);
  assert.ok(verifyCrlSignature(crls[1]!, twin.cert.x509.publicKey));
});

test('the signature verifies with the issuing CA only, and not after a flipped byte', () => {
  const crl = onlyCrl(readFileSync(crlDer));
  assert.ok(verifyCrlSignature(crl, ca.cert.x509.publicKey));
  assert.ok(!verifyCrlSignature(crl, twin.cert.x509.publicKey));
  assert.ok(!verifyCrlSignature(crl, noCrlSign.cert.x509.publicKey)); // another key type: false, not a throw

  const bytes = Buffer.from(readFileSync(crlDer));
  const at = bytes.indexOf(Buffer.from('CRL Test CA')); // inside tbsCertList
  bytes[at] = bytes[at]! ^ 0x01;
  const flipped = onlyCrl(bytes);
  assert.equal(flipped.issuer, 'CN=BRL Test CA,O=Example,C=US');
  assert.ok(!verifyCrlSignature(flipped, ca.cert.x509.publicKey));
});

test('RSA PKCS#1, RSA-PSS and Ed25519 signatures verify too, as openssl crl -verify agrees', () => {
  for (const kind of ['rsa', 'rsa-pss', 'ed25519'] as const) {
    const issuer = makeCa(`${kind}-ca`, `/CN=${kind} CRL CA`, kind);
    const file = gencrl(issuer, `${kind}.crl.pem`);
    assert.match(openssl(['crl', '-in', file, '-CAfile', issuer.certFile, '-noout']), /^$/);
    const crl = onlyCrl(readFileSync(file));
    const expected = { rsa: 'sha256WithRSAEncryption', 'rsa-pss': 'rsassaPss', ed25519: 'ED25519' }[kind];
    assert.equal(crl.signatureAlgorithm.name, expected);
    assert.ok(verifyCrlSignature(crl, createPublicKey(readFileSync(issuer.certFile))), kind);
    assert.ok(!verifyCrlSignature(crl, ca.cert.x509.publicKey), kind);
    assert.equal(issuerOf(crl, [ca.cert, issuer.cert]).ca, issuer.cert);
  }
});

/** The CA a CRL is taken from against `cas`, or why it is refused: buildCrlSet's answer for one CRL. */
function issuerOf(crl: Crl, cas: Cert[]): { ca: Cert | null; problem: string | null } {
  const set = buildCrlSet([{ crl, source: 'test' }], cas);
  const trusted = set.inForce[0];
  if (trusted) return { ca: trusted.issuer, problem: null };
  const refused = set.refused.get(crl.issuer);
  return { ca: null, problem: refused ? `${refused.code}: ${refused.why}` : null };
}

test('a CRL is taken from the CA named by its issuer whose key signed it, else a one-line reason', () => {
  const crl = onlyCrl(readFileSync(crlPem));
  assert.deepEqual(issuerOf(crl, [noCrlSign.cert, twin.cert, ca.cert]), { ca: ca.cert, problem: null });
  assert.deepEqual(issuerOf(crl, [noCrlSign.cert]), {
    ca: null,
    problem: 'UNABLE_TO_GET_CRL_ISSUER: no CA in the truststore named CN=CRL Test CA,O=Example,C=US',
  });
  const byTwin = issuerOf(crl, [twin.cert]);
  assert.equal(byTwin.ca, null);
  // The twin has the CA's name but another key, so the CRL's authority key id names a key it does not have.
  assert.equal(
    byTwin.problem,
    `UNABLE_TO_GET_CRL: its authority key id ${crl.authorityKeyId} is not the key of CA CN=CRL Test CA,O=Example,C=US`,
  );
  assert.notEqual(crl.authorityKeyId, twin.cert.info.subjectKeyId);

  const unfit = onlyCrl(readFileSync(gencrl(noCrlSign, 'no-crlsign.crl.pem')));
  assert.ok(verifyCrlSignature(unfit, noCrlSign.cert.x509.publicKey));
  assert.deepEqual(issuerOf(unfit, [ca.cert, noCrlSign.cert]), {
    ca: null,
    problem: "KEYUSAGE_NO_CRL_SIGN: CA CN=No cRLSign CA's key usage lacks cRLSign",
  });
});

test('an unknown critical CRL extension is flagged; known ones are not', () => {
  const file = gencrl(ca, 'critical.crl.pem', ['-crlexts', 'crl_ext_unknown_critical']);
  assert.match(openssl(['crl', '-in', file, '-noout', '-text']), /1\.3\.6\.1\.4\.1\.55555\.1: critical/);
  const crl = onlyCrl(readFileSync(file));
  assert.deepEqual(crl.unknownCriticalExtensions, ['1.3.6.1.4.1.55555.1']);
  assert.equal(crl.revoked.size, 3);
  assert.ok(verifyCrlSignature(crl, ca.cert.x509.publicKey));
});

test('an issuing distribution point is known but flagged as not acted on yet', () => {
  const crl = onlyCrl(readFileSync(gencrl(ca, 'idp.crl.pem', ['-crlexts', 'crl_ext_idp'])));
  assert.deepEqual(crl.unknownCriticalExtensions, []);
  assert.deepEqual(crl.unsupported, ['issuing distribution point']);
});

test('garbage, truncation and broken PEM give problems, never a throw', () => {
  const der = readFileSync(crlDer);
  const pem = readFileSync(crlPem, 'utf8');
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /empty/],
    ['text', Buffer.from('hello\n'), /no X509 CRL/],
    ['a certificate', readFileSync(ca.certFile), /no X509 CRL/],
    ['truncated DER', der.subarray(0, der.length - 10), /not a DER CRL: no outer SEQUENCE/],
    ['no END', Buffer.from(pem.replace('-----END X509 CRL-----', '')), /no END line/],
    ['bad base64 inside', Buffer.from(pem.replace(/\n[A-Za-z0-9+/]{64}\n/, '\n!!!\n')), /pem block 0/],
  ];
  for (const [name, bytes, expected] of cases) {
    const { crls, problems } = parseCrls(bytes, 'f.crl');
    assert.equal(crls.length, 0, name);
    assert.equal(problems.length, 1, name);
    assert.match(problems[0]!, /^f\.crl: /, name);
    assert.match(problems[0]!, expected, name);
  }
  // A good block next to a broken one: the good one still counts.
  const mixed = Buffer.from(`${pem}-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n`);
  const { crls, problems } = parseCrls(mixed, 'mixed');
  assert.equal(crls.length, 1);
  assert.equal(problems.length, 1);

  // Problems are capped, as load.ts caps them.
  const many = Buffer.from('-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n'.repeat(500));
  assert.equal(parseCrls(many, 'many').problems.length, 101);
});

test('property: any truncation or byte edit of a real CRL parses or gives problems, never throws', () => {
  const der = readFileSync(crlDer);
  fc.assert(
    fc.property(
      fc.nat({ max: der.length }),
      fc.array(fc.tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      (cut, edits) => {
        const bytes = Buffer.from(der.subarray(0, cut));
        for (const [at, v] of edits) if (at < bytes.length) bytes[at] = v;
        const { crls, problems } = parseCrls(bytes, 'fuzz');
        assert.equal(crls.length + problems.length, 1);
        for (const crl of crls) verifyCrlSignature(crl, ca.cert.x509.publicKey);
      },
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const { crls, problems } = parseCrls(Buffer.from(bytes), 'random');
      assert.ok(crls.length + problems.length >= 1);
    }),
    { numRuns: 1000 },
  );
});

test('the entry index: lookups by serial form, misses, iteration order and size agree with a full read', () => {
  const crl = onlyCrl(readFileSync(crlPem));
  assert.equal(crl.revoked.size, 3);
  for (const serial of ['01', '0a:1b', '80:ff']) assert.ok(crl.revoked.has(serial), serial);
  // A leading zero octet is not part of the serial (DER's sign octet for 0x80ff), nor in a lookup.
  assert.equal(crl.revoked.get('00:80:ff')?.reason, 'superseded');
  for (const miss of ['02', '0a', '1b', '80', 'ff:80', '', 'zz', '-01', '0a:1b:00']) {
    assert.equal(crl.revoked.get(miss), undefined, miss);
    assert.equal(crl.revoked.has(miss), false, miss);
  }
  assert.deepEqual(
    [...crl.revoked.keys()],
    [...crl.revoked].map(([k]) => k),
  );
  assert.equal([...crl.revoked.values()].length, 3);
});

test('a critical entry extension we do not know, or a certificate issuer entry, is flagged at load', () => {
  // Entry extensions openssl ca cannot write: added to a real CRL's first entry with the ASN.1 schema (the reader
  // looks at the bytes before any signature check, so the signature need not match).
  const withEntryExtension = (oid: string, critical: boolean): Buffer => {
    const list = AsnParser.parse(readFileSync(crlDer), CertificateList);
    const entry = list.tbsCertList.revokedCertificates![0]!;
    const value = new OctetString(Buffer.from([0x0c, 0x01, 0x78])); // UTF8String 'x'
    entry.crlEntryExtensions = [
      ...(entry.crlEntryExtensions ?? []),
      new Extension({ extnID: oid, critical, extnValue: value }),
    ];
    return Buffer.from(AsnSerializer.serialize(list));
  };
  const unknown = onlyCrl(withEntryExtension('1.3.6.1.4.1.55555.7', true));
  assert.deepEqual(unknown.unknownCriticalExtensions, ['1.3.6.1.4.1.55555.7']);
  assert.deepEqual(unknown.unsupported, []);
  assert.deepEqual(onlyCrl(withEntryExtension('1.3.6.1.4.1.55555.7', false)).unknownCriticalExtensions, []);
  const indirect = onlyCrl(withEntryExtension('2.5.29.29', true));
  assert.deepEqual(indirect.unknownCriticalExtensions, []);
  assert.deepEqual(indirect.unsupported, ['certificate issuer entries (an indirect CRL)']);
});
