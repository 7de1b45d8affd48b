/**
 * /metrics in Prometheus' text format (0.0.4): the counters (metrics.ts, added up over workers), the gauges read from
 * the state (metrics-gauges.ts, once per domain) and the CRLs in force. docs/metrics.md documents every family; its
 * test renders one of everything and compares both ways.
 */
import type { DomainSummary } from './admin.js';
import type { DomainGauges } from './metrics-gauges.js';
import {
  BACKEND_ERROR_KINDS,
  DURATION_BUCKETS,
  HANDSHAKE_SERIES,
  STATUS_CLASSES,
  VERIFY_FAILURE_REASONS,
  type Metrics,
} from './metrics.js';

export interface RenderInput {
  metrics: Metrics;
  /** Every domain serves. */
  ready: boolean;
  /** The last load of some domain failed and it serves its previous state. */
  degraded: boolean;
  /** For the CRL gauges (every worker loads the same sources: one worker's view is the gateway's). */
  domains?: readonly DomainSummary[];
  /** Once per domain (gaugesOncePerDomain). */
  gauges?: readonly DomainGauges[];
}

/** One line of help per family: # HELP is what a Prometheus UI shows beside the name. */
const HELP: Record<string, string> = {
  mtlsgate_requests_total: 'Requests answered, by domain and HTTP status.',
  mtlsgate_route_requests_total: 'Requests answered, by domain, base path mapping and status class.',
  mtlsgate_request_duration_seconds: 'Time from a request arriving to the end of its answer, by base path mapping.',
  mtlsgate_denials_total: 'Requests refused for the client certificate or by an authorizer, by deny code.',
  mtlsgate_client_cert_verify_failures_total: 'Client certificates refused or missing, by reason.',
  mtlsgate_tls_handshakes_total: 'TLS handshakes, by result and whether the session was resumed.',
  mtlsgate_handshake_errors_total: 'TLS handshakes that failed.',
  mtlsgate_connections_dropped_total: 'Connections closed at once at limits.maxConnections.',
  mtlsgate_connections_dropped_per_address_total: 'Connections closed at once at limits.maxConnectionsPerAddress.',
  mtlsgate_backend_errors_total: 'Requests that got no complete answer from their backend, by kind.',
  mtlsgate_reloads_total: 'Reloads, by result.',
  mtlsgate_last_reload_success_timestamp_seconds: 'When every domain last loaded (start or reload).',
  mtlsgate_truststore_errors_total: 'Truststore loads that failed (the domain kept its previous state).',
  mtlsgate_revocation_unavailable_allowed_total: 'Requests let through without a revocation answer.',
  mtlsgate_crl_refresh_errors_total: 'CRL refreshes in which some source failed.',
  mtlsgate_crl_next_update_timestamp_seconds: 'nextUpdate of each CRL in force.',
  mtlsgate_crl_this_update_timestamp_seconds: 'thisUpdate of each CRL in force.',
  mtlsgate_crl_source_loaded_timestamp_seconds: 'When each CRL source last loaded.',
  mtlsgate_crl_source_up: '1 while the CRL source last loaded, 0 while it fails.',
  mtlsgate_ocsp_answers_total: 'OCSP answers handed to requests, by result.',
  mtlsgate_ocsp_requests_total: 'Requests sent to OCSP responders.',
  mtlsgate_ocsp_cache_hits_total: 'OCSP answers served from the cache.',
  mtlsgate_ocsp_cache_entries: 'OCSP answers cached now.',
  mtlsgate_truststore_cert_not_after_timestamp_seconds: 'notAfter of each truststore certificate.',
  mtlsgate_truststore_earliest_not_after_timestamp_seconds: 'The earliest notAfter in the truststore.',
  mtlsgate_truststore_certificates: 'Certificates in the truststore.',
  mtlsgate_truststore_loaded_timestamp_seconds: 'When the truststore in force loaded.',
  mtlsgate_truststore_info: 'The truststore in force: its version (the S3 object version; empty for files).',
  mtlsgate_server_cert_not_after_timestamp_seconds: "notAfter of the domain's server certificate.",
  mtlsgate_ready: '1 while every configured domain serves.',
  mtlsgate_degraded: '1 while the last load of some domain failed.',
};

export const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderMetrics(o: RenderInput): string {
  const m = o.metrics;
  const lines: string[] = [];
  const family = (name: string, type: string, samples: Iterable<string> = []): void => {
    lines.push(`# HELP ${name} ${HELP[name]}`, `# TYPE ${name} ${type}`, ...samples);
  };
  /** `name{domain="d",<k>="<names[i]>"} n` for every non-zero count of a domain -> counts-by-index map. */
  function* byIndex(name: string, map: Map<string, number[]>, k: string, names: readonly string[]) {
    for (const [domain, counts] of map)
      for (let i = 0; i < counts.length; i++)
        if (counts[i]! > 0) yield `${name}{domain="${label(domain)}",${k}="${names[i]}"} ${counts[i]}`;
  }
  function* perDomain(name: string, map: Map<string, number>) {
    for (const [domain, v] of map) yield `${name}{domain="${label(domain)}"} ${v}`;
  }

  family('mtlsgate_requests_total', 'counter', requests(m));
  family('mtlsgate_route_requests_total', 'counter', routeRequests(m));
  family('mtlsgate_request_duration_seconds', 'histogram', durations(m));
  family('mtlsgate_denials_total', 'counter', denials(m));
  family(
    'mtlsgate_client_cert_verify_failures_total',
    'counter',
    byIndex('mtlsgate_client_cert_verify_failures_total', m.verifyFailures, 'reason', VERIFY_FAILURE_REASONS),
  );
  family('mtlsgate_tls_handshakes_total', 'counter', handshakes(m));
  family('mtlsgate_handshake_errors_total', 'counter', [`mtlsgate_handshake_errors_total ${m.handshakeErrors}`]);
  family('mtlsgate_connections_dropped_total', 'counter', [
    `mtlsgate_connections_dropped_total ${m.connectionsDropped}`,
  ]);
  family('mtlsgate_connections_dropped_per_address_total', 'counter', [
    `mtlsgate_connections_dropped_per_address_total ${m.connectionsDroppedPerAddress}`,
  ]);
  family(
    'mtlsgate_backend_errors_total',
    'counter',
    byIndex('mtlsgate_backend_errors_total', m.backendErrors, 'kind', BACKEND_ERROR_KINDS),
  );
  family('mtlsgate_reloads_total', 'counter', [
    `mtlsgate_reloads_total{result="ok"} ${m.reloads.ok}`,
    `mtlsgate_reloads_total{result="failed"} ${m.reloads.failed}`,
  ]);
  family('mtlsgate_last_reload_success_timestamp_seconds', 'gauge', [
    `mtlsgate_last_reload_success_timestamp_seconds ${m.lastReloadSuccess}`,
  ]);
  family(
    'mtlsgate_truststore_errors_total',
    'counter',
    perDomain('mtlsgate_truststore_errors_total', m.truststoreErrors),
  );
  family(
    'mtlsgate_revocation_unavailable_allowed_total',
    'counter',
    perDomain('mtlsgate_revocation_unavailable_allowed_total', m.revocationUnavailableAllowed),
  );
  family(
    'mtlsgate_crl_refresh_errors_total',
    'counter',
    perDomain('mtlsgate_crl_refresh_errors_total', m.crlRefreshErrors),
  );
  crlGauges(o.domains ?? [], family);
  family(
    'mtlsgate_ocsp_answers_total',
    'counter',
    (['good', 'revoked', 'unknown', 'error'] as const).map(
      (r) => `mtlsgate_ocsp_answers_total{result="${r}"} ${m.ocsp[r]}`,
    ),
  );
  family('mtlsgate_ocsp_requests_total', 'counter', [`mtlsgate_ocsp_requests_total ${m.ocsp.requests}`]);
  family('mtlsgate_ocsp_cache_hits_total', 'counter', [`mtlsgate_ocsp_cache_hits_total ${m.ocsp.cacheHits}`]);
  family('mtlsgate_ocsp_cache_entries', 'gauge', [`mtlsgate_ocsp_cache_entries ${m.ocsp.entries}`]);
  stateGauges(o.gauges ?? [], family);
  family('mtlsgate_ready', 'gauge', [`mtlsgate_ready ${o.ready ? 1 : 0}`]);
  family('mtlsgate_degraded', 'gauge', [`mtlsgate_degraded ${o.degraded ? 1 : 0}`]);
  return lines.join('\n') + '\n';
}

type Family = (name: string, type: string, samples: Iterable<string>) => void;

function* requests(m: Metrics) {
  for (const [domain, byStatus] of m.requests)
    for (const [status, v] of byStatus)
      yield `mtlsgate_requests_total{domain="${label(domain)}",status="${status}"} ${v}`;
}

function* routeRequests(m: Metrics) {
  for (const s of m.routes.values()) {
    const l = `domain="${label(s.labels.domain)}",route="${label(s.labels.route)}"`;
    for (let i = 0; i < STATUS_CLASSES.length; i++)
      if (s.classes[i]! > 0)
        yield `mtlsgate_route_requests_total{${l},status_class="${STATUS_CLASSES[i]}"} ${s.classes[i]}`;
  }
}

/** Cumulative buckets, as Prometheus wants them; +Inf is the count. */
function* durations(m: Metrics) {
  const name = 'mtlsgate_request_duration_seconds';
  for (const s of m.routes.values()) {
    const l = `domain="${label(s.labels.domain)}",route="${label(s.labels.route)}"`;
    let total = 0;
    for (let i = 0; i < s.buckets.length; i++) {
      total += s.buckets[i]!;
      const le = i < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[i]) : '+Inf';
      yield `${name}_bucket{${l},le="${le}"} ${total}`;
    }
    yield `${name}_sum{${l}} ${s.sum}`;
    yield `${name}_count{${l}} ${total}`;
  }
}

function* denials(m: Metrics) {
  for (const [k, v] of m.denials) {
    const at = k.indexOf(' ');
    yield `mtlsgate_denials_total{domain="${label(k.slice(0, at))}",code="${label(k.slice(at + 1))}"} ${v}`;
  }
}

function* handshakes(m: Metrics) {
  for (const [domain, counts] of m.handshakes)
    for (let i = 0; i < counts.length; i++) {
      const [result, resumed] = HANDSHAKE_SERIES[i]!;
      if (counts[i]! > 0)
        yield `mtlsgate_tls_handshakes_total{domain="${label(domain)}",result="${result}",resumed="${resumed}"} ${counts[i]}`;
    }
}

const seconds = (iso: string): string => String(Date.parse(iso) / 1000);

/** Per CRL in force and per source. */
function crlGauges(domains: readonly DomainSummary[], family: Family): void {
  const next: string[] = [];
  const thisUpdate: string[] = [];
  const loaded: string[] = [];
  const up: string[] = [];
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
  family('mtlsgate_crl_next_update_timestamp_seconds', 'gauge', next);
  family('mtlsgate_crl_this_update_timestamp_seconds', 'gauge', thisUpdate);
  family('mtlsgate_crl_source_loaded_timestamp_seconds', 'gauge', loaded);
  family('mtlsgate_crl_source_up', 'gauge', up);
}

/** Truststore and server certificate gauges, one sample per domain (per certificate for the truststore's). */
function stateGauges(gauges: readonly DomainGauges[], family: Family): void {
  const notAfter: string[] = [];
  const earliest: string[] = [];
  const count: string[] = [];
  const loaded: string[] = [];
  const info: string[] = [];
  const server: string[] = [];
  for (const g of gauges) {
    const dom = `domain="${label(g.domain)}"`;
    let min = Infinity;
    for (const [subject, serial, t] of g.truststore) {
      notAfter.push(
        `mtlsgate_truststore_cert_not_after_timestamp_seconds{${dom},subject="${label(subject)}",serial="${label(serial)}"} ${t}`,
      );
      min = Math.min(min, t);
    }
    if (min !== Infinity) earliest.push(`mtlsgate_truststore_earliest_not_after_timestamp_seconds{${dom}} ${min}`);
    count.push(`mtlsgate_truststore_certificates{${dom}} ${g.truststoreCertificates}`);
    loaded.push(`mtlsgate_truststore_loaded_timestamp_seconds{${dom}} ${g.truststoreLoadedAt}`);
    info.push(`mtlsgate_truststore_info{${dom},version="${label(g.truststoreVersion ?? '')}"} 1`);
    if (g.serverCertNotAfter !== null)
      server.push(`mtlsgate_server_cert_not_after_timestamp_seconds{${dom}} ${g.serverCertNotAfter}`);
  }
  family('mtlsgate_truststore_cert_not_after_timestamp_seconds', 'gauge', notAfter);
  family('mtlsgate_truststore_earliest_not_after_timestamp_seconds', 'gauge', earliest);
  family('mtlsgate_truststore_certificates', 'gauge', count);
  family('mtlsgate_truststore_loaded_timestamp_seconds', 'gauge', loaded);
  family('mtlsgate_truststore_info', 'gauge', info);
  family('mtlsgate_server_cert_not_after_timestamp_seconds', 'gauge', server);
}
