/**
 * Bad input and faults: every one ends within the probe's timeout with a finding, never a hang or an exception.
 * Real servers on loopback: plain HTTP, a TCP server that never answers, one that resets mid-handshake, a TLS
 * server that never answers HTTP, endless and slow bodies; and a name that cannot resolve, a closed port.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { issue } from '../../src/pki/generate.js';
import { probe } from '../../src/doctor/live/probe.js';
import { parseTarget } from '../../src/doctor/live/target.js';
import { renderLive } from '../../src/doctor/live/render.js';
import { isUserError } from '../../src/errors.js';
import type { ProbeReport } from '../../src/doctor/live/types.js';

const ca = await issue({ subject: 'CN=Faults CA', profile: 'root-ca' });
const server = await issue({ subject: 'CN=localhost', profile: 'server', issuer: ca, sans: ['DNS:localhost'] });
const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

async function listen(srv: net.Server): Promise<number> {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  srv.on('secureConnection', (s: net.Socket) => s.on('error', () => {}));
  closers.push(() => {
    sockets.forEach((s) => s.destroy());
    srv.close();
  });
  return (srv.address() as AddressInfo).port;
}

/** probe() with a short timeout; it must come back within it (plus scheduling slack). */
async function bounded(
  url: string,
  timeoutMs: number,
  extra: { maxBodyBytes?: number } = {},
): Promise<{ r: ProbeReport; ms: number }> {
  const t0 = Date.now();
  const r = await probe({ url, cacertPem: ca.certPem, timeoutMs, ...extra });
  const ms = Date.now() - t0;
  assert.ok(ms < timeoutMs + 1000, `took ${ms} ms with a ${timeoutMs} ms budget`);
  assert.ok(r.findings.length > 0, 'a finding explains it');
  return { r, ms };
}
const ids = (r: ProbeReport): string[] => r.findings.map((f) => f.id);

test('TLS to a plain-HTTP port: "the port speaks plain HTTP"', async () => {
  const port = await listen(http.createServer((_q, s) => s.end('hello')));
  const { r } = await bounded(`https://localhost:${port}/`, 3000);
  assert.deepEqual(ids(r), ['tls.not-tls']);
  assert.match(r.findings[0]!.title, /speaks plain HTTP, not HTTPS/);
  assert.match(String(r.findings[0]!.evidence['answer']), /^HTTP\/1\.1 400/);
  assert.equal(r.outcome.kind, 'tls-failed');
});

test('a server that accepts TCP and never answers: tls.timeout at the deadline', async () => {
  const port = await listen(net.createServer(() => {}));
  const { r, ms } = await bounded(`https://localhost:${port}/`, 800);
  assert.deepEqual(r.outcome, { kind: 'timeout', stage: 'tls' });
  assert.deepEqual(ids(r), ['tls.timeout']);
  assert.ok(ms >= 700);
});

test('a TLS server that never answers the request: http.timeout', async () => {
  const port = await listen(tls.createServer({ key: server.keyPem, cert: server.certPem }, () => {}));
  const { r } = await bounded(`https://localhost:${port}/`, 800);
  assert.deepEqual(r.outcome, { kind: 'timeout', stage: 'http' });
  assert.ok(ids(r).includes('http.timeout'));
  assert.equal(r.tls?.version, 'TLSv1.3');
});

test('a server that resets mid-handshake: tls.reset', async () => {
  // The first bytes of a ServerHello, then a TCP reset; and a reset right after the ClientHello.
  const partial = await listen(
    net.createServer((s) =>
      s.once('data', () => {
        s.write(Buffer.from([22, 3, 3, 0, 90, 2, 0]));
        setTimeout(() => s.resetAndDestroy(), 30);
      }),
    ),
  );
  const at1 = await listen(net.createServer((s) => s.once('data', () => s.resetAndDestroy())));
  for (const port of [partial, at1]) {
    const { r } = await bounded(`https://localhost:${port}/`, 3000);
    assert.deepEqual(ids(r), ['tls.reset']);
    assert.deepEqual(r.outcome.kind === 'tls-failed' && [r.outcome.code, r.outcome.afterHandshake], [
      'ECONNRESET',
      false,
    ]);
    assert.match(r.findings[0]!.detail, /Connection reset by peer/);
  }
});

test('a server that closes right after the ClientHello (an unknown SNI name on a gateway): tls.closed-during-handshake names SNI', async () => {
  const port = await listen(tls.createServer({ SNICallback: (_n, cb) => cb(new Error('unknown name')) }));
  const { r } = await bounded(`https://localhost:${port}/`, 3000);
  const f = r.findings.find((x) => x.id === 'tls.closed-during-handshake');
  assert.ok(f, ids(r).join());
  assert.match(f.detail, /does not serve the name "localhost"/);
});

test('an endless body is cut at the cap, a slow one at the deadline; both say truncated', async () => {
  const endless = await listen(
    https.createServer({ key: server.keyPem, cert: server.certPem }, (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = (): void => void (!res.destroyed && res.write(chunk, () => setImmediate(pump)));
      pump();
    }),
  );
  const a = await bounded(`https://localhost:${endless}/`, 5000, { maxBodyBytes: 100_000 });
  assert.equal(a.r.outcome.kind, 'http');
  assert.ok(
    a.r.outcome.kind === 'http' &&
      a.r.outcome.truncated &&
      a.r.outcome.truncatedBy === 'cap' &&
      a.r.outcome.body.length === 100_000,
  );
  assert.ok(a.ms < 3000, `the cap ends it early (${a.ms} ms)`);
  assert.match(a.r.findings.find((f) => f.id === 'http.truncated')!.title, /longer than 100000 bytes/);

  const slow = await listen(
    https.createServer({ key: server.keyPem, cert: server.certPem }, (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('tick\n')), 100);
    }),
  );
  const b = await bounded(`https://localhost:${slow}/`, 900);
  assert.ok(
    b.r.outcome.kind === 'http' && b.r.outcome.truncatedBy === 'timeout' && b.r.outcome.body.startsWith('tick'),
  );
  assert.match(b.r.findings.find((f) => f.id === 'http.truncated')!.title, /did not end within 0\.9 s/);
});

test('an unresolvable name and a closed port', async () => {
  const { r } = await bounded('https://nonexistent.invalid/', 5000);
  assert.deepEqual(ids(r), ['dns.unresolvable']);
  assert.equal(r.outcome.kind, 'dns-failed');
  assert.match(r.findings[0]!.fix, /check the domain's DNS record/);
  assert.match(r.findings[0]!.fix, /--resolve nonexistent\.invalid:443:ADDR/);
  assert.equal(r.tls, null);

  const probeSocket = net.createServer();
  const port = await listen(probeSocket);
  await new Promise<void>((res) => probeSocket.close(() => res()));
  const closed = await bounded(`https://localhost:${port}/`, 3000);
  assert.deepEqual(ids(closed.r), ['tcp.refused']);
  assert.equal(closed.r.outcome.kind === 'tcp-failed' && closed.r.outcome.code, 'ECONNREFUSED');
});

test('a port whose accept queue is full: a timeout at the deadline, at the stage where the server went silent', async () => {
  // A listener with a backlog of 1 in a stopped process: the kernel queues a connection or two, then drops SYNs.
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))",
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  closers.push(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d)))));
  child.kill('SIGSTOP');
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  closers.push(() => fillers.forEach((f) => f.destroy()));
  await new Promise((r) => setTimeout(r, 200));
  const x = await probe({
    url: `https://full.test:${port}/`,
    resolve: [`full.test:${port}:127.0.0.1`],
    timeoutMs: 700,
  });
  // Linux drops SYNs once the queue is full (tcp); a kernel that accepts past the backlog completes the connection,
  // and then the stopped process never answers the ClientHello (tls). Either way the probe ends at its deadline.
  const stage = x.outcome.kind === 'timeout' ? x.outcome.stage : null;
  assert.ok(stage === 'tcp' || stage === 'tls', `outcome ${JSON.stringify(x.outcome)}`);
  assert.ok(ids(x).includes(`${stage}.timeout`), ids(x).join());
  assert.equal(x.connectedTo, stage === 'tcp' ? null : `127.0.0.1:${port}`);
  assert.deepEqual(x.addresses, ['127.0.0.1']);
  assert.deepEqual(x.applied, [`--resolve full.test:${port}:127.0.0.1`]);
  assert.ok(x.timings['total']! < 1700);
});

test('a password in the URL (user:PASS@) is never in the report or in a usage error', async () => {
  const SECRET = 'url-pw-s3cret';
  const srv = https.createServer({ cert: server.certPem, key: server.keyPem }, (_req, res) => {
    res.statusCode = 403;
    res.end('{"message":"Forbidden"}');
  });
  const port = await listen(srv);
  // No cacertPem: the server's certificate is untrusted, and that finding's fix repeats the URL.
  const r = await probe({ url: `https://alice:${SECRET}@localhost:${port}/`, timeoutMs: 5000 });
  const text = JSON.stringify(r);
  assert.ok(!text.includes(SECRET), 'the password was in the report');
  assert.equal(r.url, `https://alice:***@localhost:${port}/`);
  assert.ok(
    r.findings.some((f) => f.fix.includes('alice:***@')),
    'the fixes still name the URL',
  );
  for (const bad of [
    `https://alice:${SECRET}@bad host/`,
    `ftp://alice:${SECRET}@x.test/`,
    `http://alice:${SECRET}@x.test/`,
  ]) {
    assert.throws(
      () => parseTarget(bad),
      (e: Error) => isUserError(e) && !e.message.includes(SECRET),
      bad,
    );
  }
});

test('a CertificateRequest with thousands of CA names: the text report stays short, the JSON keeps the count', async () => {
  const root = await issue({ subject: 'CN=Unlisted Root', profile: 'root-ca' });
  const leaf = await issue({ subject: 'CN=unlisted client', profile: 'client', issuer: root });
  // 4,095 names "CN=a" (the 64 KiB maximum of certificate_authorities), each 2 + 14 bytes.
  const name = Buffer.from('300c310a300806035504030c0161', 'hex');
  const one = Buffer.concat([Buffer.from([0, name.length]), name]);
  const cas = Buffer.concat(Array.from({ length: 4095 }, () => one));
  const hsMsg = (type: number, body: Buffer): Buffer =>
    Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 255, body.length & 255]), body]);
  const serverHello = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0, 0xc0, 0x2f, 0])]);
  const certRequest = Buffer.concat([Buffer.from([1, 1, 0, 2, 4, 3, cas.length >> 8, cas.length & 255]), cas]);
  const flight = Buffer.concat([hsMsg(2, serverHello), hsMsg(13, certRequest), hsMsg(14, Buffer.alloc(0))]);
  const records: Buffer[] = [];
  for (let p = 0; p < flight.length; p += 16384) {
    const chunk = flight.subarray(p, p + 16384);
    records.push(Buffer.from([22, 3, 3, chunk.length >> 8, chunk.length & 255]), chunk);
  }
  const srv = net.createServer((s) => s.once('data', () => s.write(Buffer.concat(records))));
  const port = await listen(srv);
  const r = await probe({
    url: `https://localhost:${port}/`,
    cacertPem: ca.certPem,
    timeoutMs: 5000,
    client: { chainPem: leaf.certPem, keyPem: leaf.keyPem },
  });
  assert.equal(r.tls?.acceptableCAs?.length, 4095, r.tls?.certificateRequestProbe ?? '');
  const f = r.findings.find((x) => x.id === 'tls.ca-not-accepted');
  assert.ok(f, ids(r).join(','));
  const text = renderLive(r, r.findings, { color: false });
  assert.ok(text.split('\n').length < 200, `the text report has ${text.split('\n').length} lines`);
});

test('a 60 KB deny reason in the body: the finding quotes at most 300 characters of it', async () => {
  const srv = https.createServer({ cert: server.certPem, key: server.keyPem }, (_req, res) => {
    res.statusCode = 403;
    res.end(JSON.stringify({ message: `Access denied. Reason: ${'A'.repeat(60_000)}` }));
  });
  const port = await listen(srv);
  const { r } = await bounded(`https://localhost:${port}/`, 5000);
  const denied = r.findings.find((f) => f.id === 'http.access-denied');
  assert.ok(denied, ids(r).join(','));
  for (const f of r.findings) assert.ok(f.title.length < 500, `${f.id}: a ${f.title.length}-character title`);
  assert.ok(renderLive(r, r.findings, { color: false }).length < 10_000);
});
