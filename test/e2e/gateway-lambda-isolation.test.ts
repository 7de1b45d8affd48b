/**
 * Lambda handlers isolated in worker threads, on a real `mtlsgate serve` (dist/, through bin/mtlsgate.js) driven by
 * real curl: a handler (integration or authorizer) in an endless loop answers 502 / 500 after its timeout and the
 * next requests, to another route and to the same handler, succeed; a throw from a timer, process.exit() and a heap
 * that grows without bound fail only their request; handler output lands in the JSON log, never as raw stdout; calls
 * beyond the workers queue and succeed, beyond the queue fail at once (logged once); a reload that swaps a handler
 * file changes the answer while unchanged handlers keep their warm workers; SIGTERM with a worker in a loop exits
 * promptly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { runServe } from '../helpers/cli.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { tmpDir } from '../helpers/pki.js';
import { curl } from '../helpers/proc.js';

const DOMAIN = 'isolation.e2e.test';
const BACKEND_MS = 1500;

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;

/** The integration: misbehaves as `?how=` says, else answers its thread and how many calls its module has seen. */
const APP = `
import { threadId } from 'node:worker_threads';
let calls = 0;
export const handler = async (event) => {
  const how = event.queryStringParameters?.how;
  if (how) console.log('about to ' + how);
  switch (how) {
    case 'loop': for (;;) {}
    case 'timer': setTimeout(() => { throw new Error('late boom'); }, 1); return new Promise(() => {});
    case 'exit': process.exit(1);
    case 'oom': { const keep = []; for (;;) keep.push(new Array(1e6).fill(1.5)); }
    default: return { statusCode: 200, body: JSON.stringify({ threadId, calls: ++calls }) };
  }
};
`;

/** The authorizer: loops for `x-how: loop`, else allows. */
const AUTH = `
export const handler = async (event) => {
  if (event.headers['x-how'] === 'loop') for (;;) {}
  return {
    principalId: 'me',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] },
  };
};
`;

/** Holds each call until the file `release-<x-release>` exists; says when it started (a line in running.log). */
const WAIT = `
import { appendFileSync, existsSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
const dir = new URL('.', import.meta.url).pathname;
export const handler = (event) => new Promise((resolve) => {
  const name = event.headers['x-release'];
  appendFileSync(dir + 'running.log', name + '\\n');
  const t = setInterval(() => {
    if (existsSync(dir + 'release-' + name)) {
      clearInterval(t);
      resolve({ statusCode: 200, body: JSON.stringify({ threadId }) });
    }
  }, 5);
});
`;

before(async () => {
  w = await makeWorld(DOMAIN);
  echo = await startEcho();
  writeFileSync(join(w.dir, 'app.mjs'), APP);
  writeFileSync(join(w.dir, 'auth.mjs'), AUTH);
  writeFileSync(join(w.dir, 'wait.mjs'), WAIT);
  writeFileSync(join(w.dir, 'swap.mjs'), 'export const handler = async () => ({ statusCode: 200, body: "v1" });\n');
  writeFileSync(join(w.dir, 'running.log'), '');
  const m = (basePath: string, target: string, extra: Record<string, unknown> = {}) => ({ basePath, target, ...extra });
  gw = await startGateway({
    dir: w.dir,
    config: {
      domains: [
        domainConfig(DOMAIN, w.server, w.truststore, [
          m('echo', echo.url),
          m('app', 'lambda:./app.mjs'),
          m('guarded', echo.url, { authorizer: 'looper' }),
          m('wait', 'lambda:./wait.mjs'),
          m('swap', 'lambda:./swap.mjs'),
        ]),
      ],
      timeouts: { backendMs: BACKEND_MS },
      lambda: { workersPerHandler: 2, queuePerHandler: 2, memoryMb: 64 },
      authorizers: [{ name: 'looper', handler: './auth.mjs', timeoutMs: 800, authorizerResultTtlInSeconds: 0 }],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

const get = (path: string, headers: string[] = []) =>
  curl({
    domain: DOMAIN,
    port: gw.port,
    cacert: w.server.caFile,
    cert: w.clientFiles.certFile,
    key: w.clientFiles.keyFile,
    path,
    headers,
  });

const INTERNAL = { message: 'Internal server error' };

/** The app's answer: 200 with its thread and call count. */
async function app(): Promise<{ threadId: number; calls: number }> {
  const r = await get('/app/x');
  assert.equal(r.response?.status, 200, r.response?.text ?? r.stderr);
  return JSON.parse(r.response!.text) as { threadId: number; calls: number };
}

test('an endless loop in a handler is a 502 after timeouts.backendMs; the next requests succeed', async () => {
  const mark = gw.mark();
  const started = Date.now();
  const r = await get('/app/x?how=loop');
  const took = Date.now() - started;
  assert.equal(r.response?.status, 502, r.stderr);
  assert.deepEqual(JSON.parse(r.response!.text), INTERNAL);
  assert.ok(took >= BACKEND_MS - 50, `answered after the timeout (${took} ms)`);
  assert.ok(took < BACKEND_MS + 5000, `not much later (${took} ms)`);
  const line = await gw.waitForLog((l) => l.msg === 'lambda integration error', { from: mark });
  assert.match(String(line.error), new RegExp(`timed out after ${BACKEND_MS} ms`));
  assert.equal((await get('/echo/after-loop')).response?.status, 200, 'another route');
  assert.ok((await app()).calls >= 1, 'the same handler, on a new worker');
  assert.equal(gw.exitCode, null);
});

test('an authorizer in an endless loop is a 500 AuthorizerConfigurationException after timeoutMs', async () => {
  const r = await get('/guarded/x', ['x-how: loop']);
  assert.equal(r.response?.status, 500);
  assert.equal(r.response!.headers['x-amzn-errortype'], 'AuthorizerConfigurationException');
  assert.equal((await get('/guarded/x', ['x-how: fine'])).response?.status, 200, 'the same authorizer');
  assert.equal((await get('/echo/after-auth-loop')).response?.status, 200);
});

test('a throw from a timer, process.exit() and an unbounded heap fail their request only', async () => {
  const cases: [string, RegExp][] = [
    ['timer', /the handler's worker stopped: uncaught Error: late boom/],
    ['exit', /the handler's worker stopped: exited with code 1/],
    ['oom', /the handler's worker stopped: out of memory \(lambda\.memoryMb: 64\)/],
  ];
  for (const [how, error] of cases) {
    const mark = gw.mark();
    const r = await get(`/app/x?how=${how}`);
    assert.equal(r.response?.status, 502, `${how}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.response!.text), INTERNAL);
    const line = await gw.waitForLog((l) => l.msg === 'lambda integration error', { from: mark });
    assert.match(String(line.error), error, how);
    assert.ok((await app()).calls >= 1, `${how}: the next request succeeds`);
  }
  assert.equal(gw.exitCode, null, 'the gateway is alive');
  assert.equal((await get('/echo/still-up')).response?.status, 200);
});

test("a handler's console output is a JSON log line with its name; stdout carries nothing else", async () => {
  await get('/app/x?how=timer');
  const line = await gw.waitForLog((l) => l.msg === 'lambda output' && l.text === 'about to timer');
  assert.equal(line.function, 'app.mjs#handler');
  assert.equal(line.level, 'info');
  assert.deepEqual(gw.otherOutput, [], 'no raw lines among the JSON log');
});

test('calls beyond the workers wait and all succeed on at most workersPerHandler threads', async () => {
  const release = join(w.dir, 'release-q');
  const calls = [1, 2, 3, 4].map(() => get('/wait/x', ['x-release: q']));
  // Both workers busy (each call says when it starts), so the others wait in the queue or are still on their way.
  await until(() => running('q') === 2);
  writeFileSync(release, '');
  const answers = await Promise.all(calls);
  for (const r of answers) assert.equal(r.response?.status, 200, r.response?.text ?? r.stderr);
  const threads = new Set(answers.map((r) => (JSON.parse(r.response!.text) as { threadId: number }).threadId));
  assert.ok(threads.size <= 2, `at most 2 workers answered (${[...threads].join(', ')})`);
  assert.equal(running('q'), 4);
});

test('a full queue refuses calls at once with 502, logged once for the burst', async () => {
  const release = join(w.dir, 'release-full');
  // Two calls take both workers; then of five at once, two find room in the queue (2) and three are refused.
  const busy = [1, 2].map(() => get('/wait/x', ['x-release: full']));
  await until(() => running('full') === 2);
  const mark = gw.mark();
  const burst = [1, 2, 3, 4, 5].map(() => get('/wait/x', ['x-release: full']));
  const settled = await firstSettled(burst, 3);
  for (const r of settled) {
    assert.equal(r.response?.status, 502);
    assert.deepEqual(JSON.parse(r.response!.text), INTERNAL);
  }
  writeFileSync(release, '');
  const rest = await Promise.all([...busy, ...burst]);
  assert.equal(rest.filter((r) => r.response?.status === 200).length, 4, 'the two running and the two queued');
  assert.equal(rest.filter((r) => r.response?.status === 502).length, 3);
  await gw.waitForLog((l) => l.msg === 'lambda handler has room again', { from: mark });
  const lines = gw.logsSince(mark);
  assert.equal(lines.filter((l) => l.msg === 'lambda handler busy: calls refused until its queue has room').length, 1);
  assert.equal(lines.filter((l) => l.msg === 'lambda integration error').length, 0, 'not one line per refusal');
});

test('reload: a swapped handler file answers anew; an unchanged handler keeps its warm worker', async () => {
  const warm = await app();
  assert.equal((await get('/swap/x')).response?.text, 'v1');
  const file = join(w.dir, 'swap.mjs');
  writeFileSync(`${file}.tmp`, 'export const handler = async () => ({ statusCode: 200, body: "v2, swapped" });\n');
  renameSync(`${file}.tmp`, file);
  const r = await gw.admin('/reload', 'POST');
  assert.equal(r.status, 200, r.body);
  assert.equal((await get('/swap/x')).response?.text, 'v2, swapped');
  const again = await app();
  assert.equal(again.calls, warm.calls + 1, 'the module state of the warm worker (not a new one)');
  // A broken file keeps the loaded one serving.
  writeFileSync(`${file}.tmp`, 'export const nothing = 1;\n');
  renameSync(`${file}.tmp`, file);
  const bad = await gw.admin('/reload', 'POST');
  assert.equal(bad.status, 500);
  assert.match(bad.body, /swap\.mjs: no function exported as \\"handler\\" \(the module loaded before keeps serving\)/);
  assert.equal((await get('/swap/x')).response?.text, 'v2, swapped');
});

test('serve --check: a module that takes a while to load (top-level await) loads; one that loops is an error', async () => {
  const dir = tmpDir();
  writeFileSync(
    join(dir, 'slow.mjs'),
    'await new Promise((r) => setTimeout(r, 500));\nexport const handler = async () => ({ statusCode: 200 });\n',
  );
  const config = (target: string) => {
    const file = join(dir, `${target}.json`);
    const d = domainConfig(DOMAIN, w.server, w.truststore, [{ basePath: '', target: `lambda:./${target}.mjs` }]);
    writeFileSync(file, JSON.stringify({ domains: [d] }));
    return file;
  };
  const slow = await runServe(['--config', config('slow'), '--check']);
  assert.equal(slow.code, 0, slow.stderr);
  assert.match(slow.stdout, /slow\.json: ok \(1 domain\(s\) loaded\)/);
  writeFileSync(join(dir, 'loops.mjs'), 'for (;;) {}\n');
  const loops = await runServe(['--config', config('loops'), '--check']);
  assert.equal(loops.code, 2);
  assert.match(
    loops.stderr,
    /domains\[0\]\.basePathMappings\[0\]\.target: .*loops\.mjs: not loaded within 10000 ms \(Lambda's init limit\)\n$/,
  );
});

test('SIGTERM with a worker in an endless loop: the gateway drains, terminates it and exits promptly', async () => {
  const dir = tmpDir();
  writeFileSync(join(dir, 'app.mjs'), APP);
  const own = await startGateway({
    dir,
    config: {
      domains: [domainConfig(DOMAIN, w.server, w.truststore, [{ basePath: 'app', target: 'lambda:./app.mjs' }])],
      timeouts: { backendMs: 60_000, shutdownMs: 1000 },
    },
  });
  const looping = curl({
    domain: DOMAIN,
    port: own.port,
    cacert: w.server.caFile,
    cert: w.clientFiles.certFile,
    key: w.clientFiles.keyFile,
    path: '/app/x?how=loop',
  });
  await own.waitForLog((l) => l.msg === 'lambda output' && l.text === 'about to loop');
  const started = Date.now();
  own.signal('SIGTERM');
  await own.exited;
  const took = Date.now() - started;
  assert.equal(own.exitCode, 0, own.tail());
  assert.ok(took < 8000, `exited ${took} ms after SIGTERM (shutdownMs 1000, the call's timeout 60 s)`);
  await looping;
});

const running = (name: string): number =>
  readFileSync(join(w.dir, 'running.log'), 'utf8')
    .split('\n')
    .filter((l) => l === name).length;

/** Until `cond` holds: polled, not a set delay (curl start-up on a loaded machine varies). */
async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The first `n` of `promises` to settle, in the order they did. */
function firstSettled<T>(promises: Promise<T>[], n: number): Promise<T[]> {
  return new Promise((resolve) => {
    const out: T[] = [];
    for (const p of promises)
      void p.then((v) => {
        out.push(v);
        if (out.length === n) resolve(out);
      });
  });
}
