/**
 * From a deny reason the server stated (`Access denied. Reason: X`) back to the verify codes that produce it and
 * the offline findings that explain them. The reason of each code is computed with the gateway's own `reasonFor`,
 * so the table cannot drift from what the gateway says.
 */
import { OWN_CODES, reasonForCode } from '../../policy/defect.js';
import type { DenyCode } from '../../policy/verdict.js';
import type { FindingId } from '../../report/finding.js';

/** Offline finding ids (src/doctor/checks) that explain each code. */
const FINDINGS_BY_CODE: Readonly<Partial<Record<DenyCode, readonly FindingId[]>>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: ['chain.self-signed-untrusted', 'chain.self-signed-modified'],
  PERMITTED_VIOLATION: ['chain.name-constraints'],
  EXCLUDED_VIOLATION: ['chain.name-constraints'],
  SUBTREE_MINMAX: ['chain.name-constraints'],
  UNSUPPORTED_CONSTRAINT_TYPE: ['chain.name-constraints'],
  UNSUPPORTED_NAME_SYNTAX: ['chain.name-constraints'],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ['chain.issuer-missing'],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ['chain.issuer-missing'],
  SELF_SIGNED_CERT_IN_CHAIN: ['chain.issuer-missing'],
  UNABLE_TO_GET_ISSUER_CERT: ['chain.root-missing'],
  [OWN_CODES.clientIntermediatesIgnored]: ['chain.client-intermediates-ignored'],
  CERT_SIGNATURE_FAILURE: ['chain.signature-invalid'],
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: ['chain.signature-invalid'],
  CERT_HAS_EXPIRED: ['cert.expired', 'chain.ca-expired'],
  CERT_NOT_YET_VALID: ['cert.not-yet-valid', 'chain.ca-not-yet-valid'],
  INVALID_CA: ['chain.not-a-ca'],
  INVALID_PURPOSE: ['cert.no-client-auth', 'cert.key-usage', 'chain.ca-purpose'],
  PATH_LENGTH_EXCEEDED: ['chain.path-length-exceeded'],
  [OWN_CODES.chainTooLong]: ['chain.too-long'],
  CERT_CHAIN_TOO_LONG: ['chain.too-long'],
  [OWN_CODES.insecureSignature]: ['cert.insecure-signature', 'chain.insecure-signature'],
  CA_MD_TOO_WEAK: ['cert.insecure-signature', 'chain.insecure-signature'],
  [OWN_CODES.weakKey]: ['cert.weak-key', 'chain.insecure-signature'],
  EE_KEY_TOO_SMALL: ['cert.weak-key'],
  CA_KEY_TOO_SMALL: ['chain.insecure-signature'],
  CERT_REVOKED: ['revocation.revoked'],
  UNABLE_TO_GET_CRL: ['revocation.no-crl', 'revocation.crl-refused'],
  CRL_HAS_EXPIRED: ['revocation.crl-expired'],
  CRL_NOT_YET_VALID: ['revocation.crl-not-yet-valid'],
  CRL_SIGNATURE_FAILURE: ['revocation.crl-refused'],
  KEYUSAGE_NO_CRL_SIGN: ['revocation.crl-refused'],
  UNHANDLED_CRITICAL_CRL_EXTENSION: ['revocation.crl-refused'],
  UNABLE_TO_GET_CRL_ISSUER: ['revocation.crl-refused'],
  // OCSP: no file the doctor reads explains it.
  [OWN_CODES.revocationUnavailable]: [],
};

/** Codes of a revocation denial: the certificate is revoked, or its status could not be had (onUnavailable: deny). */
export const REVOCATION_CODES: ReadonlySet<string> = new Set<DenyCode>([
  'CERT_REVOKED',
  'UNABLE_TO_GET_CRL',
  'CRL_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_SIGNATURE_FAILURE',
  'KEYUSAGE_NO_CRL_SIGN',
  'UNHANDLED_CRITICAL_CRL_EXTENSION',
  'UNABLE_TO_GET_CRL_ISSUER',
  OWN_CODES.revocationUnavailable,
]);

export interface ReasonExplanation {
  reason: string;
  /** Verify codes whose deny reason is this text. */
  codes: string[];
  /** Offline finding ids that explain it (empty when none does, e.g. no certificate sent). */
  findingIds: string[];
}

const BY_REASON = new Map<string, ReasonExplanation>();
for (const code of [...(Object.keys(FINDINGS_BY_CODE) as DenyCode[]), OWN_CODES.noCertificate]) {
  const reason = reasonForCode(code);
  const e = BY_REASON.get(reason.toLowerCase()) ?? { reason, codes: [], findingIds: [] };
  e.codes.push(code);
  for (const id of FINDINGS_BY_CODE[code] ?? []) if (!e.findingIds.includes(id)) e.findingIds.push(id);
  BY_REASON.set(reason.toLowerCase(), e);
}

/** The offline finding ids that explain a deny code (none for a code no file check explains). */
export function findingIdsForCode(code: string): readonly string[] {
  return FINDINGS_BY_CODE[code as DenyCode] ?? [];
}

/** What a stated reason means; unknown reasons come back with no codes and no findings. */
export function explainReason(reason: string): ReasonExplanation {
  return BY_REASON.get(reason.trim().toLowerCase()) ?? { reason, codes: [], findingIds: [] };
}

/** `Access denied. Reason: X` in a response body (JSON `message` or plain text); null when absent. */
export function statedReason(body: string): string | null {
  try {
    const j = JSON.parse(body) as unknown;
    if (j && typeof j === 'object' && typeof (j as { message?: unknown }).message === 'string') {
      const m = /^Access denied\. Reason: (.+)$/s.exec((j as { message: string }).message);
      if (m) return shortReason(m[1]!);
    }
  } catch {
    // not JSON: look in the text
  }
  const m = /Access denied\. Reason: ([^"\r\n<]+)/.exec(body);
  return m ? shortReason(m[1]!) : null;
}

/** Real reasons are one short sentence; a hostile server's 60 KB one is cut, as it lands in a finding's title. */
function shortReason(s: string): string {
  const r = printable(s).trim();
  return r.length > 300 ? `${r.slice(0, 300)}...` : r;
}

/** What a server sent, safe to print: control characters (terminal escapes included) become '.'. */
export function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '.');
}
