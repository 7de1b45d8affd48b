/** OID tables: names as OpenSSL prints them, so our output can be compared with `openssl x509 -text`. */

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

/** Digest algorithm OIDs (RSASSA-PSS parameters). */
export const HASH_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.2.5', 'md5'],
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
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

export const OID_PKCS7_DATA = '1.2.840.113549.1.7.1';
export const OID_PKCS7_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const OID_PKCS7_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
