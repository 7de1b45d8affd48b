/**
 * Truststore sources failing under a real `mtlsgate serve` (issue 6, Faults): a file replaced while being read
 * (atomically by rename, and in place while reloads run in a loop), truncated, made unreadable; an S3 object
 * behind a fault-injecting proxy (helpers/s3-fault-proxy.ts) answering 500 InternalError, 503 SlowDown, resetting the
 * connection, hanging past the S3 timeout, cutting the body short. In every case:
 *
 * - the last good truststore keeps serving: a trickle of accepted requests all get 200 and a denied client
 *   still gets 403 (and nothing half-read is ever swapped in: each "truststore loaded" has a whole bundle's count);
 * - the failure is logged at error level naming the domain and the source, and shown on /readyz (degraded,
 *   lastError) and in /metrics (mtlsgate_truststore_errors_total, mtlsgate_degraded 1);
 * - once the source is back, the gateway recovers by itself (no signal: the automatic retry with backoff), and
 *   the new content serves.
 *
 * The file gateway and the S3 gateway are separate processes and their cases run concurrently (the S3 hang alone
 * takes the 15 s S3 timeout). When the tests run as root, the file gateway drops to `nobody` at start (a preload
 * given with NODE_OPTIONS), so that chmod 000 really makes the truststore unreadable to it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, openSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { issue, type Issued } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { request, type Target } from '../helpers/http.js';
import {
  makeWorld,
  s3Env,
  sleep,
  startLoad,
  startS3,
  type Load,
  type S3Fake,
  type World,
} from '../helpers/lifecycle.js';
import { tmpDir } from '../helpers/pki.js';
import { startS3FaultProxy, type S3Fault, type S3FaultProxy } from '../helpers/s3-fault-proxy.js';

const FILE_DOMAIN = 'files.faults.e2e.test';
const S3_DOMAIN = 's3.faults.e2e.test';
const S3_URI = 's3://trust/bundle.pem';
const KEPT = 'reload: domain kept its previous state';

// Two bundles that clients can tell apart: A trusts `ca`; B trusts `ca` and `newCa`. Both hold many unrelated CAs
// so that they are large (B is ~90 KB) and a cut is easy to land inside a block.
type Bundle = 'A' | 'B';
let w: World;
let newCa: Issued;
let newClient: Issued;
const pem: Record<Bundle, string> = { A: '', B: '' };
const count: Record<Bundle, number> = { A: 0, B: 0 };
let echo: EchoBackend;

/** Run as nobody when we are root (chmod 000 stops nobody, not root); null when that is not possible here. */
let dropTo: { uid: number; gid: number; preload: string } | null = null;
const isRoot = process.getuid?.() === 0;

before(async () => {
  [w, newCa, echo] = await Promise.all([
    makeWorld(FILE_DOMAIN, [S3_DOMAIN]),
    issue({ subject: 'CN=faults New CA,O=mtlsgate e2e', profile: 'root-ca' }),
    startEcho(),
  ]);
  newClient = await issue({ subject: 'CN=faults new client,O=mtlsgate e2e', profile: 'client', issuer: newCa });
  const fillers = await Promise.all(
    Array.from({ length: 150 }, (_, i) =>
      issue({ subject: `CN=faults filler CA ${i},O=mtlsgate e2e`, profile: 'root-ca' }),
    ),
  );
  pem.A = [w.ca, ...fillers.slice(0, 80)].map((c) => c.certPem).join('');
  pem.B = [w.ca, newCa, ...fillers].map((c) => c.certPem).join('');
  count.A = 81;
  count.B = 152;
  if (isRoot) {
    try {
      const uid = Number(
        execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
      );
      const gid = Number(
        execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
      );
      // The gateway loads bin/ and dist/ after the drop: a clone in a directory only root may enter (mktemp -d
      // makes 0700) cannot serve as nobody. execFileSync throws then, and the case below says why it skips.
      const entries = ['../../bin/mtlsgate.js', '../../dist/cli/main.js'].map((p) => new URL(p, import.meta.url));
      const check = `for (const u of ${JSON.stringify(entries.map(String))}) require('fs').accessSync(new URL(u), 4)`;
      execFileSync(process.execPath, ['-e', check], { uid, gid, stdio: 'ignore' });
      if (Number.isInteger(uid) && Number.isInteger(gid) && uid > 0) {
        // Loaded (as root) before the gateway's own code, which then runs as nobody.
        const preload = join(tmpDir(), 'drop-privileges.mjs');
        writeFileSync(
          preload,
          `import process from 'node:process';\nprocess.setgroups([]);\nprocess.setgid(${gid});\nprocess.setuid(${uid});\n`,
        );
        dropTo = { uid, gid, preload };
      }
    } catch {
      dropTo = null;
    }
  }
});

after(async () => {
  await echo?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// What every case checks.

interface Rig {
  gw: GatewayProcess;
  domain: string;
  uri: string;
  /** Accepted by both bundles. */
  good: Target;
  /** Accepted by bundle B only. */
  fresh: Target;
  /** Accepted by neither. */
  denied: Target;
  serving: Bundle;
}

function targets(port: number, domain: string): Pick<Rig, 'good' | 'fresh' | 'denied'> {
  const good: Target = { port, servername: domain, ca: w.server.caPem, cert: w.client.certPem, key: w.client.keyPem };
  return {
    good,
    fresh: { ...good, cert: newClient.certPem, key: newClient.keyPem },
    denied: { ...good, cert: w.otherClient.certPem, key: w.otherClient.keyPem },
  };
}

const status = async (t: Target): Promise<number> => (await request(t, false)).status;

function metric(text: string, name: string, domain?: string): number {
  const labels = domain === undefined ? '' : `\\{domain="${domain.replace(/\./g, '\\.')}"\\}`;
  const m = new RegExp(`^${name}${labels} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

interface Ready {
  ready: boolean;
  degraded: boolean;
  domains: Record<string, { loaded: boolean; certificates: number; lastError: string | null }>;
}

async function readyz(gw: GatewayProcess): Promise<Ready> {
  const r = await gw.admin('/readyz');
  assert.equal(r.status, 200, `still ready (the domain serves its previous truststore): ${r.body}`);
  return JSON.parse(r.body) as Ready;
}

/** The bundle `rig.serving` answers: `good` 200, `fresh` 200 only with B, `denied` 403. */
async function assertServes(rig: Rig, what: string): Promise<void> {
  const [g, f, d] = await Promise.all([status(rig.good), status(rig.fresh), status(rig.denied)]);
  assert.deepEqual(
    { good: g, fresh: f, denied: d },
    { good: 200, fresh: rig.serving === 'B' ? 200 : 403, denied: 403 },
    `${what}: bundle ${rig.serving} serves`,
  );
}

/** A trickle of accepted requests (all must be 200) and of denied ones (all must be 403) while a case runs. */
function trickle(rig: Rig): { stop(): Promise<void> } {
  const ok: Load = startLoad(rig.good, {
    ratePerSec: 8,
    durationMs: 120_000,
    freshEvery: 2,
    maxInFlight: 8,
    path: '/trickle',
  });
  const no: Load = startLoad(rig.denied, {
    ratePerSec: 2,
    durationMs: 120_000,
    freshEvery: 1,
    maxInFlight: 4,
    path: '/denied',
  });
  return {
    async stop() {
      ok.stop();
      no.stop();
      const [a, b] = await Promise.all([ok.done, no.done]);
      assert.ok(a.outcomes.length >= 3, `accepted trickle: ${a.outcomes.length} requests`);
      assert.deepEqual(a.tally, { '200': a.outcomes.length }, 'every accepted request of the trickle got 200');
      assert.deepEqual(b.tally, { '403': b.outcomes.length }, 'every denied request of the trickle got 403');
    },
  };
}

/** Run `fn` under a trickle; the trickle is stopped in any case, and checked when `fn` succeeded. */
async function underTrickle(rig: Rig, fn: () => Promise<void>): Promise<void> {
  const tr = trickle(rig);
  let done = false;
  try {
    await fn();
    done = true;
  } finally {
    const checked = tr.stop();
    if (done) await checked;
    else await checked.catch(() => undefined);
  }
}

/** The failure is logged (error, domain, source), on /readyz and in /metrics; the last good bundle still serves. */
async function assertDegraded(
  rig: Rig,
  mark: number,
  reason: RegExp,
  errorsBefore: number,
  timeoutMs = 10_000,
): Promise<LogLine> {
  const line = await rig.gw.waitForLog((l) => l.msg === KEPT && l.domain === rig.domain, { from: mark, timeoutMs });
  assert.equal(line.level, 'error');
  const error = String(line.error);
  assert.ok(error.startsWith(`domains[0].mutualTls.truststoreUri: ${rig.uri}: `), `the log names the source: ${error}`);
  assert.match(error, reason);
  const ready = await readyz(rig.gw);
  assert.equal(ready.degraded, true, 'degraded on /readyz');
  const dom = ready.domains[rig.domain]!;
  assert.equal(dom.certificates, count[rig.serving], 'the last good truststore is the one loaded');
  assert.ok(
    dom.lastError?.startsWith(`domains[0].mutualTls.truststoreUri: ${rig.uri}: `),
    `lastError: ${dom.lastError}`,
  );
  assert.match(dom.lastError!, reason);
  const metrics = (await rig.gw.admin('/metrics')).body;
  assert.ok(
    metric(metrics, 'mtlsgate_truststore_errors_total', rig.domain) > errorsBefore,
    `the error is counted:\n${metrics}`,
  );
  assert.equal(metric(metrics, 'mtlsgate_degraded'), 1);
  assert.equal(metric(metrics, 'mtlsgate_ready'), 1);
  await assertServes(rig, 'while the source fails');
  return line;
}

/** Recovery with no signal: the retry loads `next`, /readyz and /metrics clear, and `next` serves. */
async function assertRecovers(
  rig: Rig,
  failedAt: number,
  healedAt: number,
  next: Bundle,
  timeoutMs = 12_000,
): Promise<void> {
  const loaded = await rig.gw.waitForLog((l) => l.msg === 'truststore loaded' && l.domain === rig.domain, {
    from: healedAt,
    timeoutMs,
  });
  assert.equal(loaded.certificates, count[next], 'the whole new bundle was loaded');
  rig.serving = next;
  const ready = await readyz(rig.gw);
  assert.deepEqual(
    [ready.degraded, ready.domains[rig.domain]!.lastError, ready.domains[rig.domain]!.certificates],
    [false, null, count[next]],
    'recovered',
  );
  assert.equal(metric((await rig.gw.admin('/metrics')).body, 'mtlsgate_degraded'), 0);
  await assertServes(rig, 'after recovery');
  const retried = rig.gw.logsSince(failedAt).some((l) => l.msg === 'will retry the failed truststore load');
  assert.ok(retried, 'an automatic retry was scheduled');
}

const errorsTotal = async (rig: Rig): Promise<number> =>
  metric((await rig.gw.admin('/metrics')).body, 'mtlsgate_truststore_errors_total', rig.domain);
const other = (b: Bundle): Bundle => (b === 'A' ? 'B' : 'A');

/** Offsets in the middle of each certificate block: a write paused there leaves a file that ends inside a block. */
function midBlockCuts(text: string): number[] {
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', at);
    if (begin < 0) break;
    const end = text.indexOf('-----END ', begin);
    cuts.push(Math.floor((begin + end) / 2));
    at = end + 1;
  }
  return cuts;
}

// ---------------------------------------------------------------------------------------------------------------

describe('truststore sources failing', { concurrency: 2 }, () => {
  test('file source: replaced while being read, truncated, permissions removed', async (t) => {
    const dir = tmpDir();
    const file = join(dir, 'bundle.pem');
    writeFileSync(file, pem.A);
    let env: NodeJS.ProcessEnv = {};
    if (dropTo) {
      // nobody must reach the config, the server certificate and key, and the truststore's folder.
      for (const d of [dir, w.dir]) chmodSync(d, 0o755);
      chownSync(w.server.keyFile, dropTo.uid, dropTo.gid);
      env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${dropTo.preload}`.trim() };
    }
    const gw = await startGateway({
      config: { domains: [domainConfig(FILE_DOMAIN, w.server, file, [{ basePath: '', target: echo.url }])] },
      dir,
      env,
    });
    const rig: Rig = { gw, domain: FILE_DOMAIN, uri: `file://${file}`, serving: 'A', ...targets(gw.port, FILE_DOMAIN) };
    const loadedCounts = (mark: number): number[] =>
      gw
        .logsSince(mark)
        .filter((l) => l.msg === 'truststore loaded' && l.domain === FILE_DOMAIN)
        .map((l) => Number(l.certificates));
    try {
      if (dropTo)
        assert.equal(
          Number(execFileSync('stat', ['-c', '%u', `/proc/${gw.pid}`], { encoding: 'utf8' })),
          dropTo.uid,
          'the gateway runs as nobody',
        );
      await assertServes(rig, 'at start');

      await t.test(
        'replaced atomically (slow write to a temp file, then rename) while reloads run in a loop: every reload succeeds',
        async () => {
          const mark = gw.mark();
          const statuses: number[] = [];
          await underTrickle(rig, async () => {
            let stop = false;
            const loop = (async () => {
              while (!stop) {
                statuses.push((await gw.admin('/reload', 'POST')).status);
                await sleep(15);
              }
            })();
            try {
              for (const next of ['B', 'A'] as Bundle[]) {
                const tmp = `${file}.tmp-${next}`;
                const fd = openSync(tmp, 'w');
                for (let i = 0; i < pem[next].length; i += 2048) {
                  writeSync(fd, pem[next].slice(i, i + 2048));
                  await sleep(25);
                }
                closeSync(fd);
                renameSync(tmp, file);
                await sleep(300);
              }
            } finally {
              stop = true;
              await loop;
            }
          });
          assert.ok(statuses.length >= 6, `${statuses.length} reloads`);
          assert.deepEqual(
            [...new Set(statuses)],
            [200],
            'every reload succeeded: a renamed-over file is always whole',
          );
          const counts = loadedCounts(mark);
          assert.ok(counts.includes(count.B) && counts.at(-1) === count.A, `loaded ${JSON.stringify(counts)}`);
          assert.deepEqual(
            counts.filter((c) => c !== count.A && c !== count.B),
            [],
            'only whole bundles were loaded',
          );
          rig.serving = 'A';
          await assertServes(rig, 'after the renames');
        },
      );

      await t.test(
        'rewritten in place (truncate, then slow chunked writes) while reloads run in a loop: nothing half-written is swapped in',
        async () => {
          await underTrickle(rig, async () => {
            const mark = gw.mark();
            let stop = false;
            const results: { status: number; body: string }[] = [];
            const loop = (async () => {
              while (!stop) {
                results.push(await gw.admin('/reload', 'POST'));
                await sleep(5);
              }
            })();
            // Paused inside a certificate block after each chunk (a pause at a block boundary would leave a shorter
            // but well-formed bundle, which no reader can tell from a complete one).
            const next: Bundle = 'B';
            const cuts = midBlockCuts(pem[next]).filter((_, i) => i % 8 === 4);
            try {
              const fd = openSync(file, 'w');
              let at = 0;
              for (const cut of [...cuts, pem[next].length]) {
                writeSync(fd, pem[next].slice(at, cut));
                at = cut;
                await sleep(60);
              }
              closeSync(fd);
            } finally {
              stop = true;
              await loop;
            }
            const failed = results.filter((r) => r.status !== 200);
            assert.ok(failed.length >= 1, `at least one reload saw the file half-written (${results.length} reloads)`);
            for (const f of failed) {
              assert.equal(f.status, 500, f.body);
              assert.match(
                f.body,
                /truncated: the bundle ends inside a PEM block|changed while being read|no certificate in the truststore|cannot be read/,
                f.body,
              );
            }
            const counts = loadedCounts(mark);
            assert.deepEqual(
              counts.filter((c) => c !== count.A && c !== count.B),
              [],
              `only whole bundles were loaded: ${JSON.stringify(counts)}`,
            );
            // The last reload may have seen the finished file; if not, the retry picks it up with no signal.
            if (results.at(-1)!.status === 200) {
              rig.serving = next;
              assert.equal(counts.at(-1), count[next]);
            } else {
              await assertRecovers(rig, mark, mark, next);
            }
          });
          await assertServes(rig, 'after the in-place rewrite');
          assert.equal((await readyz(gw)).degraded, false);
        },
      );

      await t.test('truncated in the middle of a certificate: refused, then recovered by the retry', async () => {
        await underTrickle(rig, async () => {
          const next = other(rig.serving);
          const before = await errorsTotal(rig);
          const half = midBlockCuts(pem[rig.serving])[Math.floor(count[rig.serving] / 2)]!;
          truncateSync(file, half);
          const mark = gw.mark();
          const r = await gw.admin('/reload', 'POST');
          assert.equal(r.status, 500, r.body);
          await assertDegraded(rig, mark, /: truncated: the bundle ends inside a PEM block/, before);
          const heal = gw.mark();
          writeFileSync(`${file}.new`, pem[next]);
          renameSync(`${file}.new`, file);
          await assertRecovers(rig, mark, heal, next);
        });
      });

      await t.test(
        'permissions removed (chmod 000): refused, then recovered by the retry once readable again',
        async (tt) => {
          if (isRoot && !dropTo)
            return tt.skip(
              'running as root without a `nobody` user that can read this clone: permissions do not stop root',
            );
          await underTrickle(rig, async () => {
            const next = other(rig.serving);
            const before = await errorsTotal(rig);
            chmodSync(file, 0o000);
            const mark = gw.mark();
            const r = await gw.admin('/reload', 'POST');
            assert.equal(r.status, 500, r.body);
            await assertDegraded(rig, mark, /: permission denied$/, before);
            // New content while unreadable (root writes through 000; otherwise make it writable for the owner first).
            const heal = gw.mark();
            if (!isRoot) chmodSync(file, 0o200);
            writeFileSync(file, pem[next]);
            chmodSync(file, 0o644);
            await assertRecovers(rig, mark, heal, next);
          });
        },
      );
      assert.equal(gw.stderr, '', 'nothing on stderr');
    } finally {
      await gw.stop();
    }
  });

  test('S3 source through a fault proxy: 500, 503 SlowDown, reset, truncated body, short body, hang past the timeout', async (t) => {
    let s3: S3Fake | undefined;
    let proxy: S3FaultProxy | undefined;
    let gw: GatewayProcess | undefined;
    try {
      s3 = await startS3(['trust']);
      proxy = await startS3FaultProxy({ port: s3.port });
      const emit = process.emitWarning;
      process.emitWarning = () => undefined; // the SDK's Node-version notice
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      process.emitWarning = emit;
      const put = async (b: Bundle): Promise<void> =>
        void (await client.send(new PutObjectCommand({ Bucket: 'trust', Key: 'bundle.pem', Body: pem[b] })));
      await put('A');
      const domain = {
        ...domainConfig(S3_DOMAIN, w.server, w.truststore, [{ basePath: '', target: echo.url }]),
        mutualTls: { truststoreUri: S3_URI, exposeReason: true },
      };
      gw = await startGateway({ config: { domains: [domain] }, env: s3Env(proxy.endpoint) });
      const rig: Rig = { gw, domain: S3_DOMAIN, uri: S3_URI, serving: 'A', ...targets(gw.port, S3_DOMAIN) };
      const p = proxy;
      const g = gw;
      await assertServes(rig, 'at start');

      const cases: [S3Fault, string, RegExp][] = [
        ['500', '500 InternalError', /: InternalError \(HTTP 500\): We encountered an internal error/],
        ['503', '503 SlowDown', /: SlowDown \(HTTP 503\): Please reduce your request rate/],
        ['reset', 'connection reset', /: connection reset by the S3 endpoint$/],
        [
          'truncate',
          'body cut short (connection closed before Content-Length bytes)',
          /: the connection closed before the whole object arrived$/,
        ],
        [
          'short',
          'body cut short but well-formed (half the object, Content-Length to match)',
          /: truncated: the bundle ends inside a PEM block/,
        ],
      ];
      for (const [fault, what, reason] of cases) {
        await t.test(
          `${what}: refused on reload, old truststore serves, recovered by the retry when the proxy heals`,
          async () => {
            await underTrickle(rig, async () => {
              const next = other(rig.serving);
              if (fault === 'short') {
                const half = pem[next].slice(0, Math.floor(pem[next].length / 2));
                assert.doesNotMatch(
                  half,
                  /-----END CERTIFICATE-----\s*$/,
                  'precondition: half the object ends inside a block',
                );
              }
              const before = await errorsTotal(rig);
              await put(next);
              p.set(fault);
              const mark = g.mark();
              const from = p.requests.length;
              const r = await g.admin('/reload', 'POST');
              assert.equal(r.status, 500, r.body);
              await assertDegraded(rig, mark, reason, before);
              assert.ok(
                p.requests.slice(from).some((q) => q.fault === fault && q.url.startsWith('/trust/bundle.pem')),
                'the GetObject met the fault',
              );
              const heal = g.mark();
              p.set('none');
              await assertRecovers(rig, mark, heal, next);
            });
          },
        );
      }

      await t.test(
        'a hang longer than the S3 timeout (15 s): the admin listener and traffic are not held up; timed out, then recovered',
        async () => {
          await underTrickle(rig, async () => {
            const next = other(rig.serving);
            const before = await errorsTotal(rig);
            await put(next);
            p.set('hang');
            const mark = g.mark();
            const t0 = Date.now();
            g.signal('SIGHUP');
            for (let i = 0; i < 50 && p.hanging === 0; i++) await sleep(20);
            assert.equal(p.hanging, 1, 'the GetObject is held by the proxy');
            const ready = await g.admin('/readyz');
            assert.equal(ready.status, 200, 'the admin listener answers during the hang');
            await assertServes(rig, 'during the hang');
            const line = await assertDegraded(rig, mark, /: timed out$/, before, 25_000);
            const took = Date.parse(line.time) - t0;
            assert.ok(took >= 14_000 && took < 25_000, `timed out after ${took} ms`);
            const heal = g.mark();
            p.set('none');
            await assertRecovers(rig, mark, heal, next, 40_000); // a slow machine may let one more retry hang
          });
        },
      );
      assert.equal(g.stderr, '', 'nothing on stderr');
    } finally {
      await gw?.stop();
      await proxy?.close();
      await s3?.stop();
    }
  });
});
