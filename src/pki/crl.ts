/**
 * Certificate revocation lists (RFC 5280 §5): read from PEM or DER with our iterative DER reader, signatures checked
 * with node:crypto (Node has no X509Crl), and the issuing CA found in a truststore by the exact DER of its name.
 * The reader only: loading sources, refreshing and judging certificates belong to trust/ and policy/.
 */
import { constants, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { describeSignatureAlgorithm, formatSerial, parseTime } from './cert.js';
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
  readTlv,
  tlvChildren,
  tlvValue,
  guarded,
} from './der.js';
import type { Tlv } from './der.js';
import { MAX_PROBLEMS } from './read.js';
import { EXT_AUTHORITY_KEY_ID, formatName } from './oids.js';
import { parsePem } from './pem.js';
import {
  indexFromParts,
  indexRevoked,
  NO_ENTRIES,
  type IndexResult,
  type RevokedEntry,
  type RevokedIndex,
} from './crl-index.js';
import type { SignatureAlgorithmInfo } from './types.js';

export const EXT_CRL_NUMBER = '2.5.29.20';
export const EXT_REASON_CODE = '2.5.29.21';
export const EXT_INVALIDITY_DATE = '2.5.29.24';
export const EXT_DELTA_CRL_INDICATOR = '2.5.29.27';
export const EXT_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
export const EXT_CERTIFICATE_ISSUER = '2.5.29.29';

/**
 * CRLReason names as RFC 5280 §5.3.1 and `openssl crl -text` spell them (value 7 is unused); OCSP's RevokedInfo
 * carries the same ENUMERATED.
 */
export const CRL_REASONS: ReadonlyMap<number, string> = new Map([
  [0, 'unspecified'],
  [1, 'keyCompromise'],
  [2, 'cACompromise'],
  [3, 'affiliationChanged'],
  [4, 'superseded'],
  [5, 'cessationOfOperation'],
  [6, 'certificateHold'],
  [8, 'removeFromCRL'],
  [9, 'privilegeWithdrawn'],
  [10, 'aACompromise'],
]);

/** The CRLReason code of a reason name, any case (`keyCompromise`, `KEYCOMPROMISE`); null when unknown. */
export function crlReasonCode(name: string): number | null {
  const want = name.toLowerCase();
  for (const [code, known] of CRL_REASONS) if (known.toLowerCase() === want) return code;
  return null;
}

export type { RevokedEntry, RevokedIndex } from './crl-index.js';

export interface Crl {
  der: Buffer;
  /** The issuer Name's DER: matched byte for byte against a CA's subject. */
  issuerDer: Buffer;
  /** RFC 4514, as CertInfo.issuer. */
  issuer: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /**
   * Keyed by serial in CertInfo.serial's form (colon-separated lowercase hex), so a certificate looks itself up.
   * An index over the DER (see crl-index.ts): entries are read when looked up or iterated.
   */
  revoked: RevokedIndex;
  crlNumber: bigint | null;
  /** The authority key identifier's keyIdentifier (lowercase hex, as CertInfo.subjectKeyId), or null. */
  authorityKeyId: string | null;
  signatureAlgorithm: SignatureAlgorithmInfo;
  tbsDer: Buffer;
  signatureValue: Buffer;
  /** OIDs of critical CRL or entry extensions we do not know: such a CRL must not be used (RFC 5280 §5.2). */
  unknownCriticalExtensions: string[];
  /**
   * Known features this reader does not act on yet, which change what the CRL covers: an issuing distribution point
   * (a partitioned CRL), a delta CRL indicator, an indirect CRL's certificate issuer entries.
   */
  unsupported: string[];
}

export interface CrlParse {
  crls: Crl[];
  problems: string[];
}

/** Reads every CRL in `bytes` (PEM blocks, or one DER CRL). Never throws; an unreadable block is one problem. */
export function parseCrls(bytes: Buffer, source: string): CrlParse {
  return parseWith(bytes, source, (der) => readCrl(der));
}

/**
 * A CRL in the form a worker thread hands back (crl-parse.ts): its DER and its revoked index's arrays, each the whole
 * of its ArrayBuffer so that all move without a copy. crlFromTransfer makes the Crl again.
 */
export interface CrlTransfer {
  der: Uint8Array<ArrayBuffer>;
  /** Null when the CRL has no revokedCertificates. */
  revoked: Omit<IndexResult, 'index'> | null;
}

/** parseCrls, each CRL as a CrlTransfer (the worker's side). */
export function parseCrlsForTransfer(bytes: Buffer, source: string): { crls: CrlTransfer[]; problems: string[] } {
  return parseWith(bytes, source, (input) => {
    let revoked: CrlTransfer['revoked'] = null;
    const crl = readCrl(input, { keep: (r) => (revoked = r) });
    if (typeof crl === 'string') return crl;
    // A PEM block's body or a file's bytes may hold more than this CRL: copied here, on the worker's thread.
    const own = crl.der.byteOffset === 0 && crl.der.byteLength === crl.der.buffer.byteLength;
    const der = own ? new Uint8Array(crl.der.buffer as ArrayBuffer) : new Uint8Array(crl.der);
    return { der, revoked };
  });
}

/** The Crl of a CrlTransfer: the same reader over the same DER, its revoked index rebuilt from the parts. */
export function crlFromTransfer(t: CrlTransfer): Crl | string {
  return readCrl(Buffer.from(t.der.buffer, t.der.byteOffset, t.der.byteLength), { parts: t.revoked });
}

function parseWith<T>(
  bytes: Buffer,
  source: string,
  read: (der: Buffer) => T | string,
): { crls: T[]; problems: string[] } {
  const crls: T[] = [];
  const problems: string[] = [];
  const add = (message: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(`${source}: ${message}`);
    else if (problems.length === MAX_PROBLEMS) problems.push(`${source}: more unreadable CRLs, not listed one by one`);
  };
  if (bytes.length === 0) {
    add('empty');
    return { crls, problems };
  }
  // 0x30 is also the character '0', so text with a CRL block in it is read as PEM whatever its first byte.
  if (bytes[0] === 0x30 && !bytes.includes('-----BEGIN X509 CRL-----')) {
    const one = read(bytes);
    if (typeof one === 'string') add(`not a DER CRL: ${one}`);
    else crls.push(one);
    return { crls, problems };
  }
  const pem = parsePem(bytes);
  for (const p of pem.problems) if (p.label === 'X509 CRL') add(p.message);
  for (const block of pem.blocks) {
    if (block.label !== 'X509 CRL') continue;
    const one = read(block.body);
    if (typeof one === 'string') add(`pem block ${block.index} (X509 CRL): ${one}`);
    else crls.push(one);
  }
  if (crls.length === 0 && problems.length === 0) add('no X509 CRL in it (neither PEM nor DER)');
  return { crls, problems };
}

interface ReadOptions {
  /** The revoked index's parts from an earlier read of these bytes (crlFromTransfer): used instead of a pass. */
  parts?: CrlTransfer['revoked'];
  /** Given the revoked index's parts (null without revokedCertificates), for parseCrlsForTransfer. */
  keep?: (parts: CrlTransfer['revoked']) => void;
}

/** One DER CertificateList, or a one-line reason it is not one. Never throws. */
export function readCrl(input: Buffer, o: ReadOptions = {}): Crl | string {
  return guarded(() => readCrlOrThrow(input, o));
}

function readCrlOrThrow(input: Buffer, o: ReadOptions): Crl | string {
  const outer = readTlv(input, 0);
  if (!isUniversal(outer, TAG_SEQUENCE)) return 'no outer SEQUENCE';
  const der = outer.end === input.length ? input : input.subarray(0, outer.end);
  const top = tlvChildren(der, outer, 4);
  const [tbs, sigAlg, sig] = top ?? [];
  if (top?.length !== 3 || !isUniversal(tbs, TAG_SEQUENCE) || !isUniversal(sigAlg, TAG_SEQUENCE))
    return 'not a CertificateList (tbsCertList, signatureAlgorithm, signature)';
  if (!isUniversal(sig, TAG_BIT_STRING) || sig.end - sig.valueStart < 2 || der[sig.valueStart] !== 0)
    return 'malformed signature BIT STRING';
  const kids = tlvChildren(der, tbs);
  if (!kids) return 'malformed tbsCertList';
  let i = 0;
  if (isUniversal(kids[0], TAG_INTEGER)) i++; // version v2; absent in v1
  const [innerAlg, issuer, thisTlv] = kids.slice(i, i + 3);
  i += 3;
  if (!isUniversal(innerAlg, TAG_SEQUENCE) || !isUniversal(issuer, TAG_SEQUENCE)) return 'malformed tbsCertList';
  // RFC 5280 §5.1.1.2: the two algorithm fields must match, else the signature covers a different claim.
  if (!der.subarray(innerAlg.start, innerAlg.end).equals(der.subarray(sigAlg.start, sigAlg.end)))
    return 'signature algorithm differs inside and outside tbsCertList';
  const thisUpdate = parseTime(der, thisTlv);
  if (!thisUpdate) return 'thisUpdate is missing or malformed';
  let nextUpdate: Date | null = null;
  if (isTime(kids[i])) {
    nextUpdate = parseTime(der, kids[i]);
    if (!nextUpdate) return 'nextUpdate is malformed';
    i++;
  }
  const unknownCriticalExtensions: string[] = [];
  const unsupported: string[] = [];
  let revoked: RevokedIndex = NO_ENTRIES;
  if (isUniversal(kids[i], TAG_SEQUENCE)) {
    const read = (offset: number): { serial: string; entry: RevokedEntry } | string => {
      const entry = readTlv(der, offset);
      return entry ? readEntry(der, entry, [], []) : 'malformed';
    };
    let indexed: IndexResult | string;
    if (o.parts) indexed = { ...o.parts, index: indexFromParts(der, o.parts.parts, read) };
    else indexed = indexRevoked(der, kids[i]!, read);
    if (typeof indexed === 'string') return indexed;
    revoked = indexed.index;
    unknownCriticalExtensions.push(...indexed.unknownCritical);
    unsupported.push(...indexed.unsupported);
    const { index: _, ...parts } = indexed;
    o.keep?.(parts);
    i++;
  } else o.keep?.(null);
  let crlNumber: bigint | null = null;
  let authorityKeyId: string | null = null;
  if (isContext(kids[i], 0)) {
    const list = readExtensionList(der, kids[i]!);
    if (!list) return 'malformed crlExtensions';
    for (const ext of list) {
      switch (ext.oid) {
        case EXT_CRL_NUMBER:
          crlNumber = readBigUint(der, ext.value);
          if (crlNumber === null) return 'malformed CRL number';
          break;
        case EXT_AUTHORITY_KEY_ID: {
          const keyId = isUniversal(ext.value, TAG_SEQUENCE)
            ? (tlvChildren(der, ext.value) ?? []).find((t) => isContext(t, 0))
            : undefined;
          authorityKeyId = keyId ? tlvValue(der, keyId).toString('hex') : null;
          break;
        }
        case EXT_ISSUING_DISTRIBUTION_POINT:
          unsupported.push('issuing distribution point');
          break;
        case EXT_DELTA_CRL_INDICATOR:
          unsupported.push('delta CRL indicator');
          break;
        default:
          if (ext.critical) unknownCriticalExtensions.push(ext.oid);
      }
    }
    i++;
  }
  if (i !== kids.length) return 'unexpected fields at the end of tbsCertList';
  return {
    der,
    issuerDer: der.subarray(issuer.start, issuer.end),
    issuer: formatName(der, issuer),
    thisUpdate,
    nextUpdate,
    revoked,
    crlNumber,
    authorityKeyId,
    signatureAlgorithm: describeSignatureAlgorithm(der, sigAlg),
    tbsDer: der.subarray(tbs.start, tbs.end),
    signatureValue: der.subarray(sig.valueStart + 1, sig.end),
    unknownCriticalExtensions: [...new Set(unknownCriticalExtensions)],
    unsupported: [...new Set(unsupported)],
  };
}

function readEntry(
  der: Buffer,
  entry: Tlv,
  unknownCritical: string[],
  unsupported: string[],
): { serial: string; entry: RevokedEntry } | string {
  const kids = isUniversal(entry, TAG_SEQUENCE) ? tlvChildren(der, entry, 4) : null;
  const [serial, date, exts] = kids ?? [];
  if (!isUniversal(serial, TAG_INTEGER) || serial.end === serial.valueStart) return 'malformed serial';
  const revokedAt = parseTime(der, date);
  if (!revokedAt) return 'malformed revocationDate';
  let reason: string | null = null;
  if (exts) {
    const list = isUniversal(exts, TAG_SEQUENCE) ? readExtensionList(der, exts, false) : null;
    if (!list || kids!.length > 3) return 'malformed crlEntryExtensions';
    for (const ext of list) {
      switch (ext.oid) {
        case EXT_REASON_CODE: {
          // ENUMERATED (universal 10), one small value.
          const v = ext.value;
          if (v.cls !== 0 || v.tag !== 10 || v.end - v.valueStart !== 1) return 'malformed reason code';
          const code = der[v.valueStart]!;
          reason = CRL_REASONS.get(code) ?? `unknown reason ${code}`;
          break;
        }
        case EXT_INVALIDITY_DATE:
          break;
        case EXT_CERTIFICATE_ISSUER:
          unsupported.push('certificate issuer entries (an indirect CRL)');
          break;
        default:
          if (ext.critical) unknownCritical.push(ext.oid);
      }
    }
  }
  return { serial: formatSerial(tlvValue(der, serial)), entry: { revokedAt, reason } };
}

export interface Extension {
  oid: string;
  critical: boolean;
  /** The TLV inside the extnValue OCTET STRING. */
  value: Tlv;
}

/** Extensions, from an EXPLICIT wrapper (CRL, OCSP) or the bare SEQUENCE (entry); null when any is malformed. */
export function readExtensionList(der: Buffer, t: Tlv, wrapped = true): Extension[] | null {
  const seq = wrapped ? readTlv(der, t.valueStart, t.end) : t;
  if (!isUniversal(seq, TAG_SEQUENCE)) return null;
  const out: Extension[] = [];
  for (const ext of tlvChildren(der, seq) ?? [null]) {
    const kids = ext && isUniversal(ext, TAG_SEQUENCE) ? tlvChildren(der, ext, 4) : null;
    const oid = readOid(der, kids?.[0]);
    const critical = isUniversal(kids?.[1], TAG_BOOLEAN) && der[kids[1].valueStart] !== 0;
    const octets = kids?.[kids.length - 1];
    const value = isUniversal(octets, TAG_OCTET_STRING) ? readTlv(der, octets.valueStart, octets.end) : null;
    if (!oid || !value || value.end !== octets!.end) return null;
    out.push({ oid, critical, value });
  }
  return out;
}

/** A non-negative INTEGER of at most 20 octets (RFC 5280 §5.2.3's limit for CRL numbers), or null. */
function readBigUint(der: Buffer, t: Tlv): bigint | null {
  const v = isUniversal(t, TAG_INTEGER) ? tlvValue(der, t) : null;
  if (!v || v.length === 0 || v.length > 21 || (v[0]! & 0x80) !== 0) return null;
  return BigInt(`0x${v.toString('hex')}`);
}

function isTime(t: Tlv | undefined): t is Tlv {
  return isUniversal(t, TAG_UTC_TIME) || isUniversal(t, TAG_GENERALIZED_TIME);
}

/** True when `issuerPublicKey` verifies the CRL's signature. Never throws. */
export function verifyCrlSignature(crl: Crl, issuerPublicKey: KeyObject): boolean {
  return verifySignedData(crl.tbsDer, crl.signatureAlgorithm, crl.signatureValue, issuerPublicKey);
}

/**
 * Checks an X.509-style signature (tbs bytes, AlgorithmIdentifier, signature) with node:crypto. Certificates use
 * X509Certificate.verify instead; this is for what Node has no class for (CRLs, and later OCSP responses).
 */
export function verifySignedData(tbs: Buffer, alg: SignatureAlgorithmInfo, signature: Buffer, key: KeyObject): boolean {
  try {
    if (alg.name === 'ED25519' || alg.name === 'ED448') return verify(null, tbs, key, signature);
    if (!alg.hash || alg.hash === alg.oid) return false; // unknown algorithm or PSS digest
    if (alg.name === 'rsassaPss') {
      // The salt length is in the parameters; AUTO accepts what the signature carries, as OpenSSL's check does
      // when the parameters are well formed.
      const options = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };
      return verify(alg.hash, tbs, options, signature);
    }
    return verify(alg.hash, tbs, key, signature);
  } catch {
    return false;
  }
}

/** Entries CrlInfo lists one by one; revokedCount says how many there are. */
export const CRL_INFO_ENTRIES = 20;

/** A CRL as JSON (inspect --json): the description, never the signature or the whole entry list. */
export interface CrlInfo {
  issuer: string;
  thisUpdate: string; // ISO 8601
  nextUpdate: string | null;
  /** Whole days from now to nextUpdate (negative once past); null without nextUpdate. */
  daysLeft: number | null;
  /** Decimal, as `openssl crl -text` prints it (a bigint is not JSON); null when absent. */
  crlNumber: string | null;
  signatureAlgorithm: SignatureAlgorithmInfo;
  revokedCount: number;
  /** The first CRL_INFO_ENTRIES entries in CRL order. */
  revoked: Array<{ serial: string; revokedAt: string; reason: string | null }>;
  unsupported: string[];
  unknownCriticalExtensions: string[];
}

export function describeCrl(crl: Crl, now: Date = new Date()): CrlInfo {
  const revoked: CrlInfo['revoked'] = [];
  for (const [serial, e] of crl.revoked) {
    if (revoked.length === CRL_INFO_ENTRIES) break;
    revoked.push({ serial, revokedAt: e.revokedAt.toISOString(), reason: e.reason });
  }
  const next = crl.nextUpdate;
  return {
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: next ? next.toISOString() : null,
    daysLeft: next ? Math.floor((next.getTime() - now.getTime()) / 86_400_000) : null,
    crlNumber: crl.crlNumber === null ? null : crl.crlNumber.toString(),
    signatureAlgorithm: crl.signatureAlgorithm,
    revokedCount: crl.revoked.size,
    revoked,
    unsupported: crl.unsupported,
    unknownCriticalExtensions: crl.unknownCriticalExtensions,
  };
}
