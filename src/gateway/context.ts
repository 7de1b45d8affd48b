/**
 * The two objects the request path works on: one per connection (what its handshake settled, the domain and the
 * verdict, each found once) and one per request (what the pipeline's stages read and decide). Neither holds a
 * protocol's own objects beyond the body stream and the response sink, so an HTTP/2 stream can fill them too.
 */
import type { Readable } from 'node:stream';
import type { Logger } from './log.js';
import type { ResponseSink } from './respond.js';
import type { RouteMatch } from './routes.js';
import type { DomainState, GatewayState } from './state.js';
import type { CertCaches, ConnectionVerdict, Presentation } from './verify.js';
import type { Metrics } from './metrics.js';
import type { BackendPools } from './proxy.js';
import type { OcspChecker } from '../trust/ocsp.js';
import type { AllowList } from './allow.js';
import type { Denied } from '../policy/verdict.js';
import type { Authorization } from './lambda/authorizer.js';
import type { DenialRing } from './denials.js';
import type { HandlerHost } from './lambda/pool.js';

export interface ConnectionContext {
  /** The TLS server name, lowercase; '' when none (a resumed TLS 1.2 session: its requests' Host names the domain). */
  readonly servername: string;
  readonly remoteAddress: string;
  /** Known from the SNI callback on; the rest of the handshake's outcome from its end. */
  protocol: string | null;
  presented: Presentation;
  /** The domain for `domainName`, as of state generation `stateGeneration` (a reload may replace or remove it). */
  domain: DomainState | undefined;
  domainName: string;
  stateGeneration: number;
  /** Judged once per connection and truststore generation (verdict.generation). */
  verdict: ConnectionVerdict | null;
  /** The request log for `requestLogFor`: its fields are serialized once, not on every request of the connection. */
  requestLog: Logger | null;
  requestLogFor: ConnectionVerdict | null;
  /** `verdict` as each allow-list judged it (a list differs per route): reset with `verdict`. */
  allowed: Map<AllowList, ConnectionVerdict> | null;
}

export function connectionContext(c: {
  servername: string;
  protocol: string | null;
  remoteAddress: string;
  presented: Presentation;
}): ConnectionContext {
  return {
    servername: c.servername.toLowerCase(),
    protocol: c.protocol,
    remoteAddress: c.remoteAddress,
    presented: c.presented,
    domain: undefined,
    domainName: '',
    stateGeneration: -1,
    verdict: null,
    requestLog: null,
    requestLogFor: null,
    allowed: null,
  };
}

/** Request headers as Node gives them: lowercase names, repeats joined (set-cookie an array). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>> & {
  readonly host?: string;
  readonly connection?: string;
};

/**
 * What an authorizer stage decided, for the access log ($context.authorizer.*): the contract between that stage and
 * the log. Null until an authorizer ran.
 */
export interface AuthorizerResult {
  principalId: string | null;
  /** Why the authorizer failed or denied, else null. */
  error: string | null;
  latencyMs: number | null;
}

/** Why a request ended where it did: the stage that answered, or `proxied` when a backend did. */
export type Outcome = 'misdirected' | 'refused' | 'denied' | 'no-route' | 'proxied' | 'error';

export interface RequestContext {
  readonly conn: ConnectionContext;
  readonly requestId: string;
  /** performance.now() at arrival. */
  readonly started: number;
  readonly method: string;
  /** The request target as received. */
  readonly url: string;
  readonly headers: RequestHeaders;
  /** Names and values as sent, alternating (Node's rawHeaders). */
  readonly rawHeaders: readonly string[];
  /** The request body (read only if the request has one). */
  readonly body: Readable;
  readonly sink: ResponseSink;
  /** Host without port or trailing dot, lowercase; null when absent. */
  readonly host: string | null;
  /** `HTTP/1.1`, as API Gateway's $context.protocol. */
  readonly protocol: string;
  domain: DomainState | undefined;
  verdict: ConnectionVerdict | null;
  match: RouteMatch | null;
  /** What the backend was sent as headers (set by the proxy stage). */
  upstreamHeaders: string[] | null;
  status: number;
  outcome: Outcome | null;
  /** Why a request was refused before routing (400), for the log. */
  refusal: string | null;
  /** The denial that answered 403, for the log. */
  denied: Denied | null;
  /** The route's Lambda authorizer: who it said the client is, what went wrong, how long it took (null: none). */
  authorizer: AuthorizerResult | null;
  /** What an allowing authorizer hands on to the backend or the Lambda integration. */
  authorization: Authorization | null;
  /** Body bytes sent to the client. */
  responseLength: number;
}

export function requestContext(r: {
  conn: ConnectionContext;
  requestId: string;
  method: string;
  url: string;
  headers: RequestHeaders;
  rawHeaders: readonly string[];
  body: Readable;
  sink: ResponseSink;
  protocol?: string;
}): RequestContext {
  return {
    conn: r.conn,
    requestId: r.requestId,
    started: performance.now(),
    method: r.method,
    url: r.url,
    headers: r.headers,
    rawHeaders: r.rawHeaders,
    body: r.body,
    sink: r.sink,
    host: hostOf(r.headers.host),
    protocol: r.protocol ?? 'HTTP/1.1',
    domain: undefined,
    verdict: null,
    match: null,
    upstreamHeaders: null,
    status: 0,
    outcome: null,
    refusal: null,
    denied: null,
    authorizer: null,
    authorization: null,
    responseLength: 0,
  };
}

function hostOf(h: string | undefined): string | null {
  if (!h) return null;
  const host = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return host.toLowerCase().replace(/\.$/, '');
}

/**
 * A gateway instance as the request path sees it: the state now serving (swapped whole by a reload) and what the
 * instance owns for its lifetime. Nothing of it lives at module level, so two gateways in a process share nothing.
 */
export interface Runtime {
  state: GatewayState;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly pools: BackendPools;
  readonly caches: CertCaches;
  /** OCSP checkers (and their answer caches) by settings, kept across reloads. */
  readonly ocsp: Map<string, OcspChecker>;
  /** Recent denials (admin.denialsBuffer of them), for /denials. */
  readonly denials: DenialRing;
  /** The worker pools of the Lambda handler modules, serving or finishing after a reload. */
  readonly handlers: HandlerHost;
}
