/**
 * API Gateway's rules for a client certificate, checked on the path built from the truststore alone
 * (docs: rest-api-mutual-tls, "Configuring your truststore"; KC api-gateway-mutual-tls-403-errors).
 * Every rule is also reported when OpenSSL would catch it, so that the doctor can list every problem at once
 * rather than only the last one OpenSSL hit.
 */
import type { Cert } from '../pki/types.js';
import type { Chain } from './chain.js';
import { timeValid } from './chain.js';
import { signatureVerifies } from '../pki/cert.js';
import { OWN_CODES, categoryOf as categoryFor, type Defect } from './defect.js';
import type { DenyCode } from './verdict.js';
import { derOid } from '../pki/der-write.js';

export interface PolicyOptions {
  /** API Gateway ignores intermediates the client sends; true lets them close the path (OpenSSL's own behaviour). */
  trustClientIntermediates: boolean;
  /** CA certificates allowed on the path, leaf not counted ("maximum chain length of four"). */
  maxCaCerts: number;
  minRsaBits: number;
  minEcBits: number;
}

export const DEFAULT_POLICY: Readonly<PolicyOptions> = Object.freeze({
  trustClientIntermediates: false,
  maxCaCerts: 4,
  minRsaBits: 2048,
  minEcBits: 256,
});

/** "SHA-256 or stronger"; EdDSA has no separate digest and is accepted. */
const SECURE_HASHES = new Set(['sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-384', 'sha3-512']);

export function insecureSignature(c: Cert): boolean {
  const { hash, name } = c.facts.signatureAlgorithm;
  if (hash === null) return !/ed25519|ed448/i.test(name);
  return !SECURE_HASHES.has(hash);
}

export function weakKey(c: Cert, opts: PolicyOptions = DEFAULT_POLICY): boolean {
  const k = c.facts.publicKey;
  switch (k.type) {
    case 'rsa':
    case 'rsa-pss':
      return k.bits < opts.minRsaBits;
    case 'ec':
      return k.bits < opts.minEcBits;
    case 'ed25519':
    case 'ed448':
      return false;
    default:
      return true; // DSA and unknown keys are not among API Gateway's supported algorithms
  }
}

/**
 * X509_check_ca: a key usage without keyCertSign rules a certificate out; otherwise basicConstraints decides,
 * and a certificate without basicConstraints but with keyCertSign still counts (OpenSSL's compatibility rule).
 */
export function isCa(c: Cert): boolean {
  const { basicConstraintsCa: ca, keyCertSign } = c.facts;
  if (keyCertSign === false) return false;
  if (ca !== null) return ca;
  return keyCertSign !== null;
}

/**
 * OpenSSL's sslclient purpose: EKU, when present, must list clientAuth (OpenSSL 3.0 does not take anyExtendedKeyUsage
 * for it); KU, when present, digitalSignature or keyAgreement.
 */
export function clientPurposeOk(c: Cert): boolean {
  const eku = c.info.extendedKeyUsage;
  if (eku !== null && !eku.includes('clientAuth')) return false;
  const ku = c.info.keyUsage;
  if (ku !== null && !ku.includes('digitalSignature') && !ku.includes('keyAgreement')) return false;
  return true;
}

/** OpenSSL's purpose for an issuer (check_ssl_ca): it must be a CA, and its EKU, if any, must allow the purpose. */
export function caPurposeOk(c: Cert, purpose: Purpose = 'sslclient'): boolean {
  const eku = c.info.extendedKeyUsage;
  const want = purpose === 'sslclient' ? 'clientAuth' : 'serverAuth';
  return isCa(c) && (eku === null || eku.includes(want));
}

/** OpenSSL's sslserver purpose for a leaf: EKU serverAuth; KU digitalSignature, keyEncipherment or keyAgreement. */
export function serverPurposeOk(c: Cert): boolean {
  const eku = c.info.extendedKeyUsage;
  if (eku !== null && !eku.includes('serverAuth')) return false;
  const ku = c.info.keyUsage;
  if (ku !== null && !['digitalSignature', 'keyEncipherment', 'keyAgreement'].some((u) => ku.includes(u))) return false;
  return true;
}

/** Which end of a TLS connection the leaf authenticates: the gateway checks clients; the limbo suite checks servers. */
export type Purpose = 'sslclient' | 'sslserver';

/** The OpenSSL code for a chain that does not reach a trusted root (x509_vfy.c build_chain's final error). */
export function unanchoredCode(chain: Chain): DenyCode | null {
  switch (chain.end) {
    case 'anchored':
      return null;
    case 'self-signed-untrusted':
      return chain.certs.length === 1 ? 'DEPTH_ZERO_SELF_SIGNED_CERT' : 'SELF_SIGNED_CERT_IN_CHAIN';
    case 'root-missing':
      return 'UNABLE_TO_GET_ISSUER_CERT';
    case 'issuer-missing':
      return chain.certs.length === 1 ? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' : 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY';
  }
}

/**
 * Everything wrong with `chain` (the path from the truststore) under API Gateway's rules.
 * `opensslChain` is the path OpenSSL builds with the client's intermediates, to tell "your intermediates were ignored"
 * from "the issuer is nowhere".
 */
export function ruleDefects(chain: Chain, opensslChain: Chain, opts: PolicyOptions, now: Date): Defect[] {
  const out: Defect[] = [];
  const own = (code: DenyCode, depth: number): void => {
    out.push({ code, category: categoryFor(code), depth, openssl: false });
  };
  const top = chain.certs.length - 1;
  const missing = unanchoredCode(chain);
  if (missing !== null) {
    const ignored = missing !== 'DEPTH_ZERO_SELF_SIGNED_CERT' && opensslChain.end === 'anchored';
    own(ignored ? OWN_CODES.clientIntermediatesIgnored : missing, top);
  }
  chain.certs.forEach((c, i) => {
    if (insecureSignature(c)) own(OWN_CODES.insecureSignature, i);
    if (weakKey(c, opts)) own(OWN_CODES.weakKey, i);
    const issuer = chain.certs[i + 1];
    if (issuer && !signatureVerifies(c, issuer.x509.publicKey)) own('CERT_SIGNATURE_FAILURE', i);
    if (!timeValid(c, now)) own(c.facts.notBeforeMs > now.getTime() ? 'CERT_NOT_YET_VALID' : 'CERT_HAS_EXPIRED', i);
  });
  constraintDefects(chain).forEach((d) => out.push({ ...d, openssl: false }));
  const caCount = chain.certs.length - 1;
  if (caCount > opts.maxCaCerts) own(OWN_CODES.chainTooLong, top);
  return out;
}

/** basicConstraints, key usage, purpose and path length, as OpenSSL's check_extensions walks them (leaf first). */
export function constraintDefects(chain: Chain, purpose: Purpose = 'sslclient'): Defect[] {
  const out: Defect[] = [];
  const n = chain.certs.length;
  let belowCas = 0; // non-self-issued CAs between the leaf and the current certificate
  for (let i = 0; i < n; i++) {
    const c = chain.certs[i]!;
    if (unhandledCriticalExtension(c) !== null) out.push(d('UNHANDLED_CRITICAL_EXTENSION', i));
    if (i > 0 && !isCa(c)) out.push(d('INVALID_CA', i));
    const leafOk = purpose === 'sslclient' ? clientPurposeOk : serverPurposeOk;
    // Trust anchors too: OpenSSL checks their purpose (X509_TRUST_NO_SS_COMPAT, no auxiliary trust).
    if (i === 0 ? !leafOk(c) : !caPurposeOk(c, purpose)) out.push(d('INVALID_PURPOSE', i));
    const pathLen = c.info.basicConstraints?.pathLength ?? null;
    if (i > 1 && pathLen !== null && belowCas > pathLen) out.push(d('PATH_LENGTH_EXCEEDED', i));
    if (i > 0 && c.x509.subject !== c.x509.issuer) belowCas++;
  }
  return out;
}

function d(code: DenyCode, depth: number): Defect {
  return { code, category: categoryFor(code), depth, openssl: true };
}

/**
 * The extensions OpenSSL's verify acts on (X509_supported_extension). A critical extension outside this list
 * fails verification with UNHANDLED_CRITICAL_EXTENSION, wherever on the path it is (authority and subject key
 * identifiers and authority information access included).
 */
const SUPPORTED_EXTENSIONS: ReadonlySet<string> = new Set([
  '2.16.840.1.113730.1.1', // Netscape cert type
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.31', // cRLDistributionPoints
  '2.5.29.37', // extKeyUsage
  '1.3.6.1.5.5.7.1.7', // RFC 3779 IP address blocks
  '1.3.6.1.5.5.7.1.8', // RFC 3779 AS identifiers
  '1.3.6.1.5.5.7.48.1.5', // OCSP no-check
  '2.5.29.36', // policyConstraints
  '1.3.6.1.5.5.7.1.14', // proxyCertInfo
  '2.5.29.30', // nameConstraints
  '2.5.29.33', // policyMappings
  '2.5.29.54', // inhibitAnyPolicy
]);

/** The OID of the first critical extension OpenSSL does not handle, or null. */
export function unhandledCriticalExtension(c: Cert): string | null {
  return c.extensionIds.find((e) => e.critical && !SUPPORTED_EXTENSIONS.has(e.oid))?.oid ?? null;
}

/**
 * Extensions OpenSSL's verify acts on that our model of it (openssl-model.ts) does not evaluate: policy
 * processing, RFC 3779 resources and proxy certificates (name constraints are modelled: name-constraints.ts).
 * Where the model stands in for a handshake (a resumed session, a truststore too large to name in the handshake)
 * a chain carrying one cannot be judged.
 */
const UNMODELLED_EXTENSIONS: ReadonlyMap<string, string> = new Map([
  ['2.5.29.36', 'policy constraints'],
  ['2.5.29.33', 'policy mappings'],
  ['2.5.29.54', 'inhibit any-policy'],
  ['1.3.6.1.5.5.7.1.7', 'RFC 3779 IP address blocks'],
  ['1.3.6.1.5.5.7.1.8', 'RFC 3779 AS identifiers'],
  ['1.3.6.1.5.5.7.1.14', 'proxy certificate info'],
]);

/** Each UNMODELLED_EXTENSIONS OID as a DER OBJECT IDENTIFIER (tag, length, content). */
const UNMODELLED_OID_TLVS: readonly Buffer[] = [...UNMODELLED_EXTENSIONS.keys()].map(derOid);

/** The name of the first extension of `c` that only a real handshake can judge (see above), or null. */
export function unmodelledExtension(c: Cert): string | null {
  // Asked of every CA of a large truststore, which almost never has one. A plain certificate (pki/plain.ts: its
  // plainSelfSigned is known) has only basic constraints, key usage and key ids; bytes that hold none of the OIDs
  // cannot have one either.
  if (c.plainSelfSigned !== null || !UNMODELLED_OID_TLVS.some((oid) => c.der.includes(oid))) return null;
  for (const e of c.extensionIds) {
    const name = UNMODELLED_EXTENSIONS.get(e.oid);
    if (name !== undefined) return name;
  }
  return null;
}
