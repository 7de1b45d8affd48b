/**
 * mtlsgate as a library: the gateway (config in, a running instance out), the doctor's diagnose(), and the types
 * both report with. The CLI (bin/mtlsgate.js) is a thin layer over the same functions.
 */
export type * from './pki/types.js';
export type { Finding, FindingId, FindingSource, Severity } from './report/finding.js';
export type { Verdict, Denied, DenyCode, DenyReason, OpenSslResult } from './policy/verdict.js';
export { UserError, type CliErrorCode } from './errors.js';
export { loadConfig, parseConfig, type GatewayConfig, type DomainConfig } from './gateway/config.js';
export { makeLogger } from './gateway/log.js';
export { startGateway, GatewayStartError, type Gateway, type ReloadResult } from './gateway/server.js';
export type { DenyEvent, RequestEvent, ReloadEvent } from './gateway/events.js';
export { diagnose, type DiagnoseInput, type DiagnoseReport } from './doctor/diagnose.js';
