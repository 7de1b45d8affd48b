/**
 * The admin endpoints: /healthz, /readyz, /reload, /metrics, /domains. Each process describes itself as data (an
 * AdminSnapshot, a ReloadResult); `adminAnswer` merges what one or several processes said and renders it, so the
 * admin listener of a single process and the primary of a multi-worker gateway (cluster.ts) answer with the same
 * code. Bind the admin listener to loopback.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { addMetrics, newMetrics, snapshotMetrics } from './metrics.js';
import type { Metrics, MetricsSnapshot } from './metrics.js';
import { domainGauges, gaugesOncePerDomain, type DomainGauges } from './metrics-gauges.js';
import { renderMetrics } from './metrics-render.js';
import type { ReloadResult } from './reload.js';
import type { DomainLoadError, GatewayState } from './state.js';
import type { DomainRevocation } from './revocation.js';

export interface DomainReadiness {
  loaded: boolean;
  truststoreVersion: string | null;
  certificates: number;
  /** ISO 8601. */
  loadedAt: string | null;
  lastError: string | null;
}

export interface DomainSummary {
  domainName: string;
  truststoreUri: string;
  truststoreVersion: string | null;
  certificates: number;
  warnings: string[];
  basePaths: string[];
  /** Null when revocation is off. */
  revocation: RevocationSummary | null;
}

export interface RevocationSummary {
  mode: string;
  scope: string;
  onUnavailable: string;
  sources: Array<{
    uri: string;
    version: string | null;
    /** ISO 8601; null when it never loaded. */
    loadedAt: string | null;
    /** Why the last fetch was not taken, or null. */
    error: string | null;
  }>;
  /** The CRLs in force. */
  crls: Array<{
    source: string;
    issuer: string;
    thisUpdate: string;
    nextUpdate: string | null;
    crlNumber: string | null;
    entries: number;
  }>;
}

/** One process's admin data, as plain data (a worker sends it to its primary over IPC). */
export interface AdminSnapshot {
  metrics: MetricsSnapshot;
  /** Every configured domain serves with a loaded truststore. */
  ready: boolean;
  /** The last load of some domain failed and it serves its previous state. */
  degraded: boolean;
  readiness: Record<string, DomainReadiness>;
  domains: DomainSummary[];
  /** Certificate expiry and truststore gauges, per domain (rendered once per domain, never added up). */
  gauges: DomainGauges[];
}

export function adminSnapshot(
  state: GatewayState,
  lastErrors: readonly DomainLoadError[],
  metrics: Metrics,
): AdminSnapshot {
  const cfgDomains = state.config.domains;
  const readiness: Record<string, DomainReadiness> = {};
  for (const d of cfgDomains) {
    const s = state.domains.get(d.domainName);
    const err = lastErrors.find((e) => e.domain === d.domainName);
    readiness[d.domainName] = {
      loaded: s !== undefined,
      truststoreVersion: s?.truststoreVersion ?? null,
      certificates: s?.truststoreCertificates ?? 0,
      loadedAt: s?.loadedAt.toISOString() ?? null,
      lastError: err?.message ?? null,
    };
  }
  return {
    metrics: snapshotMetrics(metrics),
    ready: cfgDomains.every((d) => state.domains.has(d.domainName)),
    degraded: lastErrors.length > 0,
    readiness,
    domains: [...state.domains.values()].map((d) => ({
      domainName: d.name,
      truststoreUri: d.config.mutualTls.truststoreUri,
      truststoreVersion: d.truststoreVersion,
      certificates: d.truststoreCertificates,
      warnings: bounded(d.truststoreWarnings.map((w) => `${w.id}: ${w.title}`)),
      basePaths: d.routes.map((r) => r.basePath || '(none)'),
      revocation: d.revocation ? revocationSummary(d.revocation) : null,
    })),
    gauges: domainGauges(state),
  };
}

function revocationSummary(r: DomainRevocation): RevocationSummary {
  return {
    mode: r.policy.mode,
    scope: r.policy.scope,
    onUnavailable: r.policy.onUnavailable,
    sources: r.sources.map((s) => ({
      uri: s.uri,
      version: s.version,
      loadedAt: s.loadedAt?.toISOString() ?? null,
      error: s.error,
    })),
    crls: r.crls.inForce.slice(0, MAX_LIST).map((t) => ({
      source: t.source,
      issuer: t.crl.issuer,
      thisUpdate: t.crl.thisUpdate.toISOString(),
      nextUpdate: t.crl.nextUpdate?.toISOString() ?? null,
      crlNumber: t.crl.crlNumber?.toString() ?? null,
      entries: t.crl.revoked.size,
    })),
  };
}

/** Lists in admin answers stop at this many entries (and say how many more): every answer stays bounded. */
export const MAX_LIST = 100;

function bounded(list: string[]): string[] {
  return list.length <= MAX_LIST ? list : [...list.slice(0, MAX_LIST), `... and ${list.length - MAX_LIST} more`];
}

/**
 * Where the admin's answers come from: the gateway itself (one answer each), or every worker of a cluster (one
 * answer per worker that answered in time).
 */
export interface AdminSource {
  snapshots(): Promise<AdminSnapshot[]>;
  reloads(): Promise<ReloadResult[]>;
  /** How many workers should answer, or null for a single process (whose answers then name no worker count). */
  workers: number | null;
  /** True once the gateway drains (SIGTERM): /readyz answers 503 at once, so load balancers stop sending. */
  draining?: () => boolean;
}

export interface AdminAnswer {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

const json = (status: number, body: unknown): AdminAnswer => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(body, null, 2) + '\n',
});

export const ADMIN_ENDPOINTS = ['/healthz', '/readyz', 'POST /reload', '/metrics', '/domains'];

export async function adminAnswer(method: string, url: string, source: AdminSource): Promise<AdminAnswer> {
  const path = url.split('?')[0];
  const cluster = source.workers;
  const get = method === 'GET';
  if (path === '/reload') {
    if (method !== 'POST') return json(405, { message: 'use POST' });
    const results = await source.reloads();
    if (cluster === null) return json(results[0]!.ok ? 200 : 500, results[0]);
    if (results.length === 0) return NO_WORKER;
    const ok = results.length === cluster && results.every((r) => r.ok);
    const warnings = [...new Set(results.flatMap((r) => r.warnings))];
    return json(ok ? 200 : 500, { ok, workers: results.length, errors: results.flatMap((r) => r.errors), warnings });
  }
  const wanted = get && (path === '/healthz' || path === '/readyz' || path === '/metrics' || path === '/domains');
  if (!wanted) return json(404, { message: 'Not Found', endpoints: ADMIN_ENDPOINTS });
  // A single process's health needs no data; a cluster's says how many workers answered.
  if (path === '/healthz' && cluster === null) return json(200, { status: 'ok' });
  if (path === '/readyz' && source.draining?.()) return json(503, { ready: false, draining: true });
  const snaps = await source.snapshots();
  if (path === '/healthz') return json(200, { status: 'ok', workers: snaps.length });
  if (snaps.length === 0) return NO_WORKER;
  const first = snaps[0]!;
  const ready = snaps.every((s) => s.ready);
  const degraded = snaps.some((s) => s.degraded);
  if (path === '/readyz') {
    // Ready while every domain serves with a loaded truststore; a failed reload that kept the old one is reported,
    // not fatal. In a cluster, every worker must have answered.
    if (cluster === null) return json(ready ? 200 : 503, { ready, degraded, domains: first.readiness });
    const all = ready && snaps.length === cluster;
    return json(all ? 200 : 503, { ready: all, degraded, workers: snaps.length, domains: first.readiness });
  }
  if (path === '/metrics') {
    const m = newMetrics();
    for (const s of snaps) addMetrics(m, s.metrics);
    // Counters add up over workers; gauges read from the state are each domain's once.
    const gauges = gaugesOncePerDomain(snaps.map((s) => s.gauges));
    return {
      status: 200,
      contentType: 'text/plain; version=0.0.4',
      body: renderMetrics({ metrics: m, ready, degraded, domains: first.domains, gauges }),
    };
  }
  // /domains: every worker loads the same config.
  return json(200, first.domains);
}

const NO_WORKER = json(503, { message: 'no worker answered' });

export function writeAnswer(res: ServerResponse, a: AdminAnswer): void {
  res.writeHead(a.status, {
    ...a.headers,
    'content-type': a.contentType,
    'content-length': Buffer.byteLength(a.body),
  });
  res.end(a.body);
}

/**
 * With admin.token, every endpoint but the health probes (which orchestrators call without credentials) wants
 * `Authorization: Bearer TOKEN`, compared in constant time. Null when the request may go on.
 */
export function unauthorized(req: IncomingMessage, token: string | undefined): AdminAnswer | null {
  if (token === undefined) return null;
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz' || path === '/readyz') return null;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  if (got.length === want.length && timingSafeEqual(got, want)) return null;
  return {
    ...json(401, { message: 'Unauthorized' }),
    headers: { 'www-authenticate': 'Bearer realm="mtlsgate admin"' },
  };
}

export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  source: AdminSource,
  token: string | undefined,
): Promise<void> {
  writeAnswer(res, unauthorized(req, token) ?? (await adminAnswer(req.method ?? 'GET', req.url ?? '/', source)));
}
