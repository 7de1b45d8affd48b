/**
 * Hostile revocation data on a real `mtlsgate serve`: a CRL of a million entries, one over the size limit, an HTTP
 * source that never answers and one that streams without end. Load time and memory stay bounded, requests keep
 * being served while a source is slow or huge, and a source that fails keeps the CRLs loaded before.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, ftruncateSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { bigCrl, opensslCrl } from '../helpers/crl.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { makeWorld, sleep, type World } from '../helpers/lifecycle.js';

const BIG = 'big.hostile-crl.test';
const SLOW = 'slow.hostile-crl.test';
const ENTRIES = 1_000_000;

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let revoked: Issued;
let later: Issued;
let bigFile: string;
let mode: 'crl' | 'hang' | 'endless' = 'crl';
let crlBody: Buffer;
let source: http.Server;

before(async () => {
  w = await makeWorld(BIG, [SLOW]);
  echo = await startEcho();
  [revoked, later] = await Promise.all([
    issue({ subject: 'CN=revoked', profile: 'client', issuer: w.ca }),
    issue({ subject: 'CN=later', profile: 'client', issuer: w.ca }),
  ]);
  bigFile = join(w.dir, 'big.crl');
  writeFileSync(bigFile, bigCrl({ ca: w.ca, entries: ENTRIES, revoked: [revoked] }));
  crlBody = readFileSync(opensslCrl({ ca: w.ca, revoked: [{ cert: revoked }], der: true }));
  source = http.createServer((req, res) => {
    if (mode === 'hang') return; // never answers
    if (mode === 'endless') {
      const chunk = Buffer.alloc(1 << 20, 0x30);
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      req.socket.on('close', () => res.removeAllListeners('drain'));
      return pump();
    }
    res.end(crlBody);
  });
  await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
  const target = [{ basePath: '', target: echo.url }];
  const url = `http://127.0.0.1:${(source.address() as AddressInfo).port}/issuing.crl`;
  gw = await startGateway({
    startTimeoutMs: 60_000,
    config: {
      domains: [
        domainConfig(BIG, w.server, w.truststore, target, {
          revocation: { mode: 'crl', crl: { sources: [`file://${bigFile}`], refreshSeconds: 1 } },
        }),
        // 500 ms while the other domain's million-entry CRL is parsed at start-up: that parse runs in a worker
        // thread, so this (answering) source's deadline does not fire late behind it.
        domainConfig(SLOW, w.server, w.truststore, target, {
          revocation: { mode: 'crl', crl: { sources: [url], refreshSeconds: 1, timeoutMs: 500 } },
        }),
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  source?.closeAllConnections();
  source?.close();
});

const as = (c: Issued, servername: string, agent?: https.Agent): Parameters<typeof nodeRequest>[0] => ({
  port: gw.port,
  ca: w.server.caPem,
  cert: c.certPem,
  key: c.keyPem,
  servername,
  ...(agent && { agent }),
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** Requests on one keep-alive connection until `stop` resolves; the longest answer time and every status. */
async function steadyRequests(c: Issued, servername: string, stop: Promise<unknown>) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const statuses: number[] = [];
  let longestMs = 0;
  let done = false;
  void stop.finally(() => (done = true));
  try {
    while (!done) {
      const t = performance.now();
      statuses.push((await nodeRequest(as(c, servername, agent))).status);
      longestMs = Math.max(longestMs, performance.now() - t);
      await sleep(20);
    }
  } finally {
    agent.destroy();
  }
  return { statuses, longestMs };
}

test('a million-entry CRL: loaded, judged by issuer and serial, in bounded memory', async () => {
  assert.equal((await nodeRequest(as(w.client, BIG))).status, 200);
  const r = await nodeRequest(as(revoked, BIG));
  assert.equal(r.status, 403);
  assert.deepEqual(JSON.parse(r.text), { message: 'Access denied. Reason: certificate revoked' });
  const rss = rssMiB(gw.child.pid!);
  // The DER (35 MB) plus an 8-byte-per-entry index, not a parsed object per entry (that was over 400 MB of heap).
  assert.ok(rss < 400, `gateway RSS ${rss.toFixed(0)} MiB`);
});

test('replacing the million-entry CRL: requests keep being served during the refresh, then the new one is in force', async () => {
  const mark = gw.mark();
  const loaded = gw.waitForLog((l) => l.msg === 'CRL loaded' && l.domain === BIG, { from: mark, timeoutMs: 30_000 });
  const load = steadyRequests(w.client, BIG, loaded);
  const next = bigCrl({ ca: w.ca, entries: ENTRIES, revoked: [revoked, later] });
  writeFileSync(`${bigFile}.tmp`, next);
  renameSync(`${bigFile}.tmp`, bigFile);
  const { statuses, longestMs } = await load;
  assert.ok(statuses.length > 0);
  assert.ok(
    statuses.every((s) => s === 200),
    `every request served: ${statuses.join(',')}`,
  );
  // One parse of a million entries blocks the event loop for under a second on a quiet machine; a generous bound.
  assert.ok(longestMs < 5000, `longest request ${longestMs.toFixed(0)} ms`);
  assert.equal((await nodeRequest(as(later, BIG))).status, 403, 'the new CRL is in force');
});

test('a CRL file over the size limit is refused without being read; the previous CRL stays', async () => {
  const mark = gw.mark();
  const huge = `${bigFile}.huge`;
  const fd = openSync(huge, 'w');
  ftruncateSync(fd, 65 * 1024 * 1024); // sparse: nothing is written
  closeSync(fd);
  renameSync(huge, bigFile);
  const err = await gw.waitForLog((l) => l.msg === 'CRL source not loaded' && l.domain === BIG, { from: mark });
  assert.match(String(err.error), /over the 67108864 byte limit \(keeping the CRLs loaded before\)/);
  assert.equal((await nodeRequest(as(revoked, BIG))).status, 403, 'still revoked');
  assert.equal((await nodeRequest(as(w.client, BIG))).status, 200);
});

for (const m of ['hang', 'endless'] as const) {
  test(`an HTTP CRL source that ${m === 'hang' ? 'never answers' : 'streams without end'}: bounded, the previous CRL stays, requests are served`, async () => {
    assert.equal((await nodeRequest(as(revoked, SLOW))).status, 403, 'the source loaded at start');
    const mark = gw.mark();
    mode = m;
    try {
      const failed = gw.waitForLog((l) => l.msg === 'CRL source not loaded' && l.domain === SLOW, {
        from: mark,
        timeoutMs: 15_000,
      });
      const { statuses, longestMs } = await steadyRequests(w.client, SLOW, failed);
      const line = await failed;
      assert.match(String(line.error), m === 'hang' ? /timed out/ : /timed out|over the \d+ byte limit/);
      assert.ok(statuses.every((s) => s === 200));
      assert.ok(longestMs < 2000, `longest request ${longestMs.toFixed(0)} ms`);
      assert.equal((await nodeRequest(as(revoked, SLOW))).status, 403, 'the previous CRL stays in force');
      assert.ok(rssMiB(gw.child.pid!) < 500);
    } finally {
      mode = 'crl';
    }
  });
}

/** Threads of a process (Linux): a worker thread is one more. */
function threads(pid: number): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

// Last: it stops the gateway.
test('SIGTERM while a million-entry CRL is parsed in its worker thread: the gateway exits, cleanly and promptly', async () => {
  const pid = gw.child.pid!;
  const idle = threads(pid);
  writeFileSync(`${bigFile}.tmp`, bigCrl({ ca: w.ca, entries: ENTRIES, revoked: [revoked] }));
  renameSync(`${bigFile}.tmp`, bigFile);
  // The next refresh (within a second) reads the file and starts the parse's thread.
  const deadline = Date.now() + 20_000;
  while (threads(pid) <= idle) {
    assert.ok(Date.now() < deadline, `no parse thread started (threads: ${threads(pid)}, idle: ${idle})`);
    await sleep(5);
  }
  const t = performance.now();
  await gw.stop(15_000);
  const ms = performance.now() - t;
  assert.equal(gw.exitSignal, null, 'exited by itself, not killed');
  assert.equal(gw.exitCode, 0);
  // Draining waits for the parse at most (about a second, a few under load), never for a hung thread.
  assert.ok(ms < 10_000, `exited after ${ms.toFixed(0)} ms`);
});
