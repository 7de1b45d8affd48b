/**
 * The plain-certificate model against OpenSSL: for every certificate it calls plain, OpenSSL must parse it, print the
 * same subject and issuer, and take it as self-signed exactly when the policy's looksSelfSigned (X509_check_issued)
 * does. Certificates are built here byte by byte, so each case varies one thing OpenSSL compares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { derExplicit, derOctetString, derOid, derSequence, derTlv } from '../../src/pki/der-write.js';
import { describeCert, parseCert, readCertFacts, readExtensionIds, splitCertificate } from '../../src/pki/cert.js';
import { plainFacts, type PlainFacts } from '../../src/pki/plain.js';
import { looksSelfSigned } from '../../src/policy/chain.js';
import type { Cert } from '../../src/pki/types.js';

const EC_SHA256 = '1.2.840.10045.4.3.2';
const RSA_SHA256 = '1.2.840.113549.1.1.11';
const PRINTABLE = 0x13;
const UTF8 = 0x0c;

type Attr = [oid: string, tag: number, value: string];
type Keys = { publicKey: KeyObject; privateKey: KeyObject };

const ec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });

const cn = (v: string, tag = UTF8): Attr => ['2.5.4.3', tag, v];
const org = (v: string, tag = UTF8): Attr => ['2.5.4.10', tag, v];

function name(attrs: Attr[][]): Buffer {
  return derSequence(
    ...attrs.map((rdn) =>
      derTlv(0x31, ...rdn.map(([oid, tag, value]) => derSequence(derOid(oid), derTlv(tag, Buffer.from(value))))),
    ),
  );
}

function keyId(k: Keys): Buffer {
  const spki = k.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki).digest();
}

const bc = (): Buffer =>
  derSequence(
    derOid('2.5.29.19'),
    Buffer.from([0x01, 0x01, 0xff]),
    derOctetString(derSequence(Buffer.from([1, 1, 0xff]))),
  );
const ku = (bits: number[]): Buffer =>
  derSequence(derOid('2.5.29.15'), Buffer.from([0x01, 0x01, 0xff]), derOctetString(derTlv(0x03, Buffer.from(bits))));
const skid = (id: Buffer): Buffer => derSequence(derOid('2.5.29.14'), derOctetString(derOctetString(id)));
const akid = (id: Buffer): Buffer => derSequence(derOid('2.5.29.35'), derOctetString(derSequence(derTlv(0x80, id))));
const CERT_SIGN = [0x01, 0x06]; // keyCertSign, cRLSign
const DIGITAL_SIGNATURE = [0x07, 0x80];

interface Spec {
  subject: Attr[][];
  issuer?: Attr[][];
  key?: Keys;
  signer?: Keys;
  sigAlg?: string;
  exts?: (key: Keys, signer: Keys) => Buffer[];
  /** Subject and issuer as given octets (for encodings `name` cannot write). */
  rawName?: Buffer;
  /** Rewrites the finished TBS (to break an encoding rule). */
  tamper?: (tbs: Buffer) => Buffer;
}

const rootExts = (key: Keys, signer: Keys): Buffer[] => [bc(), ku(CERT_SIGN), skid(keyId(key)), akid(keyId(signer))];

function build(s: Spec): Buffer {
  const key = s.key ?? ec1;
  const signer = s.signer ?? key;
  const sigAlg = derSequence(derOid(s.sigAlg ?? EC_SHA256));
  const validity = derSequence(derTlv(0x17, Buffer.from('260101000000Z')), derTlv(0x17, Buffer.from('360101000000Z')));
  const tbs = derSequence(
    derExplicit(0, Buffer.from([0x02, 0x01, 0x02])),
    Buffer.from([0x02, 0x02, 0x10, 0x01]),
    sigAlg,
    s.rawName ?? name(s.issuer ?? s.subject),
    validity,
    s.rawName ?? name(s.subject),
    key.publicKey.export({ type: 'spki', format: 'der' }),
    derExplicit(3, derSequence(...(s.exts ?? rootExts)(key, signer))),
  );
  const body = s.tamper ? s.tamper(tbs) : tbs;
  const signature = sign('sha256', body, signer.privateKey);
  return derSequence(body, sigAlg, derTlv(0x03, Buffer.from([0]), signature));
}

/** What OpenSSL says of the certificate, through a Cert whose X509Certificate is made up front. */
function openssl(der: Buffer): { subject: string; issuer: string; looksSelfSigned: boolean } {
  const x509 = new X509Certificate(der);
  const parts = splitCertificate(der);
  const cert: Cert = {
    x509,
    der,
    info: describeCert(x509, der),
    facts: readCertFacts(der, parts, () => x509),
    extensionIds: readExtensionIds(der, parts),
    subjectName: x509.subject,
    issuerName: x509.issuer,
    plainSelfSigned: null,
    parts,
  };
  return { subject: x509.subject, issuer: x509.issuer, looksSelfSigned: looksSelfSigned(cert) };
}

const SUBJECT = [[org('Example CAs')], [cn('Example Root')]];

const cases: { what: string; spec: Spec; plain: boolean }[] = [
  { what: 'a self-signed EC root', spec: { subject: SUBJECT }, plain: true },
  { what: 'a self-signed P-384 root', spec: { subject: SUBJECT, key: p384 }, plain: true },
  { what: 'a self-signed P-521 root', spec: { subject: SUBJECT, key: p521 }, plain: true },
  { what: 'a self-signed RSA root', spec: { subject: SUBJECT, key: rsa, sigAlg: RSA_SHA256 }, plain: true },
  {
    what: 'the same name signed by another key, AKID naming that key',
    spec: { subject: SUBJECT, signer: ec2 },
    plain: true,
  },
  {
    what: 'the same name signed by another key, no AKID (OpenSSL does not check the signature)',
    spec: { subject: SUBJECT, signer: ec2, exts: (k) => [bc(), ku(CERT_SIGN), skid(keyId(k))] },
    plain: true,
  },
  {
    what: 'another issuer name',
    spec: { subject: SUBJECT, issuer: [[org('Example CAs')], [cn('Other')]] },
    plain: true,
  },
  {
    what: 'key usage without keyCertSign (chain building still takes it as self-signed)',
    spec: { subject: SUBJECT, exts: (k) => [bc(), ku(DIGITAL_SIGNATURE), skid(keyId(k)), akid(keyId(k))] },
    plain: true,
  },
  {
    what: 'an ECDSA signature algorithm over an RSA key',
    spec: { subject: SUBJECT, key: rsa, signer: rsa, sigAlg: EC_SHA256 },
    plain: true,
  },
  {
    what: 'PrintableString and UTF8String issuer and subject',
    spec: { subject: [[cn('Example Root', PRINTABLE)]], issuer: [[cn('Example Root', UTF8)]] },
    plain: false,
  },
  {
    what: 'names differing only in case',
    spec: { subject: [[cn('Example Root')]], issuer: [[cn('EXAMPLE ROOT')]] },
    plain: false,
  },
  {
    what: 'names differing only in a run of spaces',
    spec: { subject: [[cn('Example Root')]], issuer: [[cn('Example  Root')]] },
    plain: false,
  },
  { what: 'a comma in a name', spec: { subject: [[cn('Example, Root')]] }, plain: false },
  {
    what: 'a 128-character name value (long-form lengths in and around the name)',
    spec: { subject: [[org('Example CAs')], [cn('R'.repeat(128))]] },
    plain: true,
  },
  {
    what: 'a 129-character name value',
    spec: { subject: [[cn('R'.repeat(129))]] },
    plain: false,
  },
  { what: 'a non-ASCII name', spec: { subject: [[cn('Exämple Root')]] }, plain: false },
  { what: 'a multi-valued RDN', spec: { subject: [[cn('Example Root'), org('Example CAs')]] }, plain: false },
  {
    what: 'an AKID with issuer and serial',
    spec: {
      subject: SUBJECT,
      exts: (k) => [
        bc(),
        skid(keyId(k)),
        derSequence(
          derOid('2.5.29.35'),
          derOctetString(
            derSequence(
              derTlv(0x80, keyId(k)),
              derTlv(0xa1, derTlv(0xa4, name(SUBJECT))),
              derTlv(0x82, Buffer.from([1])),
            ),
          ),
        ),
      ],
    },
    plain: false,
  },
  {
    what: 'an extension outside the plain set (extended key usage)',
    spec: {
      subject: SUBJECT,
      exts: (k) => [
        bc(),
        skid(keyId(k)),
        derSequence(derOid('2.5.29.37'), derOctetString(derSequence(derOid('1.3.6.1.5.5.7.3.2')))),
      ],
    },
    plain: false,
  },
  {
    what: 'a duplicate extension',
    spec: { subject: SUBJECT, exts: (k) => [bc(), bc(), skid(keyId(k))] },
    plain: false,
  },
  {
    what: 'a non-minimal length',
    spec: {
      subject: SUBJECT,
      // The version's [0] wrapper with a long-form length of 3: BER, not DER.
      tamper: (tbs) => {
        const at = tbs.indexOf(Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]));
        const fixed = Buffer.concat([tbs.subarray(0, at), Buffer.from([0xa0, 0x81, 0x03]), tbs.subarray(at + 2)]);
        return derSequence(readValue(fixed));
      },
    },
    plain: false,
  },
];

function namesAndSelfSigned(f: PlainFacts): { subject: string; issuer: string; looksSelfSigned: boolean } {
  return { subject: f.subject, issuer: f.issuer, looksSelfSigned: f.looksSelfSigned };
}

/** The value octets of a SEQUENCE just built with a (possibly stale) length: re-wrapped by the caller. */
function readValue(seq: Buffer): Buffer {
  const len = seq[1]!;
  const skip = len < 0x80 ? 2 : 2 + (len & 0x7f);
  return seq.subarray(skip);
}

for (const c of cases) {
  test(`plain model vs OpenSSL: ${c.what}`, () => {
    const der = build(c.spec);
    const facts = plainFacts(der);
    assert.equal(facts !== null, c.plain, `plain: ${JSON.stringify(facts)}`);
    const truth = openssl(der);
    if (facts) {
      assert.deepEqual(namesAndSelfSigned(facts), truth);
      assert.deepEqual(facts.parts, splitCertificate(der));
      const x = new X509Certificate(der);
      assert.deepEqual(
        facts.facts,
        readCertFacts(der, facts.parts, () => x),
      );
    }
    // Either way, a parsed Cert answers as OpenSSL does.
    const cert = parseCert(der);
    assert.equal(cert.subjectName, truth.subject);
    assert.equal(cert.issuerName, truth.issuer);
    assert.equal(cert.plainSelfSigned ?? looksSelfSigned(cert), truth.looksSelfSigned);
    const x = new X509Certificate(der);
    assert.equal(cert.info.selfSigned, cert.info.selfIssued && x.verify(x.publicKey));
    assertFactsAgree(cert, c.what);
  });
}

/** A certificate's facts (what bundle checks read) say what its description says. */
function assertFactsAgree(cert: Cert, what: string): void {
  const { facts, info } = cert;
  assert.equal(facts.notBeforeMs, Date.parse(info.notBefore), `notBefore: ${what}`);
  assert.equal(facts.notAfterMs, Date.parse(info.notAfter), `notAfter: ${what}`);
  assert.deepEqual(facts.publicKey, info.publicKey, `publicKey: ${what}`);
  assert.deepEqual(facts.signatureAlgorithm, info.signatureAlgorithm, `signatureAlgorithm: ${what}`);
  assert.equal(facts.basicConstraintsCa, info.basicConstraints?.ca ?? null, `basicConstraints: ${what}`);
  const certSign = info.keyUsage === null ? null : info.keyUsage.includes('keyCertSign');
  assert.equal(facts.keyCertSign, certSign, `keyUsage: ${what}`);
}

test('an EC point off the curve is not plain (OpenSSL cannot decode the key, so never takes it as self-signed)', () => {
  const der = build({ subject: SUBJECT });
  const spki = ec1.publicKey.export({ type: 'spki', format: 'der' });
  const at = der.indexOf(spki);
  const bad = Buffer.from(der);
  bad[at + spki.length - 1]! ^= 1; // the last octet of Y
  assert.equal(plainFacts(bad), null);
  assert.equal(openssl(bad).looksSelfSigned, false);
});

test('an attribute OID with a non-minimal arc (2.5.4.3 as 55 04 80 03) is not plain: OpenSSL refuses it', () => {
  const oid = (bytes: number[]): Buffer => derTlv(0x06, Buffer.from(bytes));
  const rdn = (o: Buffer): Buffer => derSequence(derTlv(0x31, derSequence(o, derTlv(UTF8, Buffer.from('Root')))));
  const good = build({ subject: SUBJECT, rawName: rdn(oid([0x55, 0x04, 0x03])) });
  assert.equal(plainFacts(good)?.subject, 'CN=Root');
  const bad = build({ subject: SUBJECT, rawName: rdn(oid([0x55, 0x04, 0x80, 0x03])) });
  assert.equal(plainFacts(bad), null);
  assert.throws(() => new X509Certificate(bad));
});

/**
 * Every one-octet change of two certificates: whenever the model calls the result plain, OpenSSL parses it and agrees
 * on the names and on self-signed. This is what lets a truststore load skip OpenSSL's parse of plain certificates.
 */
test('single-octet mutations: plain implies OpenSSL parses it and agrees', () => {
  let plain = 0;
  let notPlainParsed = 0;
  for (const seed of [
    build({ subject: SUBJECT }),
    build({ subject: SUBJECT, key: rsa, signer: rsa, sigAlg: RSA_SHA256 }),
  ]) {
    for (let i = 0; i < seed.length; i++) {
      for (const v of [0x00, 0xff, seed[i]! ^ 0x01, seed[i]! ^ 0x20, seed[i]! ^ 0x80]) {
        const d = Buffer.from(seed);
        d[i] = v;
        const facts = plainFacts(d);
        if (!facts) {
          // Not plain: when OpenSSL still parses it, its facts and description agree all the same.
          let parsed: Cert | null = null;
          try {
            parsed = parseCert(d);
          } catch {
            /* refused: nothing to compare */
          }
          if (parsed) {
            assertFactsAgree(parsed, `not plain, octet ${i} = ${v}`);
            notPlainParsed++;
          }
          continue;
        }
        plain++;
        let truth;
        try {
          truth = openssl(d);
        } catch (e) {
          assert.fail(`octet ${i} = ${v}: plain, but OpenSSL refuses it (${(e as Error).message})`);
        }
        assert.deepEqual(namesAndSelfSigned(facts), truth, `octet ${i} = ${v}`);
        assert.deepEqual(facts.parts, splitCertificate(d), `parts, octet ${i} = ${v}`);
        const x = new X509Certificate(d);
        assert.deepEqual(
          facts.facts,
          readCertFacts(d, facts.parts, () => x),
          `facts, octet ${i} = ${v}`,
        );
        const info = parseCert(d).info;
        assert.equal(info.selfSigned, info.selfIssued && x.verify(x.publicKey), `selfSigned, octet ${i} = ${v}`);
        assertFactsAgree(parseCert(d), `octet ${i} = ${v}`);
      }
    }
  }
  assert.ok(plain > 500, `only ${plain} mutations were plain: the model refuses too much to be tested here`);
  assert.ok(notPlainParsed > 100, `only ${notPlainParsed} non-plain mutations parsed: too few to compare facts`);
});
