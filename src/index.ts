/** mtlsgate as a library: the certificate toolkit, the verification policy and the doctor. */
export type * from './pki/types.js';
export type { Finding, FindingId, FindingSource, Severity } from './report/finding.js';
export type { Verdict, DenyCode, DenyReason, OpenSslResult } from './policy/verdict.js';
export { UserError, type CliErrorCode } from './errors.js';
