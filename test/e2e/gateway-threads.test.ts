/**
 * The worker threads of `serve --workers 2` fail one at a time: a thread that throws, or that runs out of its heap
 * (--worker-heap-mb), ends alone and is started again while the other keeps serving; more than 5 restarts in a
 * minute stop the gateway. Faults are injected by test/helpers/thread-faults.mjs (node --import), on a file's word.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { startEcho, startHashBackend, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import {
  serverIdentity,
  tmpDir,
  writeClient,
  writeTruststore,
  type ClientFiles,
  type ServerIdentity,
} from '../helpers/pki.js';

const DOMAIN = 'threads.e2e.test';
const FAULTS = new URL('../helpers/thread-faults.mjs', import.meta.url).pathname;
let echo: EchoBackend;
let server: ServerIdentity;
let client: ClientFiles;
let truststore = '';
let dir = '';

before(async () => {
  dir = tmpDir();
  server = await serverIdentity(dir, [DOMAIN]);
  const root = await issue({ subject: 'CN=Threads Root', profile: 'root-ca' });
  client = writeClient(dir, 'client', await issue({ subject: 'CN=thread client', profile: 'client', issuer: root }));
  truststore = writeTruststore(dir, 'truststore', [root]);
  echo = await startEcho();
});

test('an admin port already taken: one line, exit 2, and the threads started before it end', async () => {
  const { runServe } = await import('../helpers/cli.js');
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const taken = (holder.address() as AddressInfo).port;
  try {
    const config = join(dir, 'admin-taken.json');
    const domains = [domainConfig(DOMAIN, server, truststore, [{ basePath: '', target: echo.url }])];
    writeFileSync(config, JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, admin: { port: taken }, domains }));
    const r = await runServe(['--config', config, '--workers', '2'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: address in use`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  } finally {
    holder.close();
  }
});

after(async () => {
  await echo?.close();
});

/** A gateway of two threads with the fault injector, its faults directory its own. */
async function start(name: string, args: string[] = []): Promise<{ gw: GatewayProcess; faults: string }> {
  const faults = join(dir, name);
  mkdirSync(faults);
  const gw = await startGateway({
    config: { domains: [domainConfig(DOMAIN, server, truststore, [{ basePath: '', target: echo.url }])] },
    dir,
    args: ['--workers', '2', ...args],
    nodeArgs: ['--import', FAULTS],
    env: { MTLSGATE_TEST_FAULTS: faults },
  });
  return { gw, faults };
}

const get = (gw: GatewayProcess): Promise<{ status: number; text: string }> =>
  nodeRequest({
    port: gw.port,
    servername: DOMAIN,
    ca: server.caPem,
    cert: client.certPem,
    key: client.keyPem,
    path: '/t',
    agent: false,
  });

/** The worker thread that wrote each request line since `from`. */
const requestWorkers = (gw: GatewayProcess, from: number): number[] =>
  gw
    .logsSince(from)
    .filter((l: LogLine) => l.msg === 'request' && typeof l.worker === 'number')
    .map((l: LogLine) => l.worker as number);

/** Fresh connections until both threads served some (the kernel picks), within bounds; the threads that did. */
async function untilBothServe(gw: GatewayProcess): Promise<Set<number>> {
  const from = gw.mark();
  for (let i = 0; i < 100; i++) {
    assert.equal((await get(gw)).status, 200);
    if (i >= 9 && new Set(requestWorkers(gw, from)).size === 2) break;
  }
  return new Set(requestWorkers(gw, from));
}

test('both threads accept connections, in one process', async () => {
  const { gw } = await start('both');
  try {
    // ps exits 1 when it lists nothing.
    const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(gw.pid)], { encoding: 'utf8' }).stdout.trim();
    assert.equal(children, '', 'no child processes: the workers are threads');
    const from = gw.mark();
    const n = 40;
    for (let i = 0; i < n; i++) assert.equal((await get(gw)).status, 200);
    // A request's line is written after its answer: wait for the last one.
    let lines = 0;
    await gw.waitForLog((l) => l.msg === 'request' && ++lines === n, { from });
    const workers = requestWorkers(gw, from);
    assert.equal(workers.length, n, 'every request logged with its thread');
    const counts = [...new Set(workers)].map((w) => workers.filter((x) => x === w).length);
    assert.equal(counts.length, 2, `two threads served ${n} fresh connections: ${workers.join(',')}`);
    assert.ok(counts.every((c) => c > 0));
  } finally {
    await gw.stop();
  }
});

test('a thread that throws is restarted; the other keeps serving meanwhile', async () => {
  const { gw, faults } = await start('throw');
  try {
    const before = await untilBothServe(gw);
    assert.equal(before.size, 2);
    const from = gw.mark();
    writeFileSync(join(faults, 'throw-once'), '');
    const failed = await gw.waitForLog((l) => l.msg === 'worker failed', { from, timeoutMs: 10_000 });
    assert.match(String(failed.err), /injected fault/);
    await gw.waitForLog((l) => l.msg === 'worker exited; starting another' && l.worker === failed.worker, { from });
    // The process and the other thread answer while the failed one starts again. Asked once the failed thread is
    // gone: until then the kernel still queues connections on its listening socket, and resets them as it closes.
    assert.equal((await get(gw)).status, 200);
    await gw.waitForLog((l) => l.msg === 'listening' && !before.has(l.worker as number), { from, timeoutMs: 20_000 });
    const after = await untilBothServe(gw);
    assert.equal(after.size, 2, 'the new thread serves too');
    assert.ok(!after.has(failed.worker as number), 'the failed thread is gone');
    assert.equal(gw.exitCode, null, 'the process still runs');
  } finally {
    await gw.stop();
  }
});

/** `n` requests on fresh connections, one after another: the thread that served each and whether `backend` did. */
async function served(gw: GatewayProcess, n: number, onBackend: (text: string) => boolean) {
  const from = gw.mark();
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await get(gw);
    assert.equal(r.status, 200);
    texts.push(r.text);
  }
  let lines = 0;
  await gw.waitForLog((l) => l.msg === 'request' && ++lines === n, { from });
  return requestWorkers(gw, from).map((worker, i) => ({ worker, onBackend: onBackend(texts[i]!) }));
}

test('a restarted thread starts with the config of the last reload, not the one the process started with', async () => {
  const { gw, faults } = await start('reload');
  const hash = await startHashBackend();
  try {
    // The hash backend answers an empty GET with an empty body; the echo backend with the request as JSON.
    const toHash = (text: string): boolean => text === '';
    const config = { domains: [domainConfig(DOMAIN, server, truststore, [{ basePath: '', target: hash.url }])] };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
    gw.signal('SIGHUP');
    let after: { worker: number; onBackend: boolean }[] = [];
    for (let i = 0; i < 50; i++) {
      after = await served(gw, 10, toHash);
      if (after.every((r) => r.onBackend) && new Set(after.map((r) => r.worker)).size === 2) break;
    }
    assert.ok(
      after.every((r) => r.onBackend),
      'both threads reloaded: every request reaches the new backend',
    );
    const from = gw.mark();
    writeFileSync(join(faults, 'throw-once'), '');
    const failed = await gw.waitForLog((l) => l.msg === 'worker failed', { from, timeoutMs: 10_000 });
    const started = await gw.waitForLog(
      (l) => l.msg === 'listening' && l.worker !== undefined && l.worker !== failed.worker,
      { from, timeoutMs: 20_000 },
    );
    let fromNew: { worker: number; onBackend: boolean }[] = [];
    for (let i = 0; i < 50 && fromNew.length === 0; i++) {
      fromNew = (await served(gw, 10, toHash)).filter((r) => r.worker === started.worker);
    }
    assert.ok(fromNew.length > 0, 'the restarted thread served');
    assert.ok(
      fromNew.every((r) => r.onBackend),
      'the restarted thread routes by the reloaded config',
    );
  } finally {
    await gw.stop();
    await hash.close();
  }
});

test('a thread out of heap ends alone and is restarted', async () => {
  const { gw, faults } = await start('oom', ['--worker-heap-mb', '96']);
  try {
    const from = gw.mark();
    writeFileSync(join(faults, 'oom-once'), '');
    const failed = await gw.waitForLog((l) => l.msg === 'worker failed', { from, timeoutMs: 20_000 });
    assert.match(String(failed.err), /memory limit/);
    assert.equal((await get(gw)).status, 200, 'the process and the other thread still serve');
    await gw.waitForLog((l) => l.msg === 'listening' && l.worker !== undefined && l.worker !== failed.worker, {
      from,
      timeoutMs: 20_000,
    });
    assert.equal((await untilBothServe(gw)).size, 2);
    assert.equal(gw.exitCode, null);
  } finally {
    await gw.stop();
  }
});

test('more than 5 restarts in a minute stop the gateway', async () => {
  const { gw, faults } = await start('budget');
  writeFileSync(join(faults, 'throw-all'), '');
  await gw.waitForLog((l) => /more than 5 worker restarts in a minute: stopping/.test(String(l.msg)), {
    timeoutMs: 30_000,
  });
  await gw.exited;
  const restarts = gw.logs.filter((l) => l.msg === 'worker exited; starting another').length;
  assert.ok(restarts >= 5, `${restarts} restarts before stopping`);
  assert.ok(
    gw.logs.some((l) => l.msg === 'stopped'),
    'stopped through the drain',
  );
});

test('--worker-heap-mb that is not a number of MiB: one line, exit 2', async () => {
  const { runServe } = await import('../helpers/cli.js');
  const r = await runServe(['--config', join(dir, 'config.json'), '--workers', '2', '--worker-heap-mb', 'lots']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--worker-heap-mb: expected a number of MiB from 16 to 65536, got "lots"/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});
