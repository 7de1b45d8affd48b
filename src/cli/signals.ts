/** Process signals for a running gateway: SIGHUP reloads (coalesced), SIGTERM/SIGINT drain and stop. */
import type { Gateway } from '../gateway/server.js';
import type { Logger } from '../gateway/log.js';
import { drainDelayFor } from '../gateway/shutdown.js';

/** A reload trigger that turns a storm of requests into at most one reload in flight plus one queued. */
export function coalescedReload(gw: Gateway): () => void {
  let reloading: Promise<unknown> | null = null;
  let again = false;
  const trigger = (): void => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = gw.reload().finally(() => {
      reloading = null;
      if (again) {
        again = false;
        trigger();
      }
    });
  };
  return trigger;
}

export function waitForSignals(gw: Gateway, log: Logger): Promise<void> {
  // The start-up config's, like the primary's with --workers (docs/config.md: the other timeouts need a restart).
  const { timeouts, shutdown } = gw.state().config;
  return new Promise((resolve) => {
    const onHup = coalescedReload(gw);
    const onStop = (sig: string): void => {
      const drainDelayMs = drainDelayFor(sig, shutdown.drainDelayMs);
      log.info({ signal: sig, drainDelayMs }, 'draining and stopping');
      process.off('SIGHUP', onHup);
      gw.close(timeouts.shutdownMs, { drainDelayMs }).then(() => {
        log.info('stopped');
        resolve();
      });
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
}
