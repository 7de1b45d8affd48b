/**
 * OpenSSL's name-constraint check (x509_vfy.c check_name_constraints, v3_ncons.c NAME_CONSTRAINTS_check and
 * NAME_CONSTRAINTS_check_CN), as the OpenSSL 3.5 in Node 24 does it, for the model of OpenSSL's verification
 * (openssl-model.ts). Every certificate of the path, from the top down, is checked against the constraints of every
 * certificate above it, trust anchor included; self-issued certificates other than the leaf are skipped. Each failed
 * (certificate, constraining CA) pair is one verify error, and Node reports the last one.
 *
 * The names checked: the subject as a directoryName (when it has any attribute), each emailAddress attribute as an
 * rfc822Name (only an IA5String one is accepted), every subjectAltName entry, and, for the leaf without a DNS SAN,
 * each CN that looks like a host name as a dNSName. Matching is byte for byte what OpenSSL does, including its
 * quirks (an empty DNS constraint matches everything, a leading dot means "below", IP addresses of the other family
 * never match, minimum / maximum are refused outright).
 */
import type { Cert } from '../pki/types.js';
import type { Chain } from './chain.js';
import { splitCertificate } from '../pki/cert.js';
import { TAG_OCTET_STRING, TAG_SEQUENCE, isContext, isUniversal, readOid, readTlv, tlvChildren } from '../pki/der.js';
import type { Tlv } from '../pki/der.js';

/** GeneralName tags (RFC 5280 4.2.1.6), as OpenSSL's GEN_* numbers. */
const GEN_OTHERNAME = 0;
const GEN_EMAIL = 1;
const GEN_DNS = 2;
const GEN_DIRNAME = 4;
const GEN_URI = 6;
const GEN_IPADD = 7;

const OID_NAME_CONSTRAINTS = '2.5.29.30';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_COMMON_NAME = '2.5.4.3';
const OID_EMAIL_ADDRESS = '1.2.840.113549.1.9.1';
const OID_SMTP_UTF8_MAILBOX = '1.3.6.1.5.5.7.8.9';

const TAG_UTF8_STRING = 12;
const TAG_IA5_STRING = 22;
const TAG_BMP_STRING = 30;
const TAG_UNIVERSAL_STRING = 28;

/** v3_ncons.c NAME_CHECK_MAX: more names x constraints than this and OpenSSL refuses the certificate unchecked. */
export const NAME_CHECK_MAX = 1 << 20;

/**
 * What a check can say: OpenSSL's verify codes, or UNMODELLED where OpenSSL would compare an SmtpUTF8Mailbox
 * (RFC 8398) name with an rfc822Name constraint, which needs its IDNA A-label to U-label conversion.
 */
export type NcCode =
  | 'OK'
  | 'PERMITTED_VIOLATION'
  | 'EXCLUDED_VIOLATION'
  | 'SUBTREE_MINMAX'
  | 'UNSUPPORTED_CONSTRAINT_TYPE'
  | 'UNSUPPORTED_NAME_SYNTAX'
  | 'UNSPECIFIED'
  | 'UNMODELLED';

export interface GeneralName {
  type: number;
  /** Content octets: the string of an IA5 type, the address of an iPAddress, the value TLV of an otherName. */
  value: Buffer;
  /** otherName only: its type-id. */
  otherOid?: string;
  /** directoryName only: OpenSSL's canonical encoding (x_name.c x509_name_canon). */
  canon?: Buffer;
}

interface Subtree {
  base: GeneralName;
  /** nc_minmax_valid: no maximum, and a minimum of zero if any. */
  minMaxOk: boolean;
}

export interface NameConstraints {
  permitted: Subtree[];
  excluded: Subtree[];
}

interface NameEntry {
  oid: string;
  tag: number;
  value: Buffer;
}

interface CertNames {
  entries: NameEntry[];
  subjectCanon: Buffer;
  issuerCanon: Buffer;
  altNames: GeneralName[];
}

/** An event of the check: the code for certificate `depth` against the constraints of certificate `caDepth`. */
export interface NcEvent {
  code: Exclude<NcCode, 'OK'>;
  depth: number;
  caDepth: number;
}

/**
 * check_name_constraints over a built chain (leaf first): the failures in the order OpenSSL reports them.
 * A certificate whose constraints or names our reader cannot parse yields UNMODELLED (Node parsed it, so OpenSSL
 * has a reading we do not).
 */
export function nameConstraintEvents(chain: Chain): NcEvent[] {
  const certs = chain.certs;
  const n = certs.length;
  const constraints = certs.map(constraintsOf);
  if (constraints.every((c) => c === null)) return [];
  const events: NcEvent[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const names = namesOf(certs[i]!);
    if (names === 'malformed') {
      if (constraints.slice(i + 1).some((c) => c !== null)) events.push({ code: 'UNMODELLED', depth: i, caDepth: i });
      continue;
    }
    if (i !== 0 && names.subjectCanon.equals(names.issuerCanon)) continue;
    for (let j = n - 1; j > i; j--) {
      const nc = constraints[j];
      if (nc === null || nc === undefined) continue;
      if (nc === 'malformed') {
        events.push({ code: 'UNMODELLED', depth: i, caDepth: j });
        continue;
      }
      let rv = checkNames(names, nc);
      if (rv === 'OK' && i === 0 && !names.altNames.some((g) => g.type === GEN_DNS)) rv = checkCommonNames(names, nc);
      if (rv !== 'OK') events.push({ code: rv, depth: i, caDepth: j });
    }
  }
  return events;
}

/** Where the model cannot say what OpenSSL says about this chain's name constraints, why; otherwise null. */
export function nameConstraintsUnmodelled(chain: Chain): string | null {
  const e = nameConstraintEvents(chain).find((ev) => ev.code === 'UNMODELLED');
  if (e === undefined) return null;
  return e.depth === e.caDepth
    ? 'name constraints over a certificate whose names it cannot read'
    : 'name constraints that it cannot read, or an SmtpUTF8Mailbox name under rfc822Name constraints';
}

/** NAME_CONSTRAINTS_check: subject as directoryName, its emailAddress attributes, then every SAN, first failure. */
export function checkNames(names: CertNames, nc: NameConstraints): NcCode {
  const nameCount = names.entries.length + names.altNames.length;
  const constraintCount = nc.permitted.length + nc.excluded.length;
  if (nameCount > 0 && constraintCount > Math.floor(NAME_CHECK_MAX / nameCount)) return 'UNSPECIFIED';
  if (names.entries.length > 0) {
    const r = match({ type: GEN_DIRNAME, value: Buffer.alloc(0), canon: names.subjectCanon }, nc);
    if (r !== 'OK') return r;
    for (const e of names.entries) {
      if (e.oid !== OID_EMAIL_ADDRESS) continue;
      if (e.tag !== TAG_IA5_STRING) return 'UNSUPPORTED_NAME_SYNTAX';
      const r2 = match({ type: GEN_EMAIL, value: e.value }, nc);
      if (r2 !== 'OK') return r2;
    }
  }
  for (const g of names.altNames) {
    const r = match(g, nc);
    if (r !== 'OK') return r;
  }
  return 'OK';
}

/** NAME_CONSTRAINTS_check_CN: every CN that cn2dnsid takes for a host name, as a dNSName. */
function checkCommonNames(names: CertNames, nc: NameConstraints): NcCode {
  for (const e of names.entries) {
    if (e.oid !== OID_COMMON_NAME) continue;
    const utf8 = toUtf8(e.tag, e.value);
    if (utf8 === null) return 'UNMODELLED'; // OpenSSL fails the whole verification (an internal error)
    let len = utf8.length;
    while (len > 0 && utf8[len - 1] === 0) len--;
    const id = utf8.subarray(0, len);
    if (id.includes(0)) return 'UNSUPPORTED_NAME_SYNTAX';
    if (!looksLikeHostName(id)) continue;
    const r = match({ type: GEN_DNS, value: id }, nc);
    if (r !== 'OK') return r;
  }
  return 'OK';
}

/** cn2dnsid: letters, digits, '_', inner '-' and '.', no '.' next to '.' or '-', and at least two labels. */
export function looksLikeHostName(s: Uint8Array): boolean {
  let dns = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f) continue;
    if (i > 0 && i < s.length - 1) {
      if (c === 0x2d) continue;
      if (c === 0x2e && s[i + 1] !== 0x2e && s[i - 1] !== 0x2d && s[i + 1] !== 0x2d) {
        dns = true;
        continue;
      }
    }
    return false;
  }
  return dns;
}

/** nc_match: some permitted subtree of the name's type must match, then no excluded one may. */
function match(g: GeneralName, nc: NameConstraints): NcCode {
  const effective = g.type === GEN_OTHERNAME && g.otherOid === OID_SMTP_UTF8_MAILBOX ? GEN_EMAIL : g.type;
  const sameType = (s: Subtree): boolean =>
    s.base.type === effective && (effective !== GEN_OTHERNAME || s.base.otherOid === g.otherOid);
  let state: 0 | 1 | 2 = 0; // no subtree of this type, none matched yet, one matched
  for (const s of nc.permitted) {
    if (!sameType(s)) continue;
    if (!s.minMaxOk) return 'SUBTREE_MINMAX';
    if (state === 2) continue;
    state = 1;
    const r = matchSingle(effective, g, s.base);
    if (r === 'OK') state = 2;
    else if (r !== 'PERMITTED_VIOLATION') return r;
  }
  if (state === 1) return 'PERMITTED_VIOLATION';
  for (const s of nc.excluded) {
    if (!sameType(s)) continue;
    if (!s.minMaxOk) return 'SUBTREE_MINMAX';
    const r = matchSingle(effective, g, s.base);
    if (r === 'OK') return 'EXCLUDED_VIOLATION';
    if (r !== 'PERMITTED_VIOLATION') return r;
  }
  return 'OK';
}

/** nc_match_single: PERMITTED_VIOLATION means "does not match", anything else is an error. */
function matchSingle(effective: number, g: GeneralName, base: GeneralName): NcCode {
  switch (g.type) {
    case GEN_OTHERNAME:
      return effective === GEN_EMAIL ? 'UNMODELLED' : 'UNSUPPORTED_CONSTRAINT_TYPE';
    case GEN_DIRNAME:
      return matchDn(g.canon!, base.canon!);
    case GEN_DNS:
      return matchDns(g.value, base.value);
    case GEN_EMAIL:
      return matchEmail(g.value, base.value);
    case GEN_URI:
      return matchUri(g.value, base.value);
    case GEN_IPADD:
      return matchIp(g.value, base.value);
    default:
      return 'UNSUPPORTED_CONSTRAINT_TYPE';
  }
}

/** nc_dn: the constraint's canonical encoding is a prefix of the name's (whole RDNs, as each is a SET TLV). */
function matchDn(name: Buffer, base: Buffer): NcCode {
  if (base.length > name.length) return 'PERMITTED_VIOLATION';
  return name.subarray(0, base.length).equals(base) ? 'OK' : 'PERMITTED_VIOLATION';
}

/** ia5ncasecmp: ASCII letters folded, every other byte compared as is. */
function caseEqual(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, len: number): boolean {
  for (let k = 0; k < len; k++) {
    let x = a[aStart + k]!;
    let y = b[bStart + k]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** nc_dns: empty matches all; otherwise a suffix on a label boundary (a leading '.' in the base is the boundary). */
export function matchDns(dns: Uint8Array, base: Uint8Array): NcCode {
  if (base.length === 0) return 'OK';
  if (dns.length < base.length) return 'PERMITTED_VIOLATION';
  const off = dns.length - base.length;
  if (off > 0 && base[0] !== 0x2e && dns[off - 1] !== 0x2e) return 'PERMITTED_VIOLATION';
  return caseEqual(base, 0, dns, off, base.length) ? 'OK' : 'PERMITTED_VIOLATION';
}

/** nc_email: `.domain` (below it), `host` (that host exactly), `local@host` (that mailbox; local part as is). */
export function matchEmail(eml: Uint8Array, base: Uint8Array): NcCode {
  const emlAt = eml.lastIndexOf(0x40);
  const baseAt = base.lastIndexOf(0x40);
  if (emlAt < 0) return 'UNSUPPORTED_NAME_SYNTAX';
  if (baseAt < 0 && base.length > 0 && base[0] === 0x2e) {
    if (eml.length > base.length && caseEqual(base, 0, eml, eml.length - base.length, base.length)) return 'OK';
    return 'PERMITTED_VIOLATION';
  }
  let baseHost = 0;
  if (baseAt >= 0) {
    if (baseAt > 0) {
      if (baseAt !== emlAt) return 'PERMITTED_VIOLATION';
      if (base.subarray(0, baseAt).includes(0) || eml.subarray(0, emlAt).includes(0)) return 'UNSUPPORTED_NAME_SYNTAX';
      for (let k = 0; k < emlAt; k++) if (base[k] !== eml[k]) return 'PERMITTED_VIOLATION';
    }
    baseHost = baseAt + 1;
  }
  const baseHostLen = base.length - baseHost;
  const emlHostLen = eml.length - (emlAt + 1);
  if (baseHostLen !== emlHostLen || !caseEqual(base, baseHost, eml, emlAt + 1, emlHostLen))
    return 'PERMITTED_VIOLATION';
  return 'OK';
}

/** nc_uri: the host OSSL_parse_url finds, matched like a host (or below a leading-dot base). */
export function matchUri(uri: Uint8Array, base: Uint8Array): NcCode {
  const host = uriHost(uri);
  if (host === null) return 'UNSUPPORTED_NAME_SYNTAX';
  if (base.length > 0 && base[0] === 0x2e) {
    if (host.length > base.length && caseEqual(host, host.length - base.length, base, 0, base.length)) return 'OK';
    return 'PERMITTED_VIOLATION';
  }
  return base.length === host.length && caseEqual(host, 0, base, 0, host.length) ? 'OK' : 'PERMITTED_VIOLATION';
}

/**
 * OSSL_parse_url's host, on the URI up to its first NUL (nc_uri copies it with strndup), or null where the parse
 * fails or finds no scheme: `scheme://`, userinfo up to the first '@' anywhere, `[...]` kept whole, then an optional
 * decimal port (at most 65535) and nothing but a path, query or fragment.
 */
export function uriHost(raw: Uint8Array): Uint8Array | null {
  const nul = raw.indexOf(0);
  const s = nul < 0 ? raw : raw.subarray(0, nul);
  const sep = indexOfSeq(s, [0x3a, 0x2f, 0x2f]);
  if (sep === 0 || sep < 0) return null; // no scheme: nc_uri refuses even when the URL parses
  let p = sep + 3;
  const at = s.indexOf(0x40, p);
  const hostStart = at >= 0 ? at + 1 : p;
  let hostEnd: number;
  if (s[hostStart] === 0x5b) {
    const close = s.indexOf(0x5d, hostStart + 1);
    if (close < 0) return null;
    hostEnd = close + 1;
  } else {
    hostEnd = hostStart;
    while (hostEnd < s.length && ![0x3a, 0x2f, 0x3f, 0x23].includes(s[hostEnd]!)) hostEnd++;
  }
  p = hostEnd;
  if (s[p] === 0x3a) {
    p++;
    if (!portOk(s, p)) return null;
    while (p < s.length && s[p]! >= 0x30 && s[p]! <= 0x39) p++;
  }
  if (p < s.length && ![0x2f, 0x3f, 0x23].includes(s[p]!)) return null;
  return s.subarray(hostStart, hostEnd);
}

/** sscanf("%u") <= 65535 on the port text, where only a port that starts with a digit can end the parse well. */
function portOk(s: Uint8Array, p: number): boolean {
  let k = p;
  while (k < s.length && s[k]! >= 0x30 && s[k]! <= 0x39) k++;
  if (k === p) return false;
  const digits = BigInt(Buffer.from(s.subarray(p, k)).toString('latin1'));
  // strtoul saturates past 64 bits, and the result is cut to an unsigned int.
  const v = digits >= 1n << 64n ? 0xffffffffn : digits & 0xffffffffn;
  return v <= 65535n;
}

function indexOfSeq(s: Uint8Array, seq: readonly number[]): number {
  outer: for (let i = 0; i + seq.length <= s.length; i++) {
    for (let k = 0; k < seq.length; k++) if (s[i + k] !== seq[k]) continue outer;
    return i;
  }
  return -1;
}

/** nc_ip: a 4- or 16-byte address against an 8- or 32-byte address+mask of the same family. */
export function matchIp(ip: Uint8Array, base: Uint8Array): NcCode {
  if (ip.length !== 4 && ip.length !== 16) return 'UNSUPPORTED_NAME_SYNTAX';
  if (base.length !== 8 && base.length !== 32) return 'UNSUPPORTED_NAME_SYNTAX';
  if (ip.length * 2 !== base.length) return 'PERMITTED_VIOLATION';
  for (let k = 0; k < ip.length; k++) {
    const mask = base[ip.length + k]!;
    if ((ip[k]! & mask) !== (base[k]! & mask)) return 'PERMITTED_VIOLATION';
  }
  return 'OK';
}

// ---- reading certificates ----

const constraintsCache = new WeakMap<Cert, NameConstraints | 'malformed' | null>();
const namesCache = new WeakMap<Cert, CertNames | 'malformed'>();

/** The certificate's nameConstraints, null without one, 'malformed' where our reader cannot follow it. */
export function constraintsOf(c: Cert): NameConstraints | 'malformed' | null {
  let v = constraintsCache.get(c);
  if (v === undefined) {
    v = readConstraints(c.der);
    constraintsCache.set(c, v);
  }
  return v;
}

function namesOf(c: Cert): CertNames | 'malformed' {
  let v = namesCache.get(c);
  if (v === undefined) {
    v = readNames(c.der);
    namesCache.set(c, v);
  }
  return v;
}

function extensionValue(der: Buffer, oid: string): Tlv | null | 'malformed' {
  const { extensions } = splitCertificate(der);
  for (const ext of extensions) {
    const kids = tlvChildren(der, ext, 3) ?? [];
    if (readOid(der, kids[0]) !== oid) continue;
    const wrapped = kids.find((k) => isUniversal(k, TAG_OCTET_STRING));
    const inner = wrapped ? readTlv(der, wrapped.valueStart, wrapped.end) : null;
    return inner ?? 'malformed';
  }
  return null;
}

function readConstraints(der: Buffer): NameConstraints | 'malformed' | null {
  try {
    const v = extensionValue(der, OID_NAME_CONSTRAINTS);
    if (v === null || v === 'malformed') return v;
    if (!isUniversal(v, TAG_SEQUENCE)) return 'malformed';
    const out: NameConstraints = { permitted: [], excluded: [] };
    for (const part of tlvChildren(der, v) ?? []) {
      const list = isContext(part, 0) ? out.permitted : isContext(part, 1) ? out.excluded : null;
      if (list === null) return 'malformed';
      for (const sub of tlvChildren(der, part) ?? []) {
        const [baseTlv, ...rest] = isUniversal(sub, TAG_SEQUENCE) ? (tlvChildren(der, sub) ?? []) : [];
        const base = baseTlv ? readGeneralName(der, baseTlv) : null;
        if (base === null) return 'malformed';
        let minMaxOk = true;
        for (const r of rest) {
          const minimum = r.cls === 2 && r.tag === 0;
          minMaxOk &&= minimum && der.subarray(r.valueStart, r.end).every((b) => b === 0);
        }
        list.push({ base, minMaxOk });
      }
    }
    return out;
  } catch {
    return 'malformed';
  }
}

function readNames(der: Buffer): CertNames | 'malformed' {
  try {
    const { subject, issuer } = splitCertificate(der);
    const entries = nameEntries(der, subject);
    const subjectCanon = canonicalName(der, subject);
    const issuerCanon = canonicalName(der, issuer);
    if (entries === null || subjectCanon === null || issuerCanon === null) return 'malformed';
    const san = extensionValue(der, OID_SUBJECT_ALT_NAME);
    if (san === 'malformed') return 'malformed';
    const altNames: GeneralName[] = [];
    for (const gn of san === null ? [] : (tlvChildren(der, san) ?? [])) {
      const g = readGeneralName(der, gn);
      if (g === null) return 'malformed';
      altNames.push(g);
    }
    return { entries, subjectCanon, issuerCanon, altNames };
  } catch {
    return 'malformed';
  }
}

function readGeneralName(der: Buffer, gn: Tlv): GeneralName | null {
  if (gn.cls !== 2) return null;
  const value = der.subarray(gn.valueStart, gn.end);
  if (gn.tag === GEN_OTHERNAME) {
    const [oid] = tlvChildren(der, gn, 1) ?? [];
    const otherOid = readOid(der, oid);
    return otherOid === null ? null : { type: GEN_OTHERNAME, value, otherOid };
  }
  if (gn.tag === GEN_DIRNAME) {
    const name = readTlv(der, gn.valueStart, gn.end);
    const canon = name && isUniversal(name, TAG_SEQUENCE) ? canonicalName(der, name) : null;
    return canon === null ? null : { type: GEN_DIRNAME, value, canon };
  }
  return gn.tag <= 8 ? { type: gn.tag, value } : null;
}

/** The attributes of a Name in encoded order (X509_NAME's entries), or null when malformed. */
function nameEntries(der: Buffer, name: Tlv): NameEntry[] | null {
  const out: NameEntry[] = [];
  for (const rdn of tlvChildren(der, name) ?? []) {
    for (const atv of tlvChildren(der, rdn) ?? []) {
      const [type, value] = tlvChildren(der, atv, 2) ?? [];
      const oid = readOid(der, type);
      if (oid === null || value === undefined) return null;
      out.push({ oid, tag: value.cls === 0 ? value.tag : -1, value: der.subarray(value.valueStart, value.end) });
    }
  }
  return out;
}

/** Tags x_name.c canonicalizes (ASN1_MASK_CANON): UTF8, BMP, Universal, Printable, T61, IA5, Visible strings. */
const CANON_TAGS = new Set([12, 30, 28, 19, 20, 22, 26]);

/**
 * x509_name_canon: each RDN as its DER SET OF entries (sorted), with string values turned into lower-case UTF-8
 * with spaces trimmed and runs of spaces collapsed; the RDN encodings concatenated, no outer SEQUENCE.
 */
export function canonicalName(der: Buffer, name: Tlv): Buffer | null {
  const rdns: Buffer[] = [];
  for (const rdn of tlvChildren(der, name) ?? []) {
    const atvs: Buffer[] = [];
    for (const atv of tlvChildren(der, rdn) ?? []) {
      const [type, value] = tlvChildren(der, atv, 2) ?? [];
      if (type === undefined || value === undefined) return null;
      const oidTlv = der.subarray(type.start, type.end);
      let valueTlv: Buffer;
      if (value.cls === 0 && !value.constructed && CANON_TAGS.has(value.tag)) {
        const utf8 = toUtf8(value.tag, der.subarray(value.valueStart, value.end));
        if (utf8 === null) return null;
        valueTlv = tlv(TAG_UTF8_STRING, canonString(utf8));
      } else valueTlv = der.subarray(value.start, value.end);
      atvs.push(tlv(0x30, Buffer.concat([oidTlv, valueTlv])));
    }
    atvs.sort(derOrder);
    rdns.push(tlv(0x31, Buffer.concat(atvs)));
  }
  return Buffer.concat(rdns);
}

/** DER SET OF order as OpenSSL sorts it (der_cmp): bytes, then length. */
function derOrder(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  const c = Buffer.compare(a.subarray(0, n), b.subarray(0, n));
  return c !== 0 ? c : a.length - b.length;
}

function tlv(id: number, value: Buffer): Buffer {
  const len = value.length;
  let head: number[];
  if (len < 0x80) head = [id, len];
  else {
    const bytes: number[] = [];
    for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    head = [id, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(head), value]);
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** asn1_string_canon on UTF-8: trim ASCII spaces, collapse inner runs to one ' ', fold ASCII letters. */
function canonString(s: Buffer): Buffer {
  let from = 0;
  let end = s.length;
  while (from < end && isSpace(s[from]!)) from++;
  while (end > from && isSpace(s[end - 1]!)) end--;
  const out: number[] = [];
  let i = from;
  while (i < end) {
    const c = s[i]!;
    if (c >= 0x80) {
      out.push(c);
      i++;
    } else if (isSpace(c)) {
      out.push(0x20);
      while (i < end && isSpace(s[i]!)) i++;
    } else {
      out.push(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
      i++;
    }
  }
  return Buffer.from(out);
}

/** ASN1_STRING_to_UTF8 for the string types: 1-byte types as Latin-1, BMP as UCS-2, Universal as UCS-4. */
function toUtf8(tag: number, v: Buffer): Buffer | null {
  if (tag === TAG_UTF8_STRING) return Buffer.from(v.toString('utf8'), 'utf8').equals(v) ? v : null;
  if ([18, 19, 20, 22, 26, 27].includes(tag)) return Buffer.from(v.toString('latin1'), 'utf8');
  if (tag === TAG_BMP_STRING) {
    if (v.length % 2 !== 0) return null;
    let s = '';
    for (let k = 0; k < v.length; k += 2) s += String.fromCharCode(v.readUInt16BE(k));
    return Buffer.from(s, 'utf8');
  }
  if (tag === TAG_UNIVERSAL_STRING) {
    if (v.length % 4 !== 0) return null;
    let s = '';
    for (let k = 0; k < v.length; k += 4) {
      const cp = v.readUInt32BE(k);
      if (cp > 0x10ffff) return null;
      s += String.fromCodePoint(cp);
    }
    return Buffer.from(s, 'utf8');
  }
  return null;
}

/** Subtrees as text for a report (`DNS:.example.com`, `IP:10.0.0.0/255.0.0.0`); other types by their kind. */
export function describeSubtrees(nc: NameConstraints): { permitted: string[]; excluded: string[] } {
  const text = (g: GeneralName): string => {
    const v = g.value;
    switch (g.type) {
      case GEN_DNS:
        return `DNS:${v.toString('latin1')}`;
      case GEN_EMAIL:
        return `email:${v.toString('latin1')}`;
      case GEN_URI:
        return `URI:${v.toString('latin1')}`;
      case GEN_IPADD: {
        const half = v.length / 2;
        const part = (b: Buffer): string =>
          b.length === 4 ? [...b].join('.') : (b.toString('hex').match(/.{1,4}/g) ?? []).join(':');
        return Number.isInteger(half) && (half === 4 || half === 16)
          ? `IP:${part(v.subarray(0, half))}/${part(v.subarray(half))}`
          : `IP:(${v.length} bytes)`;
      }
      case GEN_DIRNAME:
        return 'DirName:(a directory name)';
      case GEN_OTHERNAME:
        return `otherName:${g.otherOid ?? '?'}`;
      default:
        return `(name type ${g.type})`;
    }
  };
  return { permitted: nc.permitted.map((s) => text(s.base)), excluded: nc.excluded.map((s) => text(s.base)) };
}
