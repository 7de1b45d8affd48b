/**
 * What a gateway builds before it listens, and all that can refuse a config at start-up: the state (every domain's
 * certificate, truststore, CRLs and handlers) and the session ticket keys. `serve --check` runs only this, so it
 * loads none of what serving alone needs (the listener, the request pipeline, the backend pools, the admin).
 */
import type { CliErrorCode } from '../errors.js';
import { logTruststores } from './access-log.js';
import type { GatewayConfig } from './config.js';
import type { Logger } from './log.js';
import { buildState, type GatewayState, type Generations } from './state.js';
import { randomTicketKeys, readTicketKeys } from './ticket-keys.js';
import { closeHost, handlerHost, type HandlerHost } from './lambda/pool.js';

export class GatewayStartError extends Error {
  readonly code: CliErrorCode = 'E_START';
}

export interface Prepared {
  state: GatewayState;
  generations: Generations;
  ticketKeys: Buffer;
}

/**
 * Build the state and read the ticket keys (tls.ticketKeyFile, else `ticketKeys`, else random); a domain that does
 * not build or an unreadable key file throws GatewayStartError. Logs the truststores' warnings.
 */
export async function prepareGateway(o: {
  cfg: GatewayConfig;
  log: Logger;
  handlers: HandlerHost;
  ticketKeys?: Buffer | undefined;
}): Promise<Prepared> {
  const generations: Generations = { last: 0 };
  const built = await buildState(o.cfg, null, generations, o.handlers);
  if (built.errors.length > 0) {
    // Each message starts with the key path (domains[i]....), so the user finds the line to fix.
    throw new GatewayStartError(built.errors.map((e) => e.message).join('; '));
  }
  logTruststores(o.log, built.state, null);
  let ticketKeys: Buffer;
  try {
    const file = o.cfg.tls.ticketKeyFile;
    ticketKeys = file ? await readTicketKeys(file) : (o.ticketKeys ?? randomTicketKeys());
  } catch (e) {
    throw new GatewayStartError((e as Error).message);
  }
  return { state: built.state, generations, ticketKeys };
}

/**
 * `serve --check`: everything a start would refuse, without listening. Handler workers started to load the
 * handlers are stopped before it returns.
 */
export async function checkGateway(cfg: GatewayConfig, log: Logger): Promise<void> {
  const handlers = handlerHost(log);
  try {
    await prepareGateway({ cfg, log, handlers });
  } finally {
    await closeHost(handlers);
  }
}
