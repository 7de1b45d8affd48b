/**
 * Reload storms leak nothing (issue 6, Faults: "SIGHUP storms ... no leaked file handles or timers"): a real
 * `mtlsgate serve`, a trickle of accepted and denied requests, then 100 SIGHUPs in about a second and 200
 * POST /reload (four at a time). Afterwards no request has failed, and once the trickle's connections are gone
 * the gateway is back near its baseline, measured from outside the gateway's code:
 *
 * - open file descriptors (/proc/PID/fd: sockets, files left open by a truststore read, ...);
 * - active handles and ref'ed timers (process.getActiveResourcesInfo());
 * - heap in use after a full GC, and RSS within a generous bound.
 *
 * The last two come from a probe preloaded into the gateway with NODE_OPTIONS (written here, nothing in src/):
 * on SIGUSR2 it runs a full GC and writes those numbers to a file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import type { Target } from '../helpers/http.js';
import { makeWorld, sleep, startLoad, type World } from '../helpers/lifecycle.js';
import { tmpDir } from '../helpers/pki.js';

const DOMAIN = 'leaks.e2e.test';
/** Slack over the baseline: a few descriptors (a backend pool connection more or less), 8 MiB of heap. */
const FD_SLACK = 6;
const HEAP_SLACK = 8 * 1024 * 1024;
/** RSS growth allowed over the second of two identical storms. */
const RSS_SLACK = 32 * 1024 * 1024;

const PROBE = `import { renameSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const out = process.env.MTLSGATE_E2E_PROBE;
let n = 0;
process.on('SIGUSR2', () => {
  gc();
  gc();
  const resources = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const m = process.memoryUsage();
  writeFileSync(out + '.tmp', JSON.stringify({ n: ++n, resources, heapUsed: m.heapUsed, rss: m.rss }));
  renameSync(out + '.tmp', out);
});
`;

interface Probe {
  n: number;
  resources: Record<string, number>;
  heapUsed: number;
  rss: number;
  fds: number;
  fdKinds: Record<string, number>;
}

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let probeOut: string;

before(async () => {
  w = await makeWorld(DOMAIN);
  // A truststore of some size, so that a domain state kept alive by every reload would show in the heap.
  const fillers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => issue({ subject: `CN=leaks filler CA ${i}`, profile: 'root-ca' })),
  );
  writeFileSync(w.truststore, [w.ca, ...fillers].map((c) => c.certPem).join(''));
  // Idle connections close within seconds on both sides (backend 1 s, gateway 3 s), so what stays open after the storm
  // is what leaked, not
  // what a keep-alive pool kept (a loaded machine runs more requests at once, and the pools grow with them).
  echo = await startEcho('127.0.0.1', 0, { keepAliveTimeoutMs: 1000 });
  const dir = tmpDir();
  const preload = join(dir, 'probe.mjs');
  probeOut = join(dir, 'probe.json');
  writeFileSync(preload, PROBE);
  gw = await startGateway({
    config: {
      timeouts: { idleMs: 3000 },
      domains: [domainConfig(DOMAIN, w.server, w.truststore, [{ basePath: '', target: echo.url }])],
    },
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${preload}`.trim(),
      MTLSGATE_E2E_PROBE: probeOut,
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

/** What each open descriptor is: socket, pipe, anon_inode:[eventpoll], a file path. */
function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const kind = link.replace(/:\[\d+\]$/, '').replace(/^\/.*/, 'file');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

async function probe(): Promise<Probe> {
  const before = existsSync(probeOut) ? (JSON.parse(readFileSync(probeOut, 'utf8')) as { n: number }).n : 0;
  gw.signal('SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await sleep(20);
    if (!existsSync(probeOut)) continue;
    const p = JSON.parse(readFileSync(probeOut, 'utf8')) as Omit<Probe, 'fds' | 'fdKinds'>;
    if (p.n > before) {
      const kinds = fdKinds(gw.pid);
      return { ...p, fds: Object.values(kinds).reduce((a, b) => a + b, 0), fdKinds: kinds };
    }
  }
  throw new Error(`the probe did not answer SIGUSR2\n${gw.tail()}`);
}

/** Probe until the descriptors are back within the slack of `base` (connections close asynchronously), at most 15 s. */
async function settled(base: Probe): Promise<Probe> {
  let p = await probe();
  for (let i = 0; i < 30 && p.fds > base.fds + FD_SLACK; i++) {
    await sleep(500);
    p = await probe();
  }
  return p;
}

/** `count` POST /reload, four in flight at a time (the gateway runs them one after another): the statuses tallied. */
async function postReloads(count: number): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        next++;
        const r = await gw.admin('/reload', 'POST');
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
    }),
  );
  return statuses;
}

const MiB = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * One storm under traffic: 100 SIGHUPs (10 bursts of 10, 100 ms apart), then 200 POST /reload, while accepted and
 * denied clients keep connecting; asserts that nothing failed.
 */
async function storm(good: Target, denied: Target): Promise<void> {
  const mark = gw.mark();
  const ok = startLoad(good, { ratePerSec: 20, durationMs: 60_000, freshEvery: 2, path: '/leaks' });
  const no = startLoad(denied, { ratePerSec: 4, durationMs: 60_000, freshEvery: 1, path: '/denied' });
  let stormMs: number | undefined;
  let statuses: Record<number, number> | undefined;
  try {
    await sleep(300);
    // 100 SIGHUPs: 10 bursts of 10, 100 ms apart.
    const t0 = Date.now();
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < 10; i++) process.kill(gw.pid, 'SIGHUP');
      await sleep(100);
    }
    stormMs = Date.now() - t0;
    statuses = await postReloads(200);
    await sleep(300);
  } finally {
    ok.stop();
    no.stop();
  }
  const [served, refused] = await Promise.all([ok.done, no.done]);

  assert.ok(
    stormMs !== undefined && stormMs < 4000,
    `the storm took ${stormMs} ms (10 bursts 100 ms apart: about 1 s on a quiet machine)`,
  );
  assert.deepEqual(statuses, { 200: 200 }, 'every POST /reload succeeded');
  assert.ok(served.outcomes.length >= 40, `accepted requests: ${served.outcomes.length}`);
  assert.deepEqual(served.tally, { '200': served.outcomes.length }, 'zero accepted requests failed');
  assert.deepEqual(refused.tally, { '403': refused.outcomes.length }, 'every denied request got its 403');
  assert.equal(gw.exitCode, null, 'still running');
  const loads = gw.logsSince(mark).filter((l) => l.msg === 'truststore loaded').length;
  assert.ok(loads >= 201, `truststore loaded ${loads} times (200 POSTs and the coalesced SIGHUPs)`);
  const metrics = (await gw.admin('/metrics')).body;
  assert.match(metrics, /^mtlsgate_reloads_total\{result="failed"\} 0$/m);
}

test('two storms of 100 SIGHUPs in a second and 200 POST /reload under a trickle: no request failed; descriptors, handles, timers and heap back near the baseline, RSS flat', async () => {
  const good: Target = {
    port: gw.port,
    servername: DOMAIN,
    ca: w.server.caPem,
    cert: w.client.certPem,
    key: w.client.keyPem,
  };
  const denied: Target = { ...good, cert: w.otherClient.certPem, key: w.otherClient.keyPem };

  // Warm-up: the same traffic and as many reloads as the storm, so that pools, caches, lazily made things, the JIT's
  // code and the allocator's high-water mark exist at the baseline. The heap after GC grows ~1 MiB over the first
  // few hundred reloads, then stays flat (2,000 were tried). RSS rises ~70 MiB over the first 200 reloads on Node 24
  // (OpenSSL 3.5's contexts) and, after this warm-up, still 30-70 MiB in the first storm depending on the run: the
  // allocator's high-water mark, not a leak, so RSS is judged on the second storm, where a leak would grow it again.
  const warm = startLoad(good, { ratePerSec: 30, durationMs: 3000, freshEvery: 2 });
  for (let burst = 0; burst < 10; burst++) {
    for (let i = 0; i < 10; i++) process.kill(gw.pid, 'SIGHUP');
    await sleep(100);
  }
  assert.deepEqual(await postReloads(200), { 200: 200 }, 'every warm-up POST /reload succeeded');
  assert.deepEqual((await warm.done).failures, []);
  await sleep(500);
  const base = await probe();

  await storm(good, denied);
  const mid = await settled(base);
  await storm(good, denied);
  const end = await settled(base);
  const report =
    `baseline fds ${base.fds} ${JSON.stringify(base.fdKinds)}, after ${end.fds} ${JSON.stringify(end.fdKinds)}; ` +
    `handles ${JSON.stringify(base.resources)} -> ${JSON.stringify(end.resources)}; heap ${MiB(base.heapUsed)} -> ${MiB(end.heapUsed)}; rss ${MiB(base.rss)} -> ${MiB(mid.rss)} -> ${MiB(end.rss)}`;
  console.log(`# leaks: ${report}`);
  assert.ok(end.fds <= base.fds + FD_SLACK, `descriptors back near the baseline: ${report}`);
  assert.ok((end.fdKinds.file ?? 0) <= (base.fdKinds.file ?? 0), `no file left open: ${report}`);
  for (const [kind, n] of Object.entries(end.resources)) {
    const slack = kind === 'TCPSocketWrap' ? FD_SLACK : kind === 'Timeout' ? 2 : 1;
    assert.ok(
      n <= (base.resources[kind] ?? 0) + slack,
      `${kind}: ${n} active after, ${base.resources[kind] ?? 0} at the baseline: ${report}`,
    );
  }
  assert.ok(end.heapUsed <= base.heapUsed + HEAP_SLACK, `heap after a full GC back near the baseline: ${report}`);
  // RSS after the first storm moves with the allocator's high-water mark (tens of MiB from run to run, with no
  // change in the code); a leak grows it again in the second storm, which retention does not.
  assert.ok(
    end.rss <= mid.rss + RSS_SLACK,
    `RSS grew at most ${MiB(RSS_SLACK)} in the second storm: ${MiB(mid.rss)} -> ${MiB(end.rss)}; ${report}`,
  );
  assert.equal(gw.stderr, '', 'nothing on stderr');

  await gw.stop();
  assert.deepEqual([gw.exitCode, gw.exitSignal], [0, null], 'exits 0 on SIGTERM (the probe keeps nothing alive)');
});
