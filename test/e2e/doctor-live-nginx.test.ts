/**
 * Interop: the live probe against nginx with `ssl_verify_client on`, when nginx is installed (never installed by
 * the tests; skipped with a visible message otherwise). nginx completes the handshake whatever the certificate
 * and answers 400 "No required SSL certificate was sent" / "The SSL certificate error"; its CertificateRequest
 * names the CAs of ssl_client_certificate.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import { probe } from '../../src/doctor/live/probe.js';
import type { ProbeReport } from '../../src/doctor/live/types.js';
import { tmpDir } from '../helpers/pki.js';
import { closedPort } from '../helpers/backends.js'; // a port nothing listens on, for the server under test

function findNginx(): string | null {
  for (const p of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    const r = spawnSync(p, ['-v'], { stdio: 'ignore' });
    if (!r.error) return p;
  }
  return null;
}

let child: ChildProcess | null = null;
after(() => child?.kill('SIGKILL'));

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
    ssl_client_certificate ${w('client-ca.pem', clientCa.certPem)};
    ssl_verify_client on;
    location / { return 200 "ok\\n"; }
  }
}
`,
  );
  child = spawn(nginx, ['-p', dir, '-e', join(dir, 'logs', 'startup.log'), '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
