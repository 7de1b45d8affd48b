/**
 * diagnose(): the files are read once for the offline checks and the live probe, every finding comes back in one
 * list with its source, and a report with no client certificate says its verdict is unknown (null), not denied.
 */
import { test, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnose } from '../../src/doctor/diagnose.js';
import { main } from '../../src/cli/main.js';
import { bufferIo } from '../helpers/io.js';
import { openssl } from '../helpers/openssl.js';
import { testPki, type TestPki } from '../helpers/pki.js';

let pki: TestPki;
let server: https.Server;
let url: string;

before(async () => {
  pki = await testPki();
  const pem = (p: string): string => readFileSync(p, 'utf8');
  // Asks for a client certificate and answers 200 whatever it gets: the probe's verdict is "accepted".
  server = https.createServer(
    {
      cert: pem(pki.serverCert),
      key: pem(pki.serverKey),
      ca: pem(pki.truststore),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (_req, res) => res.end('ok'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://localhost:${(server.address() as AddressInfo).port}/`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

test('doctor --url with no files: the JSON verdict is null, the text says "Verdict unknown"', async () => {
  const json = bufferIo();
  await main(['doctor', '--url', url, '--cacert', pki.rootCert, '--json', '--timeout', '5'], json.io);
  const r = JSON.parse(json.out()) as { verdict: unknown; verdictSource: unknown; findings: Array<{ source: string }> };
  assert.equal(r.verdict, null);
  assert.equal(r.verdictSource, null);
  assert.ok(r.findings.length > 0 && r.findings.every((f) => f.source === 'live'), JSON.stringify(r.findings));
  const text = bufferIo();
  await main(['doctor', '--url', url, '--cacert', pki.rootCert, '--timeout', '5'], text.io);
  assert.match(text.out(), /^\? Verdict unknown: no client certificate given/);
  assert.doesNotMatch(text.out(), /would deny/);
});

test('--url with a PKCS#12: the file is opened (and decrypted) once, for the checks and the probe', async (t) => {
  const p12 = join(pki.dir, 'diagnose-client.p12');
  const key = ['-inkey', pki.clientKey, '-passout', 'pass:p12pass'];
  openssl(['pkcs12', '-export', '-in', pki.clientCert, ...key, '-out', p12]);
  const opened: string[] = [];
  const realOpen = fsp.open;
  // readCapped opens every file the user names through fs/promises' open.
  mock.method(fsp, 'open', (...args: Parameters<typeof fsp.open>) => {
    opened.push(String(args[0]));
    return realOpen(...args);
  });
  syncBuiltinESMExports();
  t.after(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
  });
  const r = await diagnose({
    files: { cert: p12, pass: 'p12pass', truststore: pki.truststore },
    live: { url, cacertPem: readFileSync(pki.rootCert, 'utf8'), timeoutMs: 5000 },
  });
  assert.equal(opened.filter((p) => p === p12).length, 1, opened.join('\n'));
  assert.equal(r.verdict?.accepted, true, JSON.stringify(r.verdict));
  assert.equal(r.live?.tls?.clientCertSent, true, 'the probe presented the certificate from the PKCS#12');
  const sources = new Set(r.findings.map((f) => f.source));
  assert.ok(sources.has('offline') && sources.has('live'), [...sources].join());
  assert.ok(r.findings.some((f) => f.id === 'live.matches-offline' && f.source === 'live'));
});

test("one findings list: curl's first, then the offline ones, then the live ones, each errors first", async () => {
  const r = await diagnose({
    files: { cert: pki.selfSignedCert, key: pki.selfSignedKey, truststore: pki.truststore },
    live: { url, cacertPem: readFileSync(pki.rootCert, 'utf8'), timeoutMs: 5000 },
    curl: {
      findings: [
        { id: 'curl.bad-url', severity: 'info', title: 'i', detail: '', fix: '', evidence: {} },
        { id: 'curl.insecure', severity: 'warning', title: 'w', detail: '', fix: '', evidence: {} },
      ],
      reconcile: (offline) => offline.filter((f) => f.id !== 'chain.self-signed-untrusted'),
    },
  });
  const order = ['curl', 'offline', 'live'];
  const at = r.findings.map((f) => order.indexOf(f.source));
  assert.deepEqual(
    at,
    [...at].sort((a, b) => a - b),
    'grouped by source in that order',
  );
  assert.deepEqual(
    r.findings.filter((f) => f.source === 'curl').map((f) => f.id),
    ['curl.insecure', 'curl.bad-url'],
  );
  assert.ok(!r.findings.some((f) => f.id === 'chain.self-signed-untrusted'), 'reconcile dropped it');
  assert.equal(r.verdict?.accepted, false);
});
