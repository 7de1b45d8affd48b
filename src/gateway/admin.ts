/** The admin listener: /healthz, /readyz, /reload, /metrics, /domains. Bind it to loopback. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DomainLoadError, GatewayState } from './state.js';
import type { ReloadResult } from './server.js';

export interface AdminDeps {
  state(): GatewayState;
  lastErrors(): DomainLoadError[];
  reload(): Promise<ReloadResult>;
  metrics(): string;
}

export async function handleAdmin(req: IncomingMessage, res: ServerResponse, deps: AdminDeps): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const json = (status: number, body: unknown): void => {
    const text = JSON.stringify(body, null, 2) + '\n';
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (path === '/healthz' && req.method === 'GET') return json(200, { status: 'ok' });
  if (path === '/readyz' && req.method === 'GET') {
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
    if (req.method !== 'POST') return json(405, { message: 'use POST' });
    const r = await deps.reload();
    return json(r.ok ? 200 : 500, r);
  }
  if (path === '/metrics' && req.method === 'GET') {
    const text = deps.metrics();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
    return void res.end(text);
  }
  if (path === '/domains' && req.method === 'GET') {
    const st = deps.state();
    return json(200, [...st.domains.values()].map((d) => ({ domainName: d.name, truststoreUri: d.config.mutualTls.truststoreUri, truststoreVersion: d.truststoreVersion, certificates: d.truststoreCertificates, warnings: d.truststoreWarnings.map((w) => `${w.id}: ${w.title}`), basePaths: d.routes.map((r) => r.basePath || '(none)') })));
  }
  json(404, { message: 'Not Found', endpoints: ['/healthz', '/readyz', 'POST /reload', '/metrics', '/domains'] });
}
