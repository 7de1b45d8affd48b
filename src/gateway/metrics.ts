/**
 * The gateway instance's counters for the admin /metrics endpoint (rendered by metrics-render.ts), modelled on
 * Envoy's ssl.fail_verify_* counters and NGINX Plus' ssl.verify_failures. Labels are configured names or values from
 * fixed sets only, never what a client chose (its serial, subject or server name): the number of series is bounded
 * by the config. The request path records through pre-built label objects (RequestLabels, made with the state), so
 * a request costs a map lookup and a few increments.
 */
import type { DenyCode } from '../policy/verdict.js';

export interface Metrics {
  /** Domain -> status -> count. Keyed without building a string per request. */
  requests: Map<string, Map<number, number>>;
  /** Per route (RequestLabels.key): status classes and the duration histogram. */
  routes: Map<string, RouteSeries>;
  denials: Map<string, number>; // `${domain} ${code}`
  /** Domain -> counts by VERIFY_FAILURE_REASONS index. */
  verifyFailures: Map<string, number[]>;
  /** Domain -> counts by HANDSHAKE_SERIES index. */
  handshakes: Map<string, number[]>;
  /** Domain -> counts by BACKEND_ERROR_KINDS index. */
  backendErrors: Map<string, number[]>;
  handshakeErrors: number;
  /** Connections closed at once because limits.maxConnections were open. */
  connectionsDropped: number;
  /** Connections closed at once because limits.maxConnectionsPerAddress were open from their address. */
  connectionsDroppedPerAddress: number;
  reloads: { ok: number; failed: number };
  /** Unix seconds of the last load in which every domain loaded (the start counts); 0: never. */
  lastReloadSuccess: number;
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
  /** Answers in the checkers' caches now (a gauge; each worker has its own caches, so they add up). */
  entries: number;
}

export function newMetrics(): Metrics {
  return {
    requests: new Map(),
    routes: new Map(),
    denials: new Map(),
    verifyFailures: new Map(),
    handshakes: new Map(),
    backendErrors: new Map(),
    handshakeErrors: 0,
    connectionsDropped: 0,
    connectionsDroppedPerAddress: 0,
    reloads: { ok: 0, failed: 0 },
    lastReloadSuccess: 0,
    truststoreErrors: new Map(),
    revocationUnavailableAllowed: new Map(),
    crlRefreshErrors: new Map(),
    ocsp: { good: 0, revoked: 0, unknown: 0, error: 0, requests: 0, cacheHits: 0, entries: 0 },
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

/** The route label of a request no base path mapping matched (or that was answered before routing). */
export const NO_ROUTE = '-';

/**
 * The labels of one request series: a domain and a route as configured (`/orders`, `/` for the empty base path),
 * made once per route when the state is built, so that recording a request builds no string.
 */
export interface RequestLabels {
  readonly key: string;
  readonly domain: string;
  readonly route: string;
}

export function requestLabels(domain: string, route: string): RequestLabels {
  return Object.freeze({ key: `${domain}\u0000${route}`, domain, route });
}

/** Requests that named no configured domain. */
export const NO_DOMAIN_LABELS = requestLabels(NO_DOMAIN, NO_ROUTE);

/** Upper bounds (seconds) of the request duration histogram's buckets; +Inf follows. Fixed: merged bucket-wise. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface RouteSeries {
  labels: RequestLabels;
  /** The domain's map in `requests`: one lookup finds both. */
  byStatus: Map<number, number>;
  /** Requests by STATUS_CLASSES index. */
  classes: number[];
  /** Requests per DURATION_BUCKETS bucket, then +Inf; not cumulative (the renderer adds up). */
  buckets: number[];
  /** Seconds, over every request counted. */
  sum: number;
}

function statusMap(m: Metrics, domain: string): Map<number, number> {
  let byStatus = m.requests.get(domain);
  if (!byStatus) m.requests.set(domain, (byStatus = new Map()));
  return byStatus;
}

function routeSeries(m: Metrics, labels: RequestLabels): RouteSeries {
  let s = m.routes.get(labels.key);
  if (s === undefined) {
    s = {
      labels,
      byStatus: statusMap(m, labels.domain),
      classes: zeros(STATUS_CLASSES.length),
      buckets: zeros(DURATION_BUCKETS.length + 1),
      sum: 0,
    };
    m.routes.set(labels.key, s);
  }
  return s;
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** A request answered: by domain and status, by route and status class, and its duration. */
export function recordRequest(m: Metrics, labels: RequestLabels, status: number, seconds: number): void {
  const s = m.routes.get(labels.key) ?? routeSeries(m, labels);
  s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
  const c = (status / 100) | 0;
  // Nothing answers outside 1xx-5xx; were it to, it is the gateway's failure.
  s.classes[c >= 1 && c <= 5 ? c - 1 : 4]!++;
  s.sum += seconds;
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  s.buckets[i]!++;
}

function bump(m: Map<string, number[]>, domain: string, i: number, size: number, n = 1): void {
  let a = m.get(domain);
  if (a === undefined) m.set(domain, (a = zeros(size)));
  a[i]! += n;
}

/** The reasons client certificate verification failures are counted under: a fixed set, whatever the code. */
export const VERIFY_FAILURE_REASONS = [
  'expired',
  'not_yet_valid',
  'self_signed',
  'unknown_issuer',
  'insecure_algorithm',
  'revoked',
  'revocation_unavailable',
  'not_allowed',
  'missing',
  'other',
] as const;
export type VerifyFailureReason = (typeof VERIFY_FAILURE_REASONS)[number];

/** The deny codes (policy/verdict.ts) each reason stands for; any other code counts as `other`. */
export const REASON_CODES: Readonly<Record<Exclude<VerifyFailureReason, 'other'>, readonly DenyCode[]>> = {
  expired: ['CERT_HAS_EXPIRED'],
  not_yet_valid: ['CERT_NOT_YET_VALID'],
  self_signed: ['DEPTH_ZERO_SELF_SIGNED_CERT'],
  unknown_issuer: [
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'MTLSGATE_CLIENT_INTERMEDIATES_IGNORED',
  ],
  insecure_algorithm: [
    'MTLSGATE_INSECURE_SIGNATURE',
    'MTLSGATE_WEAK_KEY',
    'EE_KEY_TOO_SMALL',
    'CA_KEY_TOO_SMALL',
    'CA_MD_TOO_WEAK',
  ],
  revoked: ['CERT_REVOKED'],
  revocation_unavailable: [
    'MTLSGATE_REVOCATION_UNAVAILABLE',
    'UNABLE_TO_GET_CRL',
    'UNABLE_TO_GET_CRL_ISSUER',
    'CRL_HAS_EXPIRED',
    'CRL_NOT_YET_VALID',
    'CRL_SIGNATURE_FAILURE',
    'UNHANDLED_CRITICAL_CRL_EXTENSION',
    'KEYUSAGE_NO_CRL_SIGN',
  ],
  not_allowed: ['MTLSGATE_NOT_ALLOWED'],
  missing: ['MTLSGATE_NO_CERTIFICATE'],
};

const OTHER_REASON = VERIFY_FAILURE_REASONS.indexOf('other');
const REASON_INDEX: ReadonlyMap<string, number> = new Map(
  Object.entries(REASON_CODES).flatMap(([reason, codes]) =>
    codes.map((code): [string, number] => [code, VERIFY_FAILURE_REASONS.indexOf(reason as VerifyFailureReason)]),
  ),
);

export function verifyFailureReason(code: string): VerifyFailureReason {
  return VERIFY_FAILURE_REASONS[REASON_INDEX.get(code) ?? OTHER_REASON]!;
}

/** A client certificate refused (or missing) at `domain` (configured, or NO_DOMAIN), by its deny code. */
export function countVerifyFailure(m: Metrics, domain: string, code: string): void {
  bump(m.verifyFailures, domain, REASON_INDEX.get(code) ?? OTHER_REASON, VERIFY_FAILURE_REASONS.length);
}

/** The handshake series: [result, resumed]. A failed handshake resumed nothing. */
export const HANDSHAKE_SERIES = [
  ['ok', 'false'],
  ['ok', 'true'],
  ['failed', 'false'],
] as const;

/** A TLS handshake ended, at `domain` (configured, from the SNI) or NO_DOMAIN. */
export function countHandshake(m: Metrics, domain: string, ok: boolean, resumed: boolean, n = 1): void {
  bump(m.handshakes, domain, ok ? (resumed ? 1 : 0) : 2, HANDSHAKE_SERIES.length, n);
}

/**
 * Why the gateway got no (complete) answer from a backend: connect (refused, unreachable), timeout (connect,
 * headers or body: answered 504), reset (the connection closed mid-exchange), protocol (an answer that is not
 * HTTP/1.1), lambda (a Lambda integration's handler failed), other.
 */
export const BACKEND_ERROR_KINDS = ['connect', 'timeout', 'reset', 'protocol', 'lambda', 'other'] as const;
export type BackendErrorKind = (typeof BACKEND_ERROR_KINDS)[number];

export function countBackendError(m: Metrics, domain: string, kind: BackendErrorKind): void {
  bump(m.backendErrors, domain, BACKEND_ERROR_KINDS.indexOf(kind), BACKEND_ERROR_KINDS.length);
}

/** Counters as plain data: what a worker thread posts to the main thread and what the admin renders from. */
export interface MetricsSnapshot {
  requests: [domain: string, status: number, count: number][];
  routes: { domain: string; route: string; classes: number[]; buckets: number[]; sum: number }[];
  denials: [domain: string, code: string, count: number][];
  verifyFailures: [domain: string, reason: string, count: number][];
  handshakes: [domain: string, result: string, resumed: string, count: number][];
  backendErrors: [domain: string, kind: string, count: number][];
  handshakeErrors: number;
  connectionsDropped: number;
  connectionsDroppedPerAddress: number;
  reloads: { ok: number; failed: number };
  lastReloadSuccess: number;
  truststoreErrors: [domain: string, count: number][];
  revocationUnavailableAllowed: [domain: string, count: number][];
  crlRefreshErrors: [domain: string, count: number][];
  ocsp: OcspTotals;
}

/** [domain, name, count] for every non-zero count of a domain -> counts-by-index map. */
function named(m: Map<string, number[]>, names: readonly string[]): [string, string, number][] {
  const out: [string, string, number][] = [];
  for (const [domain, counts] of m) counts.forEach((n, i) => n > 0 && out.push([domain, names[i]!, n]));
  return out;
}

export function snapshotMetrics(m: Metrics): MetricsSnapshot {
  const requests: MetricsSnapshot['requests'] = [];
  for (const [domain, byStatus] of m.requests) for (const [status, n] of byStatus) requests.push([domain, status, n]);
  const denials: MetricsSnapshot['denials'] = [];
  for (const [key, n] of m.denials) {
    const at = key.indexOf(' ');
    denials.push([key.slice(0, at), key.slice(at + 1), n]);
  }
  const handshakes: MetricsSnapshot['handshakes'] = [];
  for (const [domain, counts] of m.handshakes)
    counts.forEach((n, i) => n > 0 && handshakes.push([domain, ...HANDSHAKE_SERIES[i]!, n]));
  return {
    requests,
    routes: [...m.routes.values()].map((s) => ({
      domain: s.labels.domain,
      route: s.labels.route,
      classes: [...s.classes],
      buckets: [...s.buckets],
      sum: s.sum,
    })),
    denials,
    verifyFailures: named(m.verifyFailures, VERIFY_FAILURE_REASONS),
    handshakes,
    backendErrors: named(m.backendErrors, BACKEND_ERROR_KINDS),
    handshakeErrors: m.handshakeErrors,
    connectionsDropped: m.connectionsDropped,
    connectionsDroppedPerAddress: m.connectionsDroppedPerAddress,
    reloads: { ...m.reloads },
    lastReloadSuccess: m.lastReloadSuccess,
    truststoreErrors: [...m.truststoreErrors],
    revocationUnavailableAllowed: [...m.revocationUnavailableAllowed],
    crlRefreshErrors: [...m.crlRefreshErrors],
    ocsp: { ...m.ocsp },
  };
}

/**
 * Add a snapshot's counts into `m`: several workers' counters and histogram buckets add up, the last reload success
 * is the latest of theirs. Series keep the order they first appear in. A name this version does not know (a worker
 * of another version) counts as the set's last one (`other`).
 */
export function addMetrics(m: Metrics, s: MetricsSnapshot): void {
  for (const [domain, status, n] of s.requests) {
    const byStatus = statusMap(m, domain);
    byStatus.set(status, (byStatus.get(status) ?? 0) + n);
  }
  for (const r of s.routes) {
    const into = routeSeries(m, requestLabels(r.domain, r.route));
    r.classes.forEach((n, i) => i < into.classes.length && (into.classes[i]! += n));
    r.buckets.forEach((n, i) => i < into.buckets.length && (into.buckets[i]! += n));
    into.sum += r.sum;
  }
  for (const [domain, code, n] of s.denials) {
    const key = `${domain} ${code}`;
    m.denials.set(key, (m.denials.get(key) ?? 0) + n);
  }
  const at = (names: readonly string[], name: string): number => {
    const i = names.indexOf(name);
    return i === -1 ? names.length - 1 : i;
  };
  for (const [domain, reason, n] of s.verifyFailures)
    bump(m.verifyFailures, domain, at(VERIFY_FAILURE_REASONS, reason), VERIFY_FAILURE_REASONS.length, n);
  for (const [domain, result, resumed, n] of s.handshakes)
    countHandshake(m, domain, result === 'ok', resumed === 'true', n);
  for (const [domain, kind, n] of s.backendErrors)
    bump(m.backendErrors, domain, at(BACKEND_ERROR_KINDS, kind), BACKEND_ERROR_KINDS.length, n);
  m.handshakeErrors += s.handshakeErrors;
  m.connectionsDropped += s.connectionsDropped;
  m.connectionsDroppedPerAddress += s.connectionsDroppedPerAddress;
  m.reloads.ok += s.reloads.ok;
  m.reloads.failed += s.reloads.failed;
  m.lastReloadSuccess = Math.max(m.lastReloadSuccess, s.lastReloadSuccess);
  for (const [domain, n] of s.truststoreErrors) {
    m.truststoreErrors.set(domain, (m.truststoreErrors.get(domain) ?? 0) + n);
  }
  for (const [domain, n] of s.revocationUnavailableAllowed) {
    m.revocationUnavailableAllowed.set(domain, (m.revocationUnavailableAllowed.get(domain) ?? 0) + n);
  }
  for (const [domain, n] of s.crlRefreshErrors) {
    m.crlRefreshErrors.set(domain, (m.crlRefreshErrors.get(domain) ?? 0) + n);
  }
  for (const k of Object.keys(m.ocsp) as (keyof OcspTotals)[]) m.ocsp[k] += s.ocsp[k] ?? 0;
}
