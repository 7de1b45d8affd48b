import { compileAllow, type AllowConfig, type AllowList } from './allow.js';
import { requestLabels, type RequestLabels } from './metrics.js';

export type ClientCertificateMode = 'required' | 'optional' | 'none';

/**
 * Base path mappings, as API Gateway's: `/orders/42?x=1` on basePath `orders` reaches the target as `/42?x=1`
 * (plus the target URL's own path as a prefix); the empty base path forwards the whole path; the longest match wins.
 */
export interface Route {
  /** Without slashes at either end; '' maps everything. */
  basePath: string;
  target: URL;
  /** The target's path without its trailing slash ('' for a bare origin). */
  prefix: string;
  /** `scheme://host:port`, the key of the backend pool. */
  origin: string;
  /** `/basePath` and `/basePath/`, built once (matched on every request). */
  exact: string;
  under: string;
  /** `/orders`, `/` for the empty base path: $context.resourcePath in the access log. */
  resourcePath: string;
  /** The mapping's own mode, else the domain's. */
  clientCertificate: ClientCertificateMode;
  /** The allow-list that judges its certificates: the mapping's own, else the domain's; null admits every one. */
  allow: AllowList | null;
  /** The Lambda authorizer's name, null when the route has none. */
  authorizer: string | null;
  /** For a `lambda:` target: the handler's resolved `FILE#EXPORT` and the event version; else null. */
  lambda: { spec: string; payloadFormatVersion: '1.0' | '2.0' } | null;
  /** Its requests' metric labels: the domain and resourcePath, never the path a client sent. */
  labels: RequestLabels;
}

export function makeRoutes(
  mappings: readonly {
    basePath: string;
    target: string;
    clientCertificate?: ClientCertificateMode | undefined;
    allow?: AllowConfig | undefined;
    authorizer?: string | undefined;
    payloadFormatVersion?: '1.0' | '2.0' | undefined;
  }[],
  domain: { name?: string; clientCertificate: ClientCertificateMode; allow: AllowList | null } = {
    clientCertificate: 'required',
    allow: null,
  },
): Route[] {
  return mappings
    .map((m) => {
      const target = new URL(m.target);
      return {
        basePath: m.basePath,
        target,
        prefix: target.pathname.replace(/\/+$/, ''),
        origin: target.origin,
        exact: `/${m.basePath}`,
        under: `/${m.basePath}/`,
        resourcePath: `/${m.basePath}`,
        clientCertificate: m.clientCertificate ?? domain.clientCertificate,
        allow: m.allow !== undefined ? compileAllow(m.allow) : domain.allow,
        authorizer: m.authorizer ?? null,
        lambda: m.target.startsWith('lambda:')
          ? { spec: m.target.slice('lambda:'.length), payloadFormatVersion: m.payloadFormatVersion ?? '1.0' }
          : null,
        labels: requestLabels(domain.name ?? '', `/${m.basePath}`),
      };
    })
    .sort((a, b) => b.basePath.length - a.basePath.length);
}

export interface RouteMatch {
  route: Route;
  /** What the backend receives: prefix + the rest of the path + the query. */
  upstreamPath: string;
}

/** `url` is the request target as received (origin-form). */
export function matchRoute(routes: readonly Route[], url: string): RouteMatch | null {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  for (const route of routes) {
    const bp = route.basePath;
    let rest: string;
    if (bp === '') rest = path;
    else if (path === route.exact || path === route.under) rest = '/';
    else if (path.startsWith(route.under)) rest = path.slice(bp.length + 1);
    else continue;
    const joined = route.prefix + rest;
    return { route, upstreamPath: (joined === '' ? '/' : joined) + query };
  }
  return null;
}

/**
 * A request target we refuse before routing: not origin-form, or a path that could climb out of its base path
 * once a backend decodes it (dot segments, encoded slashes or backslashes, NUL).
 */
export function unsafeTarget(url: string): string | null {
  if (!url.startsWith('/')) return 'request target must be a path (origin-form)';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  // The common path has none of %, \ or a segment starting with a dot: nothing to look at closer.
  if (!path.includes('%') && !path.includes('\\') && !path.includes('/.')) return null;
  if (/%(2f|5c|00)/i.test(path) || path.includes('\\')) return 'encoded slash, backslash or NUL in path';
  for (const seg of path.split('/')) {
    const s = seg.replace(/%2e/gi, '.');
    if (s === '.' || s === '..') return 'dot segment in path';
  }
  return null;
}
