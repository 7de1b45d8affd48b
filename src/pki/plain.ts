/**
 * "Plain" certificates: ones whose every byte our own reader checks strictly enough to answer, without OpenSSL,
 * what a truststore needs of each certificate: that OpenSSL would parse it, Node's subject and issuer strings, and
 * whether OpenSSL's chain building takes it as self-signed. A bundle of 10,000 CAs is then loaded without 10,000
 * OpenSSL parses (~0.1 ms each); anything outside the plain shape (another extension, string type, character,
 * algorithm, a non-minimal encoding) is not plain and gets OpenSSL's answers as before.
 */
import {
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  isContext,
  isUniversal,
  readTlv,
} from './der.js';
import type { Tlv } from './der.js';
import type { TbsParts } from './types.js';
import { derOid } from './der-write.js';
import { OID_EC, OID_RSA } from './oids.js';

/**
 * What the plain walk found: Node's name strings, OpenSSL's self-signed answer (X509_check_issued(c, c)), and the
 * fields' positions (what splitCertificate would locate again).
 */
export interface PlainFacts {
  subject: string;
  issuer: string;
  looksSelfSigned: boolean;
  parts: TbsParts;
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

const TAG_UTF8_STRING = 12;
const TAG_PRINTABLE_STRING = 19;
const TAG_IA5_STRING = 22;

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
  const x = bigAt(der, start + 1, start + 1 + half);
  const y = bigAt(der, start + 1 + half, end);
  if (x >= c.p || y >= c.p) return false;
  return (y * y - x * (x * x - 3n) - c.b) % c.p === 0n;
}

/** The unsigned big-endian integer at der[start, end), read 64 bits at a time (cheaper than hex text). */
function bigAt(der: Buffer, start: number, end: number): bigint {
  let i = start;
  const head = (end - start) % 8; // 0 for P-256 and P-384, 2 for P-521
  let v = head === 0 ? 0n : BigInt(der.readUIntBE(i, head));
  for (i += head; i < end; i += 8) v = (v << 64n) | der.readBigUInt64BE(i);
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

function walk(der: Buffer): PlainFacts | null {
  const cert = strictTlv(der, 0, der.length);
  if (!cert || cert.end !== der.length || !isSeq(cert)) return null;
  const top = strictChildren(der, cert);
  if (!top || top.length !== 3) return null;
  const [tbs, outerAlg, sig] = top as [Tlv, Tlv, Tlv];
  if (!isSeq(tbs) || !isUniversal(sig, TAG_BIT_STRING) || !plainBitString(der, sig)) return null;
  const sigAlg = algorithm(der, outerAlg);
  if (!sigAlg || !PLAIN_SIG_ALGS.has(sigAlg)) return null;
  const kids = strictChildren(der, tbs);
  if (!kids || kids.length !== 8) return null; // version, serial, alg, issuer, validity, subject, spki, extensions
  const [version, serial, innerAlg, issuer, validity, subject, spki, extWrap] = kids as [
    Tlv,
    Tlv,
    Tlv,
    Tlv,
    Tlv,
    Tlv,
    Tlv,
    Tlv,
  ];
  if (!isContext(version, 0) || !version.constructed) return null;
  const v = strictChildren(der, version);
  if (!v || v.length !== 1 || !isPrim(v[0], TAG_INTEGER) || v[0].end - v[0].valueStart !== 1) return null;
  if (der[v[0].valueStart] !== 2) return null;
  if (!plainInteger(der, serial, 20)) return null;
  // Identical octets read as the same algorithm, so the outer one's answer stands for both.
  if (!sameBytes(der, innerAlg, outerAlg)) return null;
  const selfNamed = sameBytes(der, subject, issuer);
  const subjectText = plainName(der, subject);
  const issuerText = selfNamed ? subjectText : plainName(der, issuer);
  if (subjectText === null || issuerText === null) return null;
  if (!plainValidity(der, validity)) return null;
  const keyAlg = plainSpki(der, spki);
  if (keyAlg === null) return null;
  if (!isContext(extWrap, 3) || !extWrap.constructed) return null;
  const extSeq = strictChildren(der, extWrap);
  if (!extSeq || extSeq.length !== 1 || !isSeq(extSeq[0])) return null;
  const ext = plainExtensions(der, extSeq[0]);
  if (!ext) return null;
  // X509_check_issued(c, c): names compare equal (identical octets here; different octets can still be equal
  // canonically, so those are not plain), the AKID key id matches the SKID, the signature algorithm fits the key, and
  // a key usage, when present, allows keyCertSign. Without keyCertSign the project's likelyIssued asks the same of
  // the names, key ids and algorithm (approximatelyIssued), so the answer does not depend on key usage.
  // Different octets that OpenSSL's canonical form (case and runs of spaces folded, string types unified) may
  // still find equal: leave those to OpenSSL.
  if (!selfNamed && canonical(subjectText) === canonical(issuerText)) return null;
  const akidOk = ext.akid === null || ext.skid === null || sameBytes(der, ext.akid, ext.skid, true);
  const looksSelfSigned = selfNamed && akidOk && PLAIN_SIG_ALGS.get(sigAlg) === keyAlg;
  const parts = { serial, issuer, validity, subject, spki, extensions: ext.list, signatureAlgorithm: outerAlg };
  return { subject: subjectText, issuer: issuerText, looksSelfSigned, parts };
}

function canonical(text: string): string {
  return text.toLowerCase().replace(/ +/g, ' ');
}

// ---- strict DER: minimal lengths, nothing indefinite ----

function strictTlv(der: Buffer, pos: number, limit: number): Tlv | null {
  const t = readTlv(der, pos, limit);
  if (!t || (der[pos]! & 0x1f) === 0x1f) return null; // high tag numbers: none in a plain certificate
  const longOctets = t.valueStart - pos - 2; // 0 for the short form
  if (longOctets === 0) return t;
  // Long form: the fewest octets, and only when the short form cannot hold the length.
  const len = t.end - t.valueStart;
  return len < 0x80 || der[pos + 2] === 0 || longOctets > 3 ? null : t;
}

function strictChildren(der: Buffer, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  let pos = parent.valueStart;
  while (pos < parent.end) {
    const t = strictTlv(der, pos, parent.end);
    if (!t) return null;
    out.push(t);
    pos = t.end;
  }
  return out;
}

function isSeq(t: Tlv | undefined): t is Tlv {
  return isUniversal(t, TAG_SEQUENCE) && t.constructed;
}

function isPrim(t: Tlv | undefined, tag: number): t is Tlv {
  return isUniversal(t, tag) && !t.constructed;
}

/** The same TLV octets (or, with `values`, the same content octets) at two places in `der`. */
function sameBytes(der: Buffer, a: Tlv, b: Tlv, values = false): boolean {
  const from = values ? a.valueStart : a.start;
  const other = values ? b.valueStart : b.start;
  const n = a.end - from;
  if (n !== b.end - other) return false;
  // A JS loop: these runs are short (a name, an algorithm, a key id), shorter than a native compare's call.
  for (let i = 0; i < n; i++) if (der[from + i] !== der[other + i]) return false;
  return true;
}

/** A positive INTEGER in minimal two's complement, 1 to `max` content octets (a serial: RFC 5280's 20). */
function plainInteger(der: Buffer, t: Tlv, max: number): boolean {
  if (!isPrim(t, TAG_INTEGER)) return false;
  const n = t.end - t.valueStart;
  if (n < 1 || n > max) return false;
  const b0 = der[t.valueStart]!;
  if (b0 & 0x80) return false; // negative
  return !(n > 1 && b0 === 0 && (der[t.valueStart + 1]! & 0x80) === 0); // padding
}

function plainBitString(der: Buffer, t: Tlv): boolean {
  return !t.constructed && t.end - t.valueStart >= 2 && der[t.valueStart] === 0;
}

/** AlgorithmIdentifier: SEQUENCE { OID } or SEQUENCE { OID, NULL } or, for EC keys, SEQUENCE { OID, OID }. */
function algorithm(der: Buffer, t: Tlv, params?: (p: Tlv | undefined) => boolean): string | null {
  if (!isSeq(t)) return null;
  const kids = strictChildren(der, t);
  if (!kids || kids.length < 1 || kids.length > 2 || !plainOid(kids[0]!)) return null;
  const p = kids[1];
  if (params ? !params(p) : p !== undefined && !(isPrim(p, 5) && p.end === p.valueStart)) return null;
  return algorithmOid(der, kids[0]!);
}

/** The OID's dotted text when it is one of ALGORITHM_OIDS, else null (not plain). */
function algorithmOid(der: Buffer, t: Tlv): string | null {
  for (const { oid, bytes } of ALGORITHM_OIDS) if (contentIs(der, t, bytes)) return oid;
  return null;
}

function plainOid(t: Tlv): boolean {
  return isPrim(t, TAG_OID) && t.end > t.valueStart;
}

/** Node's `x509.subject` text for a plain name: `A=v` per RDN in DER order, one a line; null when not plain. */
export function plainName(der: Buffer, name: Tlv): string | null {
  if (!isSeq(name)) return null;
  const rdns = strictChildren(der, name);
  if (!rdns || rdns.length === 0) return null;
  let text = '';
  for (const rdn of rdns) {
    if (rdn.cls !== 0 || rdn.tag !== 17 || !rdn.constructed) return null; // SET
    const avas = strictChildren(der, rdn);
    if (!avas || avas.length !== 1) return null; // multi-valued RDNs: not plain
    const ava = avas[0]!;
    if (!isSeq(ava)) return null;
    const kids = strictChildren(der, ava);
    if (!kids || kids.length !== 2 || !plainOid(kids[0]!)) return null;
    const short = shortName(der, kids[0]!);
    const value = plainString(der, kids[1]!);
    if (short === undefined || value === null) return null;
    text = text === '' ? `${short}=${value}` : `${text}\n${short}=${value}`;
  }
  return text;
}

function shortName(der: Buffer, oid: Tlv): string | undefined {
  const v = oid.valueStart;
  const n = oid.end - v;
  if (n === 3 && der[v] === 0x55 && der[v + 1] === 0x04) return X500_SHORT_NAMES.get(der[v + 2]!);
  if (contentIs(der, oid, OID_DC_BYTES)) return 'DC';
  if (contentIs(der, oid, OID_EMAIL_BYTES)) return 'emailAddress';
  return undefined;
}

function contentIs(der: Buffer, t: Tlv, bytes: ArrayLike<number>): boolean {
  if (t.end - t.valueStart !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (der[t.valueStart + i] !== bytes[i]) return false;
  return true;
}

/**
 * A PrintableString, UTF8String or IA5String of characters that neither OpenSSL's printing escapes (RFC 2253
 * specials, controls, non-ASCII) nor any string type's rules reject; no leading or trailing space.
 */
function plainString(der: Buffer, t: Tlv): string | null {
  if (t.cls !== 0 || t.constructed) return null;
  if (t.tag !== TAG_PRINTABLE_STRING && t.tag !== TAG_UTF8_STRING && t.tag !== TAG_IA5_STRING) return null;
  const n = t.end - t.valueStart;
  if (n < 1 || n > 128) return null;
  for (let i = t.valueStart; i < t.end; i++) {
    const c = der[i]!;
    const ok =
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x3a) || // 0-9 :
      c === 0x20 ||
      c === 0x27 || // '
      c === 0x28 ||
      c === 0x29 ||
      c === 0x2d || // -
      c === 0x2e ||
      c === 0x2f ||
      c === 0x3d || // =
      c === 0x3f || // ?
      (t.tag !== TAG_PRINTABLE_STRING && (c === 0x40 || c === 0x5f)); // @ _
    if (!ok) return null;
  }
  if (der[t.valueStart] === 0x20 || der[t.end - 1] === 0x20) return null;
  return der.toString('latin1', t.valueStart, t.end);
}

/** Validity: UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, each field in range. */
function plainValidity(der: Buffer, t: Tlv): boolean {
  if (!isSeq(t)) return false;
  const kids = strictChildren(der, t);
  return kids !== null && kids.length === 2 && plainTime(der, kids[0]!) && plainTime(der, kids[1]!);
}

function plainTime(der: Buffer, t: Tlv): boolean {
  if (t.cls !== 0 || t.constructed) return false;
  const digits = t.tag === 23 ? 12 : t.tag === 24 ? 14 : -1;
  if (digits < 0 || t.end - t.valueStart !== digits + 1 || der[t.end - 1] !== 0x5a) return false;
  for (let i = t.valueStart; i < t.end - 1; i++) if (der[i]! < 0x30 || der[i]! > 0x39) return false;
  const two = (i: number): number => (der[i]! - 0x30) * 10 + der[i + 1]! - 0x30;
  const v = t.valueStart;
  const yy = two(v);
  // Two-digit years as RFC 5280; a four-digit year below 100 as Date.UTC read it (1900 + year) before, unchanged.
  const yyyy = yy * 100 + two(v + 2);
  const year = digits === 12 ? (yy < 50 ? 2000 : 1900) + yy : yyyy < 100 ? 1900 + yyyy : yyyy;
  const at = digits === 12 ? v + 2 : v + 4;
  const mo = two(at);
  const d = two(at + 2);
  if (mo < 1 || mo > 12 || d < 1 || two(at + 4) > 23 || two(at + 6) > 59 || two(at + 8) > 59) return false;
  return d <= daysInMonth(year, mo);
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** An EC key on a named curve (an uncompressed point of its size) or an RSA key: its algorithm OID, or null. */
function plainSpki(der: Buffer, t: Tlv): string | null {
  if (!isSeq(t)) return null;
  const kids = strictChildren(der, t);
  if (!kids || kids.length !== 2 || !isUniversal(kids[1], TAG_BIT_STRING) || !plainBitString(der, kids[1]!))
    return null;
  let curve: string | null = null;
  const alg = algorithm(der, kids[0]!, (p) => {
    if (p === undefined) return false;
    if (plainOid(p)) return PLAIN_CURVES.has((curve = algorithmOid(der, p)) ?? '');
    return isPrim(p, 5) && p.end === p.valueStart;
  });
  const key = kids[1]!;
  if (alg === OID_EC && curve !== null) {
    const point = key.valueStart + 1;
    const size = key.end - point;
    return size === POINT_BYTES.get(curve) && der[point] === 0x04 && onCurve(curve, der, point, key.end) ? alg : null;
  }
  if (alg !== OID_RSA || curve !== null) return null;
  // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
  const rsa = strictTlv(der, key.valueStart + 1, key.end);
  if (!rsa || rsa.end !== key.end || !isSeq(rsa)) return null;
  const ints = strictChildren(der, rsa);
  if (!ints || ints.length !== 2 || !plainInteger(der, ints[0]!, 1025) || !plainInteger(der, ints[1]!, 8)) return null;
  return alg;
}

interface PlainExtensions {
  list: Tlv[];
  /** The key identifiers' OCTET STRING and [0] TLVs (their content octets compare). */
  skid: Tlv | null;
  akid: Tlv | null;
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
 * Only basic constraints, key usage and the key identifiers, each once and each well formed, as OpenSSL's extension
 * cache (which marks a certificate invalid for a duplicate or undecodable extension) would find them.
 */
function plainExtensions(der: Buffer, seq: Tlv): PlainExtensions | null {
  const exts = strictChildren(der, seq);
  if (!exts || exts.length === 0) return null;
  let seen = 0;
  const out: PlainExtensions = { list: exts, skid: null, akid: null };
  for (const ext of exts) {
    if (!isSeq(ext)) return null;
    const kids = strictChildren(der, ext);
    if (!kids || kids.length < 2 || kids.length > 3 || !plainOid(kids[0]!)) return null;
    // Any other extension is not plain, so only 2.5.29.n with n one of the four is read on.
    const o = kids[0]!.valueStart;
    const bit =
      kids[0]!.end - o === 3 && der[o] === 0x55 && der[o + 1] === 0x1d ? EXT_BITS.get(der[o + 2]!) : undefined;
    if (bit === undefined || (seen & bit) !== 0) return null;
    seen |= bit;
    if (kids.length === 3) {
      const c = kids[1]!;
      // DER: critical is only encoded when TRUE, as 0xff.
      if (!isPrim(c, TAG_BOOLEAN) || c.end - c.valueStart !== 1 || der[c.valueStart] !== 0xff) return null;
    }
    const wrap = kids[kids.length - 1]!;
    if (!isUniversal(wrap, TAG_OCTET_STRING) || wrap.constructed) return null;
    const inner = strictTlv(der, wrap.valueStart, wrap.end);
    if (!inner || inner.end !== wrap.end) return null;
    switch (bit) {
      case BASIC_CONSTRAINTS:
        if (!plainBasicConstraints(der, inner)) return null;
        break;
      case KEY_USAGE:
        if (!isUniversal(inner, TAG_BIT_STRING) || inner.constructed) return null;
        if (!plainKeyUsage(der, inner)) return null;
        break;
      case SUBJECT_KEY_ID:
        if (!isUniversal(inner, TAG_OCTET_STRING) || inner.constructed || inner.end === inner.valueStart) return null;
        out.skid = inner;
        break;
      case AUTHORITY_KEY_ID: {
        // keyIdentifier [0] only: an issuer name and serial are compared by OpenSSL in ways not modelled here.
        if (!isSeq(inner)) return null;
        const ids = strictChildren(der, inner);
        const id = ids?.[0];
        if (!ids || ids.length !== 1 || !isContext(id, 0) || id.constructed || id.end === id.valueStart) return null;
        out.akid = id;
        break;
      }
      default:
        return null;
    }
  }
  return out;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
function plainBasicConstraints(der: Buffer, t: Tlv): boolean {
  if (!isSeq(t)) return false;
  const kids = strictChildren(der, t);
  if (!kids || kids.length > 2) return false;
  let i = 0;
  const ca = kids[0];
  if (isPrim(ca, TAG_BOOLEAN)) {
    if (ca.end - ca.valueStart !== 1 || der[ca.valueStart] !== 0xff) return false; // DEFAULT FALSE is omitted
    i = 1;
  }
  const len = kids[i];
  if (len === undefined) return i === kids.length;
  return i + 1 === kids.length && i === 1 && plainInteger(der, len, 2);
}

/** A KeyUsage BIT STRING: 1 or 2 content octets, unused bits in range and zero, no trailing zero octet. */
function plainKeyUsage(der: Buffer, t: Tlv): boolean {
  const n = t.end - t.valueStart;
  if (n < 2 || n > 3) return false;
  const unused = der[t.valueStart]!;
  const last = der[t.end - 1]!;
  if (unused > 7 || last === 0 || (last & ((1 << unused) - 1)) !== 0) return false;
  return true;
}
