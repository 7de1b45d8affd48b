/**
 * Public key description shared by certificates and private keys, read from the DER SubjectPublicKeyInfo so
 * that a certificate and its key are described (and hashed) the same way.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyType, PublicKeyInfo } from './types.js';
import { CURVES, OID_DSA, OID_EC, OID_ED25519, OID_ED448, OID_RSA, OID_RSA_PSS } from './oids.js';
import { TAG_BIT_STRING, TAG_INTEGER, TAG_SEQUENCE, isUniversal, readOid, readTlv, tlvChildren, tlvValue } from './sniff.js';

export interface SpkiDescription extends PublicKeyInfo {
  /** RSA modulus as `openssl ... -modulus` prints it after `Modulus=` (uppercase, no leading zeros). */
  modulusHex: string | null;
}

const X25519 = '1.3.101.110';
const X448 = '1.3.101.111';

/** Describes a DER SubjectPublicKeyInfo; unknown or malformed keys give type 'unknown', never a throw. */
export function describeSpki(spki: Buffer): SpkiDescription {
  const unknown: SpkiDescription = { type: 'unknown', bits: 0, curve: null, modulusHex: null };
  const outer = readTlv(spki, 0);
  const parts = outer && tlvChildren(spki, outer, 2);
  if (!parts || !isUniversal(parts[0], TAG_SEQUENCE) || !isUniversal(parts[1], TAG_BIT_STRING)) return unknown;
  const alg = tlvChildren(spki, parts[0], 2) ?? [];
  const oid = readOid(spki, alg[0]);
  const keyBits = tlvValue(spki, parts[1]).subarray(1); // skip the unused-bits octet
  switch (oid) {
    case OID_RSA:
    case OID_RSA_PSS: {
      const modulus = rsaModulus(keyBits);
      if (!modulus) return { ...unknown, type: oid === OID_RSA ? 'rsa' : 'rsa-pss' };
      return { type: oid === OID_RSA ? 'rsa' : 'rsa-pss', bits: bitLength(modulus), curve: null, modulusHex: bnHex(modulus) };
    }
    case OID_EC: {
      const curveOid = readOid(spki, alg[1]);
      const curve = curveOid ? CURVES.get(curveOid) : undefined;
      // Unknown curve: the uncompressed point is 04 || X || Y, each field-size long.
      const bits = curve?.bits ?? Math.floor((keyBits.length - 1) / 2) * 8;
      return { type: 'ec', bits, curve: curve?.name ?? curveOid, modulusHex: null };
    }
    case OID_ED25519:
      return { type: 'ed25519', bits: 256, curve: null, modulusHex: null };
    case OID_ED448:
      return { type: 'ed448', bits: 456, curve: null, modulusHex: null };
    case X25519:
      return { type: 'unknown', bits: 253, curve: 'X25519', modulusHex: null };
    case X448:
      return { type: 'unknown', bits: 448, curve: 'X448', modulusHex: null };
    case OID_DSA: {
      const params = alg[1] && isUniversal(alg[1], TAG_SEQUENCE) ? tlvChildren(spki, alg[1], 1) : null;
      const p = params?.[0];
      return { type: 'dsa', bits: isUniversal(p, TAG_INTEGER) ? bitLength(tlvValue(spki, p)) : 0, curve: null, modulusHex: null };
    }
    default:
      return unknown;
  }
}

/** DER SubjectPublicKeyInfo of a public or private KeyObject. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex. */
export function spkiSha256(key: KeyObject): string {
  return sha256Hex(spkiDer(key));
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `openssl x509|rsa -noout -modulus | openssl sha1` for an RSA key; null for other keys. */
export function modulusSha1(key: KeyObject): string | null {
  try {
    return modulusDigest(describeSpki(spkiDer(key)).modulusHex);
  } catch {
    return null;
  }
}

/** openssl prints `Modulus=<hex>\n` and `openssl sha1` hashes those bytes, newline included. */
export function modulusDigest(modulusHex: string | null): string | null {
  if (modulusHex === null) return null;
  return createHash('sha1').update(`Modulus=${modulusHex}\n`).digest('hex');
}

export function keyTypeOf(key: KeyObject): KeyType {
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
    case 'ec':
    case 'ed25519':
    case 'ed448':
    case 'dsa':
      return key.asymmetricKeyType;
    default:
      return 'unknown';
  }
}

function rsaModulus(keyBits: Buffer): Buffer | null {
  const seq = readTlv(keyBits, 0);
  const ints = seq && tlvChildren(keyBits, seq, 2);
  const n = ints?.[0];
  return isUniversal(n, TAG_INTEGER) ? tlvValue(keyBits, n) : null;
}

/** Significant bits of a big-endian unsigned integer. */
function bitLength(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

/** BN_print: uppercase hex without leading zero nibbles ("0" for zero). */
function bnHex(bytes: Buffer): string {
  const hex = bytes.toString('hex').toUpperCase().replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}
