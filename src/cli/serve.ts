/** `mtlsgate serve --config FILE`: run the gateway. SIGHUP reloads; SIGTERM/SIGINT drain and stop. */
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { UserError } from '../errors.js';
import { availableParallelism } from 'node:os';
import { waitForSignals } from './signals.js';
import { gatewayModules } from './gateway-modules.js';

interface ServeOptions {
  config: string;
  logFormat?: string;
  check?: boolean;
  workers: string;
  workerHeapMb?: string;
}

export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('run the mutual-TLS gateway')
    .requiredOption('-c, --config <file>', 'YAML or JSON config (see docs/config.md)')
    .option('--log-format <json|pretty>', 'override logs.format')
    .option('--check', 'validate the config and load every certificate and truststore, then exit')
    .option(
      '--workers <n|auto>',
      'worker threads sharing the listener, each a whole gateway (auto: one per core; 1: no threads)',
      'auto',
    )
    .option('--worker-heap-mb <n>', "each worker thread's heap limit in MiB (default: the process's)")
    .action(async (o: ServeOptions) => {
      const workers = parseWorkers(o.workers);
      const heapMb = o.workerHeapMb === undefined ? undefined : parseHeap(o.workerHeapMb);
      if (o.logFormat !== undefined && o.logFormat !== 'json' && o.logFormat !== 'pretty')
        throw new UserError('E_BAD_LOG_FORMAT', `--log-format: expected json or pretty, got "${o.logFormat}"`);
      const logFormat = o.logFormat as 'json' | 'pretty' | undefined;
      // The main thread of several workers runs no gateway: it loads only the config, the logger and the admin.
      const threads = workers > 1 && !o.check;
      const [{ loadConfig }, { makeLogger }] = await Promise.all([
        import('../gateway/config.js'),
        import('../gateway/log.js'),
      ]);
      const cfg = await loadConfig(o.config);
      if (logFormat !== undefined) cfg.logs.format = logFormat;
      // --check only reports problems; the temporary listener's start-up lines would be noise.
      const log = makeLogger(cfg.logs.format, o.check ? 'warn' : cfg.logs.level);
      const { clientChainWarning } = await import('../policy/node-tls.js');
      const chainWarning = clientChainWarning(process.version);
      if (chainWarning !== null) log.warn({ node: process.version }, chainWarning);
      // A SIGHUP during start-up (systemctl reload right after start) must not kill the process: remember it.
      let earlyHup = false;
      const onEarlyHup = (): void => {
        earlyHup = true;
      };
      process.on('SIGHUP', onEarlyHup);
      if (threads) {
        const { runPrimary } = await import('../gateway/workers.js');
        try {
          await runPrimary({
            workers,
            cfg,
            configPath: o.config,
            logFormat,
            heapMb,
            log,
            onStartError: (m) => new UserError('E_START', `${o.config}: ${m}`),
          });
        } finally {
          process.off('SIGHUP', onEarlyHup);
        }
        return;
      }
      if (o.check) {
        // Only what can refuse a start (prepare.ts): none of the listener, pipeline, backend pools or admin.
        const { checkGateway, GatewayStartError } = await import('../gateway/prepare.js');
        try {
          await checkGateway(cfg, log);
        } catch (e) {
          if (e instanceof GatewayStartError) throw new UserError('E_START', `${o.config}: ${e.message}`);
          throw e;
        } finally {
          process.off('SIGHUP', onEarlyHup);
        }
        ctx.io.stdout.write(`${o.config}: ok (${cfg.domains.length} domain(s) loaded)\n`);
        return;
      }
      const { startGateway, GatewayStartError } = await gatewayModules();
      let gw;
      try {
        gw = await startGateway(cfg, log, o.config);
      } catch (e) {
        if (e instanceof GatewayStartError) throw new UserError('E_START', `${o.config}: ${e.message}`);
        throw e;
      } finally {
        process.off('SIGHUP', onEarlyHup);
      }
      const stopped = waitForSignals(gw, log);
      if (earlyHup) process.emit('SIGHUP', 'SIGHUP');
      await stopped;
    });
}

function parseWorkers(s: string): number {
  if (s === 'auto') return availableParallelism();
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UserError('E_BAD_WORKERS', `--workers: expected a number from 1 to 64 or auto, got "${s}"`);
  return n;
}

function parseHeap(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 16 || n > 65_536)
    throw new UserError('E_BAD_WORKERS', `--worker-heap-mb: expected a number of MiB from 16 to 65536, got "${s}"`);
  return n;
}
