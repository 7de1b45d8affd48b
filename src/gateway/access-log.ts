/**
 * The access and deny log: the lines a request, a denial or a refusal writes, built from the request's context.
 * Field names are part of the contract (docs/config.md, the e2e suites read them).
 */
import type { ConnectionContext, RequestContext } from './context.js';
import type { Logger } from './log.js';
import type { DomainState, GatewayState } from './state.js';
import type { ConnectionVerdict } from './verify.js';
import { MAX_CA_NAMES_BYTES } from '../trust/truststore.js';
import { cutText } from '../report/text.js';
import { verdictFields } from '../policy/verdict.js';
import { casWithoutCrl } from '../policy/revocation.js';
import { logCrlLoad, type DomainRevocation } from './revocation.js';
import type { AccessLogFormat } from './access-format.js';
import { writeLine } from './log.js';

/**
 * A certificate field (subject, issuer, serial) as a log line carries it. Any client picks these, up to the tens of
 * kB a certificate may take, and they go into the lines of every request on its connection: longer ones are cut.
 */
const LOG_FIELD_MAX = 1024;
export function logField(s: string): string {
  return cutText(s, LOG_FIELD_MAX);
}

/**
 * The request log for a judged connection: a pino child whose fields (domain, client certificate, verdict) are
 * serialized once per connection and truststore generation, not on every request of a keep-alive connection.
 */
function requestLog(log: Logger, conn: ConnectionContext, cv: ConnectionVerdict, domain: string): Logger {
  let l = conn.requestLog;
  // One connection may be judged differently per route (allow-lists): the child follows the verdict in use.
  if (l === null || conn.requestLogFor !== cv) {
    const leaf = cv.client?.leaf.info;
    l = log.child({
      domain,
      client: leaf
        ? { subject: logField(leaf.subject), serial: logField(leaf.serial), fingerprint: leaf.fingerprintSha256 }
        : null,
      verdict: verdictFields(cv.verdict),
    });
    conn.requestLog = l;
    conn.requestLogFor = cv;
  }
  return l;
}

/**
 * One line per request, whatever answered it: logs.accessLogFormat's when set (written whatever logs.level says,
 * as API Gateway's access log is apart from its execution log), else the JSON record.
 */
export function logRequest(log: Logger, ctx: RequestContext, latencyMs: number, format: AccessLogFormat | null): void {
  if (format !== null) return writeLine(log, format.render(ctx, latencyMs));
  const cv = ctx.verdict;
  const d = ctx.domain;
  if (cv !== null && d !== undefined) {
    const l = requestLog(log, ctx.conn, cv, d.name);
    l.info({ requestId: ctx.requestId, method: ctx.method, path: ctx.url, status: ctx.status, latencyMs }, 'request');
  } else {
    const domain = d?.name ?? (ctx.conn.domainName || '-');
    const { requestId, method, url: path, status } = ctx;
    log.info({ requestId, domain, method, path, status, latencyMs, client: null, verdict: null }, 'request');
  }
}

/** The denial's own line: what API Gateway's access log says ($context.error.message), plus the certificate. */
export function logDenial(
  log: Logger,
  ctx: RequestContext,
  o: { domain: string; cv: ConnectionVerdict; reason: string; code: string; extra: Record<string, unknown> | null },
): void {
  const leaf = o.cv.client?.leaf.info;
  log.warn(
    {
      requestId: ctx.requestId,
      domain: o.domain,
      code: o.code,
      subject: leaf ? logField(leaf.subject) : null,
      issuer: leaf ? logField(leaf.issuer) : null,
      serial: leaf ? logField(leaf.serial) : null,
      fingerprint: leaf?.fingerprintSha256 ?? null,
      ...o.extra,
    },
    `Access denied. Reason: ${o.reason}`,
  );
}

/** A request refused before routing (400), with why. */
export function logRefusal(log: Logger, ctx: RequestContext, domain: string, reason: string): void {
  log.info({ requestId: ctx.requestId, domain, reason }, 'request refused');
}

/** A connection ended at its handshake because no certificate came (noCertificate: handshake). */
export function logNoCertificate(log: Logger, domain: string | null, remote: string | undefined, reason: string): void {
  log.info({ domain, remote, reason }, 'connection refused: no client certificate');
}

export function logTruststores(log: Logger, state: GatewayState, before: GatewayState | null): void {
  for (const d of state.domains.values()) {
    const prev = before?.domains.get(d.name);
    if (prev === d) continue; // kept from before: already logged
    if (prev?.verify.truststore !== d.verify.truststore) logTruststore(log, d);
    if (d.revocation) logRevocation(log, d, d.revocation);
  }
}

function logTruststore(log: Logger, d: DomainState): void {
  const truststore = d.config.mutualTls.truststoreUri;
  const loaded = { domain: d.name, truststore, version: d.truststoreVersion, certificates: d.truststoreCertificates };
  log.info(loaded, 'truststore loaded');
  if (d.verify.oracle === 'model') {
    log.warn(
      { domain: d.name, certificates: d.truststoreCertificates, caNamesBytes: d.verify.truststore.caNamesBytes },
      `truststore too large to name in the TLS handshake (CA names over ${MAX_CA_NAMES_BYTES} bytes): ` +
        "clients are not told which CAs are trusted, and mtlsgate's policy verifies their chains itself",
    );
  }
  for (const w of d.truststoreWarnings) log.warn({ domain: d.name, id: w.id }, `truststore warning: ${w.title}`);
}

function logRevocation(log: Logger, d: DomainState, r: DomainRevocation): void {
  const domain = d.name;
  const cas = d.verify.truststore.certs;
  const { mode, scope, onUnavailable } = r.policy;
  log.info(
    { domain, mode, scope, onUnavailable, sources: r.sources.length, crls: r.crls.inForce.length },
    'revocation',
  );
  logCrlLoad(log, domain, {
    sources: [...r.sources],
    crls: r.crls,
    errors: d.revocationErrors,
    warnings: d.revocationWarnings,
  });
  if (mode === 'crl' && !r.config.crl.fromDistributionPoints) {
    for (const ca of casWithoutCrl(r.crls, cas, scope))
      log.warn(
        { domain, ca: logField(ca.info.subject) },
        `no CRL from CA ${logField(ca.info.subject)}: certificates it issued get no revocation answer (onUnavailable: ${onUnavailable})`,
      );
  }
}
