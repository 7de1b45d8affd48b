/**
 * Interop: the live probe against nginx with `ssl_verify_client on`, when nginx is installed (never installed by
 * the tests; skipped with a visible message otherwise). nginx completes the handshake whatever the certificate
 * and answers 400 "No required SSL certificate was sent" / "The SSL certificate error"; its CertificateRequest
 * names the CAs of ssl_client_certificate. With ssl_crl a revoked certificate gets the same 400 page.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { probe } from '../../src/doctor/live/probe.js';
import type { ProbeReport } from '../../src/doctor/live/types.js';
import { tmpDir } from '../helpers/pki.js';
import { crlCa, gencrl, revoke } from '../helpers/crl.js';
import { closedPort } from '../helpers/backends.js'; // a port nothing listens on, for the server under test

function findNginx(): string | null {
  for (const p of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    const r = spawnSync(p, ['-v'], { stdio: 'ignore' });
    if (!r.error) return p;
  }
  return null;
}

const children: ChildProcess[] = [];
// SIGTERM: nginx's master stops its workers and exits (SIGKILL would leave the workers running, orphaned).
after(async () => {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = once(c, 'exit');
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
});

/** nginx on a free port with ssl_verify_client on, serving nginx.e2e.test; `extra` goes into its server block. */
async function startNginx(o: {
  nginx: string;
  dir: string;
  server: Issued;
  clientCaPem: string;
  extra?: (w: (name: string, text: string) => string) => string;
}): Promise<number> {
  const { nginx, dir, server } = o;
  const w = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const port = await closedPort();
  mkdirSync(join(dir, 'logs'));
  const conf = w(
    'nginx.conf',
    `
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  server {
    listen 127.0.0.1:${port} ssl;
    server_name nginx.e2e.test;
    ssl_certificate ${w('server.crt', server.certPem)};
    ssl_certificate_key ${w('server.key', server.keyPem)};
    ssl_client_certificate ${w('client-ca.pem', o.clientCaPem)};
    ssl_verify_client on;
    ${o.extra?.(w) ?? ''}
    location / { return 200 "ok\\n"; }
  }
}
`,
  );
  const child = spawn(nginx, ['-p', dir, '-e', join(dir, 'logs', 'startup.log'), '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((r) =>
      net
        .connect(port, '127.0.0.1')
        .on('connect', function (this: net.Socket) {
          this.destroy();
          r(true);
        })
        .on('error', () => r(false)),
    );
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      const log = join(dir, 'logs', 'error.log');
      assert.fail(`nginx did not start: ${stderr}${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return port;
}

test('nginx with ssl_verify_client on: accepted, refused (400 certificate error), no certificate (400), CA names read', async (t) => {
  const nginx = findNginx();
  if (nginx === null)
    return t.skip('nginx not installed: the interop check against nginx (ssl_verify_client on) did not run');
  const dir = tmpDir();
  const serverCa = await issue({ subject: 'CN=nginx Server CA', profile: 'root-ca' });
  const server = await issue({
    subject: 'CN=nginx.e2e.test',
    profile: 'server',
    issuer: serverCa,
    sans: ['DNS:nginx.e2e.test'],
  });
  const clientCa = await issue({ subject: 'CN=nginx Client CA,O=mtlsgate e2e', profile: 'root-ca' });
  const good = await issue({ subject: 'CN=nginx client', profile: 'client', issuer: clientCa });
  const otherCa = await issue({ subject: "CN=Not nginx's CA", profile: 'root-ca' });
  const stranger = await issue({ subject: 'CN=stranger', profile: 'client', issuer: otherCa });
  const port = await startNginx({
    nginx,
    dir,
    server,
    clientCaPem: clientCa.certPem,
  });
  const url = `https://nginx.e2e.test:${port}/`;
  const base = { url, resolve: [`nginx.e2e.test:${port}:127.0.0.1`], cacertPem: serverCa.certPem, timeoutMs: 5000 };
  const ids = (r: ProbeReport): string[] => r.findings.map((f) => f.id);

  const ok = await probe({ ...base, client: { chainPem: good.certPem, keyPem: good.keyPem } });
  assert.equal(ok.outcome.kind === 'http' && ok.outcome.status, 200, ids(ok).join());
  assert.deepEqual(ok.tls?.acceptableCAs, ['CN=nginx Client CA,O=mtlsgate e2e']);
  assert.deepEqual(ids(ok), ['http.ok']);

  const refused = await probe({ ...base, client: { chainPem: stranger.certPem, keyPem: stranger.keyPem } });
  assert.ok(ids(refused).includes('http.certificate-error'), ids(refused).join());
  assert.ok(ids(refused).includes('tls.ca-not-accepted'), ids(refused).join());

  const none = await probe(base);
  assert.ok(ids(none).includes('http.no-certificate'), ids(none).join());
  assert.equal(none.tls?.clientCertSent, false);
});

test('nginx with ssl_crl: a revoked certificate is its 400 "The SSL certificate error", and the doctor says --crl', async (t) => {
  const nginx = findNginx();
  if (nginx === null) return t.skip('nginx not installed: the interop check against nginx (ssl_crl) did not run');
  const dir = tmpDir();
  const serverCa = await issue({ subject: 'CN=nginx Server CA', profile: 'root-ca' });
  const server = await issue({
    subject: 'CN=nginx.e2e.test',
    profile: 'server',
    issuer: serverCa,
    sans: ['DNS:nginx.e2e.test'],
  });
  const clientCa = await issue({ subject: 'CN=nginx CRL Client CA', profile: 'root-ca' });
  const good = await issue({ subject: 'CN=nginx good client', profile: 'client', issuer: clientCa });
  const revoked = await issue({ subject: 'CN=nginx revoked client', profile: 'client', issuer: clientCa });
  const ca = crlCa(dir, clientCa, 'client-ca-db');
  revoke(ca, revoked, 'keyCompromise');
  const crlFile = gencrl(ca, 'client-ca.crl');
  const port = await startNginx({
    nginx,
    dir,
    server,
    clientCaPem: clientCa.certPem,
    extra: () => `ssl_crl ${crlFile};`,
  });
  const base = {
    url: `https://nginx.e2e.test:${port}/`,
    resolve: [`nginx.e2e.test:${port}:127.0.0.1`],
    cacertPem: serverCa.certPem,
    timeoutMs: 5000,
  };
  const ok = await probe({ ...base, client: { chainPem: good.certPem, keyPem: good.keyPem } });
  assert.equal(ok.outcome.kind === 'http' && ok.outcome.status, 200);

  const refused = await probe({ ...base, client: { chainPem: revoked.certPem, keyPem: revoked.keyPem } });
  assert.equal(refused.outcome.kind === 'http' && refused.outcome.status, 400);
  const f = refused.findings.find((x) => x.id === 'http.certificate-error');
  assert.ok(f, refused.findings.map((x) => x.id).join());
  assert.match(f.detail, /ssl_crl, when it is revoked \("certificate revoked"\)/);
  assert.match(f.fix, /--crl SSL_CRL\.pem/);
  // nginx judged revocation, not something else: its error log has OpenSSL's code 23.
  const log = join(dir, 'logs', 'error.log');
  for (let i = 0; i < 50 && !/certificate revoked/.test(readFileSync(log, 'utf8')); i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.match(readFileSync(log, 'utf8'), /client SSL certificate verify error: \(23:certificate revoked\)/);
});
