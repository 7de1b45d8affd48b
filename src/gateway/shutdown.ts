/** Shutdown rules shared by a single gateway process (cli/signals.ts) and the main thread of workers (workers.ts). */

/**
 * How long the listener keeps accepting after the stop signal. SIGTERM (an orchestrator's stop) waits
 * `shutdown.drainDelayMs`, while load balancers drop the endpoint; SIGINT (Ctrl-C at a terminal) stops at once.
 */
export function drainDelayFor(signal: string, drainDelayMs: number): number {
  return signal === 'SIGTERM' ? drainDelayMs : 0;
}
