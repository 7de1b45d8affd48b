/**
 * The admin endpoints: /healthz, /readyz, /reload, /metrics, /domains, /certs, /denials, and the dashboard's files
 * under /ui (admin-ui.ts). Each process describes itself as data (an AdminSnapshot, a ReloadResult, the views of
 * admin-views.ts); `adminAnswer` merges what one or several processes said and renders it, so the admin listener of
 * a single process and the main thread of a multi-worker gateway (workers.ts) answer with the same code. Bind the admin
 * listener to loopback.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { addMetrics, newMetrics, snapshotMetrics } from './metrics.js';
import type { Metrics, MetricsSnapshot } from './metrics.js';
import type { LastReload, ReloadResult } from './reload.js';
import { isUiPath, uiAnswer, type UiAssets } from './admin-ui.js';
import {
  earliestExpiring,
  expiryOf,
  mergeDenials,
  parseCertsQuery,
  parseDenialsLimit,
  type CertsPage,
  type CertsQuery,
  type DenialView,
  type Expiry,
} from './admin-views.js';
import { domainGauges, gaugesOncePerDomain, type DomainGauges } from './metrics-gauges.js';
import { renderMetrics } from './metrics-render.js';
import type { DomainLoadError, GatewayState } from './state.js';
import type { DomainRevocation } from './revocation.js';
import type { Cert } from '../pki/types.js';

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
  /** The server certificate's expiry (null if it could not be parsed). */
  serverCertificate: Expiry | null;
  /** The truststore certificate that expires first. */
  truststoreEarliestExpiry: Expiry | null;
  /** ISO 8601: when the state serving now was built. */
  loadedAt: string;
  /** The last reload as it concerned this domain; null before the first reload. */
  reload: DomainReload | null;
}

export interface DomainReload {
  /** ISO 8601. */
  at: string;
  /** failed: the domain kept its previous state (or, with a config error, nothing was reloaded). */
  result: 'ok' | 'failed';
  error: string | null;
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

/** One gateway's admin data, as plain data (a worker thread posts it to the main thread). */
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
  lastReload: LastReload | null = null,
): AdminSnapshot {
  const now = new Date();
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
      serverCertificate: d.serverChain[0] ? expiryOf(d.serverChain[0], now) : null,
      truststoreEarliestExpiry: expiryIfAny(earliestExpiring(d.verify.truststore.certs), now),
      loadedAt: d.loadedAt.toISOString(),
      reload: lastReload === null ? null : domainReload(lastReload, d.name),
    })),
    gauges: domainGauges(state),
  };
}

const expiryIfAny = (c: Cert | null, now: Date): Expiry | null => (c === null ? null : expiryOf(c, now));

function domainReload(r: LastReload, domain: string): DomainReload {
  // A config error reloaded nothing: it concerns every domain.
  const err = r.errors.find((e) => e.domain === domain) ?? r.errors.find((e) => e.domain === '(config)');
  return { at: r.at.toISOString(), result: err ? 'failed' : 'ok', error: err?.message ?? null };
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
 * Where the admin's answers come from: the gateway itself (one answer each), or every worker thread of --workers (one
 * answer per worker that answered in time).
 */
export interface AdminSource {
  snapshots(): Promise<AdminSnapshot[]>;
  reloads(): Promise<ReloadResult[]>;
  /** A page of /certs, from one process: every worker loads the same config and truststores. Null: none answered. */
  certs(q: CertsQuery): Promise<CertsPage | null>;
  /** Each process's newest denials (each keeps its own ring). */
  denials(limit: number): Promise<DenialView[][]>;
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

export const ADMIN_ENDPOINTS = [
  '/healthz',
  '/readyz',
  'POST /reload',
  '/metrics',
  '/domains',
  '/certs',
  '/denials',
  '/ui',
];

export async function adminAnswer(method: string, url: string, source: AdminSource): Promise<AdminAnswer> {
  const path = url.split('?')[0];
  const workers = source.workers;
  const get = method === 'GET';
  if (path === '/reload') {
    if (method !== 'POST') return json(405, { message: 'use POST' });
    const results = await source.reloads();
    if (workers === null) return json(results[0]!.ok ? 200 : 500, results[0]);
    if (results.length === 0) return NO_WORKER;
    const ok = results.length === workers && results.every((r) => r.ok);
    const warnings = [...new Set(results.flatMap((r) => r.warnings))];
    return json(ok ? 200 : 500, { ok, workers: results.length, errors: results.flatMap((r) => r.errors), warnings });
  }
  if (get && (path === '/certs' || path === '/denials')) return viewAnswer(path, url, source);
  const wanted = get && (path === '/healthz' || path === '/readyz' || path === '/metrics' || path === '/domains');
  if (!wanted) return json(404, { message: 'Not Found', endpoints: ADMIN_ENDPOINTS });
  // A single gateway's health needs no data; with worker threads it says how many answered.
  if (path === '/healthz' && workers === null) return json(200, { status: 'ok' });
  if (path === '/readyz' && source.draining?.()) return json(503, { ready: false, draining: true });
  const snaps = await source.snapshots();
  if (path === '/healthz') return json(200, { status: 'ok', workers: snaps.length });
  if (snaps.length === 0) return NO_WORKER;
  const first = snaps[0]!;
  const ready = snaps.every((s) => s.ready);
  const degraded = snaps.some((s) => s.degraded);
  if (path === '/readyz') {
    // Ready while every domain serves with a loaded truststore; a failed reload that kept the old one is reported,
    // not fatal. With worker threads, every one must have answered.
    if (workers === null) return json(ready ? 200 : 503, { ready, degraded, domains: first.readiness });
    const all = ready && snaps.length === workers;
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
  // /domains: every worker loads the same config; a reload one of them failed is what its state says.
  return json(
    200,
    first.domains.map((d) => {
      const reloads = snaps.map((s) => s.domains.find((x) => x.domainName === d.domainName)?.reload);
      const failed = reloads.find((r) => r?.result === 'failed');
      return failed ? { ...d, reload: failed } : d;
    }),
  );
}

async function viewAnswer(path: string, url: string, source: AdminSource): Promise<AdminAnswer> {
  const params = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  if (path === '/certs') {
    const q = parseCertsQuery(params);
    if (typeof q === 'string') return json(400, { message: q });
    const page = await source.certs(q);
    return page === null ? NO_WORKER : json(200, page);
  }
  const limit = parseDenialsLimit(params);
  if (typeof limit === 'string') return json(400, { message: limit });
  const lists = await source.denials(limit);
  if (source.workers !== null && lists.length === 0) return NO_WORKER;
  const denials = mergeDenials(lists, limit);
  return json(200, { limit, ...(source.workers !== null && { workers: lists.length }), denials });
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
  const path = (req.url ?? '/').split('?')[0]!;
  // The dashboard's files hold no data (the page asks for the token and sends it with each data request).
  if (path === '/healthz' || path === '/readyz' || isUiPath(path)) return null;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  if (got.length === want.length && timingSafeEqual(got, want)) return null;
  return {
    ...json(401, { message: 'Unauthorized' }),
    headers: { 'www-authenticate': 'Bearer realm="mtlsgate admin"' },
  };
}

/** One admin request, in a single process or in the main thread of --workers. */
export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  o: { source: AdminSource; token: string | undefined; ui: UiAssets },
): Promise<void> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  writeAnswer(
    res,
    uiAnswer(method, url, req.headers, o.ui) ??
      unauthorized(req, o.token) ??
      (await adminAnswer(method, url, o.source)),
  );
}
