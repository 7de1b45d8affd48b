/**
 * The Lambda emulation's part of a gateway state: the authorizers (each with its module or URL and its decision
 * cache) and the integration handlers, loaded whole at start and on every reload. A module that fails to load on a
 * reload keeps the one loaded before (and the reload reports it); at start it stops the gateway.
 */
import type { GatewayConfig } from '../config.js';
import type { DomainLoadError } from '../state.js';
import type { AuthorizerConfig } from './config.js';
import { LAMBDA_PREFIX, isLambdaTarget } from './config.js';
import type { ArnSettings } from './events.js';
import { loadHandler, type LoadedHandler } from './invoke.js';
import type { Decision } from './policy.js';

/** Decisions by domain, certificate and identity source values; bounded, oldest dropped first. */
export interface DecisionCache {
  map: Map<string, { decision: Decision; expires: number }>;
  max: number;
}

export const DECISION_CACHE_MAX = 10_000;

export interface AuthorizerRuntime {
  config: AuthorizerConfig;
  /** Null for a `url:` authorizer. */
  handler: LoadedHandler | null;
  cache: DecisionCache;
}

export interface LambdaState {
  arn: ArnSettings;
  stageVariables: Record<string, string> | null;
  authorizers: Map<string, AuthorizerRuntime>;
  /** Integration handlers by resolved `FILE#EXPORT`. */
  functions: Map<string, LoadedHandler>;
}

export const NO_LAMBDA: LambdaState = Object.freeze({
  arn: { region: 'us-east-1', accountId: '123456789012', apiId: 'mtlsgate', stage: '$default' },
  stageVariables: null,
  authorizers: new Map(),
  functions: new Map(),
});

export async function buildLambda(
  cfg: GatewayConfig,
  previous: LambdaState | null,
): Promise<{ lambda: LambdaState; errors: DomainLoadError[] }> {
  const errors: DomainLoadError[] = [];
  const kept = previous === null ? '' : ' (the module loaded before keeps serving)';
  const previousFn = (spec: string): LoadedHandler | null => {
    for (const a of previous?.authorizers.values() ?? []) if (a.handler?.spec === spec) return a.handler;
    return previous?.functions.get(spec) ?? null;
  };
  const load = async (spec: string, where: string): Promise<LoadedHandler | null> => {
    const before = previousFn(spec);
    try {
      return await loadHandler(spec, before);
    } catch (e) {
      errors.push({ domain: '(lambda)', message: `${where}: ${(e as Error).message}${before ? kept : ''}` });
      return before;
    }
  };
  const authorizers = new Map<string, AuthorizerRuntime>();
  await Promise.all(
    cfg.authorizers.map(async (a, i) => {
      const handler = a.handler === undefined ? null : await load(a.handler, `authorizers[${i}].handler`);
      // Not loaded and nothing to keep: the name stays unknown, and its routes answer 500 as a broken authorizer.
      if (a.handler !== undefined && handler === null) return;
      authorizers.set(a.name, { config: a, handler, cache: { map: new Map(), max: DECISION_CACHE_MAX } });
    }),
  );
  const functions = new Map<string, LoadedHandler>();
  await Promise.all(
    cfg.domains.flatMap((d, i) =>
      d.basePathMappings.map(async (m, j) => {
        if (!isLambdaTarget(m.target)) return;
        const spec = m.target.slice(LAMBDA_PREFIX.length);
        if (functions.has(spec)) return;
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

/** One module used by several mappings fails once per mapping; the first mention is enough. */
function dedupe(errors: DomainLoadError[]): DomainLoadError[] {
  return errors.filter((e, i) => errors.findIndex((o) => o.message === e.message) === i);
}
