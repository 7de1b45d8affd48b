/**
 * Hostile TLS clients against a real `mtlsgate serve`, with `openssl s_client` and Node's TLS client: TLS 1.0
 * and 1.1 (offered at SECLEVEL=0 so the refusal is the gateway's), TLS 1.2 cipher suites outside the policy, and
 * client-initiated renegotiation on TLS 1.2 (`R` on s_client's stdin, `renegotiate()` in Node), which the gateway
 * refuses, so a connection's verdict can never be re-decided by a second handshake. A trickle of well-behaved
 * requests runs throughout and must all succeed; nothing from a refused client reaches the backend.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  assertOnlyVerified,
  assertTrickle,
  startHostile,
  startTrickle,
  statusLines,
  type Hostile,
  type Trickle,
} from '../helpers/hostile.js';
import { sleep } from '../helpers/lifecycle.js';
import { writeClient } from '../helpers/pki.js';
import { tlsConnect } from '../helpers/tls.js';

let h: Hostile;
let trickle: Trickle;
let badFiles: { certFile: string; keyFile: string };

before(async () => {
  h = await startHostile({ domain: 'tls.hostile.e2e.test' });
  badFiles = writeClient(h.w.dir, 'refused', h.w.otherClient);
  trickle = startTrickle(h.good, { everyMs: 100 });
});

after(async () => {
  await trickle?.stop();
  await h?.close();
});

interface SClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `openssl s_client` fed a script: each step waits, then writes its text to stdin (an HTTP request, or `R\n`,
 * s_client's renegotiate command). stdin stays open until the script ends, then s_client gets EOF and stops.
 */
function sClient(args: string[], steps: { waitMs: number; write?: string }[]): Promise<SClientRun> {
  return new Promise((resolve) => {
    const child = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${h.gw.port}`,
        '-servername',
        h.w.domain,
        '-CAfile',
        h.w.server.caFile,
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('latin1')));
    child.stdin.on('error', () => undefined);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
    void (async () => {
      for (const s of steps) {
        await sleep(s.waitMs);
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (s.write !== undefined) child.stdin.write(s.write);
      }
      child.stdin.end();
    })();
  });
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: ${h.w.domain}\r\n\r\n`;
/** Request log lines other than the trickle's. */
const served = (mark: number) =>
  h.gw.logsSince(mark).filter((l) => l.msg === 'request' && !String(l.path).startsWith('/trickle/'));

test('TLS 1.0 and 1.1 are refused with a protocol_version alert, even offered at SECLEVEL=0; nothing is served', async () => {
  const mark = h.gw.mark();
  for (const version of ['-tls1', '-tls1_1']) {
    for (const files of [h.w.clientFiles, badFiles]) {
      const r = await sClient(
        [version, '-cipher', 'DEFAULT@SECLEVEL=0', '-cert', files.certFile, '-key', files.keyFile, '-brief'],
        [{ waitMs: 300, write: get('/old-tls') }, { waitMs: 300 }],
      );
      assert.notEqual(r.code, 0, `${version} must fail:\n${r.stderr}`);
      assert.match(r.stderr, /alert protocol version|SSL alert number 70/, `${version}: the gateway's alert`);
      assert.doesNotMatch(r.stderr, /CONNECTION ESTABLISHED/);
      assert.equal(statusLines(r.stdout).length, 0, 'no HTTP answer');
    }
  }
  const failed = h.gw.logsSince(mark).filter((l) => l.msg === 'tls handshake failed');
  assert.ok(
    failed.length >= 4 && failed.every((l) => /unsupported protocol/.test(String(l.error))),
    JSON.stringify(failed),
  );
  assert.equal(served(mark).length, 0, 'no request was processed');
});

test('TLS 1.2 cipher suites outside the policy are refused (handshake_failure); a policy suite is served', async () => {
  const mark = h.gw.mark();
  for (const cipher of [
    'ECDHE-ECDSA-AES128-SHA',
    'ECDHE-ECDSA-AES256-SHA',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-ECDSA-AES256-CCM',
  ]) {
    const r = await sClient(
      [
        '-tls1_2',
        '-cipher',
        `${cipher}@SECLEVEL=0`,
        '-cert',
        h.w.clientFiles.certFile,
        '-key',
        h.w.clientFiles.keyFile,
        '-brief',
      ],
      [{ waitMs: 300, write: get('/weak-cipher') }, { waitMs: 300 }],
    );
    assert.notEqual(r.code, 0, `${cipher} must be refused:\n${r.stderr}`);
    assert.match(r.stderr, /alert handshake failure|SSL alert number 40/, cipher);
    assert.equal(statusLines(r.stdout).length, 0);
  }
  const ok = await sClient(
    [
      '-tls1_2',
      '-cipher',
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      '-cert',
      h.w.clientFiles.certFile,
      '-key',
      h.w.clientFiles.keyFile,
      '-brief',
    ],
    [
      { waitMs: 300, write: `GET /policy-cipher HTTP/1.1\r\nHost: ${h.w.domain}\r\nConnection: close\r\n\r\n` },
      { waitMs: 500 },
    ],
  );
  assert.match(ok.stderr, /Ciphersuite: ECDHE-ECDSA-AES128-GCM-SHA256/);
  assert.deepEqual(statusLines(ok.stdout), [200]);
  assert.deepEqual(
    served(mark).map((l) => l.path),
    ['/policy-cipher'],
    'only the policy suite was served',
  );
});

test('client-initiated renegotiation (s_client R) is refused: the connection ends, the request after it is never answered', async () => {
  for (const [who, files, status] of [
    ['refused certificate', badFiles, 403],
    ['verified certificate', h.w.clientFiles, 200],
  ] as const) {
    const mark = h.gw.mark();
    const r = await sClient(
      ['-tls1_2', '-cert', files.certFile, '-key', files.keyFile],
      [
        { waitMs: 400, write: get(`/before-reneg`) },
        { waitMs: 400, write: 'R\n' },
        { waitMs: 500, write: get(`/after-reneg`) },
        { waitMs: 400 },
      ],
    );
    assert.match(r.stderr, /RENEGOTIATING/, `${who}: s_client tried`);
    assert.match(r.stderr, /no renegotiation/, `${who}: the gateway refused it:\n${r.stderr}`);
    assert.deepEqual(statusLines(r.stdout), [status], `${who}: only the request before R was answered`);
    assert.deepEqual(
      served(mark).map((l) => [l.path, l.status]),
      [['/before-reneg', status]],
      who,
    );
  }
  assert.ok(!h.echo.received.some((r) => r.path === '/after-reneg'));
});

test("Node's TLS client: renegotiate() on TLS 1.2 is answered with no_renegotiation, the connection ends, a denied connection stays denied", async () => {
  const s = await tlsConnect(h.bad, { maxVersion: 'TLSv1.2' });
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString('latin1')));
  // Node calls renegotiate()'s callback only on success; a refusal arrives as the socket's error, then close.
  const failed = new Promise<Error>((r) => s.once('error', r));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.write(get('/node-before'));
  for (let i = 0; i < 100 && statusLines(text).length === 0; i++) await sleep(20);
  assert.deepEqual(statusLines(text), [403]);
  let succeeded = false;
  assert.equal(
    s.renegotiate({ rejectUnauthorized: false }, (e) => void (succeeded = !e)),
    true,
    'renegotiation started',
  );
  const err = await Promise.race([failed, sleep(5000).then(() => null)]);
  assert.ok(err, 'the renegotiation failed');
  assert.match(err.message, /no renegotiation/, err.message);
  await Promise.race([closed, sleep(3000)]);
  assert.ok(s.destroyed, 'the connection is over');
  assert.equal(succeeded, false);
  assert.deepEqual(statusLines(text), [403], 'no second answer');
  assert.ok(!h.echo.received.some((r) => r.path.startsWith('/node-')));
});

test('the well-behaved trickle was served throughout, and only the verified client reached the backend', async () => {
  const r = await trickle.stop();
  assertTrickle(r, 5, 'hostile TLS clients');
  assertOnlyVerified(h);
});
