/**
 * The request path: an ordered list of stages over one RequestContext, read top to bottom in this file.
 *
 *   identify (the domain, 421) → single Host (400) → route (the mapping, and with it the client certificate mode
 *   and allow-list) → verify the client (403) → allow-list (403) → revocation (403) → safe target (400)
 *   → no route (404) → Lambda authorizer (401/403/500) → Lambda integration (a `lambda:` target, 502)
 *   → proxy (the backend's answer, 502/504) → complete (metrics, access log, events; always runs)
 *
 * The certificate is judged before the path is, as API Gateway judges it before it routes: a refused client learns
 * nothing of the paths, and a path no mapping matches is judged under the domain's settings. The mapping an unsafe
 * path seems to take only picks the mode; safe target refuses that path before anything is forwarded.
 *
 * A stage answers the request and stops the pipeline (DONE), lets the next one run (NEXT), or hands back a
 * promise when it must wait (the proxy; revocation when an OCSP answer is not cached). Stages see no protocol
 * objects: the context carries method, target, headers, the body stream and a response sink, so an HTTP/2 stream
 * can run the same list. A new stage (authorization) is one function and one entry in STAGES.
 */
import { denyChannel, requestChannel, type DenyEvent, type RequestEvent } from './events.js';
import type { ConnectionContext, RequestContext, Runtime } from './context.js';
import { logDenial, logNoCertificate, logRefusal, logRequest } from './access-log.js';
import { countVerifyFailure, inc, NO_DOMAIN, NO_DOMAIN_LABELS, recordRequest } from './metrics.js';
import { forward, upstreamHeaders } from './proxy.js';
import { sendJson } from './respond.js';
import { recordDenial, recordRequestDenial } from './denials.js';
import { matchRoute, unsafeTarget } from './routes.js';
import { lookupDomain } from './state.js';
import { NO_CERTIFICATE, verifyConnection, type ConnectionVerdict } from './verify.js';
import { admittedBy, type AllowList } from './allow.js';
import { requestRevocation, revocationLogFields, type DomainRevocation } from './revocation.js';
import { revocationVerdict, type RevocationResult } from '../policy/revocation.js';
import { denied, type Denied } from '../policy/verdict.js';
import { authorize } from './lambda/authorizer.js';
import { invokeLambda } from './lambda/integration.js';

/** What a stage tells the pipeline: go on, or the request is answered. */
export const NEXT = 0;
export const DONE = 1;
/**
 * A promise: the stage waits. It resolves with NEXT or DONE (a stage that waited for data: an OCSP answer), or with
 * the HTTP status another party answered with (the backend; statuses are >= 200, so never NEXT or DONE).
 */
export type Step = typeof NEXT | typeof DONE | Promise<number>;
export type Stage = (ctx: RequestContext, rt: Runtime) => Step;

/**
 * The domain of a connection: looked up once per connection and state generation (a reload swaps the state), by
 * its server name, or by the request's Host on a resumed TLS 1.2 session, which has none.
 */
export function connectionDomain(rt: Runtime, conn: ConnectionContext, name: string): void {
  if (conn.stateGeneration === rt.state.generation && conn.domainName === name) return;
  conn.domain = lookupDomain(rt.state, name);
  conn.domainName = name;
  conn.stateGeneration = rt.state.generation;
}

/**
 * Host names another domain than the SNI: never let one domain's truststore admit traffic for another. A resumed
 * session skipped the SNI callback's securityPolicy check: a TLS_1_3 domain refuses it here. 421 tells the client
 * to retry on a new connection.
 */
function identify(ctx: RequestContext, rt: Runtime): Step {
  const conn = ctx.conn;
  const host = ctx.host;
  const name = conn.servername !== '' ? conn.servername : conn.presented.resumed ? (host ?? '') : '';
  connectionDomain(rt, conn, name);
  const d = conn.domain;
  ctx.domain = d;
  const tooOld = d !== undefined && d.config.securityPolicy === 'TLS_1_3' && conn.protocol !== 'TLSv1.3';
  if (!d || (host !== null && host !== name) || tooOld) {
    return answer(ctx, 421, 'misdirected', MISDIRECTED);
  }
  return NEXT;
}

/**
 * Node keeps the first of several Host headers and drops the rest: a backend or proxy that reads another one
 * would route by a name the SNI check never saw.
 */
function singleHost(ctx: RequestContext, rt: Runtime): Step {
  if (!hasSecondHost(ctx.rawHeaders)) return NEXT;
  return refuse(ctx, rt, 'more than one Host header');
}

/**
 * The connection's verdict, judged once per connection and truststore generation (a reload re-judges), as the
 * route's mode wants it: `none` never looks at the certificate, `optional` lets a missing one through (no identity
 * goes to the backend), `required` and `optional` refuse one that fails verification.
 */
function verifyClient(ctx: RequestContext, rt: Runtime): Step {
  const d = ctx.domain!;
  const mode = ctx.match?.route.clientCertificate ?? d.config.mutualTls.clientCertificate;
  if (mode === 'none') return NEXT;
  const conn = ctx.conn;
  let cv = conn.verdict;
  if (cv === null || cv.generation !== d.verify.generation) {
    cv = verifyConnection(conn.presented, d.verify, rt.caches);
    conn.verdict = cv;
    conn.allowed = null;
  }
  if (mode === 'optional' && cv.verdict === NO_CERTIFICATE) return NEXT;
  ctx.verdict = cv;
  return cv.verdict.accepted ? NEXT : deny(ctx, rt, cv.verdict, null);
}

/**
 * The allow-list of the route (else the domain's) over a verified certificate: judged once per connection and list,
 * as neither changes under a connection (a reload builds new lists and re-judges).
 */
function allow(ctx: RequestContext, rt: Runtime): Step {
  const cv = ctx.verdict;
  const list = ctx.match !== null ? ctx.match.route.allow : ctx.domain!.allow;
  if (cv === null || list === null) return NEXT;
  const conn = ctx.conn;
  let judged = conn.allowed?.get(list);
  if (judged === undefined) {
    judged = admittedBy(list, cv.client!.leaf) !== null ? cv : { ...cv, verdict: NOT_ALLOWED };
    (conn.allowed ??= new Map<AllowList, ConnectionVerdict>()).set(list, judged);
  }
  if (judged === cv) return NEXT;
  ctx.verdict = judged;
  return deny(ctx, rt, NOT_ALLOWED, null);
}

const NOT_ALLOWED = denied('client certificate not allowed', 'MTLSGATE_NOT_ALLOWED');

/**
 * Revocation, judged on every request against the data in force now: a CRL swapped in or an OCSP answer that
 * changed reaches keep-alive connections and resumed sessions on their next request. Off: one null check.
 */
function checkRevocation(ctx: RequestContext, rt: Runtime): Step {
  const r = ctx.domain!.revocation;
  // No certificate judged (a `none` route, none presented on an `optional` one): no identity reaches the backend.
  if (r === null || ctx.verdict === null) return NEXT;
  const result = requestRevocation(rt, ctx.domain!, r, ctx.verdict!.path);
  if (result instanceof Promise) return result.then((res) => revocationAnswer(ctx, rt, r, res));
  return result.status === 'good' ? NEXT : revocationAnswer(ctx, rt, r, result);
}

function revocationAnswer(
  ctx: RequestContext,
  rt: Runtime,
  r: DomainRevocation,
  result: RevocationResult,
): typeof NEXT | typeof DONE {
  if (result.status === 'good') return NEXT;
  const verdict = revocationVerdict(result, r.policy.onUnavailable);
  if (verdict.accepted) {
    // onUnavailable: allow; counted so an operator sees how often no answer could be had.
    inc(rt.metrics.revocationUnavailableAllowed, ctx.domain!.name);
    return NEXT;
  }
  return deny(ctx, rt, verdict, revocationLogFields(result));
}

/** A 403: counted, logged with the reason (and what revocation found), published, answered. */
function deny(ctx: RequestContext, rt: Runtime, verdict: Denied, extra: Record<string, unknown> | null): typeof DONE {
  const d = ctx.domain!;
  const cv = ctx.verdict!;
  const { reason, code } = verdict;
  ctx.denied = verdict;
  inc(rt.metrics.denials, `${d.name} ${code}`);
  recordRequestDenial(rt.denials, ctx, { status: 403, code, reason });
  countVerifyFailure(rt.metrics, d.name, code);
  logDenial(rt.log, ctx, { domain: d.name, cv, reason, code, extra });
  if (denyChannel.hasSubscribers) {
    const fingerprint = cv.client?.leaf.info.fingerprintSha256 ?? null;
    const event: DenyEvent = {
      domain: d.name,
      requestId: ctx.requestId,
      reason,
      code,
      stage: 'request',
      remoteAddress: ctx.conn.remoteAddress,
      fingerprint,
    };
    denyChannel.publish(event);
  }
  const body = d.config.mutualTls.exposeReason ? { message: `Access denied. Reason: ${reason}` } : FORBIDDEN;
  return answer(ctx, 403, 'denied', body);
}

function safeTarget(ctx: RequestContext, rt: Runtime): Step {
  const bad = unsafeTarget(ctx.url);
  return bad === null ? NEXT : refuse(ctx, rt, bad);
}

/** The mapping decides how the client is judged; a miss is judged under the domain's settings, then gets its 404. */
function route(ctx: RequestContext): Step {
  ctx.match = matchRoute(ctx.domain!.routes, ctx.url);
  return NEXT;
}

function noRoute(ctx: RequestContext): Step {
  return ctx.match === null ? answer(ctx, 404, 'no-route', NOT_FOUND) : NEXT;
}

function proxy(ctx: RequestContext, rt: Runtime): Step {
  const match = ctx.match!;
  const d = ctx.domain!;
  ctx.outcome = 'proxied';
  ctx.upstreamHeaders = upstreamHeaders(ctx, match, {
    requestId: ctx.requestId,
    clientIp: ctx.conn.remoteAddress,
    host: ctx.headers.host ?? d.name,
    // An authorizer's identity (certificate headers plus its context), else only a verified certificate's (optional
    // and none routes may have none); a client's copies are always dropped.
    identity: ctx.authorization?.identity ?? ctx.verdict?.client?.headers ?? NO_IDENTITY,
  });
  return forward({
    pools: rt.pools,
    req: ctx,
    match,
    headers: ctx.upstreamHeaders,
    timeoutMs: rt.state.config.timeouts.backendMs,
    metrics: rt.metrics,
    domain: d.name,
  });
}

/** The request path, in order. */
export const STAGES: readonly Stage[] = [
  identify,
  singleHost,
  route,
  verifyClient,
  allow,
  checkRevocation,
  safeTarget,
  noRoute,
  authorize,
  invokeLambda,
  proxy,
];

/**
 * Run a request through every stage, then complete it. The one entry: the HTTP listener calls it for each request,
 * tests call it in-process and read the decisions off the context (domain, verdict, match, upstreamHeaders,
 * status, outcome). Returns a promise only when a stage had to wait (the backend).
 */
export function runPipeline(rt: Runtime, ctx: RequestContext, from = 0): void | Promise<void> {
  try {
    for (let i = from; i < STAGES.length; i++) {
      const step = STAGES[i]!(ctx, rt);
      if (step === NEXT) continue;
      if (step !== DONE) return settle(rt, ctx, step, i + 1);
      break;
    }
  } catch (e) {
    fail(rt, ctx, e);
  }
  complete(rt, ctx);
}

async function settle(rt: Runtime, ctx: RequestContext, pending: Promise<number>, next: number): Promise<void> {
  let v: number;
  try {
    v = await pending;
  } catch (e) {
    fail(rt, ctx, e);
    complete(rt, ctx);
    return;
  }
  if (v === NEXT) return runPipeline(rt, ctx, next);
  if (v !== DONE) ctx.status = v;
  complete(rt, ctx);
}

function fail(rt: Runtime, ctx: RequestContext, e: unknown): void {
  ctx.status = 500;
  ctx.outcome = 'error';
  rt.log.error({ requestId: ctx.requestId, error: (e as Error).stack }, 'internal error');
  if (!ctx.sink.headersSent) sendJson(ctx.sink, 500, INTERNAL_ERROR, ctx.requestId);
  else ctx.sink.destroy();
}

/** The last stage, whatever answered: count, write the access log line, publish the request event. */
function complete(rt: Runtime, ctx: RequestContext): void {
  const d = ctx.domain;
  const elapsedMs = performance.now() - ctx.started;
  // Labels made with the state: the route's as configured, else the domain's, else none's.
  const labels = ctx.match?.route.labels ?? d?.unrouted ?? NO_DOMAIN_LABELS;
  recordRequest(rt.metrics, labels, ctx.status, elapsedMs / 1000);
  const latencyMs = Math.round(elapsedMs * 1000) / 1000;
  logRequest(rt.log, ctx, latencyMs, rt.state.accessLog);
  if (requestChannel.hasSubscribers) {
    const event: RequestEvent = {
      requestId: ctx.requestId,
      domain: d?.name ?? null,
      method: ctx.method,
      path: ctx.url,
      status: ctx.status,
      outcome: ctx.outcome ?? 'error',
      route: ctx.match?.route.basePath ?? null,
      accepted: ctx.verdict?.verdict.accepted ?? null,
      durationMs: latencyMs,
    };
    requestChannel.publish(event);
  }
}

/**
 * No certificate at a domain with noCertificate: handshake. OpenSSL ends such a handshake itself (the SNI
 * callback asks it to), or the connection is closed right after it: either way counted and logged here. Under
 * noCertificate: request the verdict is NO_CERTIFICATE and verifyClient denies it like any other.
 */
export function refuseWithoutCertificate(rt: Runtime, domain: string | null, remote: string | undefined): void {
  const reason = NO_CERTIFICATE.reason;
  logNoCertificate(rt.log, domain, remote, reason);
  if (domain !== null) inc(rt.metrics.denials, `${domain} ${NO_CERTIFICATE.code}`);
  if (rt.denials.capacity > 0) {
    recordDenial(rt.denials, {
      time: Date.now(),
      domain,
      route: null,
      status: null,
      code: NO_CERTIFICATE.code,
      reason,
      requestId: null,
      stage: 'handshake',
      sourceIp: remote ?? null,
      leaf: null,
      sent: [],
      path: null,
      generation: domain === null ? null : (rt.state.domains.get(domain)?.verify.generation ?? null),
    });
  }
  countVerifyFailure(rt.metrics, domain ?? NO_DOMAIN, NO_CERTIFICATE.code);
  if (denyChannel.hasSubscribers) {
    const event: DenyEvent = {
      domain,
      requestId: null,
      reason,
      code: NO_CERTIFICATE.code,
      stage: 'handshake',
      remoteAddress: remote ?? null,
      fingerprint: null,
    };
    denyChannel.publish(event);
  }
}

const MISDIRECTED = { message: 'Misdirected Request' };
const BAD_REQUEST = { message: 'Bad Request' };
const FORBIDDEN = { message: 'Forbidden' };
const NOT_FOUND = { message: 'Not Found' };
const INTERNAL_ERROR = { message: 'Internal Server Error' };
const NO_IDENTITY: Record<string, string> = Object.freeze({}) as Record<string, string>;

function answer(ctx: RequestContext, status: number, outcome: RequestContext['outcome'], body: unknown): typeof DONE {
  ctx.status = status;
  ctx.outcome = outcome;
  ctx.responseLength = sendJson(ctx.sink, status, body, ctx.requestId);
  return DONE;
}

function refuse(ctx: RequestContext, rt: Runtime, reason: string): Step {
  ctx.refusal = reason;
  answer(ctx, 400, 'refused', BAD_REQUEST);
  logRefusal(rt.log, ctx, ctx.domain!.name, reason);
  return DONE;
}

/** More than one Host header, in any case: a scan of the raw header names (even indexes) that allocates nothing. */
function hasSecondHost(raw: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    // | 0x20 lowers an ASCII letter and maps nothing else onto h, o, s or t.
    if (
      n.length === 4 &&
      (n.charCodeAt(0) | 0x20) === 0x68 &&
      (n.charCodeAt(1) | 0x20) === 0x6f &&
      (n.charCodeAt(2) | 0x20) === 0x73 &&
      (n.charCodeAt(3) | 0x20) === 0x74
    ) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}
