/** `mtlsgate serve --config FILE`: run the gateway. SIGHUP reloads; SIGTERM/SIGINT drain and stop. */
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { UserError } from '../errors.js';
import { loadConfig } from '../gateway/config.js';
import { makeLogger } from '../gateway/log.js';
import { GatewayStartError, startGateway } from '../gateway/server.js';
import { waitForSignals } from './signals.js';

export function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('run the mutual-TLS gateway')
    .requiredOption('-c, --config <file>', 'YAML or JSON config (see docs/config.md)')
    .option('--log-format <json|pretty>', 'override logs.format')
    .option('--check', 'validate the config and load every certificate and truststore, then exit')
    .action(async (o: { config: string; logFormat?: string; check?: boolean }) => {
      const cfg = await loadConfig(o.config);
      if (o.logFormat !== undefined) {
        if (o.logFormat !== 'json' && o.logFormat !== 'pretty') throw new UserError('E_USAGE', `--log-format: expected json or pretty, got "${o.logFormat}"`);
        cfg.logs.format = o.logFormat;
      }
      // --check only reports problems; the temporary listener's start-up lines would be noise.
      const log = makeLogger(cfg.logs.format, o.check ? 'warn' : cfg.logs.level);
      // A SIGHUP during start-up (systemctl reload right after start) must not kill the process: remember it.
      let earlyHup = false;
      const onEarlyHup = (): void => {
        earlyHup = true;
      };
      process.on('SIGHUP', onEarlyHup);
      let gw;
      try {
        gw = await startGateway(o.check ? { ...cfg, listen: { host: '127.0.0.1', port: 0 }, admin: undefined } : cfg, log, o.config);
      } catch (e) {
        if (e instanceof GatewayStartError) throw new UserError('E_START', `${o.config}: ${e.message}`);
        throw e;
      } finally {
        process.off('SIGHUP', onEarlyHup);
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
