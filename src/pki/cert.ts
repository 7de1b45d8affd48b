/**
 * Certificates: Node's X509Certificate validates the DER and does fingerprints, public keys and signature
 * checks; everything X509Certificate lacks (signature algorithm, key usage bits, basic constraints, EKU names, key ids,
 * RFC 4514 names) comes from our own walk over the DER, which is fast enough for bundles of 10k certificates.
 */
import { hash, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type {
  BasicConstraintsInfo,
  Cert,
  CertFacts,
  CertInfo,
  ExtensionId,
  SignatureAlgorithmInfo,
  TbsParts,
} from './types.js';
import {
  EXT_AUTHORITY_INFO_ACCESS,
  EXT_AUTHORITY_KEY_ID,
  EXT_BASIC_CONSTRAINTS,
  EXT_CRL_DISTRIBUTION_POINTS,
  EXT_EXT_KEY_USAGE,
  EXT_KEY_USAGE,
  EXT_SUBJECT_ALT_NAME,
  EXT_SUBJECT_KEY_ID,
  EXTENDED_KEY_USAGES,
  HASH_ALGORITHMS,
  KEY_USAGE_BITS,
  OID_AD_OCSP,
  SIGNATURE_ALGORITHMS,
} from './oids.js';
import {
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
  isContext,
  isUniversal,
  readOid,
  readSmallInt,
  readTlv,
  tlvChildren,
  tlvValue,
} from './der.js';
import type { Tlv } from './der.js';
import { describeSpkiAt, modulusDigest, sha256Hex } from './key.js';
import { formatGeneralName, formatName, namesEqual } from './oids.js';
import { parsePem } from './pem.js';
import { plainFacts, type PlainFacts } from './plain.js';

export { modulusSha1, spkiSha256 } from './key.js';

/** Parses one DER certificate; throws an Error with a one-line message when it is not one. */
export function parseCert(der: Buffer): Cert {
  const outer = der[0] === 0x30 ? readTlv(der, 0) : null;
  if (!outer) throw new Error('not a DER certificate (no outer SEQUENCE)');
  const exact = outer.end === der.length ? der : der.subarray(0, outer.end);
  // A plain certificate (see plain.ts) is one our strict walk vouches OpenSSL parses: OpenSSL's own parse waits until
  // something needs the X509Certificate (a chain through it, a signature check).
  const plain = plainFacts(exact);
  if (plain) return new ParsedCert({ der: exact, plain });
  let x509: X509Certificate;
  let parts: TbsParts;
  try {
    x509 = new X509Certificate(exact);
    // Our own walk must succeed too, so describing later cannot fail; OpenSSL parses a malformed time (its
    // validTo is then "Bad time value"), which would make describeCert's toISOString throw.
    parts = splitCertificate(exact);
    const times = readValidity(exact, parts.validity, () => x509);
    if (times.some((t) => Number.isNaN(t.getTime())))
      throw new Error('a validity date (notBefore or notAfter) is malformed');
  } catch (e) {
    throw new Error(`not a valid x.509 certificate: ${oneLine(e)}`);
  }
  return new ParsedCert({ der: exact, x509, parts });
}

/**
 * OpenSSL's parse (~0.1 ms a certificate) is the validation of a certificate that is not plain, so it is done up
 * front for those; for plain ones it waits for the first read of `x509`. The description (and its self-signature
 * check) waits until someone reads `info`, which keeps 10k-certificate bundles quick.
 */
class ParsedCert implements Cert {
  #info: CertInfo | undefined;
  #facts: CertFacts | undefined;
  #extensionIds: readonly ExtensionId[] | undefined;
  readonly #parts: TbsParts;
  #x509: X509Certificate | null;
  readonly #plain: PlainFacts | null;
  readonly der: Buffer;
  /** A plain certificate comes with its walk's facts; any other with OpenSSL's parse and its located parts. */
  constructor(c: { der: Buffer; plain: PlainFacts } | { der: Buffer; x509: X509Certificate; parts: TbsParts }) {
    this.der = c.der;
    if ('plain' in c) {
      this.#plain = c.plain;
      this.#parts = c.plain.parts;
      this.#facts = c.plain.facts;
      this.#x509 = null;
    } else {
      this.#plain = null;
      this.#parts = c.parts;
      this.#x509 = c.x509;
    }
  }
  get x509(): X509Certificate {
    return (this.#x509 ??= lazyX509(this.der));
  }
  get info(): CertInfo {
    return (this.#info ??= new Description({
      openssl: () => this.x509,
      der: this.der,
      parts: this.parts,
      facts: this.facts,
    }));
  }
  get facts(): CertFacts {
    return (this.#facts ??= readCertFacts(this.der, this.parts, () => this.x509));
  }
  get extensionIds(): readonly ExtensionId[] {
    return (this.#extensionIds ??= readExtensionIds(this.der, this.parts));
  }
  get parts(): TbsParts {
    return this.#parts;
  }
  get subjectName(): string {
    return this.#plain?.subject ?? this.x509.subject;
  }
  get issuerName(): string {
    return this.#plain?.issuer ?? this.x509.issuer;
  }
  get plainSelfSigned(): boolean | null {
    return this.#plain?.looksSelfSigned ?? null;
  }
}

/** OpenSSL's parse of a plain certificate; plain.ts's walk is meant to make this unable to fail. */
function lazyX509(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (e) {
    throw new Error(`not a valid x.509 certificate: ${oneLine(e)}`);
  }
}

/** The first CERTIFICATE block of PEM text. */
export function certFromPem(pem: string): Cert {
  const block = parsePem(pem).blocks.find((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE');
  if (!block) throw new Error('no CERTIFICATE block in the PEM text');
  return parseCert(block.body);
}

/** True when `issuerKey` verifies the certificate's signature. Never throws. */
export function signatureVerifies(cert: Cert, issuerKey: KeyObject): boolean {
  try {
    return cert.x509.verify(issuerKey);
  } catch {
    return false;
  }
}

/**
 * `x509` may be a function giving it, for a plain certificate whose OpenSSL parse is not needed to describe it.
 * What every reader needs (dates, key, algorithms, extensions) is read at once; the names, the serial and the digests
 * on first read, as linting a 10,000-CA bundle reads them only for the CAs a finding names.
 */
export function describeCert(
  x509: X509Certificate | (() => X509Certificate),
  der: Buffer,
  now: Date = new Date(),
): CertInfo {
  const openssl = typeof x509 === 'function' ? x509 : () => x509;
  const parts = splitCertificate(der);
  return new Description({ openssl, der, parts, facts: readCertFacts(der, parts, openssl), now });
}

/** The facts of a certificate from its located parts; `x509` is asked only for a date our reader cannot read. */
export function readCertFacts(der: Buffer, p: TbsParts, x509: () => X509Certificate): CertFacts {
  const [notBefore, notAfter] = readValidity(der, p.validity, x509);
  const key = describeSpkiAt(der, p.spki);
  let basicConstraintsCa: boolean | null = null;
  let keyCertSign: boolean | null = null;
  // As readExtensions reads them (the last of a duplicate wins), through the same helpers.
  for (const ext of p.extensions) {
    const e = extensionAt(der, ext);
    if (e?.oid === EXT_BASIC_CONSTRAINTS) basicConstraintsCa = basicConstraints(der, e.inner, e.critical).ca;
    else if (e?.oid === EXT_KEY_USAGE)
      keyCertSign = isUniversal(e.inner, TAG_BIT_STRING) ? keyUsageNames(der, e.inner).includes('keyCertSign') : null;
  }
  return {
    notBeforeMs: notBefore.getTime(),
    notAfterMs: notAfter.getTime(),
    publicKey: { type: key.type, bits: key.bits, curve: key.curve },
    modulusHex: key.modulusHex,
    signatureAlgorithm: describeSignatureAlgorithm(der, p.signatureAlgorithm),
    basicConstraintsCa,
    keyCertSign,
  };
}

/**
 * CertInfo with its costly fields computed on first read. A class, not getters in an object literal: V8 builds a
 * literal's accessors one runtime call each (~5 us a certificate). JSON gets every field, in CertInfo's order, from
 * toJSON; nothing posts a CertInfo between threads (the admin views copy the strings they show).
 */
class Description implements CertInfo {
  readonly daysLeft: number;
  readonly publicKey: CertInfo['publicKey'];
  readonly signatureAlgorithm: CertInfo['signatureAlgorithm'];
  readonly subjectAltNames: string[];
  readonly keyUsage: string[] | null;
  readonly extendedKeyUsage: string[] | null;
  readonly basicConstraints: CertInfo['basicConstraints'];
  readonly subjectKeyId: string | null;
  readonly authorityKeyId: string | null;
  readonly crlDistributionPoints: string[];
  readonly ocspUrls: string[];
  readonly #der: Buffer;
  readonly #parts: TbsParts;
  readonly #openssl: () => X509Certificate;
  readonly #modulusHex: string | null;
  readonly #notBeforeMs: number;
  readonly #notAfterMs: number;
  #notBefore: string | undefined;
  #notAfter: string | undefined;
  #names: CertNames | undefined;
  #serial: string | undefined;
  #fingerprint: string | undefined;
  #modulus: string | null | undefined;
  #spki: string | undefined;
  #selfSigned: boolean | undefined;

  constructor({ openssl, der, parts: p, facts, now = new Date() }: DescriptionInput) {
    const ext = readExtensions(der, p.extensions);
    this.#der = der;
    this.#parts = p;
    this.#openssl = openssl;
    this.#modulusHex = facts.modulusHex;
    this.#notBeforeMs = facts.notBeforeMs;
    this.#notAfterMs = facts.notAfterMs;
    this.daysLeft = Math.floor((facts.notAfterMs - now.getTime()) / 86_400_000);
    this.publicKey = facts.publicKey;
    this.signatureAlgorithm = facts.signatureAlgorithm;
    this.subjectAltNames = ext.subjectAltNames;
    this.keyUsage = ext.keyUsage;
    this.extendedKeyUsage = ext.extendedKeyUsage;
    this.basicConstraints = ext.basicConstraints;
    this.subjectKeyId = ext.subjectKeyId;
    this.authorityKeyId = ext.authorityKeyId;
    this.crlDistributionPoints = ext.crlDistributionPoints;
    this.ocspUrls = ext.ocspUrls;
  }

  /** ISO 8601 on first read: a bundle's time checks compare the facts' milliseconds (toISOString costs ~1 us). */
  get notBefore(): string {
    return (this.#notBefore ??= new Date(this.#notBeforeMs).toISOString());
  }
  get notAfter(): string {
    return (this.#notAfter ??= new Date(this.#notAfterMs).toISOString());
  }
  get subject(): string {
    return this.#nameParts().subject;
  }
  get issuer(): string {
    return this.#nameParts().issuer;
  }
  get selfIssued(): boolean {
    return this.#nameParts().selfIssued;
  }
  /** A public-key operation (~60 us for P-256). */
  get selfSigned(): boolean {
    return (this.#selfSigned ??= this.selfIssued && verifiesWithOwnKey(this.#openssl()));
  }
  get serial(): string {
    return (this.#serial ??= formatSerial(tlvValue(this.#der, this.#parts.serial)));
  }
  /** SHA-256 of the DER as OpenSSL prints it (`AB:CD:...`). */
  get fingerprintSha256(): string {
    return (this.#fingerprint ??= colonHex(hash('sha256', this.#der, 'hex')).toUpperCase());
  }
  get modulusSha1(): string | null {
    if (this.#modulus === undefined) this.#modulus = modulusDigest(this.#modulusHex);
    return this.#modulus;
  }
  get spkiSha256(): string {
    return (this.#spki ??= sha256Hex(this.#der.subarray(this.#parts.spki.start, this.#parts.spki.end)));
  }

  #nameParts(): CertNames {
    return (this.#names ??= describeNames(this.#der, this.#parts));
  }

  toJSON(): CertInfo {
    return {
      subject: this.subject,
      issuer: this.issuer,
      serial: this.serial,
      notBefore: this.notBefore,
      notAfter: this.notAfter,
      daysLeft: this.daysLeft,
      selfIssued: this.selfIssued,
      selfSigned: this.selfSigned,
      publicKey: this.publicKey,
      signatureAlgorithm: this.signatureAlgorithm,
      subjectAltNames: this.subjectAltNames,
      keyUsage: this.keyUsage,
      extendedKeyUsage: this.extendedKeyUsage,
      basicConstraints: this.basicConstraints,
      subjectKeyId: this.subjectKeyId,
      authorityKeyId: this.authorityKeyId,
      crlDistributionPoints: this.crlDistributionPoints,
      ocspUrls: this.ocspUrls,
      fingerprintSha256: this.fingerprintSha256,
      modulusSha1: this.modulusSha1,
      spkiSha256: this.spkiSha256,
    };
  }
}

interface DescriptionInput {
  openssl: () => X509Certificate;
  der: Buffer;
  parts: TbsParts;
  facts: CertFacts;
  now?: Date;
}

interface CertNames {
  subject: string;
  issuer: string;
  selfIssued: boolean;
}

function describeNames(der: Buffer, p: TbsParts): CertNames {
  const subject = formatName(der, p.subject);
  // A root's issuer is its subject's very octets: format them once.
  const issuer = sameOctets(der, p.subject, p.issuer) ? subject : formatName(der, p.issuer);
  return { subject, issuer, selfIssued: namesEqual(der, p.subject, p.issuer, subject, issuer) };
}

function sameOctets(der: Buffer, a: Tlv, b: Tlv): boolean {
  return a.end - a.start === b.end - b.start && der.compare(der, a.start, a.end, b.start, b.end) === 0;
}

/** The fields of a certificate's DER, located once by our own reader; throws on a malformed certificate. */
export function splitCertificate(der: Buffer): TbsParts {
  const outer = readTlv(der, 0);
  const top = outer && tlvChildren(der, outer, 3);
  const tbs = top?.[0];
  const sigAlg = top?.[1];
  if (!isUniversal(tbs, TAG_SEQUENCE) || !isUniversal(sigAlg, TAG_SEQUENCE)) throw new Error('malformed certificate');
  const kids = tlvChildren(der, tbs) ?? [];
  const rest = isContext(kids[0], 0) ? kids.slice(1) : kids;
  const [serial, , issuer, validity, subject, spki] = rest;
  if (!isUniversal(serial, TAG_INTEGER) || !issuer || !validity || !subject || !isUniversal(spki, TAG_SEQUENCE)) {
    throw new Error('malformed tbsCertificate');
  }
  const extWrapper = rest.slice(6).find((t) => isContext(t, 3));
  const extSeq = extWrapper ? readTlv(der, extWrapper.valueStart, extWrapper.end) : null;
  const extensions = extSeq ? (tlvChildren(der, extSeq) ?? []) : [];
  return { serial, issuer, validity, subject, spki, extensions, signatureAlgorithm: sigAlg };
}

function verifiesWithOwnKey(x509: X509Certificate): boolean {
  try {
    return x509.verify(x509.publicKey);
  } catch {
    return false;
  }
}

/** Colon-separated lowercase hex of the serial's magnitude (the DER sign octet dropped), as openssl -text. */
export function formatSerial(bytes: Buffer): string {
  const negative = bytes.length > 0 && (bytes[0]! & 0x80) !== 0;
  let mag = negative ? twosComplement(bytes) : bytes;
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  mag = mag.subarray(i);
  return (negative ? '-' : '') + colonHex(mag.toString('hex'));
}

function twosComplement(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  let carry = 1;
  for (let i = out.length - 1; i >= 0; i--) {
    const v = (~out[i]! & 0xff) + carry;
    out[i] = v & 0xff;
    carry = v >> 8;
  }
  return out;
}

export function colonHex(hex: string): string {
  let out = hex.slice(0, 2);
  for (let i = 2; i < hex.length; i += 2) out += ':' + hex.slice(i, i + 2);
  return out;
}

function readValidity(der: Buffer, validity: Tlv, x509: () => X509Certificate): [Date, Date] {
  const times = tlvChildren(der, validity, 2) ?? [];
  const from = parseTime(der, times[0]) ?? new Date(x509().validFrom);
  const to = parseTime(der, times[1]) ?? new Date(x509().validTo);
  return [from, to];
}

/**
 * UTCTime (YYMMDDHHMM[SS]Z) or GeneralizedTime (YYYYMMDDHHMM[SS][.f{1,9}]Z) as a Date; null when malformed. Read
 * from the octets, not a string and a regular expression: it runs twice for each certificate of a bundle.
 */
export function parseTime(der: Buffer, t: Tlv | undefined): Date | null {
  if (!t || t.cls !== 0 || (t.tag !== TAG_UTC_TIME && t.tag !== TAG_GENERALIZED_TIME)) return null;
  const end = t.end;
  let p = t.valueStart;
  let year: number;
  if (t.tag === TAG_UTC_TIME) {
    const yy = twoDigits(der, p, end);
    if (yy < 0) return null;
    year = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 §4.1.2.5.1
    p += 2;
  } else {
    const hi = twoDigits(der, p, end);
    const lo = twoDigits(der, p + 2, end);
    if (hi < 0 || lo < 0) return null;
    year = hi * 100 + lo;
    p += 4;
  }
  const mo = twoDigits(der, p, end);
  const d = twoDigits(der, p + 2, end);
  const h = twoDigits(der, p + 4, end);
  const mi = twoDigits(der, p + 6, end);
  if (mo < 0 || d < 0 || h < 0 || mi < 0) return null;
  p += 8;
  const s = twoDigits(der, p, end);
  if (s >= 0) p += 2;
  if (t.tag === TAG_GENERALIZED_TIME && der[p] === 0x2e && p < end) {
    let n = 0;
    for (p++; p < end && isDigit(der[p]!); p++) n++;
    if (n < 1 || n > 9) return null;
  }
  if (p !== end - 1 || der[p] !== 0x5a) return null; // 'Z', last
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, Math.max(s, 0)));
  return Number.isNaN(date.getTime()) ? null : date;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** The two decimal digits at `p` as a number, or -1. */
function twoDigits(der: Buffer, p: number, end: number): number {
  if (p + 1 >= end) return -1;
  const a = der[p]!;
  const b = der[p + 1]!;
  return isDigit(a) && isDigit(b) ? (a - 0x30) * 10 + (b - 0x30) : -1;
}

export function describeSignatureAlgorithm(der: Buffer, alg: Tlv): SignatureAlgorithmInfo {
  const kids = tlvChildren(der, alg, 2) ?? [];
  const oid = readOid(der, kids[0]) ?? 'unknown';
  const entry = SIGNATURE_ALGORITHMS.get(oid);
  if (!entry) return { oid, name: oid, hash: null };
  const hash = oid === '1.2.840.113549.1.1.10' ? (pssHash(der, kids[1]) ?? entry.hash) : entry.hash;
  return { oid, name: entry.name, hash };
}

/** RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... } */
function pssHash(der: Buffer, params: Tlv | undefined): string | null {
  if (!isUniversal(params, TAG_SEQUENCE)) return null;
  const first = tlvChildren(der, params, 1)?.[0];
  if (!isContext(first, 0)) return null;
  const algId = readTlv(der, first.valueStart, first.end);
  const oid = algId && readOid(der, tlvChildren(der, algId, 1)?.[0]);
  return oid ? (HASH_ALGORITHMS.get(oid) ?? oid) : null;
}

interface Extensions {
  subjectAltNames: string[];
  keyUsage: string[] | null;
  extendedKeyUsage: string[] | null;
  basicConstraints: BasicConstraintsInfo | null;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  crlDistributionPoints: string[];
  ocspUrls: string[];
}

function readExtensions(der: Buffer, list: Tlv[]): Extensions {
  const out: Extensions = {
    subjectAltNames: [],
    keyUsage: null,
    extendedKeyUsage: null,
    basicConstraints: null,
    subjectKeyId: null,
    authorityKeyId: null,
    crlDistributionPoints: [],
    ocspUrls: [],
  };
  for (const t of list) {
    const e = extensionAt(der, t);
    if (!e) continue;
    const { inner } = e;
    switch (e.oid) {
      case EXT_SUBJECT_ALT_NAME:
        out.subjectAltNames = (tlvChildren(der, inner) ?? []).map((gn) => formatGeneralName(der, gn));
        break;
      case EXT_KEY_USAGE:
        out.keyUsage = isUniversal(inner, TAG_BIT_STRING) ? keyUsageNames(der, inner) : null;
        break;
      case EXT_EXT_KEY_USAGE:
        out.extendedKeyUsage = (tlvChildren(der, inner) ?? []).map((t) => {
          const eku = readOid(der, t) ?? 'malformed';
          return EXTENDED_KEY_USAGES.get(eku) ?? eku;
        });
        break;
      case EXT_BASIC_CONSTRAINTS:
        out.basicConstraints = basicConstraints(der, inner, e.critical);
        break;
      case EXT_SUBJECT_KEY_ID:
        out.subjectKeyId = isUniversal(inner, TAG_OCTET_STRING) ? hexOf(der, inner) : null;
        break;
      case EXT_AUTHORITY_KEY_ID: {
        const keyId = (tlvChildren(der, inner) ?? []).find((t) => isContext(t, 0));
        out.authorityKeyId = keyId ? hexOf(der, keyId) : null;
        break;
      }
      case EXT_CRL_DISTRIBUTION_POINTS:
        out.crlDistributionPoints = distributionPointUris(der, inner);
        break;
      case EXT_AUTHORITY_INFO_ACCESS:
        out.ocspUrls = ocspUris(der, inner);
        break;
    }
  }
  return out;
}

/**
 * Each extension's OID and critical flag, for the policy's extension rules: a malformed one is kept (as 'malformed')
 * so that a critical one still counts.
 */
export function readExtensionIds(der: Buffer, p: TbsParts): ExtensionId[] {
  return p.extensions.map((ext) => {
    const [oid, flag] = tlvChildren(der, ext, 2) ?? [];
    const critical = isUniversal(flag, TAG_BOOLEAN) && flag.end > flag.valueStart && der[flag.valueStart] !== 0;
    return { oid: readOid(der, oid) ?? 'malformed', critical };
  });
}

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }: null when malformed. */
function extensionAt(der: Buffer, ext: Tlv): { oid: string; critical: boolean; inner: Tlv } | null {
  const kids = tlvChildren(der, ext, 3) ?? [];
  const oid = readOid(der, kids[0]);
  const critical = isUniversal(kids[1], TAG_BOOLEAN) && der[kids[1].valueStart] !== 0;
  const wrapped = isUniversal(kids[1], TAG_OCTET_STRING) ? kids[1] : octetStringOrNull(kids[2]);
  const inner = wrapped ? readTlv(der, wrapped.valueStart, wrapped.end) : null;
  return oid && inner ? { oid, critical, inner } : null;
}

/**
 * DistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] GeneralNames | ... }, reasons [1], cRLIssuer
 * [2] }: the URIs of every fullName. A relative name or a cRLIssuer-only point names no place to fetch from.
 */
function distributionPointUris(der: Buffer, seq: Tlv): string[] {
  const out: string[] = [];
  if (!isUniversal(seq, TAG_SEQUENCE)) return out;
  for (const dp of tlvChildren(der, seq) ?? []) {
    const name = isUniversal(dp, TAG_SEQUENCE) ? tlvChildren(der, dp, 1)?.[0] : undefined;
    if (!isContext(name, 0)) continue;
    const choice = readTlv(der, name.valueStart, name.end);
    if (isContext(choice, 0)) out.push(...uris(der, choice));
  }
  return out;
}

/** AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName }: the id-ad-ocsp URIs. */
function ocspUris(der: Buffer, seq: Tlv): string[] {
  const out: string[] = [];
  if (!isUniversal(seq, TAG_SEQUENCE)) return out;
  for (const ad of tlvChildren(der, seq) ?? []) {
    const [method, location] = isUniversal(ad, TAG_SEQUENCE) ? (tlvChildren(der, ad, 2) ?? []) : [];
    if (readOid(der, method) === OID_AD_OCSP && isContext(location, 6) && !location.constructed)
      out.push(uriText(der, location));
  }
  return out;
}

/** The uniformResourceIdentifier ([6]) entries of a GeneralNames. */
function uris(der: Buffer, names: Tlv): string[] {
  return (tlvChildren(der, names) ?? [])
    .filter((gn) => isContext(gn, 6) && !gn.constructed)
    .map((gn) => uriText(der, gn));
}

function uriText(der: Buffer, gn: Tlv): string {
  return formatGeneralName(der, gn).slice('URI:'.length);
}

/** The names of the bits set in a KeyUsage BIT STRING (its first content octet counts the unused bits). */
function keyUsageNames(der: Buffer, bits: Tlv): string[] {
  const names: string[] = [];
  for (let i = 0; i < KEY_USAGE_BITS.length; i++) {
    const at = bits.valueStart + 1 + (i >> 3);
    if (at < bits.end && (der[at]! & (0x80 >> (i & 7))) !== 0) names.push(KEY_USAGE_BITS[i]!);
  }
  return names;
}

function octetStringOrNull(t: Tlv | undefined): Tlv | null {
  return isUniversal(t, TAG_OCTET_STRING) ? t : null;
}

/** A TLV's content octets as lowercase hex, read in place. */
function hexOf(der: Buffer, t: Tlv): string {
  return der.toString('hex', t.valueStart, t.end);
}

function basicConstraints(der: Buffer, seq: Tlv, critical: boolean): BasicConstraintsInfo {
  const kids = tlvChildren(der, seq, 2) ?? [];
  const ca = isUniversal(kids[0], TAG_BOOLEAN) && der[kids[0].valueStart] !== 0;
  const lenTlv = kids.find((k) => isUniversal(k, TAG_INTEGER));
  return { ca, pathLength: readSmallInt(der, lenTlv), critical };
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split(/\r?\n/)[0]!.trim().toLowerCase();
}
