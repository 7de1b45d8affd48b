/**
 * A domain's revocation data: the CRLs of its sources (file://, s3://, http(s)://) loaded against its truststore,
 * refreshed on every reload and every refreshSeconds, and OCSP answers. Each source keeps its last good CRLs: a
 * fetch that fails, or brings a CRL that cannot be used (bad signature, issuer without cRLSign), changes nothing and
 * is reported, as a failed truststore load keeps the previous truststore.
 *
 * The pipeline's revocation stage (pipeline.ts) judges every request's certificate against what is in force at that
 * moment, so a revocation reaches keep-alive connections and resumed sessions on their next request.
 */
import { createHash } from 'node:crypto';
import type { Crl } from '../pki/crl.js';
import type { Cert } from '../pki/types.js';
import { parseCrlsOffLoop } from './crl-parse.js';
import {
  buildCrlSet,
  GOOD,
  pathRevocation,
  type CrlSet,
  type RevocationPolicy,
  type RevocationResult,
} from '../policy/revocation.js';
import type { Truststore } from '../trust/truststore.js';
import { ocspChecker, type OcspChecker } from '../trust/ocsp.js';
import { sourceFor } from '../trust/sources/index.js';
import type { S3Options } from '../trust/sources/s3.js';
import type { RevocationConfig } from './config.js';
import type { Runtime } from './context.js';
import type { Logger } from './log.js';
import { inc, type OcspTotals } from './metrics.js';
import type { DomainState } from './state.js';

/** What one configured CRL source last gave. */
export interface CrlSourceState {
  uri: string;
  /** The last good CRLs: what is in force from this source. */
  crls: readonly Crl[];
  /** The S3 object version or HTTP ETag of those CRLs. */
  version: string | null;
  /** When `crls` were fetched; null when this source never loaded. */
  loadedAt: Date | null;
  /** SHA-256 of the bytes `crls` were read from: an unchanged source is not parsed again. */
  digest: string | null;
  /** Why the last fetch was not taken (one line), or null when it was. */
  error: string | null;
  /** A CRL distribution point named by a certificate (crl.fromDistributionPoints), not a configured source. */
  discovered: boolean;
}

export interface DomainRevocation {
  policy: RevocationPolicy;
  config: RevocationConfig;
  /** Swapped whole by each refresh. */
  crls: CrlSet;
  sources: readonly CrlSourceState[];
  /** Date.now() after which the refresher fetches the sources again. */
  refreshDueAt: number;
  refreshing: boolean;
  /** Distribution points being fetched for the first time, by URL (concurrent requests share one fetch). */
  discovering: Map<string, Promise<void>>;
  /** The instance's OCSP checker for these settings, found on first use (see ocspCheckerFor). */
  ocsp: OcspChecker | null;
}

export interface CrlLoad {
  sources: CrlSourceState[];
  crls: CrlSet;
  /** One line per source that failed and kept its previous CRLs (or has none). */
  errors: string[];
  /** CRLs loaded but not used (of a CA the truststore does not hold). */
  warnings: string[];
}

/**
 * Fetch and check every source; a source that fails keeps `previous`'s CRLs for it. The CRL set is built against
 * `truststore` (a reload may have changed the CAs that sign CRLs).
 */
export async function loadCrlSources(o: {
  config: RevocationConfig;
  truststore: Truststore;
  previous: readonly CrlSourceState[] | null;
  s3: S3Options;
}): Promise<CrlLoad> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const sources = await Promise.all(
    sourceUris(o.config, o.truststore, o.previous).map(([uri, discovered]) =>
      loadSource({
        uri,
        discovered,
        before: o.previous?.find((s) => s.uri === uri) ?? null,
        config: o.config,
        truststore: o.truststore,
        s3: o.s3,
        errors,
        warnings,
      }),
    ),
  );
  return { sources, crls: crlSetOf(sources, o.truststore), errors, warnings };
}

/** The CRLs in force from every source's last good CRLs, checked against the truststore. */
function crlSetOf(sources: readonly CrlSourceState[], truststore: Truststore): CrlSet {
  return buildCrlSet(
    sources.flatMap((s) => s.crls.map((crl) => ({ crl, source: s.uri }))),
    truststore.certs,
  );
}

/** At most this many distribution points per domain: certificates choose them, and each is a fetch per refresh. */
export const MAX_DISCOVERED = 64;

/**
 * The sources to fetch, [uri, discovered]: the configured ones, then with crl.fromDistributionPoints the http(s)
 * distribution points of the truststore's CAs and those learned from clients before.
 */
function sourceUris(
  config: RevocationConfig,
  truststore: Truststore,
  previous: readonly CrlSourceState[] | null,
): Array<[string, boolean]> {
  const out = new Map<string, boolean>(config.crl.sources.map((u) => [u, false]));
  if (!config.crl.fromDistributionPoints) return [...out];
  const add = (u: string): void => {
    const discovered = [...out.values()].filter(Boolean).length;
    if (!out.has(u) && discovered < MAX_DISCOVERED && /^https?:\/\//.test(u)) out.set(u, true);
  };
  for (const ca of truststore.certs) for (const u of ca.info.crlDistributionPoints) add(u);
  for (const s of previous ?? []) if (s.discovered) add(s.uri);
  return [...out];
}

/** One source: fetched, parsed and checked against the truststore; on any failure the state `before` had. */
async function loadSource(o: {
  uri: string;
  discovered: boolean;
  before: CrlSourceState | null;
  config: RevocationConfig;
  truststore: Truststore;
  s3: S3Options;
  errors: string[];
  warnings: string[];
}): Promise<CrlSourceState> {
  const { uri, before } = o;
  const keep = (why: string): CrlSourceState => {
    o.errors.push(`${why}${before?.loadedAt ? ' (keeping the CRLs loaded before)' : ''}`);
    if (before) return { ...before, error: why };
    return { uri, crls: [], version: null, loadedAt: null, digest: null, error: why, discovered: o.discovered };
  };
  let fetched;
  try {
    fetched = await sourceFor(uri, undefined, { ...o.s3, timeoutMs: o.config.crl.timeoutMs }).fetch();
  } catch (e) {
    return keep((e as Error).message);
  }
  const digest = await digestOf(fetched.bytes);
  if (before?.digest === digest) return { ...before, version: fetched.version, loadedAt: new Date(), error: null };
  // A big CRL is parsed in a worker thread (its bytes are handed over): the event loop keeps serving meanwhile.
  const { crls, problems } = await parseCrlsOffLoop({ bytes: fetched.bytes, source: uri });
  if (problems.length > 0) return keep(problems[0]!);
  // Checked alone against the truststore first: a CRL that cannot be used must not displace a good one.
  const alone = buildCrlSet(
    crls.map((crl) => ({ crl, source: uri })),
    o.truststore.certs,
  );
  // A CRL of a CA this truststore does not hold is harmless beside usable ones (a bundle of every CA's CRLs);
  // alone, or any CRL that is wrong (signature, cRLSign, critical extension), refuses the whole fetch.
  const refused = [...alone.refused.values()];
  const wrong =
    refused.find((r) => r.code !== 'UNABLE_TO_GET_CRL_ISSUER') ?? (alone.inForce.length ? null : refused[0]);
  if (wrong) return keep(`${uri}: the CRL of ${wrong.issuer} cannot be used: ${wrong.why}`);
  for (const r of refused) o.warnings.push(`${uri}: the CRL of ${r.issuer} is not used: ${r.why}`);
  return { uri, crls, version: fetched.version, loadedAt: new Date(), digest, error: null, discovered: o.discovered };
}

/** SHA-256 of fetched bytes, 4 MiB at a time between turns of the event loop: 60 MB at once holds it ~50 ms. */
async function digestOf(bytes: Buffer): Promise<string> {
  const h = createHash('sha256');
  for (let at = 0; at < bytes.length; at += DIGEST_CHUNK) {
    if (at > 0) await new Promise<void>((r) => setImmediate(r));
    h.update(bytes.subarray(at, at + DIGEST_CHUNK));
  }
  return h.digest('hex');
}

const DIGEST_CHUNK = 4 << 20;

/**
 * With crl.fromDistributionPoints, the distribution points of certificates on a path that no CRL in force covers
 * yet, fetched once (concurrent requests share the fetch) and added to the domain's sources, which the refresher
 * then keeps fresh. Resolves when every such fetch has ended, well or not. Null when there is nothing to fetch.
 */
export function discoverCrls(o: {
  r: DomainRevocation;
  path: readonly Cert[];
  truststore: Truststore;
  s3: S3Options;
  log: Logger;
  domain: string;
}): Promise<void> | null {
  const { r } = o;
  if (!r.config.crl.fromDistributionPoints || r.policy.mode === 'ocsp') return null;
  const known = new Set(r.sources.map((s) => s.uri));
  let discovered = r.sources.filter((s) => s.discovered).length + r.discovering.size;
  const waits: Promise<void>[] = [];
  for (const cert of o.path)
    for (const uri of cert.info.crlDistributionPoints) {
      const pending = r.discovering.get(uri);
      if (pending) waits.push(pending);
      if (pending || known.has(uri) || !/^https?:\/\//.test(uri) || discovered >= MAX_DISCOVERED) continue;
      discovered++;
      const errors: string[] = [];
      const warnings: string[] = [];
      const fetch = loadSource({
        uri,
        discovered: true,
        before: null,
        config: r.config,
        truststore: o.truststore,
        s3: o.s3,
        errors,
        warnings,
      }).then((state) => {
        r.discovering.delete(uri);
        r.sources = [...r.sources, state];
        r.crls = crlSetOf(r.sources, o.truststore);
        if (state.error === null) o.log.info({ domain: o.domain, source: uri }, 'CRL loaded (distribution point)');
        logCrlLoad(o.log, o.domain, { sources: [state], crls: r.crls, errors, warnings });
      });
      r.discovering.set(uri, fetch);
      waits.push(fetch);
    }
  return waits.length === 0 ? null : Promise.all(waits).then(() => undefined);
}

export function revocationPolicy(c: RevocationConfig): RevocationPolicy {
  return { mode: c.mode, onUnavailable: c.onUnavailable, scope: c.scope };
}

/** A path's revocation status under the domain's mode (see pathRevocation). */
export function pathStatus(
  r: DomainRevocation,
  path: readonly Cert[],
  now: Date,
  ocsp: OcspChecker | null,
): RevocationResult | Promise<RevocationResult> {
  if (r.policy.mode === 'off') return GOOD;
  return pathRevocation({ mode: r.policy.mode, crls: r.crls, ocsp }, path, r.policy.scope, now);
}

/**
 * What the pipeline's revocation stage asks: the path's status now, after fetching the distribution points of
 * certificates no CRL covers yet (crl.fromDistributionPoints). A promise only while something is fetched.
 */
export function requestRevocation(
  rt: Runtime,
  d: DomainState,
  r: DomainRevocation,
  path: readonly Cert[],
): RevocationResult | Promise<RevocationResult> {
  const ocsp = ocspCheckerFor(rt.ocsp, r);
  const result = pathStatus(r, path, new Date(), ocsp);
  if (result instanceof Promise || result.status !== 'unavailable') return result;
  const s3 = rt.state.config.s3 ?? {};
  const fetched = discoverCrls({ r, path, truststore: d.verify.truststore, s3, log: rt.log, domain: d.name });
  return fetched === null ? result : fetched.then(() => pathStatus(r, path, new Date(), ocsp));
}

/** The instance's OCSP checker for a domain's settings: checkers (and their caches) outlive reloads. */
export function ocspCheckerFor(checkers: Map<string, OcspChecker>, r: DomainRevocation): OcspChecker | null {
  if (r.policy.mode === 'crl') return null;
  if (r.ocsp !== null) return r.ocsp;
  const o = r.config.ocsp;
  const key = `${o.responder ?? ''} ${o.timeoutMs} ${o.nonce}`;
  let c = checkers.get(key);
  if (!c) {
    c = ocspChecker({
      timeoutMs: o.timeoutMs,
      nonce: o.nonce,
      ...(o.responder !== undefined && { responder: o.responder }),
    });
    checkers.set(key, c);
  }
  r.ocsp = c;
  return c;
}

/** OCSP answers and requests over every checker of the instance, for /metrics. */
export function ocspTotals(checkers: ReadonlyMap<string, OcspChecker>): OcspTotals {
  const t: OcspTotals = { good: 0, revoked: 0, unknown: 0, error: 0, requests: 0, cacheHits: 0, entries: 0 };
  for (const c of checkers.values()) {
    const s = c.stats();
    t.good += s.good;
    t.revoked += s.revoked;
    t.unknown += s.unknown;
    t.error += s.error;
    t.requests += s.requests;
    t.cacheHits += s.cacheHits;
    t.entries += s.entries;
  }
  return t;
}

/** When CRLs in force expire within this, each refresh warns (and serve --check says so). */
export const EXPIRY_WARNING_MS = 24 * 3600_000;

/** Log what a load or refresh found: failed sources, CRLs expired or close to it. */
export function logCrlLoad(log: Logger, domain: string, load: CrlLoad, now = Date.now()): void {
  for (const e of load.errors) log.error({ domain, error: e }, 'CRL source not loaded');
  for (const w of load.warnings) log.warn({ domain, warning: w }, 'CRL not used');
  for (const t of load.crls.inForce) {
    const next = t.crl.nextUpdate?.getTime();
    if (next === undefined) continue;
    const fields = { domain, source: t.source, issuer: t.crl.issuer, nextUpdate: t.crl.nextUpdate!.toISOString() };
    if (next < now) log.error(fields, 'CRL expired (past its nextUpdate): its certificates follow onUnavailable');
    else if (next - now < EXPIRY_WARNING_MS) log.warn(fields, 'CRL expires soon: publish a new one before nextUpdate');
  }
}

/** What a revocation denial's log line carries besides the reason: when and why revoked, or why no answer. */
export function revocationLogFields(r: RevocationResult): Record<string, unknown> {
  if (r.status === 'revoked')
    return {
      revokedAt: r.revokedAt.toISOString(),
      revocationReason: r.reason,
      revocationSource: r.source,
      revokedSubject: r.level === 0 ? undefined : r.cert.info.subject,
    };
  if (r.status === 'unavailable') return { revocationUnavailable: r.why, revocationLevel: r.level };
  return {};
}

/**
 * Refreshes every domain's CRL sources when their refreshSeconds are up: one timer for the gateway instance, reading
 * the state now serving (a reload's new domains are picked up, replaced ones dropped).
 */
export function crlRefresher(rt: Runtime): { stop(): void } {
  const timer = setInterval(() => {
    const now = Date.now();
    for (const d of rt.state.domains.values()) {
      const r = d.revocation;
      if (!r || r.refreshing || now < r.refreshDueAt || r.sources.length === 0) continue;
      r.refreshing = true;
      void refreshDomain(rt, d, r).finally(() => {
        r.refreshing = false;
        r.refreshDueAt = Date.now() + r.config.crl.refreshSeconds * 1000;
      });
    }
  }, REFRESH_TICK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

const REFRESH_TICK_MS = 1000;

async function refreshDomain(rt: Runtime, d: DomainState, r: DomainRevocation): Promise<void> {
  try {
    const load = await loadCrlSources({
      config: r.config,
      truststore: d.verify.truststore,
      previous: r.sources,
      s3: rt.state.config.s3 ?? {},
    });
    const before = r.sources;
    r.crls = load.crls;
    r.sources = load.sources;
    for (const s of load.sources) {
      const old = before.find((b) => b.uri === s.uri);
      if (s.error === null && old?.digest !== s.digest)
        rt.log.info({ domain: d.name, source: s.uri, version: s.version, crls: s.crls.length }, 'CRL loaded');
    }
    if (load.errors.length > 0) inc(rt.metrics.crlRefreshErrors, d.name);
    logCrlLoad(rt.log, d.name, load);
  } catch (e) {
    rt.log.error({ domain: d.name, error: (e as Error).message }, 'CRL refresh failed');
  }
}
