/**
 * Certificate-derived text in a finding's title (subjects, issuers, key usage lists) is at most 300 characters,
 * then "... (N characters)": a hostile server's certificate (doctor --url) or an odd file of the user's can carry
 * a 20 KB name. The evidence keeps the whole value.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue } from '../../src/pki/generate.js';
import type { Finding } from '../../src/report/finding.js';
import { titleText, TITLE_TEXT_MAX } from '../../src/report/text.js';
import { diagnose } from '../../src/doctor/diagnose.js';
import { probe } from '../../src/doctor/live/probe.js';
import { tmpDir } from '../helpers/pki.js';

const DAY = 86_400_000;
const HUGE = `CN=${'A'.repeat(20_000)}`;
const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

function assertCapped(f: Finding | undefined, what: string): void {
  assert.ok(f, `${what}: no finding`);
  assert.ok(f.title.length < 600, `${what}: a ${f.title.length}-character title`);
  assert.match(f.title, new RegExp(`A{${TITLE_TEXT_MAX - 3}}\\.\\.\\. \\(${HUGE.length} characters\\)`), what);
  assert.ok(JSON.stringify(f.evidence).includes(HUGE), `${what}: the evidence keeps the whole name`);
}

test('titleText: up to 300 characters as they are; longer cut at 300 with "... (N characters)"', () => {
  assert.equal(TITLE_TEXT_MAX, 300);
  assert.equal(titleText(''), '');
  assert.equal(titleText('CN=Example Root'), 'CN=Example Root');
  assert.equal(titleText('x'.repeat(300)), 'x'.repeat(300));
  assert.equal(titleText('x'.repeat(301)), `${'x'.repeat(300)}... (301 characters)`);
  assert.equal(titleText('é'.repeat(100_000)), `${'é'.repeat(300)}... (100000 characters)`);
  // characters are code points: a pair of UTF-16 surrogates is never cut in half
  assert.equal(titleText('😀'.repeat(300)), '😀'.repeat(300));
  assert.equal(titleText('😀'.repeat(301)), `${'😀'.repeat(300)}... (301 characters)`);
});

test('offline doctor: a CA with a 20 KB subject gives short titles (chain.issuer-missing, chain.ca-expired)', async () => {
  const dir = tmpDir();
  const root = await issue({ subject: 'CN=Title Root', profile: 'root-ca' });
  const hugeInt = await issue({
    subject: HUGE,
    profile: 'intermediate-ca',
    issuer: root,
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const client = await issue({
    subject: 'CN=client',
    profile: 'client',
    issuer: hugeInt,
    notBefore: new Date(Date.now() - 10 * DAY),
  });
  const other = await issue({ subject: 'CN=Other Root', profile: 'root-ca' });
  writeFileSync(join(dir, 'client.crt'), client.certPem);
  writeFileSync(join(dir, 'client.key'), client.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'other.pem'), other.certPem);
  writeFileSync(join(dir, 'ts.pem'), root.certPem + hugeInt.certPem);
  const missing = await diagnose({
    files: { cert: join(dir, 'client.crt'), key: join(dir, 'client.key'), truststore: join(dir, 'other.pem') },
  });
  assertCapped(
    missing.findings.find((f) => f.id === 'chain.issuer-missing'),
    'chain.issuer-missing',
  );
  const expired = await diagnose({
    files: { cert: join(dir, 'client.crt'), key: join(dir, 'client.key'), truststore: join(dir, 'ts.pem') },
  });
  assertCapped(
    expired.findings.find((f) => f.id === 'chain.ca-expired'),
    'chain.ca-expired',
  );
});

test('doctor --url: a server CA and a client issuer with 20 KB subjects give short titles (server.expired, tls.ca-not-accepted)', async () => {
  const root = await issue({ subject: 'CN=Title Server Root', profile: 'root-ca' });
  const hugeInt = await issue({
    subject: HUGE,
    profile: 'intermediate-ca',
    issuer: root,
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const leaf = await issue({
    subject: 'CN=localhost',
    profile: 'server',
    issuer: hugeInt,
    sans: ['DNS:localhost'],
    notBefore: new Date(Date.now() - 10 * DAY),
  });
  const other = await issue({ subject: 'CN=Only Accepted CA', profile: 'root-ca' });
  const client = await issue({
    subject: 'CN=client',
    profile: 'client',
    issuer: hugeInt,
    notBefore: new Date(Date.now() - 10 * DAY),
  });
  const srv = https.createServer(
    {
      cert: leaf.certPem + hugeInt.certPem,
      key: leaf.keyPem,
      requestCert: true,
      rejectUnauthorized: false,
      ca: [other.certPem],
    },
    (_req, res) => res.end('ok'),
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  closers.push(() => srv.close());
  srv.on('tlsClientError', () => {});
  const port = (srv.address() as AddressInfo).port;
  const r = await probe({
    url: `https://localhost:${port}/`,
    cacertPem: root.certPem,
    timeoutMs: 5000,
    client: { chainPem: client.certPem, keyPem: client.keyPem },
  });
  const ids = r.findings.map((f) => f.id).join(', ');
  assertCapped(
    r.findings.find((f) => f.id === 'server.expired'),
    `server.expired (${ids})`,
  );
  assertCapped(
    r.findings.find((f) => f.id === 'tls.ca-not-accepted'),
    `tls.ca-not-accepted (${ids})`,
  );
});
