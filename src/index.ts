/** mtlsgate as a library: the certificate toolkit, the verification policy and the doctor. */
export type * from './pki/types.js';
export type { Finding, Severity } from './report/finding.js';
export type { Verdict, DenyReason, OpenSslResult } from './policy/verdict.js';
export { UserError } from './errors.js';
