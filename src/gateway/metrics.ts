import type { DomainSummary } from './admin.js';

/**
 * Counters for the admin /metrics endpoint (Prometheus text format), modelled on Envoy's ssl.fail_verify_* counters.
 */
export interface Metrics {
  /** Domain -> status -> count. Keyed without building a string per request. */
  requests: Map<string, Map<number, number>>;
  denials: Map<string, number>; // `${domain} ${code}`
  handshakeErrors: number;
  /** Connections closed at once because limits.maxConnections were open. */
  connectionsDropped: number;
  /** Connections closed at once because limits.maxConnectionsPerAddress were open from their address. */
  connectionsDroppedPerAddress: number;
  reloads: { ok: number; failed: number };
  truststoreErrors: Map<string, number>; // domain
  /** Requests let through without a revocation answer (onUnavailable: allow), by domain. */
  revocationUnavailableAllowed: Map<string, number>;
  /** CRL refreshes where some source failed and kept its previous CRLs, by domain. */
  crlRefreshErrors: Map<string, number>;
  /** OCSP answers by result and requests sent, over the instance's checkers (read from them at each snapshot). */
  ocsp: OcspTotals;
}

export interface OcspTotals {
  good: number;
  revoked: number;
  unknown: number;
  error: number;
  requests: number;
  cacheHits: number;
}

export function newMetrics(): Metrics {
  return {
    requests: new Map(),
    denials: new Map(),
    handshakeErrors: 0,
    connectionsDropped: 0,
    connectionsDroppedPerAddress: 0,
    reloads: { ok: 0, failed: 0 },
    truststoreErrors: new Map(),
    revocationUnavailableAllowed: new Map(),
    crlRefreshErrors: new Map(),
    ocsp: { good: 0, revoked: 0, unknown: 0, error: 0, requests: 0, cacheHits: 0 },
  };
}

export function inc(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/**
 * A request for no configured domain (its Host named none, on a resumed TLS 1.2 session) is counted under this
 * label: the name it asked for is the client's choice, and a metrics label must not be (one series per name sent).
 */
export const NO_DOMAIN = '-';

/** `domain` must be a configured domain's name or NO_DOMAIN. */
export function countRequest(m: Metrics, domain: string, status: number): void {
  let byStatus = m.requests.get(domain);
  if (!byStatus) m.requests.set(domain, (byStatus = new Map()));
  byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
}

/** Counters as plain data: what a worker sends its primary (over IPC, as JSON) and what the admin renders from. */
export interface MetricsSnapshot {
  requests: [domain: string, status: number, count: number][];
  denials: [domain: string, code: string, count: number][];
  handshakeErrors: number;
  connectionsDropped: number;
  connectionsDroppedPerAddress: number;
  reloads: { ok: number; failed: number };
  truststoreErrors: [domain: string, count: number][];
  revocationUnavailableAllowed: [domain: string, count: number][];
  crlRefreshErrors: [domain: string, count: number][];
  ocsp: OcspTotals;
}

export function snapshotMetrics(m: Metrics): MetricsSnapshot {
  const requests: MetricsSnapshot['requests'] = [];
  for (const [domain, byStatus] of m.requests) for (const [status, n] of byStatus) requests.push([domain, status, n]);
  const denials: MetricsSnapshot['denials'] = [];
  for (const [key, n] of m.denials) {
    const at = key.indexOf(' ');
    denials.push([key.slice(0, at), key.slice(at + 1), n]);
  }
  return {
    requests,
    denials,
    handshakeErrors: m.handshakeErrors,
    connectionsDropped: m.connectionsDropped,
    connectionsDroppedPerAddress: m.connectionsDroppedPerAddress,
    reloads: { ...m.reloads },
    truststoreErrors: [...m.truststoreErrors],
    revocationUnavailableAllowed: [...m.revocationUnavailableAllowed],
    crlRefreshErrors: [...m.crlRefreshErrors],
    ocsp: { ...m.ocsp },
  };
}

/** Add a snapshot's counts into `m` (several workers' add up; series keep the order they first appear in). */
export function addMetrics(m: Metrics, s: MetricsSnapshot): void {
  for (const [domain, status, n] of s.requests) {
    let byStatus = m.requests.get(domain);
    if (!byStatus) m.requests.set(domain, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + n);
  }
  for (const [domain, code, n] of s.denials) {
    const key = `${domain} ${code}`;
    m.denials.set(key, (m.denials.get(key) ?? 0) + n);
  }
  m.handshakeErrors += s.handshakeErrors;
  m.connectionsDropped += s.connectionsDropped;
  m.connectionsDroppedPerAddress += s.connectionsDroppedPerAddress;
  m.reloads.ok += s.reloads.ok;
  m.reloads.failed += s.reloads.failed;
  for (const [domain, n] of s.truststoreErrors) {
    m.truststoreErrors.set(domain, (m.truststoreErrors.get(domain) ?? 0) + n);
  }
  for (const [domain, n] of s.revocationUnavailableAllowed) {
    m.revocationUnavailableAllowed.set(domain, (m.revocationUnavailableAllowed.get(domain) ?? 0) + n);
  }
  for (const [domain, n] of s.crlRefreshErrors) {
    m.crlRefreshErrors.set(domain, (m.crlRefreshErrors.get(domain) ?? 0) + n);
  }
  for (const k of Object.keys(m.ocsp) as (keyof OcspTotals)[]) m.ocsp[k] += s.ocsp[k];
}

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** ready: every domain serves; degraded: the last load of some domain failed and it serves its previous state. */
export function renderMetrics(
  m: Metrics,
  ready: boolean,
  degraded: boolean,
  domains: readonly DomainSummary[] = [],
): string {
  const lines: string[] = [];
  lines.push('# TYPE mtlsgate_requests_total counter');
  for (const [domain, byStatus] of m.requests) {
    for (const [status, v] of byStatus)
      lines.push(`mtlsgate_requests_total{domain="${label(domain)}",status="${status}"} ${v}`);
  }
  lines.push('# TYPE mtlsgate_denials_total counter');
  for (const [k, v] of m.denials) {
    const at = k.indexOf(' ');
    lines.push(`mtlsgate_denials_total{domain="${label(k.slice(0, at))}",code="${label(k.slice(at + 1))}"} ${v}`);
  }
  lines.push('# TYPE mtlsgate_handshake_errors_total counter', `mtlsgate_handshake_errors_total ${m.handshakeErrors}`);
  lines.push(
    '# TYPE mtlsgate_connections_dropped_total counter',
    `mtlsgate_connections_dropped_total ${m.connectionsDropped}`,
  );
  lines.push(
    '# TYPE mtlsgate_connections_dropped_per_address_total counter',
    `mtlsgate_connections_dropped_per_address_total ${m.connectionsDroppedPerAddress}`,
  );
  lines.push(
    '# TYPE mtlsgate_reloads_total counter',
    `mtlsgate_reloads_total{result="ok"} ${m.reloads.ok}`,
    `mtlsgate_reloads_total{result="failed"} ${m.reloads.failed}`,
  );
  lines.push('# TYPE mtlsgate_truststore_errors_total counter');
  for (const [k, v] of m.truststoreErrors) lines.push(`mtlsgate_truststore_errors_total{domain="${label(k)}"} ${v}`);
  lines.push('# TYPE mtlsgate_revocation_unavailable_allowed_total counter');
  for (const [k, v] of m.revocationUnavailableAllowed)
    lines.push(`mtlsgate_revocation_unavailable_allowed_total{domain="${label(k)}"} ${v}`);
  lines.push('# TYPE mtlsgate_crl_refresh_errors_total counter');
  for (const [k, v] of m.crlRefreshErrors) lines.push(`mtlsgate_crl_refresh_errors_total{domain="${label(k)}"} ${v}`);
  lines.push(...crlGauges(domains));
  lines.push('# TYPE mtlsgate_ocsp_answers_total counter');
  for (const result of ['good', 'revoked', 'unknown', 'error'] as const)
    lines.push(`mtlsgate_ocsp_answers_total{result="${result}"} ${m.ocsp[result]}`);
  lines.push('# TYPE mtlsgate_ocsp_requests_total counter', `mtlsgate_ocsp_requests_total ${m.ocsp.requests}`);
  lines.push('# TYPE mtlsgate_ocsp_cache_hits_total counter', `mtlsgate_ocsp_cache_hits_total ${m.ocsp.cacheHits}`);
  lines.push('# TYPE mtlsgate_ready gauge', `mtlsgate_ready ${ready ? 1 : 0}`);
  lines.push('# TYPE mtlsgate_degraded gauge', `mtlsgate_degraded ${degraded ? 1 : 0}`);
  return lines.join('\n') + '\n';
}

const seconds = (iso: string): string => String(Date.parse(iso) / 1000);

/** Per CRL in force and per source (every worker loads the same sources: one worker's view is the gateway's). */
function crlGauges(domains: readonly DomainSummary[]): string[] {
  const next = ['# TYPE mtlsgate_crl_next_update_timestamp_seconds gauge'];
  const thisUpdate = ['# TYPE mtlsgate_crl_this_update_timestamp_seconds gauge'];
  const loaded = ['# TYPE mtlsgate_crl_source_loaded_timestamp_seconds gauge'];
  const up = ['# TYPE mtlsgate_crl_source_up gauge'];
  for (const d of domains) {
    if (!d.revocation) continue;
    const dom = label(d.domainName);
    for (const c of d.revocation.crls) {
      const l = `domain="${dom}",source="${label(c.source)}",issuer="${label(c.issuer)}"`;
      thisUpdate.push(`mtlsgate_crl_this_update_timestamp_seconds{${l}} ${seconds(c.thisUpdate)}`);
      if (c.nextUpdate) next.push(`mtlsgate_crl_next_update_timestamp_seconds{${l}} ${seconds(c.nextUpdate)}`);
    }
    for (const s of d.revocation.sources) {
      const l = `domain="${dom}",source="${label(s.uri)}"`;
      if (s.loadedAt) loaded.push(`mtlsgate_crl_source_loaded_timestamp_seconds{${l}} ${seconds(s.loadedAt)}`);
      up.push(`mtlsgate_crl_source_up{${l}} ${s.error === null ? 1 : 0}`);
    }
  }
  return [...next, ...thisUpdate, ...loaded, ...up];
}
