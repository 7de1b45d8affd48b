/**
 * Reloads: one at a time, each building a whole new state and swapping it in; a domain whose build fails keeps
 * its previous state, and a failed load is retried with backoff until its source is back.
 */
import { resolve } from 'node:path';
import type { GatewayConfig } from './config.js';
import type { Runtime } from './context.js';
import { reloadChannel, type ReloadEvent } from './events.js';
import { logTruststores } from './access-log.js';
import { inc } from './metrics.js';
import { retainPools } from './proxy.js';
import { buildState, type DomainLoadError, type DomainState, type GatewayState, type Generations } from './state.js';
import { retireReplaced } from './lambda/state.js';

export interface ReloadResult {
  ok: boolean;
  errors: DomainLoadError[];
  warnings: string[];
}

/** Backoff for retrying a failed truststore load: 1 s, 2 s, 4 s, ... at most 60 s. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;

/** The last reload that finished: when, whether it was clean, and its errors (a config error names no domain). */
export interface LastReload {
  at: Date;
  ok: boolean;
  errors: DomainLoadError[];
}

export interface ReloadOptions {
  /**
   * Watched files whose content changed (absolute paths): only what reads them is built again, and the config is
   * read again only if it is one of them. Without: a full reload (SIGHUP, POST /reload).
   */
  changedFiles?: readonly string[];
}

export interface Reloader {
  reload(o?: ReloadOptions): Promise<ReloadResult>;
  /** Null until a reload has finished. */
  lastReload(): LastReload | null;
  /** The errors of the last reload (empty after a clean one): what /readyz reports. */
  lastErrors(): DomainLoadError[];
  /** No more retries (at shutdown). */
  stop(): void;
}

export interface ReloaderOptions {
  rt: Runtime;
  generations: Generations;
  /** Read again on each reload; null: reload the running config (its files and truststores). */
  configPath: string | null;
  /** After each swap, before the reload reports back: what else follows the new state (the listener's TLS). */
  afterSwap: () => Promise<void>;
}

export function reloader(o: ReloaderOptions): Reloader {
  const { rt } = o;
  let lastErrors: DomainLoadError[] = [];
  let last: LastReload | null = null;
  // One reload at a time: SIGHUP and POST /reload can overlap, and a slow one (an S3 fetch) finishing last would
  // swap in files older than those of the reload that started after it.
  let reloading: Promise<unknown> = Promise.resolve();
  let retryTimer: NodeJS.Timeout | null = null;
  let retryDelayMs = RETRY_MIN_MS;

  const reload = (ro: ReloadOptions = {}): Promise<ReloadResult> => {
    const once = (): Promise<ReloadResult> => reloadOnce(ro.changedFiles ? new Set(ro.changedFiles) : null);
    const run = reloading.then(once, once);
    reloading = run.catch(() => undefined);
    return run;
  };

  async function reloadOnce(changed: ReadonlySet<string> | null): Promise<ReloadResult> {
    const started = performance.now();
    const warnings: string[] = [];
    const state = rt.state;
    let next: GatewayConfig;
    const readConfig = o.configPath !== null && (changed === null || changed.has(resolve(o.configPath)));
    try {
      // Loaded here, not up front: a gateway thread handed its config needs the parser only once it reloads.
      next = readConfig ? await (await import('./config.js')).loadConfig(o.configPath!) : state.config;
    } catch (e) {
      rt.metrics.reloads.failed++;
      const err = { domain: '(config)', message: (e as Error).message };
      rt.log.error({ error: err.message }, 'reload failed: config not changed');
      return published({ ok: false, errors: [err], warnings }, started);
    }
    if (next.listen.host !== state.config.listen.host || next.listen.port !== state.config.listen.port) {
      warnings.push('listen address changes need a restart; still listening on the old address');
      next = { ...next, listen: state.config.listen };
    }
    const { state: fresh, errors } = await buildState(next, state, o.generations, rt.handlers, changed);
    for (const e of errors) {
      inc(rt.metrics.truststoreErrors, e.domain);
      rt.log.error({ domain: e.domain, error: e.message }, 'reload: domain kept its previous state');
    }
    rt.state = fresh;
    lastErrors = errors;
    const origins = new Set([...fresh.domains.values()].flatMap((d) => d.routes.map((r) => r.origin)));
    retainPools(rt.pools, origins, fresh.config.timeouts.backendMs);
    retireReplaced(rt.handlers, fresh.lambda);
    await o.afterSwap();
    if (errors.length > 0) rt.metrics.reloads.failed++;
    else {
      rt.metrics.reloads.ok++;
      rt.metrics.lastReloadSuccess = Date.now() / 1000;
    }
    logTruststores(rt.log, fresh, state);
    if (changed !== null) logUpdates(rt, fresh, state);
    for (const w of warnings) rt.log.warn(w);
    scheduleRetry(errors.length > 0);
    return published({ ok: errors.length === 0, errors, warnings }, started);
  }

  function published(r: ReloadResult, started: number): ReloadResult {
    last = { at: new Date(), ok: r.ok, errors: r.errors };
    if (reloadChannel.hasSubscribers) {
      const event: ReloadEvent = {
        ...r,
        generation: rt.state.generation,
        domains: [...rt.state.domains.keys()],
        durationMs: performance.now() - started,
      };
      reloadChannel.publish(event);
    }
    return r;
  }

  // A domain whose source failed (S3 down, file mid-replace) keeps its previous state; retry with backoff so it
  // recovers by itself once the source is back, without waiting for someone to signal a reload.
  function scheduleRetry(failed: boolean): void {
    if (!failed) {
      // A retry still pending from an earlier failure would otherwise stand in, at its longer delay, for the one
      // the next failure schedules.
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      retryDelayMs = RETRY_MIN_MS;
      return;
    }
    if (retryTimer) return;
    const domains = lastErrors.map((e) => e.domain);
    rt.log.info({ inMs: retryDelayMs, domains }, 'will retry the failed truststore load');
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void reload();
    }, retryDelayMs);
    retryTimer.unref();
    retryDelayMs = Math.min(retryDelayMs * 2, RETRY_MAX_MS);
  }

  return {
    reload,
    lastErrors: () => lastErrors,
    lastReload: () => last,
    stop() {
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
    },
  };
}

/** After a reload of changed files: one line per domain built again, naming what of it changed. */
function logUpdates(rt: Runtime, fresh: GatewayState, before: GatewayState): void {
  for (const d of fresh.domains.values()) {
    const prev = before.domains.get(d.name);
    if (prev === d) continue;
    rt.log.info({ domain: d.name, changed: prev ? changedParts(prev, d) : ['added'] }, 'reload: domain updated');
  }
}

function changedParts(prev: DomainState, d: DomainState): string[] {
  const parts: string[] = [];
  if (JSON.stringify(prev.config) !== JSON.stringify(d.config)) parts.push('config');
  if (prev.digests.certificate !== d.digests.certificate) parts.push('certificate');
  if (prev.verify.truststore !== d.verify.truststore) parts.push('truststore');
  const crls = (s: DomainState): string => JSON.stringify(s.revocation?.sources.map((x) => [x.uri, x.digest]) ?? []);
  if (crls(prev) !== crls(d)) parts.push('crl');
  return parts;
}
