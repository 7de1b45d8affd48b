/**
 * API Gateway's Lambda events, built from one request: the REST REQUEST authorizer event (payload 1.0), the HTTP API
 * authorizer event (2.0), and the proxy integration events of both versions. The certificate part
 * (`clientCert`) comes from the verified leaf, the same parsed data the backend's certificate headers are made of.
 */
import { asn1TimePrint, isGatewayOwned } from '../headers.js';
import type { Cert } from '../../pki/types.js';

export interface ClientCert {
  clientCertPem: string;
  subjectDN: string;
  issuerDN: string;
  serialNumber: string;
  validity: { notBefore: string; notAfter: string };
}

/** As API Gateway's: serial in colon hex, dates as OpenSSL prints them (`May 28 12:30:02 2019 GMT`). */
export function clientCertOf(leaf: Cert): ClientCert {
  const i = leaf.info;
  const b64 = leaf.der.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    clientCertPem: `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`,
    subjectDN: i.subject,
    issuerDN: i.issuer,
    serialNumber: i.serial,
    validity: { notBefore: asn1TimePrint(i.notBefore), notAfter: asn1TimePrint(i.notAfter) },
  };
}

export interface ArnSettings {
  region: string;
  accountId: string;
  apiId: string;
  stage: string;
}

/** What every event is made of, worked out once per request. */
export interface RequestFacts {
  method: string;
  /** The path as requested (with the base path), without the query. */
  path: string;
  /** The path below the base path: what the API itself sees, and what methodArn names. */
  apiPath: string;
  /** After `?`, as sent ('' when none). */
  rawQuery: string;
  /** Names as sent, alternating with values (Node's rawHeaders). */
  rawHeaders: readonly string[];
  host: string;
  domainName: string;
  sourceIp: string;
  requestId: string;
  /** Null on a route whose client certificate is optional or not looked at, when there is none verified. */
  cert: ClientCert | null;
  arn: ArnSettings;
  stageVariables: Record<string, string> | null;
  now: Date;
}

/** `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH` (methodArn and routeArn have this form). */
export function methodArn(arn: ArnSettings, method: string, apiPath: string): string {
  return `arn:aws:execute-api:${arn.region}:${arn.accountId}:${arn.apiId}/${arn.stage}/${method}${apiPath}`;
}

/** The catch-all resource a base path mapping stands for: API Gateway's greedy `{proxy+}`. */
function resourceOf(apiPath: string): { resource: string; pathParameters: { proxy: string } | null } {
  return apiPath === '/' || apiPath === ''
    ? { resource: '/', pathParameters: null }
    : { resource: '/{proxy+}', pathParameters: { proxy: apiPath.slice(1) } };
}

/** The headers an event carries: the client's minus those only the gateway may set, plus Host and X-Forwarded-*. */
function eventHeaders(f: RequestFacts): [string, string][] {
  const out: [string, string][] = [['Host', f.host]];
  const raw = f.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (isGatewayOwned(lower) || lower.startsWith('x-authorizer-') || lower.startsWith('x-authorizer_')) continue;
    out.push([name, raw[i + 1]!]);
  }
  out.push(['X-Forwarded-For', f.sourceIp], ['X-Forwarded-Proto', 'https']);
  return out;
}

function v1Headers(f: RequestFacts): { headers: Record<string, string>; multi: Record<string, string[]> } {
  const headers: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of eventHeaders(f)) {
    headers[name] = value;
    (multi[name] ??= []).push(value);
  }
  return { headers, multi };
}

/** 2.0: names lowercased, repeats joined with commas, cookies taken out into their own list. */
function v2Headers(f: RequestFacts): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of eventHeaders(f)) {
    const n = name.toLowerCase();
    if (n === 'cookie') {
      for (const c of value.split(';')) if (c.trim() !== '') cookies.push(c.trim());
      continue;
    }
    headers[n] = headers[n] === undefined ? value : `${headers[n]},${value}`;
  }
  return { headers, cookies };
}

function queryParams(rawQuery: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  if (rawQuery === '') return m;
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  }
  return m;
}

function v1Query(rawQuery: string): {
  single: Record<string, string> | null;
  multi: Record<string, string[]> | null;
} {
  const q = queryParams(rawQuery);
  if (q.size === 0) return { single: null, multi: null };
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, vs] of q) {
    single[k] = vs[vs.length - 1]!;
    multi[k] = vs;
  }
  return { single, multi };
}

function v2Query(rawQuery: string): Record<string, string> | undefined {
  const q = queryParams(rawQuery);
  if (q.size === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [k, vs] of q) out[k] = vs.join(',');
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `09/Apr/2015:12:34:56 +0000`, as requestContext.requestTime and requestContext.time. */
export function requestTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function userAgentOf(f: RequestFacts): string | null {
  const raw = f.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'user-agent') return raw[i + 1]!;
  return null;
}

export interface RequestContextV1 {
  accountId: string;
  apiId: string;
  authorizer: Record<string, unknown> | undefined;
  domainName: string;
  domainPrefix: string;
  extendedRequestId: string;
  httpMethod: string;
  identity: {
    accessKey: null;
    accountId: null;
    apiKey: null;
    apiKeyId: null;
    caller: null;
    clientCert: ClientCert | null;
    cognitoAuthenticationProvider: null;
    cognitoAuthenticationType: null;
    cognitoIdentityId: null;
    cognitoIdentityPoolId: null;
    principalOrgId: null;
    sourceIp: string;
    user: null;
    userAgent: string | null;
    userArn: null;
  };
  path: string;
  protocol: string;
  requestId: string;
  requestTime: string;
  requestTimeEpoch: number;
  resourceId: string;
  resourcePath: string;
  stage: string;
}

function requestContextV1(f: RequestFacts, resource: string, authorizer: Record<string, unknown> | undefined) {
  const ctx: RequestContextV1 = {
    accountId: f.arn.accountId,
    apiId: f.arn.apiId,
    authorizer,
    domainName: f.domainName,
    domainPrefix: f.domainName.split('.')[0]!,
    extendedRequestId: f.requestId,
    httpMethod: f.method,
    identity: {
      accessKey: null,
      accountId: null,
      apiKey: null,
      apiKeyId: null,
      caller: null,
      clientCert: f.cert,
      cognitoAuthenticationProvider: null,
      cognitoAuthenticationType: null,
      cognitoIdentityId: null,
      cognitoIdentityPoolId: null,
      principalOrgId: null,
      sourceIp: f.sourceIp,
      user: null,
      userAgent: userAgentOf(f),
      userArn: null,
    },
    path: f.path,
    protocol: 'HTTP/1.1',
    requestId: f.requestId,
    requestTime: requestTime(f.now),
    requestTimeEpoch: f.now.getTime(),
    resourceId: resourceIdOf(resource),
    resourcePath: resource,
    stage: f.arn.stage,
  };
  return ctx;
}

/** A stable 6-character id per resource, as API Gateway's resource ids look. */
function resourceIdOf(resource: string): string {
  return resource === '/' ? 'root00' : 'proxy0';
}

export interface RequestContextV2 {
  accountId: string;
  apiId: string;
  authentication?: { clientCert: ClientCert };
  authorizer?: { lambda: Record<string, unknown> };
  domainName: string;
  domainPrefix: string;
  http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
  requestId: string;
  routeKey: string;
  stage: string;
  time: string;
  timeEpoch: number;
}

function requestContextV2(f: RequestFacts): RequestContextV2 {
  return {
    accountId: f.arn.accountId,
    apiId: f.arn.apiId,
    ...(f.cert !== null && { authentication: { clientCert: f.cert } }),
    domainName: f.domainName,
    domainPrefix: f.domainName.split('.')[0]!,
    http: {
      method: f.method,
      path: f.path,
      protocol: 'HTTP/1.1',
      sourceIp: f.sourceIp,
      userAgent: userAgentOf(f) ?? '',
    },
    requestId: f.requestId,
    routeKey: ROUTE_KEY,
    stage: f.arn.stage,
    time: requestTime(f.now),
    timeEpoch: f.now.getTime(),
  };
}

/** A base path mapping is one catch-all route: HTTP API's `$default`. */
const ROUTE_KEY = '$default';

export interface AuthorizerEventV1 {
  type: 'REQUEST';
  methodArn: string;
  resource: string;
  path: string;
  httpMethod: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  pathParameters: { proxy: string } | null;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  stageVariables: Record<string, string> | null;
  requestContext: RequestContextV1 & { authorizer: undefined };
}

export function authorizerEventV1(f: RequestFacts): AuthorizerEventV1 {
  const { resource, pathParameters } = resourceOf(f.apiPath);
  const { headers, multi } = v1Headers(f);
  const q = v1Query(f.rawQuery);
  return {
    type: 'REQUEST',
    methodArn: methodArn(f.arn, f.method, f.apiPath),
    resource,
    path: f.path,
    httpMethod: f.method,
    headers,
    multiValueHeaders: multi,
    pathParameters,
    queryStringParameters: q.single,
    multiValueQueryStringParameters: q.multi,
    stageVariables: f.stageVariables,
    requestContext: { ...requestContextV1(f, resource, undefined), authorizer: undefined },
  };
}

export interface AuthorizerEventV2 {
  version: '2.0';
  type: 'REQUEST';
  routeArn: string;
  identitySource: string[];
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: RequestContextV2;
  stageVariables?: Record<string, string>;
}

export function authorizerEventV2(f: RequestFacts, identitySource: string[]): AuthorizerEventV2 {
  const { headers, cookies } = v2Headers(f);
  const query = v2Query(f.rawQuery);
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: methodArn(f.arn, f.method, f.apiPath),
    identitySource,
    routeKey: ROUTE_KEY,
    rawPath: f.path,
    rawQueryString: f.rawQuery,
    cookies,
    headers,
    ...(query && { queryStringParameters: query }),
    requestContext: requestContextV2(f),
    ...(f.stageVariables && { stageVariables: f.stageVariables }),
  };
}

/** The request body as an event carries it: text as is, anything else base64. */
export interface EventBody {
  body: string | null;
  isBase64Encoded: boolean;
}

const TEXT_TYPE = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)\b)/i;

export function eventBody(bytes: Buffer | null, contentType: string | undefined): EventBody {
  if (bytes === null || bytes.length === 0) return { body: null, isBase64Encoded: false };
  if (contentType !== undefined && TEXT_TYPE.test(contentType.trim())) {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    // Bytes that are not UTF-8 under a text type would be changed by decoding: send those as base64 too.
    if (!text.includes('\ufffd')) return { body: text, isBase64Encoded: false };
  }
  return { body: bytes.toString('base64'), isBase64Encoded: true };
}

export interface ProxyEventV1 {
  resource: string;
  path: string;
  httpMethod: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  pathParameters: { proxy: string } | null;
  stageVariables: Record<string, string> | null;
  requestContext: RequestContextV1;
  body: string | null;
  isBase64Encoded: boolean;
}

export function proxyEventV1(f: RequestFacts, body: EventBody, authorizer: Record<string, unknown> | undefined) {
  const { resource, pathParameters } = resourceOf(f.apiPath);
  const { headers, multi } = v1Headers(f);
  const q = v1Query(f.rawQuery);
  const event: ProxyEventV1 = {
    resource,
    path: f.path,
    httpMethod: f.method,
    headers,
    multiValueHeaders: multi,
    queryStringParameters: q.single,
    multiValueQueryStringParameters: q.multi,
    pathParameters,
    stageVariables: f.stageVariables,
    requestContext: requestContextV1(f, resource, authorizer),
    body: body.body,
    isBase64Encoded: body.isBase64Encoded,
  };
  return event;
}

export interface ProxyEventV2 {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: RequestContextV2;
  body?: string;
  isBase64Encoded: boolean;
  stageVariables?: Record<string, string>;
}

export function proxyEventV2(
  f: RequestFacts,
  body: EventBody,
  authorizer: Record<string, unknown> | undefined,
): ProxyEventV2 {
  const { headers, cookies } = v2Headers(f);
  const query = v2Query(f.rawQuery);
  const requestContext = requestContextV2(f);
  if (authorizer !== undefined) requestContext.authorizer = { lambda: authorizer };
  return {
    version: '2.0',
    routeKey: ROUTE_KEY,
    rawPath: f.path,
    rawQueryString: f.rawQuery,
    ...(cookies.length > 0 && { cookies }),
    headers,
    ...(query && { queryStringParameters: query }),
    requestContext,
    ...(body.body !== null && { body: body.body }),
    isBase64Encoded: body.isBase64Encoded,
    ...(f.stageVariables && { stageVariables: f.stageVariables }),
  };
}
