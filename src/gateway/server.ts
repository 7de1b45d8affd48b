/**
 * The serving core, wired: the TLS listener (listener.ts) with its connections (connections.ts), HTTP/1.1 requests
 * through the request pipeline (http1.ts, pipeline.ts), reloads (reload.ts) and the admin listener (admin.ts).
 * State is built before serving and swapped whole on reload (see state.ts); open connections are never dropped by a
 * reload. Everything a gateway owns (state, counters, backend pools, certificate caches) is its own.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CliErrorCode } from '../errors.js';
import { handleAdmin, adminSnapshot, type AdminSnapshot, type AdminSource } from './admin.js';
import { logTruststores } from './access-log.js';
import type { GatewayConfig } from './config.js';
import { trackConnections } from './connections.js';
import type { Runtime } from './context.js';
import { serveHttp1 } from './http1.js';
import { createListener } from './listener.js';
import type { Logger } from './log.js';
import { newMetrics, type Metrics } from './metrics.js';
import { backendPools, closePools } from './proxy.js';
import { reloader, type ReloadResult } from './reload.js';
import { crlRefresher, ocspTotals } from './revocation.js';
import { buildState, type GatewayState, type Generations } from './state.js';
import { randomTicketKeys, readTicketKeys, ticketKeyRing } from './ticket-keys.js';
import { certCaches } from './verify.js';
import { denialRing } from './denials.js';
import { uiAssets } from './admin-ui.js';
import { certsPage, denialViews, type CertsPage, type CertsQuery, type DenialView } from './admin-views.js';

export type { ReloadResult } from './reload.js';

export interface Gateway {
  address(): AddressInfo;
  adminAddress(): AddressInfo | null;
  reload(): Promise<ReloadResult>;
  close(deadlineMs?: number): Promise<void>;
  state(): GatewayState;
  metrics: Metrics;
  /** What the admin endpoints answer from (a worker sends it to its primary). */
  adminSnapshot(): AdminSnapshot;
  /** /certs and /denials of this process (a worker sends them to its primary). */
  certs(q: CertsQuery): CertsPage;
  denials(limit: number): Promise<DenialView[]>;
}

export class GatewayStartError extends Error {
  readonly code: CliErrorCode = 'E_START';
}

export interface StartOptions {
  /** Session ticket keys shared with sibling workers (the primary's); else tls.ticketKeyFile, else random. */
  ticketKeys?: Buffer;
  /** Recent denials to keep; default admin.denialsBuffer (none without an admin listener). */
  denialsBuffer?: number | undefined;
}

export async function startGateway(
  cfg: GatewayConfig,
  log: Logger,
  configPath: string | null = null,
  opts: StartOptions = {},
): Promise<Gateway> {
  const generations: Generations = { last: 0 };
  const built = await buildState(cfg, null, generations);
  if (built.errors.length > 0) {
    // Each message starts with the key path (domains[i]....), so the user finds the line to fix.
    throw new GatewayStartError(built.errors.map((e) => e.message).join('; '));
  }
  const rt: Runtime = {
    state: built.state,
    log,
    metrics: newMetrics(),
    pools: backendPools(),
    caches: certCaches(),
    ocsp: new Map(),
    denials: denialRing(opts.denialsBuffer ?? cfg.admin?.denialsBuffer ?? 0),
  };
  logTruststores(log, rt.state, null);
  let initialKeys: Buffer;
  try {
    const file = cfg.tls.ticketKeyFile;
    initialKeys = file ? await readTicketKeys(file) : (opts.ticketKeys ?? randomTicketKeys());
  } catch (e) {
    throw new GatewayStartError((e as Error).message);
  }

  const listener = createListener(cfg, rt, ticketKeyRing(initialKeys));
  const server = listener.server;
  const connections = trackConnections(server, rt, cfg.limits.maxConnectionsPerAddress);
  serveHttp1(server, rt);
  await listen(server, cfg.listen.host, cfg.listen.port);
  log.info({ address: server.address(), domains: [...rt.state.domains.keys()] }, 'listening');

  const reloads = reloader({ rt, generations, configPath, afterSwap: listener.refresh });
  const refresher = crlRefresher(rt);
  const snapshot = (): AdminSnapshot => {
    rt.metrics.ocsp = ocspTotals(rt.ocsp);
    return adminSnapshot(rt.state, reloads.lastErrors(), rt.metrics, reloads.lastReload());
  };
  const certs = (q: CertsQuery): CertsPage => certsPage(rt.state, q, new Date());
  const denials = (limit: number): Promise<DenialView[]> => denialViews({ ring: rt.denials, state: rt.state, limit });
  const source: AdminSource = {
    snapshots: async () => [snapshot()],
    reloads: async () => [await reloads.reload()],
    certs: async (q) => certs(q),
    denials: async (limit) => [await denials(limit)],
    workers: null,
  };
  let admin: http.Server | null = null;
  if (cfg.admin) {
    const o = { source, token: cfg.admin.token, ui: uiAssets() };
    admin = http.createServer((req, res) => void handleAdmin(req, res, o));
    await listen(admin, cfg.admin.host, cfg.admin.port);
    log.info({ address: admin.address() }, 'admin listening');
  }

  return {
    address: () => server.address() as AddressInfo,
    adminAddress: () => (admin ? (admin.address() as AddressInfo) : null),
    reload: reloads.reload,
    state: () => rt.state,
    metrics: rt.metrics,
    adminSnapshot: snapshot,
    certs,
    denials,
    async close(deadlineMs = 10_000) {
      reloads.stop();
      refresher.stop();
      const drained = connections.drain(deadlineMs);
      admin?.close();
      admin?.closeAllConnections();
      await drained;
      await closePools(rt.pools);
      for (const c of rt.ocsp.values()) c.close();
    },
  };
}

function listen(s: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const why = e.code === 'EADDRINUSE' ? 'address in use' : e.code === 'EACCES' ? 'permission denied' : e.message;
      reject(new GatewayStartError(`cannot listen on ${host}:${port}: ${why}`));
    };
    s.once('error', onError);
    s.listen(port, host, () => {
      s.off('error', onError);
      resolve();
    });
  });
}
