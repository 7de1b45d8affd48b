/** Process signals for a running gateway: SIGHUP reloads (coalesced), SIGTERM/SIGINT drain and stop. */
import type { Gateway } from '../gateway/server.js';
import type { Logger } from '../gateway/log.js';

export function waitForSignals(gw: Gateway, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let reloading: Promise<unknown> | null = null;
    let again = false;
    const onHup = (): void => {
      // A storm of SIGHUPs becomes at most one reload in flight plus one queued.
      if (reloading) {
        again = true;
        return;
      }
      reloading = gw.reload().finally(() => {
        reloading = null;
        if (again) {
          again = false;
          onHup();
        }
      });
    };
    const onStop = (sig: string): void => {
      log.info({ signal: sig }, 'draining and stopping');
      process.off('SIGHUP', onHup);
      gw.close(10_000).then(() => {
        log.info('stopped');
        resolve();
      });
    };
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => onStop('SIGTERM'));
    process.once('SIGINT', () => onStop('SIGINT'));
  });
}
