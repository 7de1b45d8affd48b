/**
 * The certificate toolkit's domain types. Everything JSON-able lives in `*Info`; live objects (Node's
 * X509Certificate, KeyObject) sit beside them and never reach JSON output. Private key material is never
 * put in an Info object.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Crl } from './crl.js';
import type { Tlv } from './der.js';

export type KeyType = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa' | 'unknown';

export interface PublicKeyInfo {
  type: KeyType;
  /** RSA/DSA modulus bits; EC field size (256 for P-256); 256/456 for Ed25519/Ed448. */
  bits: number;
  /** EC curve as OpenSSL names it: prime256v1, secp384r1, secp521r1. */
  curve: string | null;
}

export interface SignatureAlgorithmInfo {
  oid: string;
  /** Readable name, e.g. sha256WithRSAEncryption, ecdsa-with-SHA256, ED25519. */
  name: string;
  /** Digest inside the signature: md5, sha1, sha224, sha256, sha384, sha512, or null (Ed25519, unknown). */
  hash: string | null;
}

export interface BasicConstraintsInfo {
  ca: boolean;
  pathLength: number | null;
  critical: boolean;
}

export interface CertInfo {
  /** RFC 4514 string, most specific first: `CN=client,O=Example,C=US`. */
  subject: string;
  issuer: string;
  /** Colon-separated lowercase hex octets, as API Gateway's clientCert.serialNumber. */
  serial: string;
  notBefore: string; // ISO 8601
  notAfter: string; // ISO 8601
  /** Whole days from now to notAfter (negative when expired). */
  daysLeft: number;
  /** subject == issuer (name only). */
  selfIssued: boolean;
  /** subject == issuer and the signature verifies with its own key. */
  selfSigned: boolean;
  publicKey: PublicKeyInfo;
  signatureAlgorithm: SignatureAlgorithmInfo;
  subjectAltNames: string[]; // "DNS:a.example", "IP:127.0.0.1", "email:x@y", "URI:spiffe://..."
  /** Key usage bit names (digitalSignature, keyCertSign, ...), null when the extension is absent. */
  keyUsage: string[] | null;
  /** EKU names (serverAuth, clientAuth, ...) or dotted OIDs for unknown ones; null when absent. */
  extendedKeyUsage: string[] | null;
  basicConstraints: BasicConstraintsInfo | null;
  subjectKeyId: string | null; // lowercase hex
  authorityKeyId: string | null; // lowercase hex
  /** URIs of the CRL distribution points' fullName GeneralNames, in order; empty when there are none. */
  crlDistributionPoints: string[];
  /** Authority information access id-ad-ocsp URIs (the OCSP responders), in order; empty when there are none. */
  ocspUrls: string[];
  /** SHA-256 of the DER, uppercase colon hex as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprintSha256: string;
  /** `openssl x509 -noout -modulus -in F | openssl sha1` digest (lowercase hex), RSA only. */
  modulusSha1: string | null;
  /** SHA-256 of the DER SubjectPublicKeyInfo (lowercase hex); equal for a certificate and its key. */
  spkiSha256: string;
}

/**
 * What checks over every certificate of a bundle ask (validity, key, signature algorithm, whether it may issue),
 * read without describing it: no names, digests or extension strings. Its CertInfo says the same.
 */
export interface CertFacts {
  notBeforeMs: number;
  notAfterMs: number;
  publicKey: PublicKeyInfo;
  /** RSA modulus as `openssl ... -modulus` prints it, for modulusSha1; null for other keys. */
  modulusHex: string | null;
  signatureAlgorithm: SignatureAlgorithmInfo;
  /** basicConstraints' cA, or null without the extension. */
  basicConstraintsCa: boolean | null;
  /** Whether keyUsage has keyCertSign, or null without the extension. */
  keyCertSign: boolean | null;
}

export interface ExtensionId {
  oid: string;
  critical: boolean;
}

/** A parsed certificate: computed once, immutable. */
export interface Cert {
  readonly x509: X509Certificate;
  readonly der: Buffer;
  readonly info: CertInfo;
  /** The facts a bundle's checks need, read on first use (cheaper than `info`). */
  readonly facts: CertFacts;
  /** Each extension's OID ('malformed' when unreadable) and critical flag, in order; read on first use. */
  readonly extensionIds: readonly ExtensionId[];
  /** Node's `x509.subject` / `x509.issuer` strings, read from our own parse when the certificate is plain. */
  readonly subjectName: string;
  readonly issuerName: string;
  /**
   * OpenSSL's X509_check_issued(c, c) as modelled from our own parse (plain certificates), or null when only OpenSSL
   * can say.
   */
  readonly plainSelfSigned: boolean | null;
  /** Where the certificate's fields lie in `der` (located when it is parsed). */
  readonly parts: TbsParts;
}

/** The fields of a certificate's DER, as positions in it. */
export interface TbsParts {
  serial: Tlv;
  issuer: Tlv;
  validity: Tlv;
  subject: Tlv;
  spki: Tlv;
  extensions: Tlv[];
  signatureAlgorithm: Tlv;
}

export type KeyEncoding = 'pkcs8' | 'pkcs1' | 'sec1' | 'encrypted-pkcs8' | 'legacy-encrypted-pem' | 'der' | 'pkcs12';

export interface KeyInfo {
  type: KeyType;
  bits: number;
  curve: string | null;
  encoding: KeyEncoding;
  /** The key was stored encrypted (a passphrase was needed). */
  encrypted: boolean;
  /** `openssl rsa -noout -modulus -in F | openssl sha1` digest (lowercase hex), RSA only. */
  modulusSha1: string | null;
  spkiSha256: string;
}

export interface PrivateKey {
  readonly keyObject: KeyObject;
  readonly info: KeyInfo;
}

/** What the bytes really are, whatever the file is called. */
export type FileFormat =
  | 'pem' // one or more PEM blocks (certificates, keys, PKCS#7)
  | 'der-certificate'
  | 'der-private-key' // PKCS#8, PKCS#1 or SEC1 DER
  | 'der-encrypted-private-key'
  | 'pkcs12'
  | 'pkcs7' // DER PKCS#7 (a .p7b)
  | 'der-crl' // a DER certificate revocation list
  | 'empty'
  | 'unknown';

/** Why part or all of a file could not be used. The doctor maps these to finding ids by the file's role. */
export type LoadProblemKind =
  | 'not-found'
  | 'unreadable' // permissions, a directory, an I/O error
  | 'too-large' // over the read cap
  | 'empty'
  | 'unknown-format'
  | 'cert-parse-error'
  | 'key-parse-error'
  | 'passphrase-required'
  | 'wrong-passphrase'
  | 'pkcs12-wrong-passphrase'
  | 'pkcs12-legacy-encryption'
  | 'pkcs12-parse-error'
  | 'pkcs7-parse-error'
  | 'crl-parse-error';

export interface LoadProblem {
  kind: LoadProblemKind;
  /** One line, lowercase, names what is wrong (the caller prefixes the file name). Never contains key bytes. */
  message: string;
  /** Index of the PEM block / bag the problem is about, when it is about one. */
  index?: number;
}

export interface LoadedFile {
  path: string;
  format: FileFormat;
  /** PEM block labels in order (CERTIFICATE, PRIVATE KEY, PKCS7, ...), empty for binary formats. */
  pemLabels: string[];
  certs: Cert[];
  keys: PrivateKey[];
  /** Number of private keys seen in the file, including ones that could not be decrypted. */
  keyBlocks: number;
  /** Certificate revocation lists (X509 CRL blocks, or the file as one DER CRL). */
  crls: Crl[];
  problems: LoadProblem[];
  /** File mode bits when known (for "key readable by others"). */
  mode: number | null;
  size: number;
  /** PKCS#12 files only: how they are protected and whether Node's TLS loads them. */
  pkcs12?: Pkcs12Info;
}

export interface Pkcs12Info {
  /** Digest of the integrity MAC (sha256, sha1), null when there is none. */
  macAlgorithm: string | null;
  /** Encryption algorithms met, by name (AES-256-CBC, pbeWithSHAAnd40BitRC2-CBC, ...). */
  encryptionAlgorithms: string[];
  /** Whether `tls.createSecureContext({ pfx, passphrase })` (what the gateway does) loads the file. */
  nodeLoads: boolean;
  nodeError: string | null;
  /** Encrypted parts only OpenSSL's legacy provider could decrypt (their bags are not listed). */
  legacyUnreadableParts: number;
  /** Key derivation iterations run while reading it (MAC and every decrypted part), capped per file. */
  kdfIterations: number;
}

export interface LoadOptions {
  passphrase?: string;
  /** Read cap in bytes; default 10 MiB. */
  maxBytes?: number;
}
