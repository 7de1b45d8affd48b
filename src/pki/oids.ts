/**
 * X.509 vocabulary: OID tables with the names OpenSSL prints, and the text forms of X.501 names and
 * GeneralNames, so our output can be compared with `openssl x509 -text -nameopt RFC2253`.
 */
import { TAG_BMP_STRING, readOid, readTlv, tlvChildren, tlvValue } from './der.js';
import type { Tlv } from './der.js';

export interface SigAlgEntry {
  name: string;
  hash: string | null;
}

export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, SigAlgEntry> = new Map([
  ['1.2.840.113549.1.1.2', { name: 'md2WithRSAEncryption', hash: 'md2' }],
  ['1.2.840.113549.1.1.4', { name: 'md5WithRSAEncryption', hash: 'md5' }],
  ['1.2.840.113549.1.1.5', { name: 'sha1WithRSAEncryption', hash: 'sha1' }],
  ['1.2.840.113549.1.1.14', { name: 'sha224WithRSAEncryption', hash: 'sha224' }],
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512' }],
  // RSASSA-PSS: the hash lives in the parameters (SHA-1 when absent).
  ['1.2.840.113549.1.1.10', { name: 'rsassaPss', hash: 'sha1' }],
  ['1.2.840.10045.4.1', { name: 'ecdsa-with-SHA1', hash: 'sha1' }],
  ['1.2.840.10045.4.3.1', { name: 'ecdsa-with-SHA224', hash: 'sha224' }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512' }],
  ['1.3.101.112', { name: 'ED25519', hash: null }],
  ['1.3.101.113', { name: 'ED448', hash: null }],
  ['1.2.840.10040.4.3', { name: 'dsaWithSHA1', hash: 'sha1' }],
  ['2.16.840.1.101.3.4.3.1', { name: 'dsa_with_SHA224', hash: 'sha224' }],
  ['2.16.840.1.101.3.4.3.2', { name: 'dsa_with_SHA256', hash: 'sha256' }],
  ['2.16.840.1.101.3.4.3.10', { name: 'ecdsa_with_SHA3-256', hash: 'sha3-256' }],
  ['2.16.840.1.101.3.4.3.11', { name: 'ecdsa_with_SHA3-384', hash: 'sha3-384' }],
  ['2.16.840.1.101.3.4.3.12', { name: 'ecdsa_with_SHA3-512', hash: 'sha3-512' }],
  ['2.16.840.1.101.3.4.3.14', { name: 'RSA-SHA3-256', hash: 'sha3-256' }],
  ['2.16.840.1.101.3.4.3.15', { name: 'RSA-SHA3-384', hash: 'sha3-384' }],
  ['2.16.840.1.101.3.4.3.16', { name: 'RSA-SHA3-512', hash: 'sha3-512' }],
]);

/** Digest OIDs (RSASSA-PSS parameters, PKCS#12 MACs) and the HMAC PRFs of PBKDF2, by Node hash name. */
export const HASH_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.2.5', 'md5'],
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
  ['1.2.840.113549.2.7', 'sha1'], // hmacWithSHA1
  ['1.2.840.113549.2.8', 'sha224'],
  ['1.2.840.113549.2.9', 'sha256'],
  ['1.2.840.113549.2.10', 'sha384'],
  ['1.2.840.113549.2.11', 'sha512'],
]);

/** PBES2 encryption schemes: Node cipher name and key length. */
export const PBES2_CIPHERS: ReadonlyMap<string, { name: string; keyLen: number }> = new Map([
  ['2.16.840.1.101.3.4.1.2', { name: 'aes-128-cbc', keyLen: 16 }],
  ['2.16.840.1.101.3.4.1.22', { name: 'aes-192-cbc', keyLen: 24 }],
  ['2.16.840.1.101.3.4.1.42', { name: 'aes-256-cbc', keyLen: 32 }],
  ['1.2.840.113549.3.7', { name: 'des-ede3-cbc', keyLen: 24 }],
]);

/** Digests too weak for a certificate signature today (OpenSSL security level 1+ refuses md5, level 2 sha1). */
export const WEAK_HASHES: ReadonlySet<string> = new Set(['md2', 'md4', 'md5', 'sha1']);

export const OID_RSA = '1.2.840.113549.1.1.1';
export const OID_RSA_PSS = '1.2.840.113549.1.1.10';
export const OID_EC = '1.2.840.10045.2.1';
export const OID_ED25519 = '1.3.101.112';
export const OID_ED448 = '1.3.101.113';
export const OID_DSA = '1.2.840.10040.4.1';

export interface CurveEntry {
  name: string;
  bits: number;
}

export const CURVES: ReadonlyMap<string, CurveEntry> = new Map([
  ['1.2.840.10045.3.1.1', { name: 'prime192v1', bits: 192 }],
  ['1.3.132.0.33', { name: 'secp224r1', bits: 224 }],
  ['1.2.840.10045.3.1.7', { name: 'prime256v1', bits: 256 }],
  ['1.3.132.0.10', { name: 'secp256k1', bits: 256 }],
  ['1.3.132.0.34', { name: 'secp384r1', bits: 384 }],
  ['1.3.132.0.35', { name: 'secp521r1', bits: 521 }],
  ['1.3.36.3.3.2.8.1.1.7', { name: 'brainpoolP256r1', bits: 256 }],
  ['1.3.36.3.3.2.8.1.1.11', { name: 'brainpoolP384r1', bits: 384 }],
  ['1.3.36.3.3.2.8.1.1.13', { name: 'brainpoolP512r1', bits: 512 }],
]);

/**
 * DN attribute names as `openssl x509 -nameopt RFC2253` prints them: RFC 4514's table plus registered
 * descriptors OpenSSL knows. Anything else prints as dotted OID with a `#hex` DER value (RFC 4514 §2.4).
 */
export const DN_ATTRIBUTES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'street'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.13', 'description'],
  ['2.5.4.15', 'businessCategory'],
  ['2.5.4.17', 'postalCode'],
  ['2.5.4.41', 'name'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.43', 'initials'],
  ['2.5.4.44', 'generationQualifier'],
  ['2.5.4.46', 'dnQualifier'],
  ['2.5.4.65', 'pseudonym'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
]);

export const EXTENDED_KEY_USAGES: ReadonlyMap<string, string> = new Map([
  ['1.3.6.1.5.5.7.3.1', 'serverAuth'],
  ['1.3.6.1.5.5.7.3.2', 'clientAuth'],
  ['1.3.6.1.5.5.7.3.3', 'codeSigning'],
  ['1.3.6.1.5.5.7.3.4', 'emailProtection'],
  ['1.3.6.1.5.5.7.3.5', 'ipsecEndSystem'],
  ['1.3.6.1.5.5.7.3.6', 'ipsecTunnel'],
  ['1.3.6.1.5.5.7.3.7', 'ipsecUser'],
  ['1.3.6.1.5.5.7.3.8', 'timeStamping'],
  ['1.3.6.1.5.5.7.3.9', 'OCSPSigning'],
  ['1.3.6.1.5.5.7.3.17', 'ipsecIKE'],
  ['2.5.29.37.0', 'anyExtendedKeyUsage'],
  ['1.3.6.1.4.1.311.20.2.2', 'msSmartcardLogin'],
  ['1.3.6.1.4.1.311.10.3.3', 'msSGC'],
  ['2.16.840.1.113730.4.1', 'nsSGC'],
  ['1.3.6.1.5.2.3.4', 'pkInitClientAuth'],
  ['1.3.6.1.5.2.3.5', 'pkInitKDC'],
]);

/** KeyUsage bit names in bit order (RFC 5280 §4.2.1.3), spelled as OpenSSL's and @peculiar/x509's JSON. */
export const KEY_USAGE_BITS: readonly string[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export const EXT_KEY_USAGE = '2.5.29.15';
export const EXT_EXT_KEY_USAGE = '2.5.29.37';
export const EXT_BASIC_CONSTRAINTS = '2.5.29.19';
export const EXT_SUBJECT_KEY_ID = '2.5.29.14';
export const EXT_AUTHORITY_KEY_ID = '2.5.29.35';
export const EXT_SUBJECT_ALT_NAME = '2.5.29.17';
export const EXT_CRL_DISTRIBUTION_POINTS = '2.5.29.31';
export const EXT_AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
export const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';

export const OID_PKCS7_DATA = '1.2.840.113549.1.7.1';
export const OID_PKCS7_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const OID_PKCS7_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';

// ---- Names: RFC 4514 strings, byte for byte what `openssl x509 -noout -subject -nameopt RFC2253` prints ----

/** Formats an X.501 Name, most specific RDN first; multi-valued RDNs joined by '+'. */
export function formatName(der: Buffer, name: Tlv): string {
  const atvs: string[][] = [];
  for (const rdn of tlvChildren(der, name) ?? []) {
    atvs.push((tlvChildren(der, rdn) ?? []).map((atv) => formatAttribute(der, atv)));
  }
  // OpenSSL's DN_REV reverses every entry, also those inside a multi-valued RDN.
  return atvs
    .reverse()
    .map((rdn) => rdn.reverse().join('+'))
    .join(',');
}

function formatAttribute(der: Buffer, atv: Tlv): string {
  const [typeTlv, valueTlv] = tlvChildren(der, atv, 2) ?? [];
  const oid = readOid(der, typeTlv) ?? 'malformed';
  const short = DN_ATTRIBUTES.get(oid);
  if (!valueTlv) return `${short ?? oid}=`;
  if (short && isPlainAscii(der, valueTlv))
    return `${short}=${der.toString('latin1', valueTlv.valueStart, valueTlv.end)}`;
  const utf8 = short ? stringValueUtf8(der, valueTlv) : null;
  // Unknown attribute types and non-string values print as '#' + hex of their DER (RFC 4514 §2.4).
  if (utf8 === null) return `${short ?? oid}=#${der.subarray(valueTlv.start, valueTlv.end).toString('hex')}`;
  return `${short}=${escapeDnUtf8(utf8)}`;
}

/**
 * A UTF8String or one of the Latin-1 string types holding only printable ASCII that RFC 4514 does not escape: it
 * prints as its own octets (the common case, taken without building UTF-8 and escaping byte by byte).
 */
function isPlainAscii(der: Buffer, t: Tlv): boolean {
  if (t.cls !== 0 || t.constructed || (t.tag !== 12 && !LATIN1_STRINGS.has(t.tag))) return false;
  const last = t.end - 1;
  for (let i = t.valueStart; i <= last; i++) {
    const c = der[i]!;
    if (c < 0x20 || c >= 0x7f || BACKSLASH_ESCAPED.has(c)) return false;
    if (c === 0x20 && (i === t.valueStart || i === last)) return false;
    if (c === 0x23 && i === t.valueStart) return false;
  }
  return true;
}

const LATIN1_STRINGS = new Set([18, 19, 20, 22, 26]); // Numeric, Printable, Teletex (as OpenSSL: Latin-1), IA5, Visible
const TAG_UNIVERSAL_STRING = 28;

/** The value as UTF-8 bytes, or null when it is not a string type OpenSSL would print as text. */
function stringValueUtf8(der: Buffer, t: Tlv): Buffer | null {
  if (t.cls !== 0 || t.constructed) return null;
  const v = tlvValue(der, t);
  if (t.tag === 12) return v;
  if (LATIN1_STRINGS.has(t.tag)) return Buffer.from(v.toString('latin1'), 'utf8');
  if (t.tag === TAG_BMP_STRING && v.length % 2 === 0) {
    return Buffer.from(String.fromCharCode(...readUnits(v, 2)), 'utf8');
  }
  if (t.tag === TAG_UNIVERSAL_STRING && v.length % 4 === 0) {
    const cps = readUnits(v, 4);
    if (cps.some((c) => c > 0x10ffff)) return null;
    return Buffer.from(String.fromCodePoint(...cps), 'utf8');
  }
  return null;
}

function readUnits(v: Buffer, size: 2 | 4): number[] {
  const out: number[] = [];
  for (let i = 0; i + size <= v.length; i += size) out.push(size === 2 ? v.readUInt16BE(i) : v.readUInt32BE(i));
  return out;
}

const BACKSLASH_ESCAPED = new Set([0x2c, 0x2b, 0x22, 0x5c, 0x3c, 0x3e, 0x3b]); // , + " \ < > ;

/** RFC 4514 §2.4 escaping; control characters and every non-ASCII byte become \XX so output stays one line. */
export function escapeDnUtf8(utf8: Buffer): string {
  let out = '';
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8[i]!;
    const first = i === 0;
    const last = i === utf8.length - 1;
    if (BACKSLASH_ESCAPED.has(c) || (first && c === 0x23) || ((first || last) && c === 0x20)) {
      out += '\\' + String.fromCharCode(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += '\\' + c.toString(16).toUpperCase().padStart(2, '0');
    } else out += String.fromCharCode(c);
  }
  return out;
}

/** RFC 5280 name matching, approximated as OpenSSL does: same DER, or same text ignoring case and blanks. */
export function namesEqual(der: Buffer, a: Tlv, b: Tlv, aText: string, bText: string): boolean {
  if (der.subarray(a.start, a.end).equals(der.subarray(b.start, b.end))) return true;
  const canon = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ');
  return canon(aText) === canon(bText);
}

/** GeneralName as `TYPE:value` (DNS:, IP:, email:, URI:, DirName:, RID:, othername:). */
export function formatGeneralName(der: Buffer, gn: Tlv): string {
  const v = tlvValue(der, gn);
  if (gn.cls !== 2) return 'unsupported:';
  switch (gn.tag) {
    case 0: {
      const kids = tlvChildren(der, gn, 2) ?? [];
      const oid = readOid(der, kids[0]) ?? 'malformed';
      const inner = kids[1] ? readTlv(der, kids[1].valueStart, kids[1].end) : null;
      const text = inner ? stringValueUtf8(der, inner) : null;
      return `othername:${oid === '1.3.6.1.4.1.311.20.2.3' ? 'UPN' : oid}${text ? ':' + printable(text) : ''}`;
    }
    case 1:
      return `email:${printable(v)}`;
    case 2:
      return `DNS:${printable(v)}`;
    case 4: {
      const name = readTlv(der, gn.valueStart, gn.end);
      return `DirName:${name ? formatName(der, name) : ''}`;
    }
    case 6:
      return `URI:${printable(v)}`;
    case 7:
      return `IP:${formatIp(v)}`;
    case 8:
      return `RID:${readOid(der, { ...gn, cls: 0, tag: 6 }) ?? 'malformed'}`;
    default:
      return gn.tag === 3 ? 'x400Address:<unsupported>' : 'EdiPartyName:<unsupported>';
  }
}

/** Printable ASCII kept as is; anything else as \xHH, so hostile names cannot break a line or a terminal. */
function printable(bytes: Buffer): string {
  let out = '';
  for (const c of bytes)
    out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}

function formatIp(v: Buffer): string {
  if (v.length === 4) return Array.from(v).join('.');
  if (v.length !== 16) return `#${v.toString('hex')}`;
  const groups = Array.from({ length: 8 }, (_, i) => v.readUInt16BE(i * 2));
  // RFC 5952: compress the longest run (2+) of zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
