/**
 * The authorizer stage: for a route with `authorizer:`, after the client certificate is verified and before the
 * request goes on, ask the Lambda authorizer (or take its cached decision) and answer as API Gateway does:
 * 401 Unauthorized, 403 explicit or implicit deny, 500 AuthorizerConfigurationException. A cached decision is
 * judged again against each request's ARN, so a policy that names one path does not open another.
 */
import type { RequestContext, Runtime } from '../context.js';
import { inc } from '../metrics.js';
import { recordRequestDenial } from '../denials.js';
import type { ResponseSink } from '../respond.js';
import type { Route } from '../routes.js';
import type { AuthorizerConfig } from './config.js';
import { authorizerEventV1, authorizerEventV2, clientCertOf, methodArn, type RequestFacts } from './events.js';
import { InvokeError } from './invoke.js';
import { invokeUrl } from './invoke-url.js';
import { invokePool } from './pool.js';
import { BadResult, judge, parseResult, type Decision, type Verdict } from './policy.js';
import type { AuthorizerRuntime, DecisionCache, LambdaState } from './state.js';

/** What an allowing authorizer passes on. */
export interface Authorization {
  principalId: string | null;
  context: Record<string, unknown>;
  /** The backend's identity headers: the certificate's, then `x-authorizer-<key>` for each context value. */
  identity: Record<string, string>;
}

// Stage results, as pipeline.ts's NEXT and DONE (not imported: pipeline.ts imports this module).
const NEXT = 0;
const DONE = 1;
type Step = typeof NEXT | typeof DONE | Promise<number>;

const UNAUTHORIZED = { message: 'Unauthorized' };
const EXPLICIT_DENY = { message: 'User is not authorized to access this resource with an explicit deny' };
const IMPLICIT_DENY = { message: 'User is not authorized to access this resource' };
const FORBIDDEN = { message: 'Forbidden' };
const CONFIG_ERROR = { message: null };

/** The path below the base path (what the API sees), without the query: `/orders/42?x` on `orders` is `/42`. */
export function apiPathOf(route: Route, url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const rest = route.basePath === '' ? path : path.slice(route.basePath.length + 1);
  return rest === '' ? '/' : rest;
}

export function requestFacts(ctx: RequestContext, lambda: LambdaState): RequestFacts {
  const q = ctx.url.indexOf('?');
  return {
    method: ctx.method,
    path: q === -1 ? ctx.url : ctx.url.slice(0, q),
    apiPath: apiPathOf(ctx.match!.route, ctx.url),
    rawQuery: q === -1 ? '' : ctx.url.slice(q + 1),
    rawHeaders: ctx.rawHeaders,
    host: ctx.headers.host ?? ctx.domain!.name,
    domainName: ctx.host ?? ctx.domain!.name,
    sourceIp: ctx.conn.remoteAddress,
    requestId: ctx.requestId,
    cert: ctx.verdict?.client ? clientCertOf(ctx.verdict.client.leaf) : null,
    arn: lambda.arn,
    stageVariables: lambda.stageVariables,
    now: new Date(),
  };
}

/** The identity source values, or null when one is missing or empty (401 without calling the authorizer). */
function identityValues(ctx: RequestContext, a: AuthorizerConfig, lambda: LambdaState): string[] | null {
  const out: string[] = [];
  for (const src of a.identitySource) {
    const dot = src.lastIndexOf('.', src.length - 1);
    const kind = src.includes('.header.') ? 'header' : src.includes('.querystring.') ? 'query' : 'stage';
    const name = kind === 'stage' ? src.slice(src.indexOf('.') + 1) : src.slice(dot + 1);
    let v: string | undefined;
    if (kind === 'header') {
      const h = ctx.headers[name.toLowerCase()];
      v = Array.isArray(h) ? h.join(',') : h;
    } else if (kind === 'query') {
      const q = ctx.url.indexOf('?');
      const all = q === -1 ? [] : new URLSearchParams(ctx.url.slice(q + 1)).getAll(name);
      v = all.length > 0 ? all.join(',') : undefined;
    } else {
      v = lambda.stageVariables?.[name];
    }
    if (v === undefined || v === '') return null;
    out.push(v);
  }
  return out;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The stage. */
export function authorize(ctx: RequestContext, rt: Runtime): Step {
  const route = ctx.match!.route;
  if (route.authorizer === null) return NEXT;
  const lambda = rt.state.lambda;
  const a = lambda.authorizers.get(route.authorizer);
  if (a === undefined)
    return fail(ctx, rt, route.authorizer, 'the authorizer is not loaded (see the reload errors)', 0);
  const values = identityValues(ctx, a.config, lambda);
  if (values === null) {
    ctx.authorizer = { principalId: null, error: 'identity source missing or empty', latencyMs: 0 };
    return refuse(ctx, rt, 401, UNAUTHORIZED, 'UnauthorizedException', 'AUTHORIZER_UNAUTHORIZED');
  }
  const arn = methodArn(lambda.arn, ctx.method, apiPathOf(route, ctx.url));
  const ttl = a.config.authorizerResultTtlInSeconds;
  // One certificate's Allow must never serve another: its fingerprint (or "none", on a route that takes none) is
  // part of the key, with the domain.
  const fingerprint = ctx.verdict?.client?.leaf.info.fingerprintSha256 ?? 'none';
  const key = ttl > 0 ? `${ctx.domain!.name}\n${fingerprint}\n${values.join('\n')}` : '';
  if (ttl > 0) {
    const hit = a.cache.map.get(key);
    if (hit !== undefined) {
      if (hit.expires > Date.now()) return decide(ctx, rt, hit.decision, arn, 0);
      a.cache.map.delete(key);
    }
  }
  const started = performance.now();
  return callOnce(ctx, rt, a, values, key).then(
    (decision) => decide(ctx, rt, decision, arn, elapsed(started)),
    (e: unknown) => {
      const latencyMs = elapsed(started);
      if (e instanceof InvokeError && e.handlerMessage === 'Unauthorized') {
        ctx.authorizer = { principalId: null, error: 'Unauthorized', latencyMs };
        return refuse(ctx, rt, 401, UNAUTHORIZED, 'UnauthorizedException', 'AUTHORIZER_UNAUTHORIZED');
      }
      // A call refused by a full queue is logged once per burst, by its pool.
      const quiet = e instanceof InvokeError && e.kind === 'throttled';
      return fail(ctx, rt, a.config.name, (e as Error).message, latencyMs, quiet);
    },
  );
}

/**
 * The authorizer's decision for a cache miss. With caching on, requests that miss with the same key while a call
 * is in progress wait for that call instead of each making one (a burst of one client's requests is one call).
 */
function callOnce(
  ctx: RequestContext,
  rt: Runtime,
  a: AuthorizerRuntime,
  values: string[],
  key: string,
): Promise<Decision> {
  const ttl = a.config.authorizerResultTtlInSeconds;
  if (ttl === 0) return call(ctx, rt, a, values);
  const pending = a.cache.pending.get(key);
  if (pending !== undefined) return pending;
  const p = call(ctx, rt, a, values).then(
    (decision) => {
      a.cache.pending.delete(key);
      cachePut(a.cache, key, decision, ttl);
      return decision;
    },
    (e: unknown) => {
      a.cache.pending.delete(key);
      throw e;
    },
  );
  a.cache.pending.set(key, p);
  return p;
}

async function call(ctx: RequestContext, rt: Runtime, a: AuthorizerRuntime, values: string[]): Promise<Decision> {
  const c = a.config;
  const facts = requestFacts(ctx, rt.state.lambda);
  const event = c.payloadFormatVersion === '2.0' ? authorizerEventV2(facts, values) : authorizerEventV1(facts);
  const result =
    a.handler !== null
      ? await invokePool(a.handler, { event, timeoutMs: c.timeoutMs, functionName: c.name })
      : await invokeUrl({ url: c.url!, event, timeoutMs: c.timeoutMs });
  try {
    return parseResult(result, { version: c.payloadFormatVersion, simple: c.enableSimpleResponses });
  } catch (e) {
    if (e instanceof BadResult) throw new Error(`bad result: ${e.message}`);
    throw e;
  }
}

function decide(
  ctx: RequestContext,
  rt: Runtime,
  d: Decision,
  arn: string,
  latencyMs: number,
): typeof NEXT | typeof DONE {
  const verdict: Verdict = judge(d, arn);
  ctx.authorizer = { principalId: d.principalId, error: null, latencyMs };
  if (verdict === 'allow') {
    const certHeaders = ctx.verdict?.client?.headers ?? NO_HEADERS;
    let identity = certHeaders;
    if (d.headers.length > 0) {
      identity = { ...certHeaders };
      for (const [name, value] of d.headers) identity[name] = value;
    }
    ctx.authorization = { principalId: d.principalId, context: d.context, identity };
    return NEXT;
  }
  if (d.kind === 'simple') return refuse(ctx, rt, 403, FORBIDDEN, 'AccessDeniedException', 'AUTHORIZER_DENIED');
  return verdict === 'explicit-deny'
    ? refuse(ctx, rt, 403, EXPLICIT_DENY, 'AccessDeniedException', 'AUTHORIZER_EXPLICIT_DENY')
    : refuse(ctx, rt, 403, IMPLICIT_DENY, 'AccessDeniedException', 'AUTHORIZER_IMPLICIT_DENY');
}

function refuse(
  ctx: RequestContext,
  rt: Runtime,
  status: number,
  body: { message: string },
  errorType: string,
  code: string,
): typeof DONE {
  const d = ctx.domain!;
  inc(rt.metrics.denials, `${d.name} ${code}`);
  recordRequestDenial(rt.denials, ctx, { status, code, reason: body.message });
  rt.log.info(
    { requestId: ctx.requestId, domain: d.name, code, principalId: ctx.authorizer?.principalId ?? null },
    'authorizer refused the request',
  );
  send(ctx, status, body, errorType);
  ctx.outcome = 'denied';
  return DONE;
}

function fail(
  ctx: RequestContext,
  rt: Runtime,
  name: string,
  error: string,
  latencyMs: number,
  quiet = false,
): typeof DONE {
  ctx.authorizer = { principalId: null, error, latencyMs };
  const d = ctx.domain!;
  inc(rt.metrics.denials, `${d.name} AUTHORIZER_ERROR`);
  recordRequestDenial(rt.denials, ctx, {
    status: 500,
    code: 'AUTHORIZER_ERROR',
    reason: `authorizer ${name}: ${error}`,
  });
  if (!quiet)
    rt.log.warn({ requestId: ctx.requestId, domain: d.name, authorizer: name, error, latencyMs }, 'authorizer error');
  send(ctx, 500, CONFIG_ERROR, 'AuthorizerConfigurationException');
  ctx.outcome = 'error';
  return DONE;
}

function send(ctx: RequestContext, status: number, body: unknown, errorType: string): void {
  ctx.status = status;
  sendWithErrorType(ctx.sink, status, body, ctx.requestId, errorType);
}

/** API Gateway's own answers carry their kind in `x-amzn-errortype`. */
export function sendWithErrorType(
  sink: ResponseSink,
  status: number,
  body: unknown,
  requestId: string,
  errorType: string,
): void {
  if (sink.headersSent) return;
  const text = JSON.stringify(body);
  sink.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-errortype': errorType,
    'x-request-id': requestId,
  });
  sink.end(text);
}

/** Bounded in entries: when full, the oldest entry goes (a Map iterates in insertion order). */
function cachePut(c: DecisionCache, key: string, decision: Decision, ttlSeconds: number): void {
  c.map.delete(key);
  if (c.map.size >= c.max) {
    const oldest = c.map.keys().next();
    if (!oldest.done) c.map.delete(oldest.value);
  }
  c.map.set(key, { decision, expires: Date.now() + ttlSeconds * 1000 });
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
