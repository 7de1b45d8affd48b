/**
 * The gateway's certificate caches (src/gateway/verify.ts) are filled before any verdict, so by any client: one that
 * presents a new large certificate on each handshake (a 60 kB self-signed certificate whose serial it changes: no
 * trust and no new key needed) must not grow the gateway's memory until it falls over. Run under a small V8 heap
 * (96 MB) so that the growth shows as a crash within a thousand handshakes rather than after gigabytes. The same
 * for a trusted client that sends a new large extra certificate each time (the verdict cache keeps the identity
 * headers built from what it sent). Nor may such a certificate's subject, issuer or serial be written whole into
 * the log lines of every request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { issue } from '../../src/pki/generate.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { rawExchange, waitFor } from '../helpers/hostile.js';
import { request, type Target } from '../helpers/http.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';

const HEAP_MB = 96;
const HANDSHAKES = 1000;

let w: World;
let gw: GatewayProcess;
let echo: EchoBackend;
let good: Target;

before(async () => {
  w = await makeWorld('certcache.hostile.e2e.test');
  echo = await startEcho();
  gw = await startGateway({
    config: { domains: [domainConfig(w.domain, w.server, w.truststore, [{ basePath: '', target: echo.url }])] },
    env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` },
  });
  good = { port: gw.port, servername: w.domain, ca: w.server.caPem, cert: w.client.certPem, key: w.client.keyPem };
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

const pem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

test(`${HANDSHAKES} handshakes, each with a new 60 kB certificate: every one a 403, the gateway stays up (heap ${HEAP_MB} MB) and serves the verified client`, async () => {
  // 400 RDNs of 66 characters: about 26 kB of subject, as much again as issuer (self-signed).
  const big = await issue({
    subject: `CN=big,${Array.from({ length: 400 }, (_, i) => `OU=${String(i).padStart(3, '0')}${'x'.repeat(60)}`).join(',')}`,
    profile: 'client',
  });
  const der = Buffer.from(big.der);
  assert.ok(der.length > 50_000, `certificate of ${der.length} bytes`);
  // Certificate SEQUENCE (4 header bytes), TBSCertificate SEQUENCE (4), [0] version (5), then the serial INTEGER.
  assert.equal(der[13], 0x02, 'the serial INTEGER where expected');
  const serialEnd = 15 + der[14]! - 1;
  for (let i = 0; i < HANDSHAKES; i++) {
    // A new fingerprint each time; the broken signature does not matter to the handshake (the key still matches).
    der[serialEnd] = i & 0xff;
    der[serialEnd - 1] = (i >> 8) & 0xff;
    const r = await rawExchange(
      { ...good, cert: pem(der), key: big.keyPem },
      `GET /big HTTP/1.1\r\nHost: ${w.domain}\r\nConnection: close\r\n\r\n`,
      5000,
    ).catch((e: Error) => ({ text: '', error: e.message }));
    assert.ok(
      r.text.startsWith('HTTP/1.1 403 '),
      `handshake ${i}: expected a 403, got ${JSON.stringify(r.text.slice(0, 40))} ${r.error ?? ''}\n${gw.stderr.slice(-600)}`,
    );
  }
  assert.equal(gw.exitCode, null, `the gateway exited:\n${gw.stderr.slice(-600)}`);
  const ok = await request(good, false, '/after');
  assert.equal(ok.status, 200, ok.error ?? ok.body);
  assert.equal(echo.received.filter((r) => r.path === '/big').length, 0, 'no denied request reached the backend');
});

test(`a trusted client sending a new 60 kB extra certificate on each of ${HANDSHAKES} handshakes: the verdict cache does not grow the gateway until it falls over`, async () => {
  const big = await issue({
    subject: `CN=extra,${Array.from({ length: 400 }, (_, i) => `OU=${String(i).padStart(3, '0')}${'z'.repeat(60)}`).join(',')}`,
    profile: 'root-ca',
  });
  const der = Buffer.from(big.der);
  assert.equal(der[13], 0x02, 'the serial INTEGER where expected');
  const serialEnd = 15 + der[14]! - 1;
  for (let i = 0; i < HANDSHAKES; i++) {
    der[serialEnd] = i & 0xff;
    der[serialEnd - 1] = (i >> 8) & 0xff;
    // The trusted leaf, then the junk: OpenSSL's chain does not need it, so the verdict is an accept, cached with
    // identity headers (Client-Cert-Chain) that carry the junk's 60 kB.
    const r = await rawExchange(
      { ...good, cert: w.client.certPem + pem(der) },
      `GET /extra HTTP/1.1\r\nHost: ${w.domain}\r\nConnection: close\r\n\r\n`,
      5000,
    ).catch((e: Error) => ({ text: '', error: e.message }));
    assert.match(r.text, /^HTTP\/1\.1 \d{3} /, `handshake ${i}: no answer ${r.error ?? ''}\n${gw.stderr.slice(-600)}`);
    assert.doesNotMatch(
      r.text,
      /^HTTP\/1\.1 403 /,
      `handshake ${i}: the trusted client was denied: ${r.text.slice(0, 120)}`,
    );
  }
  assert.equal(gw.exitCode, null, `the gateway exited:\n${gw.stderr.slice(-600)}`);
  const ok = await request(good, false, '/after-extra');
  assert.equal(ok.status, 200, ok.error ?? ok.body);
});

test("a certificate with a 20 kB subject and a 6 kB serial: each request's log lines carry them cut short, not whole", async () => {
  const big = await issue({
    subject: `CN=long,${Array.from({ length: 300 }, (_, i) => `OU=${String(i).padStart(3, '0')}${'y'.repeat(60)}`).join(',')}`,
    serial: `01${'ab'.repeat(6000)}`,
    profile: 'client',
  });
  const requests = 5;
  const mark = gw.mark();
  const one = `GET /long HTTP/1.1\r\nHost: ${w.domain}\r\n\r\n`;
  const bytes = one.repeat(requests - 1) + `GET /long HTTP/1.1\r\nHost: ${w.domain}\r\nConnection: close\r\n\r\n`;
  const r = await rawExchange({ ...good, cert: big.certPem, key: big.keyPem }, bytes, 5000);
  assert.equal(r.text.split('HTTP/1.1 403 ').length - 1, requests, r.text.slice(0, 200));
  await waitFor(
    () => gw.logsSince(mark).filter((l) => l.msg === 'request').length,
    (n) => n >= requests,
    5000,
  );
  const lines = gw.logsSince(mark);
  const denials = lines.filter((l) => l.msg.startsWith('Access denied.'));
  const logged = lines.filter((l) => l.msg === 'request');
  assert.ok(denials.length >= 1 && logged.length >= 1, JSON.stringify(lines.map((l) => l.msg)));
  // Two lines (denial, request) per 40 bytes of request: a few kB at most, whatever the certificate holds.
  for (const l of lines)
    assert.ok(
      JSON.stringify(l).length < 8192,
      `a ${JSON.stringify(l).length}-byte log line: ${JSON.stringify(l).slice(0, 200)}`,
    );
  const d = denials[0] as { subject?: string; issuer?: string; serial?: string };
  assert.match(d.subject ?? '', /^CN=long,OU=000y+,/, 'the subject still starts as sent');
  assert.match(d.subject ?? '', /\.\.\. \(\d+ characters\)$/, 'and says it was cut');
  assert.match(d.serial ?? '', /^01:ab:ab:.*\.\.\. \(\d+ characters\)$/);
});
