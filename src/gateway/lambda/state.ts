/**
 * The Lambda emulation's part of a gateway state: the authorizers (each with its handler pool or URL and its
 * decision cache) and the integration handlers, loaded whole at start and on every reload. A module that fails to
 * load on a reload keeps the pool loaded before (and the reload reports it); at start it stops the gateway. After a
 * reload's swap, the pools the new state no longer uses finish their calls and end (retireReplaced).
 */
import type { GatewayConfig } from '../config.js';
import type { DomainLoadError } from '../state.js';
import type { AuthorizerConfig } from './config.js';
import { LAMBDA_PREFIX, isLambdaTarget } from './target.js';
import type { ArnSettings } from './events.js';
import { loadHandler, retirePool, type HandlerHost, type HandlerPool } from './pool.js';
import type { Decision } from './policy.js';

/** Decisions by domain, certificate and identity source values; bounded, oldest dropped first. */
export interface DecisionCache {
  map: Map<string, { decision: Decision; expires: number }>;
  max: number;
  /** Calls in progress by cache key: requests that miss together wait for one call. */
  pending: Map<string, Promise<Decision>>;
}

export const DECISION_CACHE_MAX = 10_000;

export interface AuthorizerRuntime {
  config: AuthorizerConfig;
  /** Null for a `url:` authorizer. */
  handler: HandlerPool | null;
  cache: DecisionCache;
}

export interface LambdaState {
  arn: ArnSettings;
  stageVariables: Record<string, string> | null;
  authorizers: Map<string, AuthorizerRuntime>;
  /** Integration handlers by resolved `FILE#EXPORT`. */
  functions: Map<string, HandlerPool>;
}

export async function buildLambda(
  cfg: GatewayConfig,
  previous: LambdaState | null,
  host: HandlerHost,
): Promise<{ lambda: LambdaState; errors: DomainLoadError[] }> {
  const errors: DomainLoadError[] = [];
  const kept = previous === null ? '' : ' (the module loaded before keeps serving)';
  const previousPool = (spec: string): HandlerPool | null => {
    for (const a of previous?.authorizers.values() ?? []) if (a.handler?.spec === spec) return a.handler;
    return previous?.functions.get(spec) ?? null;
  };
  // One load per module, however many authorizers and mappings name it: they share its pool.
  const loads = new Map<string, Promise<HandlerPool | Error>>();
  const load = async (spec: string, where: string): Promise<HandlerPool | null> => {
    const before = previousPool(spec);
    let loading = loads.get(spec);
    if (loading === undefined) {
      loading = loadHandler({ spec, previous: before, settings: cfg.lambda, host }).catch((e: Error) => e);
      loads.set(spec, loading);
    }
    const r = await loading;
    if (!(r instanceof Error)) return r;
    errors.push({ domain: '(lambda)', message: `${where}: ${r.message}${before ? kept : ''}` });
    return before;
  };
  const authorizers = new Map<string, AuthorizerRuntime>();
  await Promise.all(
    cfg.authorizers.map(async (a, i) => {
      const handler = a.handler === undefined ? null : await load(a.handler, `authorizers[${i}].handler`);
      // Not loaded and nothing to keep: the name stays unknown, and its routes answer 500 as a broken authorizer.
      if (a.handler !== undefined && handler === null) return;
      authorizers.set(a.name, {
        config: a,
        handler,
        cache: { map: new Map(), max: DECISION_CACHE_MAX, pending: new Map() },
      });
    }),
  );
  const functions = new Map<string, HandlerPool>();
  const mappings = new Set<string>();
  await Promise.all(
    cfg.domains.flatMap((d, i) =>
      d.basePathMappings.map(async (m, j) => {
        if (!isLambdaTarget(m.target)) return;
        const spec = m.target.slice(LAMBDA_PREFIX.length);
        // The first mapping naming a module reports its error; the others would repeat it.
        if (mappings.has(spec)) return;
        mappings.add(spec);
        const h = await load(spec, `domains[${i}].basePathMappings[${j}].target`);
        if (h) functions.set(spec, h);
      }),
    ),
  );
  return {
    lambda: { arn: cfg.arn, stageVariables: cfg.stageVariables ?? null, authorizers, functions },
    errors: dedupe(errors),
  };
}

/** After a reload's swap: the pools `lambda` does not use finish what they are running, then end. */
export function retireReplaced(host: HandlerHost, lambda: LambdaState): void {
  const used = new Set<HandlerPool>(lambda.functions.values());
  for (const a of lambda.authorizers.values()) if (a.handler !== null) used.add(a.handler);
  for (const pool of host.pools) if (!used.has(pool)) retirePool(pool);
}

/** One module used by several mappings fails once per mapping; the first mention is enough. */
function dedupe(errors: DomainLoadError[]): DomainLoadError[] {
  return errors.filter((e, i) => errors.findIndex((o) => o.message === e.message) === i);
}
