/**
 * The curl error mapping pinned to REAL curl output: each case runs the curl binary with a broken command against
 * a local mutual-TLS server (Node https, requestCert + rejectUnauthorized, the test PKI's truststore), captures
 * curl's exit code and stderr, feeds them with the same arguments to `mtlsgate doctor curl`, and checks the
 * finding for curl's error, the finding for the cause, and for some the live probe's and the offline verdict.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { testPki, testVariant, tmpDir, type TestPki } from '../helpers/pki.js';

let haveCurl = true;
try {
  execFileSync('curl', ['--version'], { stdio: 'ignore' });
} catch {
  haveCurl = false;
}
const skip = haveCurl ? false : 'curl is not installed: the real-curl pinning of doctor curl is skipped';
if (!haveCurl) console.log(`# SKIP ${skip}`);

let pki: TestPki;
let dir = '';
let server: https.Server;
let port = 0;
const f = (name: string): string => join(dir, name);

before(async () => {
  pki = await testPki();
  dir = tmpDir();
  const keyPem = readFileSync(pki.clientKey, 'utf8');
  writeFileSync(f('client-der.crt'), new X509Certificate(readFileSync(pki.clientCert, 'utf8')).raw);
  writeFileSync(
    f('enc.key'),
    createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }),
    { mode: 0o600 },
  );
  if (haveCurl)
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      pki.clientCert,
      '-inkey',
      pki.clientKey,
      '-passout',
      'pass:pw',
      '-out',
      f('client.p12'),
    ]);
  await testVariant('sha1');
  server = https.createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: readFileSync(pki.truststore),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (_req, res) => res.end('ok\n'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

after(
  () =>
    new Promise<void>((r) => {
      server?.close(() => r());
      server?.closeAllConnections();
    }),
);

/** Runs curl without a terminal (its own session, stdin /dev/null), so an encrypted key cannot be prompted for. */
function curl(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-o', '/dev/null', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stderr });
    });
  });
}

interface Report {
  error: { exitCode: number | null; text: string | null } | null;
  verdict: { accepted: true } | { accepted: false; reason: string } | null;
  findings: Array<{
    id: string;
    severity: string;
    evidence: Record<string, unknown>;
    source: 'curl' | 'offline' | 'live';
  }>;
  live: { tls: { clientCertSent: boolean } | null } | null;
}

interface Case {
  name: string;
  args: () => string[];
  /** curl's exit code(s) and a piece of its message, as observed with curl 7.88 / OpenSSL 3.0. */
  exit: number | number[];
  said: RegExp;
  /** The finding for curl's error, and others the report must hold (curl file findings, offline, live). */
  error: string | string[];
  also?: string[];
  live?: string[];
  reason?: string | null;
}

const at = (): string => `https://localhost:${port}/`;
const route = (): string[] => ['--resolve', `localhost:${port}:127.0.0.1`, '--cacert', pki.rootCert];

const CASES: Case[] = [
  {
    name: 'missing key file',
    args: () => [...route(), '--cert', pki.clientCert, '--key', f('missing.key'), at()],
    exit: 58,
    said: /unable to set private key file: '.*missing\.key' type PEM/,
    error: 'curl.key-not-loaded',
    also: ['key.file-not-found'],
  },
  {
    name: 'DER certificate without --cert-type DER',
    args: () => [...route(), '--cert', f('client-der.crt'), '--key', pki.clientKey, at()],
    exit: 58,
    said: /could not load PEM client certificate .*no start line/,
    error: 'curl.cert-not-loaded',
    also: ['curl.cert-type-mismatch'],
    live: ['curl.live-not-as-curl', 'http.ok'],
    reason: null,
  },
  {
    name: 'encrypted key without --pass',
    args: () => [...route(), '--cert', pki.clientCert, '--key', f('enc.key'), at()],
    exit: 58,
    said: /unable to set private key file: '.*enc\.key' type PEM/,
    error: 'curl.key-not-loaded',
    also: ['curl.pass-missing'],
  },
  {
    name: 'PKCS#12 without --cert-type P12',
    args: () => [...route(), '--cert', `${f('client.p12')}:pw`, at()],
    exit: 58,
    said: /could not load PEM client certificate .*no start line/,
    error: 'curl.cert-not-loaded',
    also: ['curl.p12-without-cert-type'],
  },
  {
    name: 'certificate without its key and no --key',
    args: () => [...route(), '--cert', pki.clientCert, at()],
    exit: 58,
    said: /unable to set private key file: '.*client\.crt' type PEM/,
    error: 'curl.key-not-loaded',
    also: ['curl.key-missing'],
  },
  {
    name: "SHA-1 signed client certificate (curl's security level)",
    args: () => [...route(), '--cert', join(pki.dir, 'sha1.crt'), '--key', join(pki.dir, 'sha1.key'), at()],
    exit: 58,
    said: /ca md too weak/,
    error: 'curl.client-cert-refused-locally',
    reason: 'Client cert using an insecure Signature Algorithm',
  },
  {
    name: 'wrong host name without --resolve',
    args: () => [
      '--cacert',
      pki.rootCert,
      '--cert',
      pki.clientCert,
      '--key',
      pki.clientKey,
      `https://mtls.example.invalid:${port}/`,
    ],
    exit: 6,
    said: /Could not resolve host: mtls\.example\.invalid/,
    error: 'curl.cannot-resolve',
    live: ['dns.unresolvable'],
  },
  {
    name: 'no client certificate (TLS 1.3)',
    args: () => [...route(), at()],
    exit: 56,
    said: /alert certificate required/,
    error: 'curl.client-cert-required',
    also: ['curl.no-client-cert'],
    live: ['tls.client-cert-required'],
  },
  {
    name: 'no client certificate (TLS 1.2)',
    args: () => [...route(), '--tls-max', '1.2', at()],
    exit: 35,
    said: /alert handshake failure/,
    error: 'curl.handshake-failure',
    also: ['curl.no-client-cert'],
  },
  {
    name: 'self-signed client certificate the server does not trust',
    args: () => [...route(), '--cert', pki.selfSignedCert, '--key', pki.selfSignedKey, at()],
    // A Node server on TLS 1.3 closes after refusing: curl sees a reset (56) or, when the close wins, an empty reply
    // (52).
    exit: [56, 52, 35],
    said: /Connection reset by peer|unexpected eof|SSL_ERROR_SYSCALL|Empty reply from server/,
    error: ['curl.connection-reset', 'curl.empty-reply'],
    reason: 'self-signed certificate',
  },
  {
    name: 'server CA not given (no --cacert)',
    args: () => ['--resolve', `localhost:${port}:127.0.0.1`, '--cert', pki.clientCert, '--key', pki.clientKey, at()],
    exit: 60,
    said: /unable to get local issuer certificate/,
    error: 'curl.server-cert-untrusted',
    live: ['server.untrusted'],
  },
  {
    name: 'connecting by IP address: the server certificate is for localhost',
    args: () => [
      '--cacert',
      pki.rootCert,
      '--cert',
      pki.clientCert,
      '--key',
      pki.clientKey,
      `https://127.0.0.1:${port}/`,
    ],
    exit: 60,
    said: /no alternative certificate subject name matches target host name '127\.0\.0\.1'/,
    error: 'curl.server-name-mismatch',
  },
  {
    name: '--cacert that is a DER file',
    args: () => [
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '--cacert',
      f('client-der.crt'),
      '--cert',
      pki.clientCert,
      '--key',
      pki.clientKey,
      at(),
    ],
    exit: 77,
    said: /error setting certificate file/,
    error: 'curl.cacert-not-loaded',
    also: ['curl.cacert-not-pem'],
  },
];

for (const c of CASES) {
  test(`real curl: ${c.name}`, { skip }, async () => {
    const args = c.args();
    const run = await curl(args);
    const line = run.stderr.split('\n').find((l) => l.startsWith('curl: (')) ?? run.stderr;
    assert.ok([c.exit].flat().includes(run.code), `curl exit code ${run.code}; stderr: ${run.stderr}`);
    assert.match(line, c.said);
    const r = await cli([
      'doctor',
      'curl',
      '--json',
      '--timeout',
      '5',
      '--truststore',
      pki.truststore,
      '--error',
      run.stderr,
      '--exit-code',
      String(run.code),
      '--',
      ...args,
    ]);
    assert.equal(r.code, 1, `doctor curl exit; ${r.err}`);
    const j = JSON.parse(r.out) as Report;
    const ids = j.findings.filter((x) => x.source !== 'live').map((x) => x.id);
    assert.equal(j.error?.exitCode, run.code);
    assert.ok([c.error].flat().includes(ids[0]!), `curl said: ${line}\nfindings: ${ids.join(', ')}`);
    for (const id of c.also ?? []) assert.ok(ids.includes(id), `${id} missing; findings: ${ids.join(', ')}`);
    const liveIds = j.findings.filter((x) => x.source === 'live').map((x) => x.id);
    for (const id of c.live ?? [])
      assert.ok(liveIds.includes(id), `live ${id} missing; live findings: ${liveIds.join(', ')}`);
    if (c.reason !== undefined)
      assert.equal(j.verdict === null || j.verdict.accepted ? null : j.verdict.reason, c.reason);
  });
}

test('real curl: the good command succeeds, and doctor curl finds nothing wrong (exit 0)', { skip }, async () => {
  const args = [...route(), '--cert', pki.clientCert, '--key', pki.clientKey, at()];
  const run = await curl(args);
  assert.equal(run.code, 0, run.stderr);
  const r = await cli(['doctor', 'curl', '--json', '--truststore', pki.truststore, '--', ...args]);
  assert.equal(r.code, 0, r.out);
  const j = JSON.parse(r.out) as Report;
  assert.equal(j.verdict?.accepted, true);
  assert.equal(j.live?.tls?.clientCertSent, true);
  assert.ok(j.findings.some((x) => x.id === 'http.ok' && x.source === 'live'));
});
