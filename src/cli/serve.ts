/** `mtlsgate serve --config FILE`: run the gateway. SIGHUP reloads; SIGTERM/SIGINT drain and stop. */
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { UserError } from '../errors.js';
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { coalescedReload, waitForSignals } from './signals.js';
import type { ToPrimary } from '../gateway/cluster.js';
import { TICKET_KEYS_ENV } from '../gateway/ticket-keys.js';
import { gatewayModules } from './gateway-modules.js';

export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('run the mutual-TLS gateway')
    .requiredOption('-c, --config <file>', 'YAML or JSON config (see docs/config.md)')
    .option('--log-format <json|pretty>', 'override logs.format')
    .option('--check', 'validate the config and load every certificate and truststore, then exit')
    .option('--workers <n|auto>', 'worker processes sharing the listener (auto: one per core)', 'auto')
    .action(async (o: { config: string; logFormat?: string; check?: boolean; workers: string }) => {
      const workers = parseWorkers(o.workers);
      const { loadConfig, makeLogger, startGateway, GatewayStartError, runPrimary, serveAsWorker } =
        await gatewayModules();
      const cfg = await loadConfig(o.config);
      if (o.logFormat !== undefined) {
        if (o.logFormat !== 'json' && o.logFormat !== 'pretty')
          throw new UserError('E_BAD_LOG_FORMAT', `--log-format: expected json or pretty, got "${o.logFormat}"`);
        cfg.logs.format = o.logFormat;
      }
      // --check only reports problems; the temporary listener's start-up lines would be noise.
      const log = makeLogger(cfg.logs.format, o.check ? 'warn' : cfg.logs.level);
      const { clientChainWarning } = await import('../policy/node-tls.js');
      const chainWarning = cluster.isPrimary ? clientChainWarning(process.version) : null;
      if (chainWarning !== null) log.warn({ node: process.version }, chainWarning);
      // A SIGHUP during start-up (systemctl reload right after start) must not kill the process: remember it.
      let earlyHup = false;
      const onEarlyHup = (): void => {
        earlyHup = true;
      };
      process.on('SIGHUP', onEarlyHup);
      if (workers > 1 && !o.check && cluster.isPrimary) {
        try {
          await runPrimary({
            workers,
            cfg,
            configPath: o.config,
            log,
            onStartError: (m) => new UserError('E_START', `${o.config}: ${m}`),
          });
        } finally {
          process.off('SIGHUP', onEarlyHup);
        }
        return;
      }
      let gw;
      try {
        // A worker leaves the admin listener to its primary, which asks every worker and merges the answers.
        const run = o.check
          ? { ...cfg, listen: { host: '127.0.0.1', port: 0 }, admin: undefined }
          : cluster.isWorker
            ? { ...cfg, admin: undefined }
            : cfg;
        // A worker keeps the denials its primary's /denials asks for, though it runs no admin listener.
        const denialsBuffer = cluster.isWorker ? cfg.admin?.denialsBuffer : undefined;
        gw = await startGateway(run, log, o.config, {
          ticketKeys: workerTicketKeys(),
          denialsBuffer,
          // A worker's primary watches the files; --check only loads them.
          watchFiles: !cluster.isWorker && !o.check,
        });
      } catch (e) {
        if (cluster.isWorker && e instanceof Error)
          process.send?.({ type: 'start-error', message: e.message } satisfies ToPrimary);
        if (e instanceof GatewayStartError) throw new UserError('E_START', `${o.config}: ${e.message}`);
        throw e;
      } finally {
        process.off('SIGHUP', onEarlyHup);
      }
      if (cluster.isWorker) {
        await serveAsWorker(gw, coalescedReload(gw));
        return;
      }
      if (o.check) {
        await gw.close(0);
        ctx.io.stdout.write(`${o.config}: ok (${cfg.domains.length} domain(s) loaded)\n`);
        return;
      }
      const stopped = waitForSignals(gw, log);
      if (earlyHup) process.emit('SIGHUP', 'SIGHUP');
      await stopped;
    });
}

/** In a worker: the session ticket keys its primary generated for all its workers (read once, then dropped). */
function workerTicketKeys(): Buffer | undefined {
  const hex = process.env[TICKET_KEYS_ENV];
  if (!cluster.isWorker || hex === undefined) return undefined;
  delete process.env[TICKET_KEYS_ENV];
  return Buffer.from(hex, 'hex');
}

function parseWorkers(s: string): number {
  if (s === 'auto') return availableParallelism();
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UserError('E_BAD_WORKERS', `--workers: expected a number from 1 to 64 or auto, got "${s}"`);
  return n;
}
