/**
 * Private keys (loaded by Node's createPrivateKey, so what loads here loads in the gateway) and the public key
 * description shared with certificates: both are read from the DER SubjectPublicKeyInfo, so a certificate and
 * its key are described and hashed the same way.
 */
import { createHash, createPrivateKey, createPublicKey, hash } from 'node:crypto';
import type { KeyObject, PrivateKeyInput } from 'node:crypto';
import type { KeyEncoding, KeyType, LoadProblem, PrivateKey, PublicKeyInfo } from './types.js';
import { toPem } from './pem.js';
import type { PemBlock } from './pem.js';
import type { DerKind } from './sniff.js';
import { CURVES, OID_DSA, OID_EC, OID_ED25519, OID_ED448, OID_RSA, OID_RSA_PSS } from './oids.js';
import {
  TAG_BIT_STRING,
  TAG_INTEGER,
  TAG_SEQUENCE,
  isUniversal,
  readOid,
  readSmallInt,
  readTlv,
  tlvChildren,
  tlvValue,
} from './der.js';
import type { Tlv } from './der.js';

export interface SpkiDescription extends PublicKeyInfo {
  /** RSA modulus as `openssl ... -modulus` prints it after `Modulus=` (uppercase, no leading zeros). */
  modulusHex: string | null;
}

const X25519 = '1.3.101.110';
const X448 = '1.3.101.111';

/** Describes a DER SubjectPublicKeyInfo; unknown or malformed keys give type 'unknown', never a throw. */
export function describeSpki(spki: Buffer): SpkiDescription {
  const outer = readTlv(spki, 0);
  return outer ? describeSpkiAt(spki, outer) : { ...UNKNOWN_KEY };
}

const UNKNOWN_KEY: Readonly<SpkiDescription> = { type: 'unknown', bits: 0, curve: null, modulusHex: null };

/** The same for the SubjectPublicKeyInfo TLV `spki` of a larger DER (a certificate's), read in place. */
export function describeSpkiAt(der: Buffer, spki: Tlv): SpkiDescription {
  const unknown: SpkiDescription = { ...UNKNOWN_KEY };
  const parts = tlvChildren(der, spki, 2);
  if (!parts || !isUniversal(parts[0], TAG_SEQUENCE) || !isUniversal(parts[1], TAG_BIT_STRING)) return unknown;
  const alg = tlvChildren(der, parts[0], 2) ?? [];
  const oid = readOid(der, alg[0]);
  // The key's octets after the BIT STRING's unused-bits octet.
  const keyStart = Math.min(parts[1].valueStart + 1, parts[1].end);
  const keyLength = parts[1].end - keyStart;
  switch (oid) {
    case OID_RSA:
    case OID_RSA_PSS: {
      const modulus = rsaModulus(der.subarray(keyStart, parts[1].end));
      if (!modulus) return { ...unknown, type: oid === OID_RSA ? 'rsa' : 'rsa-pss' };
      return {
        type: oid === OID_RSA ? 'rsa' : 'rsa-pss',
        bits: bitLength(modulus),
        curve: null,
        modulusHex: bnHex(modulus),
      };
    }
    case OID_EC: {
      const curveOid = readOid(der, alg[1]);
      const curve = curveOid ? CURVES.get(curveOid) : undefined;
      // Unknown curve: the uncompressed point is 04 || X || Y, each field-size long.
      const bits = curve?.bits ?? Math.floor((keyLength - 1) / 2) * 8;
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
      const params = alg[1] && isUniversal(alg[1], TAG_SEQUENCE) ? tlvChildren(der, alg[1], 1) : null;
      const p = params?.[0];
      return {
        type: 'dsa',
        bits: isUniversal(p, TAG_INTEGER) ? bitLength(tlvValue(der, p)) : 0,
        curve: null,
        modulusHex: null,
      };
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
  return hash('sha256', bytes, 'hex');
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

/** PEM labels that hold a private key. */
export function isPrivateKeyLabel(label: string): boolean {
  return label.endsWith('PRIVATE KEY');
}

/** Loads a private key PEM block (PKCS#8, PKCS#1, SEC1, encrypted PKCS#8, legacy encrypted PEM). */
export function loadPemKey(block: PemBlock, passphrase?: string): PrivateKey | LoadProblem {
  const legacy = /ENCRYPTED/i.test(block.headers['Proc-Type'] ?? '');
  switch (legacy ? '' : block.label) {
    case 'PRIVATE KEY':
      return loadKey({ key: block.body, format: 'der', type: 'pkcs8' }, 'pkcs8', false, passphrase);
    case 'ENCRYPTED PRIVATE KEY':
      return loadKey({ key: block.body, format: 'der', type: 'pkcs8' }, 'encrypted-pkcs8', true, passphrase);
    case 'RSA PRIVATE KEY':
      return loadKey({ key: block.body, format: 'der', type: 'pkcs1' }, 'pkcs1', false, passphrase);
    case 'EC PRIVATE KEY':
      return loadKey({ key: block.body, format: 'der', type: 'sec1' }, 'sec1', false, passphrase);
    case 'OPENSSH PRIVATE KEY':
      return problem(
        'key-parse-error',
        'an OpenSSH private key; TLS needs PEM (ssh-keygen -p -m PEM, or openssl pkey)',
      );
    default: {
      // Legacy `Proc-Type: 4,ENCRYPTED` keys and DSA keys: hand OpenSSL the PEM text with its headers.
      const encoding: KeyEncoding = legacy ? 'legacy-encrypted-pem' : 'pkcs1';
      return loadKey({ key: pemWithHeaders(block), format: 'pem' }, encoding, legacy, passphrase);
    }
  }
}

/** Loads a DER private key the sniffer recognised. */
export function loadDerKey(der: Buffer, kind: DerKind, passphrase?: string): PrivateKey | LoadProblem {
  switch (kind) {
    case 'pkcs8':
      return loadKey({ key: der, format: 'der', type: 'pkcs8' }, 'der', false, passphrase);
    case 'encrypted-pkcs8':
      return loadKey({ key: der, format: 'der', type: 'pkcs8' }, 'encrypted-pkcs8', true, passphrase);
    case 'pkcs1':
      return loadKey({ key: der, format: 'der', type: 'pkcs1' }, 'der', false, passphrase);
    case 'sec1':
      return loadKey({ key: der, format: 'der', type: 'sec1' }, 'der', false, passphrase);
    default:
      return loadKey({ key: toPem('DSA PRIVATE KEY', der), format: 'pem' }, 'der', false, passphrase);
  }
}

/** Wraps a KeyObject we already hold (e.g. from a PKCS#12 bag). */
export function privateKeyFrom(keyObject: KeyObject, encoding: KeyEncoding, encrypted: boolean): PrivateKey {
  const spkiBytes = spkiDer(keyObject);
  const spki = describeSpki(spkiBytes);
  const type = keyTypeOf(keyObject);
  return {
    keyObject,
    info: {
      type: type === 'unknown' ? spki.type : type,
      bits: spki.bits,
      curve: spki.curve,
      encoding,
      encrypted,
      modulusSha1: modulusDigest(spki.modulusHex),
      spkiSha256: sha256Hex(spkiBytes),
    },
  };
}

function loadKey(
  input: PrivateKeyInput,
  encoding: KeyEncoding,
  encrypted: boolean,
  passphrase?: string,
): PrivateKey | LoadProblem {
  const iterations =
    encoding === 'encrypted-pkcs8' && Buffer.isBuffer(input.key) ? encryptedKeyIterations(input.key) : 0;
  if (iterations > MAX_KDF_ITERATIONS && passphrase !== undefined) {
    return problem(
      'key-parse-error',
      `the key's encryption asks for ${iterations} key derivation iterations (over ${MAX_KDF_ITERATIONS}); not tried`,
    );
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(passphrase === undefined ? input : { ...input, passphrase });
  } catch (e) {
    return classifyKeyError(e, encrypted, passphrase !== undefined);
  }
  try {
    return privateKeyFrom(keyObject, encoding, encrypted);
  } catch (e) {
    return problem('key-parse-error', `the key loaded but its public part cannot be derived (${errorText(e)})`);
  }
}

/** Node/OpenSSL error codes to problem kinds; the message never repeats key bytes or the passphrase. */
export function classifyKeyError(e: unknown, encrypted: boolean, hadPassphrase: boolean): LoadProblem {
  const code = (e as { code?: unknown } | null)?.code;
  if (
    code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED' ||
    code === 'ERR_MISSING_PASSPHRASE' ||
    (encrypted && !hadPassphrase)
  ) {
    return problem('passphrase-required', 'the private key is encrypted and no passphrase was given');
  }
  if (code === 'ERR_OSSL_BAD_DECRYPT')
    return problem('wrong-passphrase', 'the passphrase does not decrypt the private key');
  if (encrypted) {
    // A wrong passphrase can pass the padding check by chance and fail later, in the key decoder.
    return problem(
      'wrong-passphrase',
      `the private key did not decrypt to a valid key: wrong passphrase? (${errorText(e)})`,
    );
  }
  return problem('key-parse-error', `not a valid private key (${errorText(e)})`);
}

function pemWithHeaders(block: PemBlock): string {
  const headers = Object.entries(block.headers)
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
  const pem = toPem(block.label, block.body);
  if (!headers) return pem;
  const firstNewline = pem.indexOf('\n') + 1;
  return `${pem.slice(0, firstNewline)}${headers}\n${pem.slice(firstNewline)}`;
}

function problem(kind: LoadProblem['kind'], message: string): LoadProblem {
  return { kind, message };
}

function errorText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message.split('\n')[0]!.trim() : String(e);
  // OpenSSL's text after the last "::" is the readable part ("error:1E08010C:DECODER routines::unsupported").
  const readable = msg.includes('::') ? msg.slice(msg.lastIndexOf('::') + 2) : msg;
  return typeof code === 'string' ? `${code}: ${readable}` : readable;
}

/**
 * Far above real files (OpenSSL writes 2048; guides suggest up to 600k), low enough that a hostile file cannot stall
 * us.
 */
export const MAX_KDF_ITERATIONS = 1_000_000;

const PBES2 = '1.2.840.113549.1.5.13';

/** EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING } */
function encryptedKeyIterations(der: Buffer): number {
  const outer = readTlv(der, 0);
  const alg = outer ? tlvChildren(der, outer, 1)?.[0] : undefined;
  return alg ? pbeIterations(der.subarray(alg.start, alg.end)) : 0;
}

/** Iteration count of a DER PBES2 (PBKDF2) or PKCS#12 PBE AlgorithmIdentifier; 0 when it has none. */
export function pbeIterations(alg: Buffer): number {
  const outer = readTlv(alg, 0);
  const [oidTlv, params] = outer ? (tlvChildren(alg, outer, 2) ?? []) : [];
  if (!params) return 0;
  if (readOid(alg, oidTlv) === PBES2) {
    const kdf = tlvChildren(alg, params, 1)?.[0];
    const kdfParams = kdf ? tlvChildren(alg, kdf, 2)?.[1] : undefined;
    return kdfParams ? countOf(alg, tlvChildren(alg, kdfParams, 2)?.[1]) : 0;
  }
  return countOf(alg, tlvChildren(alg, params, 2)?.[1]);
}

/** An INTEGER too large to read counts as too many. */
function countOf(der: Buffer, t: Tlv | undefined): number {
  if (!isUniversal(t, TAG_INTEGER)) return 0;
  return readSmallInt(der, t) ?? Number.POSITIVE_INFINITY;
}
