/**
 * A defect is one thing wrong with a presented chain, found either by OpenSSL (its verify error) or by one of
 * API Gateway's rules that OpenSSL does not check. The verdict picks the defect that ranks first; its category
 * gives the deny reason.
 */
import { VERIFY_ERRORS } from './openssl-codes.js';
import { isDenyCode, OWN_DENY_CODES, type DenyCode, type DenyReason, type OwnDenyCode } from './verdict.js';

export type DefectCategory =
  'self-signed' | 'issuer' | 'insecure' | 'signature' | 'validity' | 'constraints' | 'too-long' | 'other';

/** Rank order: API Gateway's documented reasons first, then OpenSSL's, then our depth rule. */
const RANK: Record<DefectCategory, number> = {
  'self-signed': 0,
  issuer: 1,
  insecure: 2,
  signature: 3,
  validity: 4,
  constraints: 5,
  'too-long': 6,
  other: 7,
};

export interface Defect {
  /** OpenSSL's code (Node's err.code, or the X509_V_ERR_ name for ones Node calls UNSPECIFIED) or MTLSGATE_*. */
  code: DenyCode;
  category: DefectCategory;
  /** Index in the chain it concerns (0 = the client certificate). */
  depth: number;
  /** True when OpenSSL reported (or is predicted to report) it; false for API Gateway rules we check ourselves. */
  openssl: boolean;
}

/** Codes of the API Gateway rules OpenSSL does not check. */
export const OWN_CODES = {
  clientIntermediatesIgnored: 'MTLSGATE_CLIENT_INTERMEDIATES_IGNORED',
  insecureSignature: 'MTLSGATE_INSECURE_SIGNATURE',
  weakKey: 'MTLSGATE_WEAK_KEY',
  chainTooLong: 'MTLSGATE_CHAIN_TOO_LONG',
  noCertificate: 'MTLSGATE_NO_CERTIFICATE',
  unmodelledExtension: 'MTLSGATE_UNMODELLED_EXTENSION',
  parseError: 'MTLSGATE_PARSE_ERROR',
  revocationUnavailable: 'MTLSGATE_REVOCATION_UNAVAILABLE',
} as const satisfies Record<string, OwnDenyCode>;

const CATEGORY_BY_CODE: Partial<Record<DenyCode, DefectCategory>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'issuer',
  UNABLE_TO_GET_ISSUER_CERT: 'issuer',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'issuer',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'issuer',
  [OWN_CODES.clientIntermediatesIgnored]: 'issuer',
  CA_MD_TOO_WEAK: 'insecure',
  EE_KEY_TOO_SMALL: 'insecure',
  CA_KEY_TOO_SMALL: 'insecure',
  [OWN_CODES.insecureSignature]: 'insecure',
  [OWN_CODES.weakKey]: 'insecure',
  CERT_SIGNATURE_FAILURE: 'signature',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'signature',
  CERT_HAS_EXPIRED: 'validity',
  CERT_NOT_YET_VALID: 'validity',
  INVALID_CA: 'constraints',
  INVALID_PURPOSE: 'constraints',
  PATH_LENGTH_EXCEEDED: 'constraints',
  PERMITTED_VIOLATION: 'constraints',
  EXCLUDED_VIOLATION: 'constraints',
  SUBTREE_MINMAX: 'constraints',
  UNSUPPORTED_CONSTRAINT_TYPE: 'constraints',
  UNSUPPORTED_CONSTRAINT_SYNTAX: 'constraints',
  UNSUPPORTED_NAME_SYNTAX: 'constraints',
  [OWN_CODES.chainTooLong]: 'too-long',
  CERT_CHAIN_TOO_LONG: 'too-long',
};

export function categoryOf(code: DenyCode): DefectCategory {
  return CATEGORY_BY_CODE[code] ?? 'other';
}

const TEXT_BY_CODE = new Map<string, string>();
const CODE_BY_TEXT = new Map<string, string>();
for (const e of VERIFY_ERRORS) {
  TEXT_BY_CODE.set(e.name, e.text);
  CODE_BY_TEXT.set(e.text, e.name);
}

/** OpenSSL 3's text for a code; our own codes have texts of their own. */
export function opensslText(code: string): string | null {
  return TEXT_BY_CODE.get(code) ?? null;
}

/**
 * Node names only 28 verify codes; the rest arrive as UNSPECIFIED with OpenSSL's text. Turn those back into
 * OpenSSL's name (CA_MD_TOO_WEAK, EE_KEY_TOO_SMALL, ...) so one code means one condition.
 */
export function normalizeNodeCode(code: string | null | undefined, message: string | null | undefined): string | null {
  if (!code) return null;
  if (code !== 'UNSPECIFIED' || !message) return code;
  return CODE_BY_TEXT.get(message) ?? code;
}

/** The deny code for OpenSSL's refusal; a code no table knows is UNSPECIFIED, so logs carry only documented codes. */
export function denyCodeOf(code: string | null | undefined, message: string | null | undefined): DenyCode {
  const c = normalizeNodeCode(code, message);
  return c !== null && isDenyCode(c) ? c : 'UNSPECIFIED';
}

export function reasonFor(d: Defect): DenyReason {
  switch (d.category) {
    case 'self-signed':
      return 'self-signed certificate';
    case 'issuer':
      return 'Could not find issuer for certificate';
    case 'insecure':
      return 'Client cert using an insecure Signature Algorithm';
    case 'too-long':
      return 'certificate chain too long';
    default:
      return opensslText(d.code) ?? d.code;
  }
}

/** The reason the gateway gives with a code (for MTLSGATE_UNMODELLED_EXTENSION, with EXTENSION for the kind). */
export function reasonForCode(code: DenyCode): DenyReason {
  if (code in OWN_DENY_CODES) return OWN_DENY_CODES[code as OwnDenyCode];
  return reasonFor({ code, category: categoryOf(code), depth: 0, openssl: true });
}

/**
 * The defect that decides the verdict: best category; within one, OpenSSL's own word, then the one nearest the leaf.
 */
export function primaryDefect(defects: readonly Defect[]): Defect | null {
  let best: Defect | null = null;
  for (const d of defects) {
    if (best === null || compare(d, best) < 0) best = d;
  }
  return best;
}

function compare(a: Defect, b: Defect): number {
  return RANK[a.category] - RANK[b.category] || Number(b.openssl) - Number(a.openssl) || a.depth - b.depth;
}
