/**
 * The one verification verdict, shared by the gateway and the doctor. A deny reason is the text that follows
 * `Access denied. Reason: ` in the log line and (with exposeReason) the 403 body; a deny code names the condition
 * in logs and metrics.
 */
import { VERIFY_ERRORS, type OpenSslCode } from './openssl-codes.js';

/** API Gateway's documented reasons plus OpenSSL 3 texts for everything else. */
export type DenyReason =
  | 'self-signed certificate'
  | 'Could not find issuer for certificate'
  | 'Client cert using an insecure Signature Algorithm'
  | 'certificate has expired'
  | 'certificate is not yet valid'
  | 'No required SSL certificate was sent'
  | (string & {}); // OpenSSL's text for any other verify error, e.g. 'unsuitable certificate purpose'

/**
 * mtlsgate's own deny codes, with the reason the gateway gives for each: API Gateway's rules that OpenSSL does not
 * check, and what stops a request before OpenSSL judges a chain. docs/errors.md explains each one.
 */
export const OWN_DENY_CODES = {
  MTLSGATE_NO_CERTIFICATE: 'No required SSL certificate was sent',
  MTLSGATE_CLIENT_INTERMEDIATES_IGNORED: 'Could not find issuer for certificate',
  MTLSGATE_INSECURE_SIGNATURE: 'Client cert using an insecure Signature Algorithm',
  MTLSGATE_WEAK_KEY: 'Client cert using an insecure Signature Algorithm',
  MTLSGATE_CHAIN_TOO_LONG: 'certificate chain too long',
  // EXTENSION is the kind found: name constraints, policy constraints or RFC 3779 resources.
  MTLSGATE_UNMODELLED_EXTENSION: "certificate chain uses EXTENSION, which only OpenSSL's own verification checks",
  MTLSGATE_PARSE_ERROR: 'certificate could not be parsed',
  MTLSGATE_REVOCATION_UNAVAILABLE: 'revocation status unavailable',
  MTLSGATE_NOT_ALLOWED: 'client certificate not allowed',
} as const satisfies Record<string, DenyReason>;

export type OwnDenyCode = keyof typeof OWN_DENY_CODES;

/** Every code a denial can carry: ours, or OpenSSL's verify code passed through (Node's UNSPECIFIED resolved). */
export type DenyCode = OwnDenyCode | OpenSslCode;

/** The deny codes in table order: ours, then OpenSSL's by number. */
export const DENY_CODES: readonly DenyCode[] = [
  ...(Object.keys(OWN_DENY_CODES) as OwnDenyCode[]),
  ...VERIFY_ERRORS.map((e) => e.name).filter((n): n is OpenSslCode => n !== 'OK'),
];

const KNOWN = new Set<string>(DENY_CODES);

export function isDenyCode(s: string): s is DenyCode {
  return KNOWN.has(s);
}

export type Verdict = { accepted: true } | Denied;
export interface Denied {
  accepted: false;
  reason: DenyReason;
  code: DenyCode;
}

export const ACCEPTED: Verdict = Object.freeze({ accepted: true });

export function denied(reason: DenyReason, code: DenyCode): Denied {
  return { accepted: false, reason, code };
}

/** The flat form of log lines: reason and code are null when accepted. */
export function verdictFields(v: Verdict): { accepted: boolean; reason: DenyReason | null; code: DenyCode | null } {
  return v.accepted ? { accepted: true, reason: null, code: null } : v;
}

/** What OpenSSL said about the presented chain, as Node reports it on the server's TLS socket. */
export interface OpenSslResult {
  authorized: boolean;
  /** Node's err.code (e.g. DEPTH_ZERO_SELF_SIGNED_CERT), or the X509_V_ERR_ macro minus prefix for UNSPECIFIED ones. */
  code: string | null;
  /** OpenSSL's text. */
  message: string | null;
}
