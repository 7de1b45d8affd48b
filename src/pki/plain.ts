/**
 * "Plain" certificates: ones whose every byte our own reader checks strictly enough to answer, without OpenSSL,
 * what a truststore needs of each certificate: that OpenSSL would parse it, Node's subject and issuer strings, and
 * whether OpenSSL's chain building takes it as self-signed; and, having read every field once, where the fields lie
 * and the certificate's facts (validity, key, algorithm, CA bits). A bundle of 10,000 CAs is then loaded without
 * 10,000 OpenSSL parses (~0.1 ms each) or a second read; anything outside the plain shape (another extension, string
 * type, character, algorithm, a non-minimal encoding) is not plain and gets OpenSSL's answers as before.
 */
import {
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_UTC_TIME,
  readTlv,
} from './der.js';
import type { Tlv } from './der.js';
import type { CertFacts, PublicKeyInfo, TbsParts } from './types.js';
import { describeSpkiAt } from './key.js';
import { derOid } from './der-write.js';
import { CURVES, OID_EC, OID_RSA, SIGNATURE_ALGORITHMS } from './oids.js';

/**
 * What the plain walk found: Node's name strings, OpenSSL's self-signed answer (X509_check_issued(c, c)), the
 * fields' positions (what splitCertificate would locate again) and the certificate's facts (what readCertFacts
 * would read again).
 */
export interface PlainFacts {
  subject: string;
  issuer: string;
  looksSelfSigned: boolean;
  parts: TbsParts;
  facts: CertFacts;
}

/**
 * Name attributes as OpenSSL's short names (what Node's `x509.subject` prints); others make a name not plain. Read
 * from the OID's content octets: 2.5.4.n by n, the two others by their whole (minimal) encoding.
 */
const X500_SHORT_NAMES: ReadonlyMap<number, string> = new Map([
  [3, 'CN'],
  [5, 'serialNumber'],
  [6, 'C'],
  [7, 'L'],
  [8, 'ST'],
  [10, 'O'],
  [11, 'OU'],
]);
/** 0.9.2342.19200300.100.1.25 (DC) and 1.2.840.113549.1.9.1 (emailAddress). */
const OID_DC_BYTES: readonly number[] = [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
const OID_EMAIL_BYTES: readonly number[] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];

/** Signature algorithms by the key type they need (OpenSSL's check_sig_alg_match). */
const PLAIN_SIG_ALGS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10045.4.3.2', OID_EC], // ecdsa-with-SHA256
  ['1.2.840.10045.4.3.3', OID_EC],
  ['1.2.840.10045.4.3.4', OID_EC],
  ['1.2.840.113549.1.1.11', OID_RSA], // sha256WithRSAEncryption
  ['1.2.840.113549.1.1.12', OID_RSA],
  ['1.2.840.113549.1.1.13', OID_RSA],
]);
const PLAIN_CURVES = new Set(['1.2.840.10045.3.1.7', '1.3.132.0.34', '1.3.132.0.35']);
/**
 * Every OID a plain certificate's algorithms may name, with its DER content octets: read by comparing octets,
 * which also leaves a non-minimal encoding (one OpenSSL refuses) not plain.
 */
const ALGORITHM_OIDS: readonly { oid: string; bytes: Buffer }[] = [
  ...PLAIN_SIG_ALGS.keys(),
  OID_EC,
  OID_RSA,
  ...PLAIN_CURVES,
].map((oid) => ({ oid, bytes: derOid(oid).subarray(2) }));

/**
 * The short Weierstrass curves y^2 = x^3 - 3x + b (mod p): OpenSSL refuses a point off its curve, and a key it cannot
 * decode makes X509_check_issued say no.
 */
const CURVE_PARAMS: ReadonlyMap<string, { p: bigint; b: bigint }> = new Map([
  [
    '1.2.840.10045.3.1.7',
    {
      p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
      b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    },
  ],
  [
    '1.3.132.0.34',
    {
      p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
      b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    },
  ],
  [
    '1.3.132.0.35',
    {
      p: (1n << 521n) - 1n,
      b: BigInt(
        '0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e1' +
          '56193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00',
      ),
    },
  ],
]);

/** The uncompressed point 0x04 || X || Y at der[start, end) on the curve. */
function onCurve(curve: string, der: Buffer, start: number, end: number): boolean {
  const c = CURVE_PARAMS.get(curve);
  if (!c) return false;
  const half = (end - start - 1) / 2;
  // A view's getBigUint64 makes each 64-bit word one BigInt; Buffer's readBigUInt64BE builds it from four.
  const view = new DataView(der.buffer, der.byteOffset, der.length);
  const x = bigAt(der, view, start + 1, start + 1 + half);
  const y = bigAt(der, view, start + 1 + half, end);
  if (x >= c.p || y >= c.p) return false;
  return (y * y - x * (x * x - 3n) - c.b) % c.p === 0n;
}

/** The unsigned big-endian integer at der[start, end), read 64 bits at a time (cheaper than hex text). */
function bigAt(der: Buffer, view: DataView, start: number, end: number): bigint {
  let i = start;
  const head = (end - start) % 8; // 0 for P-256 and P-384, 2 for P-521
  let v = head === 0 ? 0n : BigInt(der.readUIntBE(i, head));
  for (i += head; i < end; i += 8) v = (v << 64n) | view.getBigUint64(i);
  return v;
}

/** Uncompressed point length (0x04 || X || Y) by curve. */
const POINT_BYTES: ReadonlyMap<string, number> = new Map([
  ['1.2.840.10045.3.1.7', 65],
  ['1.3.132.0.34', 97],
  ['1.3.132.0.35', 133],
]);

/** The plain facts of a certificate's DER (exactly one certificate, nothing after it), or null when not plain. */
export function plainFacts(der: Buffer): PlainFacts | null {
  try {
    return walk(der);
  } catch {
    return null;
  }
}

// Identifier octets, a universal primitive type's being its tag number. Typed `number`, not as literals: `read`
// changes the cursor's `id` behind TypeScript's narrowing of it.
const ID_BOOLEAN: number = TAG_BOOLEAN;
const ID_INTEGER: number = TAG_INTEGER;
const ID_BIT_STRING: number = TAG_BIT_STRING;
const ID_OCTET_STRING: number = TAG_OCTET_STRING;
const ID_NULL: number = 5;
const ID_OID: number = TAG_OID;
const ID_UTF8_STRING: number = 12;
const ID_PRINTABLE_STRING: number = 19;
const ID_IA5_STRING: number = 22;
const ID_UTC_TIME: number = TAG_UTC_TIME;
const ID_GENERALIZED_TIME: number = TAG_GENERALIZED_TIME;
const ID_SEQUENCE: number = 0x30;
const ID_SET: number = 0x31;
const ID_VERSION: number = 0xa0; // [0] constructed
const ID_EXTENSIONS: number = 0xa3; // [3] constructed
const ID_KEY_ID: number = 0x80; // [0] primitive

/**
 * One strict DER header at a time, read into numbers: the walk visits ~100 TLVs a certificate, and an object for
 * each (plus an array of each one's children) was most of what it allocated. `read` overwrites the fields, so a
 * caller keeps in locals what it needs of a header before reading the next one.
 */
class Cursor {
  /** The identifier octet (class, constructed bit, low tag number). */
  id = 0;
  start = 0;
  value = 0;
  /** Exclusive. */
  end = 0;
  constructor(readonly der: Buffer) {}

  /**
   * Reads the header at `pos`, its value within `limit`; false when it is not strict DER: a high tag number (none in
   * a plain certificate), an indefinite length, a long form that is not the fewest octets (1 to 3) or that the short
   * form could hold.
   */
  read(pos: number, limit: number): boolean {
    const der = this.der;
    if (pos < 0 || pos + 1 >= limit) return false;
    const id = der[pos]!;
    if ((id & 0x1f) === 0x1f) return false;
    let p = pos + 1;
    let len = der[p++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 3 || p + n > limit || der[p] === 0) return false;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[p++]!;
      if (len < 0x80) return false;
    }
    if (p + len > limit) return false;
    this.id = id;
    this.start = pos;
    this.value = p;
    this.end = p + len;
    return true;
  }
}

function walk(der: Buffer): PlainFacts | null {
  const c = new Cursor(der);
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }; a child ending at its parent's end
  // is the last one, so the counts need no arrays.
  if (!c.read(0, der.length) || c.end !== der.length || c.id !== ID_SEQUENCE) return null;
  const certEnd = c.end;
  if (!c.read(c.value, certEnd) || c.id !== ID_SEQUENCE) return null;
  const tbsValue = c.value;
  const tbsEnd = c.end;
  if (!c.read(tbsEnd, certEnd) || c.id !== ID_SEQUENCE) return null;
  const algValue = c.value;
  const algEnd = c.end;
  if (!c.read(algEnd, certEnd) || c.end !== certEnd || !plainBitString(c)) return null;
  const sigAlg = algorithm(c, algValue, algEnd);
  if (sigAlg === null || !PLAIN_SIG_ALGS.has(sigAlg)) return null;

  // version, serial, alg, issuer, validity, subject, spki, extensions: exactly these eight.
  if (!c.read(tbsValue, tbsEnd) || c.id !== ID_VERSION) return null;
  const versionEnd = c.end;
  if (!c.read(c.value, versionEnd) || c.end !== versionEnd || c.id !== ID_INTEGER) return null;
  if (c.end - c.value !== 1 || der[c.value] !== 2) return null;
  if (!c.read(versionEnd, tbsEnd) || !plainInteger(c, 20)) return null;
  const serialAt = c.start;
  if (!c.read(c.end, tbsEnd)) return null;
  // Identical octets read as the same algorithm, so the outer one's answer stands for both.
  if (!sameBytes(der, c.start, c.end, tbsEnd, algEnd)) return null;
  if (!c.read(c.end, tbsEnd) || c.id !== ID_SEQUENCE) return null;
  const issuerAt = c.start;
  const issuerValue = c.value;
  const issuerEnd = c.end;
  if (!c.read(issuerEnd, tbsEnd) || c.id !== ID_SEQUENCE) return null;
  const validityAt = c.start;
  const validityEnd = c.end;
  const times = plainValidity(c);
  if (times === null) return null;
  if (!c.read(validityEnd, tbsEnd) || c.id !== ID_SEQUENCE) return null;
  const subjectAt = c.start;
  const subjectValue = c.value;
  const subjectEnd = c.end;
  if (!c.read(subjectEnd, tbsEnd) || c.id !== ID_SEQUENCE) return null;
  const spkiAt = c.start;
  const spkiValue = c.value;
  const spkiEnd = c.end;
  if (!c.read(spkiEnd, tbsEnd) || c.end !== tbsEnd || c.id !== ID_EXTENSIONS) return null;
  // extensions [3] { SEQUENCE OF Extension }
  if (!c.read(c.value, tbsEnd) || c.end !== tbsEnd || c.id !== ID_SEQUENCE) return null;
  const extValue = c.value;

  const selfNamed = sameBytes(der, subjectAt, subjectEnd, issuerAt, issuerEnd);
  const subjectText = plainName(c, subjectValue, subjectEnd);
  const issuerText = selfNamed ? subjectText : plainName(c, issuerValue, issuerEnd);
  if (subjectText === null || issuerText === null) return null;
  const key = plainSpki(c, spkiValue, spkiEnd);
  if (key === null) return null;
  const ext = plainExtensions(c, extValue, tbsEnd);
  if (ext === null) return null;
  // X509_check_issued(c, c): names compare equal (identical octets here; different octets can still be equal
  // canonically, so those are not plain), the AKID key id matches the SKID, the signature algorithm fits the key, and
  // a key usage, when present, allows keyCertSign. Without keyCertSign the project's likelyIssued asks the same of
  // the names, key ids and algorithm (approximatelyIssued), so the answer does not depend on key usage.
  // Different octets that OpenSSL's canonical form (case and runs of spaces folded, string types unified) may
  // still find equal: leave those to OpenSSL.
  if (!selfNamed && canonical(subjectText) === canonical(issuerText)) return null;
  const looksSelfSigned = selfNamed && ext.keyIdsAgree && PLAIN_SIG_ALGS.get(sigAlg) === key.alg;
  // The parts as splitCertificate gives them: the only Tlv objects a plain certificate costs.
  const extensions: Tlv[] = [];
  for (let at = extValue; at < tbsEnd;) {
    const ext = readTlv(der, at, tbsEnd)!;
    extensions.push(ext);
    at = ext.end;
  }
  const parts: TbsParts = {
    serial: readTlv(der, serialAt, tbsEnd)!,
    issuer: readTlv(der, issuerAt, tbsEnd)!,
    validity: readTlv(der, validityAt, tbsEnd)!,
    subject: readTlv(der, subjectAt, tbsEnd)!,
    spki: readTlv(der, spkiAt, tbsEnd)!,
    extensions,
    signatureAlgorithm: readTlv(der, tbsEnd, certEnd)!,
  };
  // readCertFacts's answers from what the walk read (plain.test.ts holds them equal).
  const rsa = key.curve === null ? describeSpkiAt(der, parts.spki) : null;
  const curve = key.curve === null ? undefined : CURVES.get(key.curve)!;
  const publicKey: PublicKeyInfo = rsa
    ? { type: rsa.type, bits: rsa.bits, curve: rsa.curve }
    : { type: 'ec', bits: curve!.bits, curve: curve!.name };
  const sig = SIGNATURE_ALGORITHMS.get(sigAlg)!;
  const facts: CertFacts = {
    notBeforeMs: times.notBeforeMs,
    notAfterMs: times.notAfterMs,
    publicKey,
    modulusHex: rsa?.modulusHex ?? null,
    signatureAlgorithm: { oid: sigAlg, name: sig.name, hash: sig.hash },
    basicConstraintsCa: ext.basicConstraintsCa,
    keyCertSign: ext.keyCertSign,
  };
  return { subject: subjectText, issuer: issuerText, looksSelfSigned, parts, facts };
}

function canonical(text: string): string {
  return text.toLowerCase().replace(/ +/g, ' ');
}

/** The same octets at der[a, aEnd) and der[b, bEnd). */
function sameBytes(der: Buffer, a: number, aEnd: number, b: number, bEnd: number): boolean {
  const n = aEnd - a;
  if (n !== bEnd - b) return false;
  // A JS loop: these runs are short (a name, an algorithm, a key id), shorter than a native compare's call.
  for (let i = 0; i < n; i++) if (der[a + i] !== der[b + i]) return false;
  return true;
}

/** The header just read: a positive INTEGER in minimal two's complement of 1 to `max` content octets. */
function plainInteger(c: Cursor, max: number): boolean {
  if (c.id !== ID_INTEGER) return false;
  const n = c.end - c.value;
  if (n < 1 || n > max) return false;
  const b0 = c.der[c.value]!;
  if (b0 & 0x80) return false; // negative
  return !(n > 1 && b0 === 0 && (c.der[c.value + 1]! & 0x80) === 0); // padding
}

/** The header just read: a primitive BIT STRING, no unused bits, at least one octet of them. */
function plainBitString(c: Cursor): boolean {
  return c.id === ID_BIT_STRING && c.end - c.value >= 2 && c.der[c.value] === 0;
}

/** A signature AlgorithmIdentifier's content der[value, end): { OID } or { OID, NULL }; its OID, else null. */
function algorithm(c: Cursor, value: number, end: number): string | null {
  if (!c.read(value, end) || c.id !== ID_OID) return null;
  const oid = algorithmOid(c.der, c.value, c.end);
  if (c.end === end) return oid;
  return c.read(c.end, end) && c.end === end && c.id === ID_NULL && c.value === end ? oid : null;
}

/** The OID at der[value, end) when it is one of ALGORITHM_OIDS, else null (not plain). */
function algorithmOid(der: Buffer, value: number, end: number): string | null {
  for (const { oid, bytes } of ALGORITHM_OIDS) if (contentIs(der, value, end, bytes)) return oid;
  return null;
}

function contentIs(der: Buffer, value: number, end: number, bytes: ArrayLike<number>): boolean {
  if (end - value !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (der[value + i] !== bytes[i]) return false;
  return true;
}

/**
 * Node's `x509.subject` text for a plain Name whose SEQUENCE content is der[value, end): `A=v` per RDN in DER order,
 * one a line; null when not plain.
 */
function plainName(c: Cursor, value: number, end: number): string | null {
  if (value === end) return null;
  const der = c.der;
  let text = '';
  for (let at = value; at < end;) {
    if (!c.read(at, end) || c.id !== ID_SET) return null;
    const rdnEnd = c.end;
    at = rdnEnd;
    // The RDN's one AttributeTypeAndValue (multi-valued RDNs are not plain): SEQUENCE { OID, string }.
    if (!c.read(c.value, rdnEnd) || c.end !== rdnEnd || c.id !== ID_SEQUENCE) return null;
    const avaEnd = c.end;
    if (!c.read(c.value, avaEnd) || c.id !== ID_OID) return null;
    const short = shortName(der, c.value, c.end);
    if (short === undefined || !c.read(c.end, avaEnd) || c.end !== avaEnd) return null;
    const v = plainString(c);
    if (v === null) return null;
    text = text === '' ? `${short}=${v}` : `${text}\n${short}=${v}`;
  }
  return text;
}

function shortName(der: Buffer, value: number, end: number): string | undefined {
  if (end - value === 3 && der[value] === 0x55 && der[value + 1] === 0x04) return X500_SHORT_NAMES.get(der[value + 2]!);
  if (contentIs(der, value, end, OID_DC_BYTES)) return 'DC';
  if (contentIs(der, value, end, OID_EMAIL_BYTES)) return 'emailAddress';
  return undefined;
}

/**
 * The header just read: a PrintableString, UTF8String or IA5String of characters that neither OpenSSL's printing
 * escapes (RFC 2253 specials, controls, non-ASCII) nor any string type's rules reject; no leading or trailing space.
 */
function plainString(c: Cursor): string | null {
  const { der, id: tag, value, end } = c;
  if (tag !== ID_PRINTABLE_STRING && tag !== ID_UTF8_STRING && tag !== ID_IA5_STRING) return null;
  const n = end - value;
  if (n < 1 || n > 128) return null;
  for (let i = value; i < end; i++) {
    const ch = der[i]!;
    const ok =
      (ch >= 0x61 && ch <= 0x7a) || // a-z
      (ch >= 0x41 && ch <= 0x5a) || // A-Z
      (ch >= 0x30 && ch <= 0x3a) || // 0-9 :
      ch === 0x20 ||
      ch === 0x27 || // '
      ch === 0x28 ||
      ch === 0x29 ||
      ch === 0x2d || // -
      ch === 0x2e ||
      ch === 0x2f ||
      ch === 0x3d || // =
      ch === 0x3f || // ?
      (tag !== ID_PRINTABLE_STRING && (ch === 0x40 || ch === 0x5f)); // @ _
    if (!ok) return null;
  }
  if (der[value] === 0x20 || der[end - 1] === 0x20) return null;
  return der.toString('latin1', value, end);
}

/**
 * The Validity SEQUENCE just read: exactly two times, UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ,
 * each field in range; null when not plain.
 */
function plainValidity(c: Cursor): { notBeforeMs: number; notAfterMs: number } | null {
  const end = c.end;
  if (!c.read(c.value, end)) return null;
  const notBeforeMs = plainTime(c);
  if (notBeforeMs === null || !c.read(c.end, end) || c.end !== end) return null;
  const notAfterMs = plainTime(c);
  return notAfterMs === null ? null : { notBeforeMs, notAfterMs };
}

/** The header just read: a plain time (see plainValidity) in epoch milliseconds, as parseTime reads it; or null. */
function plainTime(c: Cursor): number | null {
  const { der, value: v, end } = c;
  const digits = c.id === ID_UTC_TIME ? 12 : c.id === ID_GENERALIZED_TIME ? 14 : -1;
  if (digits < 0 || end - v !== digits + 1 || der[end - 1] !== 0x5a) return null;
  for (let i = v; i < end - 1; i++) if (der[i]! < 0x30 || der[i]! > 0x39) return null;
  const yy = two(der, v);
  // Two-digit years as RFC 5280; a four-digit year below 100 as Date.UTC read it (1900 + year) before, unchanged.
  const yyyy = yy * 100 + two(der, v + 2);
  const year = digits === 12 ? (yy < 50 ? 2000 : 1900) + yy : yyyy < 100 ? 1900 + yyyy : yyyy;
  const at = digits === 12 ? v + 2 : v + 4;
  const mo = two(der, at);
  const d = two(der, at + 2);
  const h = two(der, at + 4);
  const mi = two(der, at + 6);
  const s = two(der, at + 8);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 || d > daysInMonth(year, mo)) return null;
  // Date.UTC itself reads a year below 100 as 1900 + year, which is what `year` already is for those.
  return Date.UTC(year, mo - 1, d, h, mi, s);
}

/** The two decimal digits at der[i], der[i + 1]. */
function two(der: Buffer, i: number): number {
  return (der[i]! - 0x30) * 10 + der[i + 1]! - 0x30;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/**
 * The SubjectPublicKeyInfo SEQUENCE's content der[value, end): an EC key on a named curve (an uncompressed point of
 * its size) or an RSA key; its algorithm OID and curve OID (null for RSA), or null.
 */
function plainSpki(c: Cursor, value: number, end: number): { alg: string; curve: string | null } | null {
  const der = c.der;
  // { AlgorithmIdentifier { OID, curve OID or NULL }, BIT STRING }
  if (!c.read(value, end) || c.id !== ID_SEQUENCE) return null;
  const algEnd = c.end;
  if (!c.read(c.value, algEnd) || c.id !== ID_OID) return null;
  const alg = algorithmOid(der, c.value, c.end);
  if (!c.read(c.end, algEnd) || c.end !== algEnd) return null;
  let curve: string | null = null;
  if (c.id === ID_OID) {
    curve = algorithmOid(der, c.value, c.end);
    if (!PLAIN_CURVES.has(curve ?? '')) return null;
  } else if (c.id !== ID_NULL || c.end !== c.value) return null;
  if (!c.read(algEnd, end) || c.end !== end || !plainBitString(c)) return null;
  const key = c.value + 1; // after the unused-bits octet
  if (alg === OID_EC && curve !== null) {
    const onIt = end - key === POINT_BYTES.get(curve) && der[key] === 0x04 && onCurve(curve, der, key, end);
    return onIt ? { alg, curve } : null;
  }
  if (alg !== OID_RSA || curve !== null) return null;
  // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
  if (!c.read(key, end) || c.end !== end || c.id !== ID_SEQUENCE) return null;
  if (!c.read(c.value, end) || !plainInteger(c, 1025)) return null;
  return c.read(c.end, end) && c.end === end && plainInteger(c, 8) ? { alg, curve: null } : null;
}

/** The four plain extensions, as bits for "seen", by the last content octet of 2.5.29.n (55 1d n). */
const BASIC_CONSTRAINTS = 1;
const KEY_USAGE = 2;
const SUBJECT_KEY_ID = 4;
const AUTHORITY_KEY_ID = 8;
const EXT_BITS: ReadonlyMap<number, number> = new Map([
  [19, BASIC_CONSTRAINTS],
  [15, KEY_USAGE],
  [14, SUBJECT_KEY_ID],
  [35, AUTHORITY_KEY_ID],
]);

/**
 * The extensions in der[value, end): only basic constraints, key usage and the key identifiers, each once and each
 * well formed, as OpenSSL's extension cache (which marks a certificate invalid for a duplicate or undecodable
 * extension) would find them. Null when not plain, else whether the key ids agree (the AKID's key id, when it and a
 * SKID are both present, has the SKID's octets), basicConstraints' cA and whether keyUsage has keyCertSign (null for
 * an absent extension).
 */
function plainExtensions(
  c: Cursor,
  value: number,
  end: number,
): { keyIdsAgree: boolean; basicConstraintsCa: boolean | null; keyCertSign: boolean | null } | null {
  if (value === end) return null;
  const der = c.der;
  let seen = 0;
  let skid = -1;
  let skidEnd = -1;
  let akid = -1;
  let akidEnd = -1;
  let basicConstraintsCa: boolean | null = null;
  let keyCertSign: boolean | null = null;
  for (let at = value; at < end;) {
    // Extension ::= SEQUENCE { OID, critical BOOLEAN (DER: only when TRUE, as 0xff), OCTET STRING }
    if (!c.read(at, end) || c.id !== ID_SEQUENCE) return null;
    const extEnd = c.end;
    at = extEnd;
    if (!c.read(c.value, extEnd) || c.id !== ID_OID) return null;
    // Any other extension is not plain, so only 2.5.29.n with n one of the four is read on.
    const o = c.value;
    const bit = c.end - o === 3 && der[o] === 0x55 && der[o + 1] === 0x1d ? EXT_BITS.get(der[o + 2]!) : undefined;
    if (bit === undefined || (seen & bit) !== 0) return null;
    seen |= bit;
    if (!c.read(c.end, extEnd)) return null;
    if (c.end !== extEnd) {
      if (c.id !== ID_BOOLEAN || c.end - c.value !== 1 || der[c.value] !== 0xff) return null;
      if (!c.read(c.end, extEnd) || c.end !== extEnd) return null;
    }
    if (c.id !== ID_OCTET_STRING) return null;
    const wrapEnd = c.end;
    if (!c.read(c.value, wrapEnd) || c.end !== wrapEnd) return null;
    switch (bit) {
      case BASIC_CONSTRAINTS:
        if (c.id !== ID_SEQUENCE) return null;
        basicConstraintsCa = c.value !== c.end; // a plain one is empty (cA FALSE) or starts with cA TRUE
        if (!plainBasicConstraints(c)) return null;
        break;
      case KEY_USAGE:
        if (c.id !== ID_BIT_STRING || !plainKeyUsage(c)) return null;
        keyCertSign = (der[c.value + 1]! & 0x04) !== 0; // bit 5 of the first octet after the unused-bits count
        break;
      case SUBJECT_KEY_ID:
        if (c.id !== ID_OCTET_STRING || c.end === c.value) return null;
        skid = c.value;
        skidEnd = c.end;
        break;
      case AUTHORITY_KEY_ID:
        // SEQUENCE { keyIdentifier [0] } only: an issuer name and serial are compared by OpenSSL in ways not
        // modelled here.
        if (c.id !== ID_SEQUENCE || !c.read(c.value, wrapEnd) || c.end !== wrapEnd) return null;
        if (c.id !== ID_KEY_ID || c.end === c.value) return null;
        akid = c.value;
        akidEnd = c.end;
        break;
      default:
        return null;
    }
  }
  const keyIdsAgree = akid < 0 || skid < 0 || sameBytes(der, akid, akidEnd, skid, skidEnd);
  return { keyIdsAgree, basicConstraintsCa, keyCertSign };
}

/**
 * The BasicConstraints SEQUENCE just read: { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }, so
 * empty, { TRUE } or { TRUE, INTEGER } (DEFAULT FALSE is omitted, and a path length without cA is not plain).
 */
function plainBasicConstraints(c: Cursor): boolean {
  const end = c.end;
  if (c.value === end) return true;
  if (!c.read(c.value, end) || c.id !== ID_BOOLEAN || c.end - c.value !== 1 || c.der[c.value] !== 0xff) return false;
  if (c.end === end) return true;
  return c.read(c.end, end) && c.end === end && plainInteger(c, 2);
}

/** The KeyUsage BIT STRING just read: 1 or 2 content octets, unused bits in range and zero, no trailing zero octet. */
function plainKeyUsage(c: Cursor): boolean {
  const n = c.end - c.value;
  if (n < 2 || n > 3) return false;
  const unused = c.der[c.value]!;
  const last = c.der[c.end - 1]!;
  return unused <= 7 && last !== 0 && (last & ((1 << unused) - 1)) === 0;
}
