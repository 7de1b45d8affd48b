/**
 * The one verification verdict, shared by the gateway and the doctor. A deny reason is the text that follows
 * `Access denied. Reason: ` in the log line and (with exposeReason) the 403 body.
 */

/** API Gateway's documented reasons plus OpenSSL 3 texts for everything else. */
export type DenyReason =
  | 'self-signed certificate'
  | 'Could not find issuer for certificate'
  | 'Client cert using an insecure Signature Algorithm'
  | 'certificate has expired'
  | 'certificate is not yet valid'
  | 'No required SSL certificate was sent'
  | (string & {}); // OpenSSL's text for any other verify error, e.g. 'unsuitable certificate purpose'

export type Verdict =
  | { accepted: true; reason: null; code: null }
  | { accepted: false; reason: DenyReason | null; code: string | null };

export const ACCEPTED: Verdict = Object.freeze({ accepted: true, reason: null, code: null }) as Verdict;

export function denied(reason: DenyReason | null, code: string | null): Verdict {
  return { accepted: false, reason, code };
}

/** What OpenSSL said about the presented chain, as Node reports it on the server's TLS socket. */
export interface OpenSslResult {
  authorized: boolean;
  /** Node's err.code (e.g. DEPTH_ZERO_SELF_SIGNED_CERT), or the X509_V_ERR_ macro minus prefix for UNSPECIFIED ones. */
  code: string | null;
  /** OpenSSL's text. */
  message: string | null;
}
