/**
 * Interop with an OpenSSL server (`openssl s_server -Verify 1 -verify_return_error`): unlike Node it refuses a
 * client certificate with a TLS alert (unknown_ca, certificate_expired), during the handshake on TLS 1.2 and right
 * after it on TLS 1.3. The probe must name the alert as the server's verdict on the certificate.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { probe } from '../../src/doctor/live/probe.js';
import type { ProbeReport } from '../../src/doctor/live/types.js';
import { tmpDir } from '../helpers/pki.js';
import { closedPort } from '../helpers/backends.js'; // a port nothing listens on, for the server under test

const DAY = 86_400_000;
const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill('SIGKILL')));

async function sServer(
  version: '-tls1_2' | '-tls1_3',
  files: { cert: string; key: string; ca: string },
): Promise<number> {
  const port = await closedPort();
  const child = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      files.cert,
      '-key',
      files.key,
      '-CAfile',
      files.ca,
      '-Verify',
      '1',
      '-verify_return_error',
      '-www',
      version,
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), r(true))).on('error', () => r(false));
    });
    if (up) return port;
    if (Date.now() > deadline) assert.fail('openssl s_server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('openssl s_server refuses with alerts: unknown_ca, certificate_expired, certificate_required / handshake_failure', async (t) => {
  if (spawnSync('openssl', ['version']).error) return t.skip('openssl not installed');
  const dir = tmpDir();
  const root = await issue({ subject: 'CN=s_server Root', profile: 'root-ca' });
  const server = await issue({ subject: 'CN=localhost', profile: 'server', issuer: root, sans: ['DNS:localhost'] });
  const other = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
  const clients: Record<string, Issued> = {
    good: await issue({ subject: 'CN=good', profile: 'client', issuer: root }),
    stranger: await issue({ subject: 'CN=stranger', profile: 'client', issuer: other }),
    expired: await issue({
      subject: 'CN=expired',
      profile: 'client',
      issuer: root,
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }),
  };
  const w = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const files = {
    cert: w('server.crt', server.certPem),
    key: w('server.key', server.keyPem),
    ca: w('ca.pem', root.certPem),
  };
  const only = (r: ProbeReport, id: string) => {
    const f = r.findings.find((x) => x.id === id);
    assert.ok(f, `expected ${id}, got ${r.findings.map((x) => x.id).join(', ')}`);
    return f;
  };
  for (const version of ['-tls1_3', '-tls1_2'] as const) {
    const port = await sServer(version, files);
    const run = (c: Issued | null): Promise<ProbeReport> =>
      probe({
        url: `https://localhost:${port}/`,
        cacertPem: root.certPem,
        timeoutMs: 4000,
        ...(c && { client: { chainPem: c.certPem, keyPem: c.keyPem } }),
      });
    const ok = await run(clients['good']!);
    assert.equal(ok.outcome.kind === 'http' && ok.outcome.status, 200, version);

    const stranger = await run(clients['stranger']!);
    assert.match(only(stranger, 'tls.client-cert-rejected').title, /alert 48 unknown_ca/);
    assert.equal(
      stranger.outcome.kind === 'tls-failed' && stranger.outcome.afterHandshake,
      version === '-tls1_3',
      'TLS 1.3 servers judge after their Finished',
    );
    if (version === '-tls1_2')
      assert.deepEqual(only(stranger, 'tls.ca-not-accepted').evidence['acceptableCAs'], ['CN=s_server Root']);
    else assert.equal(stranger.tls?.acceptableCAs, null, 'TLS 1.3 only: the CA names are encrypted');

    const expired = await run(clients['expired']!);
    assert.match(only(expired, 'tls.client-cert-rejected').title, /alert 45 certificate_expired/);

    const none = await run(null);
    assert.match(only(none, 'tls.client-cert-required').title, version === '-tls1_3' ? /alert 116/ : /alert 40/);
  }
});
