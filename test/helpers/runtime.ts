/**
 * A gateway Runtime built in-process from a config, as `startGateway` builds it but without listeners: for tests that
 * drive the request pipeline (or one stage) directly and read the decisions off the context.
 */
import assert from 'node:assert/strict';
import type { GatewayConfig } from '../../src/gateway/config.js';
import type { Runtime } from '../../src/gateway/context.js';
import { denialRing } from '../../src/gateway/denials.js';
import { handlerHost } from '../../src/gateway/lambda/pool.js';
import type { Logger } from '../../src/gateway/log.js';
import { newMetrics } from '../../src/gateway/metrics.js';
import { backendPools } from '../../src/gateway/proxy.js';
import { buildState, type Generations } from '../../src/gateway/state.js';
import { certCaches } from '../../src/gateway/verify.js';

/** Every domain must load (the build's errors are asserted empty). */
export async function testRuntime(o: {
  cfg: GatewayConfig;
  log: Logger;
  generations?: Generations;
  /** The denial ring's capacity (admin.denialsBuffer). */
  denials?: number;
}): Promise<Runtime> {
  const handlers = handlerHost(o.log);
  const built = await buildState(o.cfg, null, o.generations ?? { last: 0 }, handlers);
  assert.deepEqual(built.errors, []);
  return {
    state: built.state,
    log: o.log,
    metrics: newMetrics(),
    pools: backendPools(),
    caches: certCaches(),
    ocsp: new Map(),
    denials: denialRing(o.denials ?? 10),
    handlers,
  };
}
