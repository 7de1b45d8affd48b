/**
 * Handler pools (src/gateway/lambda/pool.ts) with real worker threads, in-process: load errors as one line, a warm
 * worker reused, a changed file loaded into a new pool; a handler that loops, throws from a timer, rejects unhandled,
 * calls process.exit() or runs out of heap fails its call and the next call succeeds on a new worker; calls beyond
 * the workers queue, beyond the queue fail at once (logged once per burst); handler output in the log; a retired pool
 * finishes its call; closing terminates a looping worker.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { makeLogger } from '../../../src/gateway/log.js';
import { InvokeError } from '../../../src/gateway/lambda/invoke.js';
import {
  closeHost,
  closePool,
  handlerHost,
  invokePool,
  loadHandler,
  retirePool,
  type HandlerHost,
  type HandlerPool,
  type HandlerSettings,
} from '../../../src/gateway/lambda/pool.js';
import { tmpDir } from '../../helpers/pki.js';

let dir: string;
let host: HandlerHost;
const logs: Record<string, unknown>[] = [];
let waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];

const SETTINGS: HandlerSettings = { workersPerHandler: 2, queuePerHandler: 10, memoryMb: 64 };

/**
 * Every handler under test, by export. `threadId` tells which worker answered; `wait` holds the call until the
 * test writes the file it names (an event, not a sleep, decides when a busy worker frees up).
 */
const HANDLERS = `
import { threadId } from 'node:worker_threads';
import { existsSync } from 'node:fs';
let calls = 0;
export const ok = async (event, context) => ({ event, threadId, calls: ++calls, memory: context.memoryLimitInMB });
export const crash = async (event) => {
  switch (event.how) {
    case 'loop': for (;;) {}
    case 'timer': setTimeout(() => { throw new Error('late boom'); }, 1); return new Promise(() => {});
    case 'unhandled': Promise.reject(new Error('nobody listens')); return new Promise(() => {});
    case 'exit': process.exit(3);
    case 'oom': { const keep = []; for (;;) keep.push(new Array(1e6).fill(1.5)); }
    default: return { threadId };
  }
};
export const talk = async () => { console.log('hello from a handler'); console.error('a warning'); return 'said'; };
export const wait = (event) => new Promise((resolve) => {
  const t = setInterval(() => { if (existsSync(event.file)) { clearInterval(t); resolve({ threadId }); } }, 5);
});
`;

before(() => {
  dir = tmpDir();
  writeFileSync(join(dir, 'h.mjs'), HANDLERS);
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        logs.push(rec);
        waiters = waiters.filter((w) => (w.pred(rec) ? (w.resolve(rec), false) : true));
      }
      cb();
    },
  });
  host = handlerHost(makeLogger('json', 'info', out));
});

after(async () => {
  await closeHost(host);
});

const waitForLog = (pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
  const found = logs.find(pred);
  return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }));
};

const load = (exportName: string, settings: Partial<HandlerSettings> = {}, file = join(dir, 'h.mjs')) =>
  loadHandler({ spec: `${file}#${exportName}`, previous: null, settings: { ...SETTINGS, ...settings }, host });

const call = (pool: HandlerPool, event: unknown = {}, timeoutMs = 5000) =>
  invokePool(pool, { event, timeoutMs, functionName: 'test' });

const failure = (p: Promise<unknown>): Promise<InvokeError> =>
  p.then(
    (v) => assert.fail(`expected a failure, got ${JSON.stringify(v)}`),
    (e: unknown) => {
      assert.ok(e instanceof InvokeError, String(e));
      return e;
    },
  );

test('load errors are one line naming the file; the module is imported in a worker, not here', async () => {
  await assert.rejects(load('handler', {}, join(dir, 'nope.mjs')), /^Error: .*nope\.mjs: no such file$/);
  await assert.rejects(load('handler', {}, dir), /: not a file$/);
  await assert.rejects(
    load('missing'),
    /h\.mjs: no function exported as "missing" \(functions: crash, ok, talk, wait\)$/,
  );
  writeFileSync(join(dir, 'throws.mjs'), 'throw new Error("top-level failure");\n');
  await assert.rejects(load('handler', {}, join(dir, 'throws.mjs')), /throws\.mjs: cannot be imported: top-level/);
  writeFileSync(join(dir, 'syntax.mjs'), 'export const handler = () => {;\n');
  await assert.rejects(load('handler', {}, join(dir, 'syntax.mjs')), /syntax\.mjs: cannot be imported: /);
  writeFileSync(join(dir, 'exits.mjs'), 'process.exit(7);\n');
  await assert.rejects(
    load('handler', {}, join(dir, 'exits.mjs')),
    /exits\.mjs: the worker stopped while loading: exited with code 7/,
  );
  // A module that sets a global here would show it: it ran in its worker.
  writeFileSync(join(dir, 'global.mjs'), 'globalThis.mtlsgateLoaded = true; export const handler = () => 1;\n');
  const pool = await load('handler', {}, join(dir, 'global.mjs'));
  assert.equal((globalThis as Record<string, unknown>).mtlsgateLoaded, undefined);
  assert.equal(await call(pool), 1);
  // Failed loads leave no pool behind.
  assert.deepEqual(
    [...host.pools].map((p) => p.label),
    ['global.mjs#handler'],
  );
  await closePool(pool, 'test');
});

test('a warm worker answers again; an unchanged file keeps its pool, a changed one gets a new pool', async () => {
  const file = join(dir, 'counter.mjs');
  writeFileSync(file, 'let n = 0; export const handler = async () => ({ v: 1, n: ++n });\n');
  const spec = `${file}#handler`;
  const pool = await loadHandler({ spec, previous: null, settings: SETTINGS, host });
  assert.deepEqual(await call(pool), { v: 1, n: 1 });
  assert.deepEqual(await call(pool), { v: 1, n: 2 }, 'the same warm worker, its module state kept');
  assert.equal(await loadHandler({ spec, previous: pool, settings: SETTINGS, host }), pool);
  const other = await loadHandler({ spec, previous: pool, settings: { ...SETTINGS, memoryMb: 96 }, host });
  assert.notEqual(other, pool, 'changed settings: a new pool');
  await closePool(other, 'test');
  writeFileSync(`${file}.tmp`, 'export const handler = async () => ({ v: 2 });\n// longer, so the size changes\n');
  renameSync(`${file}.tmp`, file);
  const next = await loadHandler({ spec, previous: pool, settings: SETTINGS, host });
  assert.notEqual(next, pool);
  assert.deepEqual(await call(next), { v: 2 });
  assert.deepEqual(await call(pool), { v: 1, n: 3 }, 'the old pool still answers until it is retired');
  await closePool(pool, 'test');
  await closePool(next, 'test');
});

test('the event and result go through JSON; context.memoryLimitInMB is lambda.memoryMb', async () => {
  const pool = await load('ok', { memoryMb: 96 });
  const r = (await call(pool, { a: [1, 'x'], skip: undefined })) as Record<string, unknown>;
  assert.deepEqual(r.event, { a: [1, 'x'] });
  assert.equal(r.memory, '96');
  await closePool(pool, 'test');
});

test('an endless loop times out within timeoutMs; the worker is replaced and the next call succeeds', async () => {
  const pool = await load('crash', { workersPerHandler: 1 });
  const before = ((await call(pool)) as { threadId: number }).threadId;
  const started = Date.now();
  const e = await failure(call(pool, { how: 'loop' }, 300));
  assert.equal(e.kind, 'timeout');
  assert.match(e.message, /timed out after 300 ms/);
  assert.ok(Date.now() - started < 4000, 'not much later than the timeout');
  assert.equal(pool.slots.size, 0, 'the looping worker is gone');
  const after = ((await call(pool)) as { threadId: number }).threadId;
  assert.notEqual(after, before, 'a new worker answers');
  const ok = await load('ok');
  assert.equal(((await call(ok)) as { calls: number }).calls, 1, 'another handler is unaffected');
  await closePool(pool, 'test');
  await closePool(ok, 'test');
});

test('a throw from a timer, an unhandled rejection, process.exit() and running out of heap fail the call only', async () => {
  const cases: [string, RegExp][] = [
    ['timer', /the handler's worker stopped: uncaught Error: late boom/],
    ['unhandled', /the handler's worker stopped: uncaught Error: nobody listens/],
    ['exit', /the handler's worker stopped: exited with code 3/],
    ['oom', /the handler's worker stopped: out of memory \(lambda\.memoryMb: 32\)/],
  ];
  const pool = await load('crash', { memoryMb: 32, workersPerHandler: 1 });
  for (const [how, message] of cases) {
    const before = ((await call(pool)) as { threadId: number }).threadId;
    const e = await failure(call(pool, { how }));
    assert.equal(e.kind, 'error', how);
    assert.match(e.message, message, how);
    const after = ((await call(pool)) as { threadId: number }).threadId;
    assert.notEqual(after, before, `${how}: the next call succeeds on a new worker`);
  }
  await closePool(pool, 'test');
});

test('calls beyond the workers wait in the queue and all succeed, on at most workersPerHandler threads', async () => {
  const pool = await load('wait', { workersPerHandler: 2, queuePerHandler: 10 });
  const release = join(dir, 'release-queue');
  const calls = Array.from({ length: 8 }, () => call(pool, { file: release }, 20_000));
  assert.equal(pool.queue.length, 7, 'one call runs on the warm worker, the rest wait');
  await waitForSlots(pool, 2);
  writeFileSync(release, '');
  const results = (await Promise.all(calls)) as { threadId: number }[];
  assert.equal(results.length, 8);
  assert.equal(new Set(results.map((r) => r.threadId)).size, 2);
  assert.equal(pool.slots.size, 2);
  await closePool(pool, 'test');
});

test('a full queue fails calls at once as throttled, logged once per burst', async () => {
  const pool = await load('wait', { workersPerHandler: 1, queuePerHandler: 2 });
  const release = join(dir, 'release-throttle');
  const mark = logs.length;
  const accepted = [1, 2, 3].map(() => call(pool, { file: release }, 20_000));
  const refused = await Promise.all([1, 2, 3, 4].map(() => failure(call(pool, { file: release }, 20_000))));
  for (const e of refused) {
    assert.equal(e.kind, 'throttled');
    assert.match(e.message, /too many calls at once \(1 running, 2 waiting\)/);
  }
  const busy = logs.slice(mark).filter((l) => l.msg === 'lambda handler busy: calls refused until its queue has room');
  assert.equal(busy.length, 1);
  assert.equal(busy[0]!.function, 'h.mjs#wait');
  writeFileSync(release, '');
  assert.equal((await Promise.all(accepted)).length, 3);
  const room = await waitForLog((l) => l.msg === 'lambda handler has room again');
  assert.equal(room.refused, 4);
  await closePool(pool, 'test');
});

test("a handler's console output is logged with its name, as JSON lines (stdout stays the gateway's)", async () => {
  const pool = await load('talk');
  assert.equal(await call(pool), 'said');
  const out = await waitForLog((l) => l.msg === 'lambda output' && l.text === 'hello from a handler');
  assert.equal(out.function, 'h.mjs#talk');
  assert.equal(out.level, 'info');
  const err = await waitForLog((l) => l.msg === 'lambda output' && l.text === 'a warning');
  assert.equal(err.level, 'warn');
  assert.equal(err.stream, 'stderr');
  await closePool(pool, 'test');
});

test('a retired pool finishes its call, then ends; closing ends a looping worker at once', async () => {
  const pool = await load('wait');
  const release = join(dir, 'release-retire');
  const running = call(pool, { file: release }, 20_000);
  retirePool(pool);
  assert.equal(pool.phase, 'retiring');
  assert.ok(host.pools.has(pool), 'kept while its call runs');
  writeFileSync(release, '');
  assert.ok(await running);
  assert.equal(pool.phase, 'closed');
  assert.equal(host.pools.has(pool), false);
  assert.match((await failure(call(pool))).message, /h\.mjs#wait is stopped/);

  const loop = await load('crash');
  const busy = failure(call(loop, { how: 'loop' }, 60_000));
  await waitForBusy(loop);
  const started = Date.now();
  await closeHost(host);
  assert.ok(Date.now() - started < 5000, 'terminated, not waited for');
  assert.match((await busy).message, /is stopped \(the gateway is stopping\)/);
  assert.equal(host.pools.size, 0);
  assert.equal(loop.slots.size, 0);
});

/** Until the pool has `n` workers that have loaded (each its own thread): a condition polled, not a set delay. */
async function waitForSlots(pool: HandlerPool, n: number): Promise<void> {
  while ([...pool.slots].filter((s) => s.ready).length < n) await new Promise((r) => setTimeout(r, 10));
}

/** Until a call has reached a worker. */
async function waitForBusy(pool: HandlerPool): Promise<void> {
  while (![...pool.slots].some((s) => s.job !== null)) await new Promise((r) => setTimeout(r, 10));
}
