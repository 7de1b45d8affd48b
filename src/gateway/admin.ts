/**
 * The admin endpoints: /healthz, /readyz, /reload, /metrics, /domains. `adminAnswer` is a pure request -> answer
 * function, so the same code serves the admin listener of a single process and, over IPC, the primary of a
 * multi-worker gateway (cluster.ts). Bind the admin listener to loopback.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DomainLoadError, GatewayState } from './state.js';
import type { ReloadResult } from './server.js';

export interface AdminDeps {
  state(): GatewayState;
  lastErrors(): DomainLoadError[];
  reload(): Promise<ReloadResult>;
  metrics(): string;
}

export interface AdminAnswer {
  status: number;
  contentType: string;
  body: string;
}

const json = (status: number, body: unknown): AdminAnswer => ({ status, contentType: 'application/json', body: JSON.stringify(body, null, 2) + '\n' });

export const ADMIN_ENDPOINTS = ['/healthz', '/readyz', 'POST /reload', '/metrics', '/domains'];

export async function adminAnswer(method: string, url: string, deps: AdminDeps): Promise<AdminAnswer> {
  const path = url.split('?')[0];
  if (path === '/healthz' && method === 'GET') return json(200, { status: 'ok' });
  if (path === '/readyz' && method === 'GET') {
    const st = deps.state();
    const errors = deps.lastErrors();
    const missing = st.config.domains.filter((d) => !st.domains.has(d.domainName)).map((d) => d.domainName);
    const domains = Object.fromEntries(
      st.config.domains.map((d) => {
        const s = st.domains.get(d.domainName);
        const err = errors.find((e) => e.domain === d.domainName);
        return [d.domainName, { loaded: s !== undefined, truststoreVersion: s?.truststoreVersion ?? null, certificates: s?.truststoreCertificates ?? 0, loadedAt: s?.loadedAt ?? null, lastError: err?.message ?? null }];
      }),
    );
    // Ready while every domain serves with a loaded truststore; a failed reload that kept the old one is reported, not fatal.
    return json(missing.length === 0 ? 200 : 503, { ready: missing.length === 0, degraded: errors.length > 0, domains });
  }
  if (path === '/reload') {
    if (method !== 'POST') return json(405, { message: 'use POST' });
    const r = await deps.reload();
    return json(r.ok ? 200 : 500, r);
  }
  if (path === '/metrics' && method === 'GET') return { status: 200, contentType: 'text/plain; version=0.0.4', body: deps.metrics() };
  if (path === '/domains' && method === 'GET') {
    const st = deps.state();
    return json(200, [...st.domains.values()].map((d) => ({ domainName: d.name, truststoreUri: d.config.mutualTls.truststoreUri, truststoreVersion: d.truststoreVersion, certificates: d.truststoreCertificates, warnings: d.truststoreWarnings.map((w) => `${w.id}: ${w.title}`), basePaths: d.routes.map((r) => r.basePath || '(none)') })));
  }
  return json(404, { message: 'Not Found', endpoints: ADMIN_ENDPOINTS });
}

export function writeAnswer(res: ServerResponse, a: AdminAnswer): void {
  res.writeHead(a.status, { 'content-type': a.contentType, 'content-length': Buffer.byteLength(a.body) });
  res.end(a.body);
}

export async function handleAdmin(req: IncomingMessage, res: ServerResponse, deps: AdminDeps): Promise<void> {
  writeAnswer(res, await adminAnswer(req.method ?? 'GET', req.url ?? '/', deps));
}
