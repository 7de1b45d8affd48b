/**
 * TLS session resumption on a real `mtlsgate serve` (issue 5, figure 2; issue 6, hostile TLS). Resumption is on by
 * default; a resumed session skips the SNI callback, so every resumed connection is judged again by the policy
 * against the truststore of the domain its request is for. Each test asserts whether the client really resumed
 * or not (isSessionReused), so none of them passes by a full handshake in disguise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { runServe } from '../helpers/cli.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { nodeRequest } from '../helpers/http.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { writeTruststore } from '../helpers/pki.js';
import { run } from '../helpers/proc.js';

const A = 'a.resume.e2e.test';
const B = 'b.resume.e2e.test';
const STRICT = 'strict.resume.e2e.test';
const NO_ISSUER = 'Access denied. Reason: Could not find issuer for certificate';

let w: World;
let echo: EchoBackend;
let gw: GatewayProcess;
let truststoreA: string;

before(async () => {
  w = await makeWorld(A, [B, STRICT]);
  echo = await startEcho();
  // A's truststore is a copy, so a test can swap it and reload.
  truststoreA = join(w.dir, 'a-truststore.pem');
  copyFileSync(w.truststore, truststoreA);
  gw = await startGateway({
    config: {
      domains: [
        domainConfig(A, w.server, truststoreA, [{ basePath: '', target: echo.url }]),
        // B trusts only the other CA: A's client is not welcome there.
        domainConfig(B, w.server, writeTruststore(w.dir, 'b', [w.otherCa]), [{ basePath: '', target: echo.url }]),
        {
          ...domainConfig(STRICT, w.server, w.truststore, [{ basePath: '', target: echo.url }]),
          securityPolicy: 'TLS_1_3',
        },
      ],
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

const client = (): { port: number; ca: string; cert: string; key: string } => ({
  port: gw.port,
  ca: w.server.caPem,
  cert: w.client.certPem,
  key: w.client.keyPem,
});

/** The echo backend's view of a request: the identity headers the gateway sent. */
function backendSaw(text: string): Record<string, string> {
  return (JSON.parse(text) as { headers: Record<string, string> }).headers;
}

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${maxVersion}: a resumed session is served, with the client's identity passed on`, async () => {
    const first = await nodeRequest({ ...client(), servername: A, maxVersion });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.sessionReused, false);
    assert.ok(first.session, 'the gateway issued a session ticket');
    for (let i = 0; i < 3; i++) {
      const again = await nodeRequest({ ...client(), servername: A, maxVersion, session: first.session! });
      assert.equal(again.sessionReused, true, 'the session was resumed');
      assert.equal(again.status, 200, again.text);
      assert.equal(backendSaw(again.text)['client-cert'], `:${w.client.der.toString('base64')}:`);
    }
  });

  test(`${maxVersion}: a session from one domain offered to another is not resumed; the other's truststore judges`, async () => {
    const first = await nodeRequest({ ...client(), servername: A, maxVersion });
    assert.equal(first.status, 200);
    const mark = gw.mark();
    const there = await nodeRequest({ ...client(), servername: B, maxVersion, session: first.session! });
    // OpenSSL 3.5 (Node 22/24) resumes only under the SNI name the session was made for (docs/node-openssl.md).
    assert.equal(there.sessionReused, false, 'a full handshake, not a resumption');
    assert.equal(there.status, 403, there.text);
    assert.deepEqual(JSON.parse(there.text), { message: NO_ISSUER });
    const denial = await gw.waitForLog((l) => l.msg.startsWith('Access denied'), { from: mark });
    assert.equal(denial.domain, B);
  });
}

test('a certificate no longer trusted after a reload is refused on a resumed session', async () => {
  const sessions = {
    'TLSv1.3': (await nodeRequest({ ...client(), servername: A, maxVersion: 'TLSv1.3' })).session!,
    'TLSv1.2': (await nodeRequest({ ...client(), servername: A, maxVersion: 'TLSv1.2' })).session!,
  };
  // A now trusts only the other CA.
  writeFileSync(truststoreA, w.otherCa.certPem);
  try {
    const r = await gw.admin('/reload', 'POST');
    assert.equal(r.status, 200, r.body);
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const resumed = await nodeRequest({ ...client(), servername: A, maxVersion, session: sessions[maxVersion] });
      assert.equal(resumed.sessionReused, true, `${maxVersion}: the session was resumed`);
      assert.equal(resumed.status, 403, `${maxVersion}: ${resumed.text}`);
      assert.deepEqual(JSON.parse(resumed.text), { message: NO_ISSUER });
    }
  } finally {
    copyFileSync(w.truststore, truststoreA);
    assert.equal((await gw.admin('/reload', 'POST')).status, 200);
  }
  // Trusted again: the same session is served again (the verdict follows the truststore, not the ticket).
  const back = await nodeRequest({ ...client(), servername: A, session: sessions['TLSv1.3'] });
  assert.equal(back.sessionReused, true);
  assert.equal(back.status, 200, back.text);
});

test('a TLS 1.2 session offered to a TLS_1_3 domain: not resumed, the handshake is refused, nothing reaches a backend', async () => {
  const first = await nodeRequest({ ...client(), servername: A, maxVersion: 'TLSv1.2' });
  assert.equal(first.status, 200);
  const path = `/strict-${randomBytes(4).toString('hex')}`;
  // Node 20 resumed it (skipping the SNI callback) and the request got 421; Node 22/24 make it a full handshake,
  // which the SNI callback refuses for TLS 1.2.
  await assert.rejects(
    nodeRequest({
      ...client(),
      servername: STRICT,
      host: STRICT,
      maxVersion: 'TLSv1.2',
      session: first.session!,
      path,
    }),
    (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET' || /disconnected|alert/i.test(e.message),
  );
  assert.equal(echo.received.filter((q) => q.path === path).length, 0, 'the backend saw nothing');
});

test('Host names no domain on a resumed TLS 1.2 session: 421, counted under the SNI domain, never the name sent', async () => {
  const first = await nodeRequest({ ...client(), servername: A, maxVersion: 'TLSv1.2' });
  assert.equal(first.status, 200);
  const names = Array.from({ length: 5 }, () => `made-up-${randomBytes(6).toString('hex')}.example`);
  const before = misdirectedCount((await gw.admin('/metrics')).body, A);
  for (const host of names) {
    const r = await nodeRequest({ ...client(), servername: A, host, maxVersion: 'TLSv1.2', session: first.session! });
    assert.equal(r.sessionReused, true, 'the session was resumed');
    assert.equal(r.status, 421, r.text);
  }
  const metrics = (await gw.admin('/metrics')).body;
  for (const host of names) assert.ok(!metrics.includes(host), `${host} became a metrics label:\n${metrics}`);
  // A resumed session keeps its SNI name on Node 22/24 (Node 20 lost it: the count went under "-").
  assert.equal(misdirectedCount(metrics, A), before + names.length, metrics);
});

/** mtlsgate_requests_total{domain,status="421"}, 0 when absent. */
function misdirectedCount(metrics: string, domain: string): number {
  const m = new RegExp(
    `^mtlsgate_requests_total\\{domain="${domain.replace(/\./g, '\\.')}",status="421"\\} (\\d+)$`,
    'm',
  ).exec(metrics);
  return m ? Number(m[1]) : 0;
}

test('--workers 2: sessions resume on whichever worker takes the connection', async () => {
  const two = await startGateway({
    config: { domains: [domainConfig(A, w.server, w.truststore, [{ basePath: '', target: echo.url }])] },
    args: ['--workers', '2'],
  });
  try {
    const port = two.port;
    const first = await nodeRequest({ ...client(), port, servername: A });
    assert.equal(first.status, 200);
    // Until both workers have served resumed sessions (the kernel gives an idle machine's connections mostly to one
    // worker). Every one of them resumed, whichever worker issued the ticket: with keys of its own per worker (checked
    // by breaking the sharing), the other worker's resumptions fail.
    const mark = two.mark();
    const results: { status: number; sessionReused: boolean }[] = [];
    const byWorker = (): Map<unknown, number> => {
      const m = new Map<unknown, number>();
      for (const l of two.logsSince(mark)) if (l.msg === 'request') m.set(l.worker, (m.get(l.worker) ?? 0) + 1);
      return m;
    };
    while (results.length < 400 && !([...byWorker().values()].filter((n) => n >= 3).length >= 2)) {
      results.push(
        ...(await Promise.all(
          Array.from({ length: 8 }, () => nodeRequest({ ...client(), port, servername: A, session: first.session! })),
        )),
      );
    }
    assert.deepEqual([...byWorker().keys()].sort(), [1, 2], `requests by worker: ${JSON.stringify([...byWorker()])}`);
    assert.deepEqual(
      results.filter((r) => r.status !== 200 || !r.sessionReused).length,
      0,
      `${results.length} resumptions`,
    );
  } finally {
    await two.stop();
  }
});

test('openssl s_client: each resumption gets a fresh ticket, so a chain of single-use tickets keeps resuming', async () => {
  // OpenSSL's client uses a TLS 1.3 ticket once; without a new ticket on each resumed connection, every other
  // connection would be a full handshake.
  const certFile = w.clientFiles.certFile;
  const keyFile = w.clientFiles.keyFile;
  const input = `GET / HTTP/1.1\r\nHost: ${A}\r\nConnection: close\r\n\r\n`;
  const sess = (i: number): string => join(w.dir, `chain-${i}.sess`);
  const sClient = (extra: string[]): Promise<{ code: number | null; stdout: Buffer }> =>
    run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-servername',
        A,
        '-cert',
        certFile,
        '-key',
        keyFile,
        '-CAfile',
        w.server.caFile,
        '-ign_eof',
        ...extra,
      ],
      { input },
    );
  const first = await sClient(['-sess_out', sess(0)]);
  assert.match(first.stdout.toString('utf8'), /^New, TLSv1\.3/m);
  for (let i = 1; i <= 5; i++) {
    const r = await sClient(['-sess_in', sess(i - 1), '-sess_out', sess(i)]);
    const out = r.stdout.toString('utf8');
    assert.match(out, /^Reused, TLSv1\.3/m, `connection ${i} resumed`);
    assert.match(out, /HTTP\/1\.1 200 OK/);
  }
});

test("tls.ticketKeyFile: two replicas with the same key file resume each other's sessions; a bad file is a one-line start error", async () => {
  const keyFile = join(w.dir, 'ticket.key');
  writeFileSync(keyFile, randomBytes(48).toString('hex') + '\n', { mode: 0o600 });
  const cfg = {
    domains: [domainConfig(A, w.server, w.truststore, [{ basePath: '', target: echo.url }])],
    tls: { ticketKeyFile: keyFile },
  };
  const [one, two] = await Promise.all([startGateway({ config: cfg }), startGateway({ config: cfg })]);
  try {
    const first = await nodeRequest({ ...client(), port: one.port, servername: A });
    assert.equal(first.status, 200);
    const other = await nodeRequest({ ...client(), port: two.port, servername: A, session: first.session! });
    assert.equal(other.sessionReused, true, "replica two resumed replica one's session");
    assert.equal(other.status, 200);
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
  // Without the shared file, replicas do not resume each other's sessions (the test above is not vacuous).
  const cfgRandom = { domains: cfg.domains };
  const [r1, r2] = await Promise.all([startGateway({ config: cfgRandom }), startGateway({ config: cfgRandom })]);
  try {
    const first = await nodeRequest({ ...client(), port: r1.port, servername: A });
    const other = await nodeRequest({ ...client(), port: r2.port, servername: A, session: first.session! });
    assert.equal(other.sessionReused, false);
    assert.equal(other.status, 200);
  } finally {
    await Promise.all([r1.stop(), r2.stop()]);
  }

  const bad = join(w.dir, 'bad-ticket.key');
  writeFileSync(bad, 'not a key\n');
  const file = join(w.dir, 'bad-ticket.json');
  writeFileSync(file, JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, ...cfg, tls: { ticketKeyFile: bad } }));
  const run = await runServe(['--config', file]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /tls\.ticketKeyFile: .*bad-ticket\.key: expected 48 bytes/);
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /not a key/, 'the file content is never echoed');
});

test('resumption turns itself off where a resumed session cannot be judged (trustClientIntermediates), and says so', async () => {
  const g = await startGateway({
    config: {
      domains: [
        domainConfig(A, w.server, w.truststore, [{ basePath: '', target: echo.url }], {
          trustClientIntermediates: true,
        }),
      ],
    },
  });
  try {
    const off = await g.waitForLog((l) => l.msg === 'TLS session resumption off');
    assert.match(String(off.reason), /trustClientIntermediates/);
    const first = await nodeRequest({ ...client(), port: g.port, servername: A });
    const again = await nodeRequest({ ...client(), port: g.port, servername: A, session: first.session ?? undefined });
    assert.equal(again.sessionReused, false);
    assert.equal(again.status, 200);
  } finally {
    await g.stop();
  }
});
