/**
 * The serving core, wired: the TLS listener (listener.ts) with its connections (connections.ts), HTTP/1.1 requests
 * through the request pipeline (http1.ts, pipeline.ts), reloads (reload.ts) and the admin listener (admin.ts).
 * State is built before serving and swapped whole on reload (see state.ts); open connections are never dropped by a
 * reload. Everything a gateway owns (state, counters, backend pools, certificate caches) is its own.
 */
import type { Server } from 'node:http';
import { http } from '../node-http.js';
import type { AddressInfo } from 'node:net';
import { handleAdmin, adminSnapshot, type AdminSnapshot, type AdminSource } from './admin.js';
import type { GatewayConfig } from './config.js';
import { trackConnections } from './connections.js';
import type { Runtime } from './context.js';
import { serveHttp1 } from './http1.js';
import { createListener } from './listener.js';
import type { Logger } from './log.js';
import { newMetrics, type Metrics } from './metrics.js';
import { listen } from './bind.js';
import { backendPools, closePools } from './proxy.js';
import { reloader, type ReloadOptions, type ReloadResult } from './reload.js';
import { crlRefresher, ocspTotals } from './revocation.js';
import type { GatewayState } from './state.js';
import { ticketKeyRing } from './ticket-keys.js';
import { certCaches } from './verify.js';
import { denialRing } from './denials.js';
import { uiAssets } from './admin-ui.js';
import { certsPage, denialViews, type CertsPage, type CertsQuery, type DenialView } from './admin-views.js';
import { watchedPaths, watchFiles, type FileWatch } from './watch.js';
import { closeHost, handlerHost, type HandlerHost } from './lambda/pool.js';
import { GatewayStartError, prepareGateway } from './prepare.js';

export type { ReloadOptions, ReloadResult } from './reload.js';
export { GatewayStartError } from './prepare.js';

export interface Gateway {
  address(): AddressInfo;
  adminAddress(): AddressInfo | null;
  reload(o?: ReloadOptions): Promise<ReloadResult>;
  /**
   * Drain and stop: /readyz answers 503 and every answer says `Connection: close` at once; the listener accepts for
   * `drainDelayMs` more, then stops; requests in flight get `deadlineMs` from then to finish.
   */
  close(deadlineMs?: number, o?: { drainDelayMs?: number }): Promise<void>;
  state(): GatewayState;
  metrics: Metrics;
  /** What the admin endpoints answer from (a worker thread sends it to the main thread). */
  adminSnapshot(): AdminSnapshot;
  /** /certs and /denials of this gateway (a worker thread sends them to the main thread). */
  certs(q: CertsQuery): CertsPage;
  denials(limit: number): Promise<DenialView[]>;
}

export interface StartOptions {
  /** Session ticket keys shared with sibling threads (the main thread's); else tls.ticketKeyFile, else random. */
  ticketKeys?: Buffer;
  /** Recent denials to keep; default admin.denialsBuffer (none without an admin listener). */
  denialsBuffer?: number | undefined;
  /** false: never watch files, whatever `watch.enabled` says (a worker thread: the main thread watches). */
  watchFiles?: boolean;
  /** Listen with SO_REUSEPORT, beside sibling worker threads on the same address. */
  reusePort?: boolean;
}

export async function startGateway(
  cfg: GatewayConfig,
  log: Logger,
  configPath: string | null = null,
  opts: StartOptions = {},
): Promise<Gateway> {
  const handlers = handlerHost(log);
  try {
    return await start({ cfg, log, configPath, opts, handlers });
  } catch (e) {
    // The workers of the handlers that did load.
    await closeHost(handlers);
    throw e;
  }
}

async function start(o: {
  cfg: GatewayConfig;
  log: Logger;
  configPath: string | null;
  opts: StartOptions;
  handlers: HandlerHost;
}): Promise<Gateway> {
  const { cfg, log, configPath, opts, handlers } = o;
  const { state, generations, ticketKeys } = await prepareGateway({ cfg, log, handlers, ticketKeys: opts.ticketKeys });
  const rt: Runtime = {
    state,
    log,
    metrics: newMetrics(),
    pools: backendPools(),
    caches: certCaches(),
    ocsp: new Map(),
    denials: denialRing(opts.denialsBuffer ?? cfg.admin?.denialsBuffer ?? 0),
    handlers,
  };
  // The start is the first load in which every domain loaded.
  rt.metrics.lastReloadSuccess = Date.now() / 1000;

  const listener = createListener(cfg, rt, ticketKeyRing(ticketKeys));
  const server = listener.server;
  const connections = trackConnections(server, rt, cfg.limits.maxConnectionsPerAddress);
  const http1 = serveHttp1(server, rt);
  await listen({ server, ...cfg.listen, reusePort: opts.reusePort, onError: (m) => new GatewayStartError(m) });
  log.info({ address: server.address(), domains: [...rt.state.domains.keys()] }, 'listening');

  let watch: FileWatch | null = null;
  const afterSwap = async (): Promise<void> => {
    await listener.refresh();
    await watch?.setPaths(watchedPaths(rt.state.config, configPath));
  };
  const reloads = reloader({ rt, generations, configPath, afterSwap });
  if (cfg.watch.enabled && opts.watchFiles !== false) {
    watch = await watchFiles({
      paths: watchedPaths(cfg, configPath),
      debounceMs: cfg.watch.debounceMs,
      log,
      onChange: (files) => {
        log.info({ files }, 'watched files changed: reloading what reads them');
        void reloads.reload({ changedFiles: files });
      },
    });
  }
  let draining = false;
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
    draining: () => draining,
  };
  let admin: Server | null = null;
  if (cfg.admin) {
    const o = { source, token: cfg.admin.token, ui: uiAssets() };
    admin = http.createServer((req, res) => void handleAdmin(req, res, o));
    await listen({ server: admin, ...cfg.admin, onError: (m) => new GatewayStartError(m) });
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
    async close(deadlineMs = 10_000, o = {}) {
      draining = true;
      http1.closeAfterAnswers(connections.tlsSockets());
      reloads.stop();
      refresher.stop();
      watch?.close();
      const delayMs = o.drainDelayMs ?? 0;
      if (delayMs > 0) {
        log.info({ drainDelayMs: delayMs }, 'draining: not ready, still accepting connections');
        await new Promise((r) => setTimeout(r, delayMs));
      }
      // The listener closes now; whatever is in flight has deadlineMs from here.
      const drained = connections.drain(deadlineMs);
      log.info({ deadlineMs }, 'stopped accepting connections');
      await drained;
      // Last: the probes see the drain (503) until the end.
      admin?.close();
      admin?.closeAllConnections();
      // After the drain: calls in flight had their time to finish; a worker still busy (a loop) is terminated.
      await closeHost(rt.handlers);
      await closePools(rt.pools);
      for (const c of rt.ocsp.values()) c.close();
    },
  };
}
