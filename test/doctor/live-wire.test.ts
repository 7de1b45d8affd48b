/**
 * The live doctor's wire-level pieces without a full probe: the raw TLS 1.2 CertificateRequest reader (against real
 * Node TLS servers and against hand-made and hostile bytes), and where a URL plus curl's --resolve/--connect-to
 * make us connect.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { issue } from '../../src/pki/generate.js';
import { parseCert } from '../../src/pki/cert.js';
import {
  clientHello,
  interpret,
  probeCertificateRequest,
  readCertificateRequest,
} from '../../src/doctor/live/cert-request.js';
import { parseConnectTo, parseResolve, parseTarget } from '../../src/doctor/live/target.js';
import { alertFromError } from '../../src/doctor/live/alerts.js';
import { UserError } from '../../src/errors.js';

const root = await issue({ subject: 'CN=Wire Root,O=Example\\, Inc.,C=US', profile: 'root-ca' });
const int = await issue({
  subject: 'CN=Wire Intermediate \\+ Payments,OU=Ops',
  profile: 'intermediate-ca',
  issuer: root,
});
const server = await issue({ subject: 'CN=localhost', profile: 'server', issuer: int, sans: ['DNS:localhost'] });
const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

async function tlsServer(opts: tls.TlsOptions): Promise<number> {
  const srv = tls.createServer({ key: server.keyPem, cert: server.certPem + int.certPem, ...opts }, (s) =>
    s.on('error', () => {}).end(),
  );
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  closers.push(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

test("a TLS 1.2 CertificateRequest: the CA names, formatted like the certificates' own subjects, in the server's order", async () => {
  const port = await tlsServer({ requestCert: true, rejectUnauthorized: true, ca: [root.certPem, int.certPem] });
  const r = await probeCertificateRequest({ host: '127.0.0.1', port, servername: 'localhost', timeoutMs: 3000 });
  assert.equal(r.result, 'certificate-request');
  assert.equal(r.requested, true);
  assert.deepEqual(r.acceptableCAs, [parseCert(root.der).info.subject, parseCert(int.der).info.subject]);
  assert.deepEqual(r.acceptableCAs, [
    'CN=Wire Root,O=Example\\, Inc.,C=US',
    'CN=Wire Intermediate \\+ Payments,OU=Ops',
  ]);
  assert.equal(r.serverCertsDer.length, 2, 'the Certificate message as sent: leaf + intermediate');
  assert.ok(r.signatureAlgorithms && r.signatureAlgorithms.includes('0x0403'));
  assert.match(r.cipherSuite ?? '', /^0xc0(2b|2c|2f|30)$/);
});

test('no CertificateRequest, a TLS 1.3-only server, and a plain-HTTP port are told apart', async () => {
  const plain = await tlsServer({});
  const r1 = await probeCertificateRequest({
    host: '127.0.0.1',
    port: plain,
    servername: 'localhost',
    timeoutMs: 3000,
  });
  assert.equal(r1.result, 'no-certificate-request');
  assert.equal(r1.requested, false);
  assert.equal(r1.acceptableCAs, null);

  const only13 = await tlsServer({ minVersion: 'TLSv1.3', requestCert: true, ca: root.certPem });
  const r2 = await probeCertificateRequest({
    host: '127.0.0.1',
    port: only13,
    servername: 'localhost',
    timeoutMs: 3000,
  });
  assert.equal(r2.result, 'tls13-only');
  assert.equal(r2.requested, null);
  assert.equal(r2.acceptableCAs, null);
  assert.equal(r2.alert?.name, 'protocol_version');

  const http = net.createServer((s) =>
    s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')),
  );
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  closers.push(() => http.close());
  const r3 = await probeCertificateRequest({
    host: '127.0.0.1',
    port: (http.address() as net.AddressInfo).port,
    servername: 'x',
    timeoutMs: 3000,
  });
  assert.equal(r3.result, 'not-tls');
  assert.equal(r3.notTls, 'http');
  assert.match(r3.preview ?? '', /^HTTP\/1\.1 400/);
});

test('bounded: silence ends at the timeout, an endless handshake at the byte cap', async () => {
  const silent = net.createServer(() => {});
  const endless = net.createServer((s) => {
    // A valid-looking handshake record header followed by an endless stream of ServerHello-less handshake bytes.
    s.once('data', () => {
      const chunk = Buffer.concat([Buffer.from([22, 3, 3, 0x40, 0x00]), Buffer.alloc(0x4000, 0)]);
      const pump = (): void => void (s.writable && s.write(chunk, () => setImmediate(pump)));
      pump();
    });
    s.on('error', () => {});
  });
  for (const srv of [silent, endless]) {
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    closers.push(() => srv.close());
  }
  let t0 = Date.now();
  const r1 = await probeCertificateRequest({
    host: '127.0.0.1',
    port: (silent.address() as net.AddressInfo).port,
    servername: 'x',
    timeoutMs: 300,
  });
  assert.equal(r1.result, 'timeout');
  assert.ok(Date.now() - t0 < 1500);
  t0 = Date.now();
  const r2 = await probeCertificateRequest({
    host: '127.0.0.1',
    port: (endless.address() as net.AddressInfo).port,
    servername: 'x',
    timeoutMs: 5000,
    maxBytes: 100_000,
  });
  assert.equal(r2.result, 'error');
  assert.match(r2.error ?? '', /exceeded 100000 bytes/);
  assert.ok(Date.now() - t0 < 4000);
  const r3 = await probeCertificateRequest({ host: '127.0.0.1', port: 1, servername: 'x', timeoutMs: 1000 });
  assert.equal(r3.result, 'error');
  assert.match(r3.error ?? '', /ECONNREFUSED/);
});

/** A TLS record holding the given handshake messages. */
function record(...messages: Buffer[]): Buffer {
  const body = Buffer.concat(messages);
  return Buffer.concat([Buffer.from([22, 3, 3, body.length >> 8, body.length & 0xff]), body]);
}
function hs(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}
function certificateRequest(dns: Buffer[]): Buffer {
  const cas = Buffer.concat(dns.map((d) => Buffer.concat([Buffer.from([d.length >> 8, d.length & 0xff]), d])));
  return Buffer.concat([
    Buffer.from([1, 1]),
    Buffer.from([0, 2, 4, 3]),
    Buffer.from([cas.length >> 8, cas.length & 0xff]),
    cas,
  ]);
}
test('interpret: messages split across records and reads, an empty CA list, an alert, garbage', () => {
  // CN=Acme CA as a DER Name: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "Acme CA" } } }
  const name = Buffer.from('3012311030 0e06035504030c0741636d65204341'.replace(/ /g, ''), 'hex');
  const flight = Buffer.concat([
    record(hs(2, Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32), Buffer.from([0, 0xc0, 0x2b, 0])]))),
    record(hs(13, certificateRequest([name]))),
    record(hs(14, Buffer.alloc(0))),
  ]);
  for (let cut = 1; cut < flight.length; cut += 7)
    assert.equal(interpret(flight.subarray(0, cut), false), null, `needs more bytes at ${cut}`);
  const r = interpret(flight, false)!;
  assert.equal(r.result, 'certificate-request');
  assert.deepEqual(r.acceptableCAs, ['CN=Acme CA']);
  assert.equal(r.cipherSuite, '0xc02b');

  const any = interpret(
    Buffer.concat([record(hs(13, certificateRequest([])), hs(14, Buffer.alloc(0))), Buffer.alloc(0)]),
    false,
  )!;
  assert.deepEqual(any.acceptableCAs, [], 'an empty list: the server takes any CA');

  const alert = interpret(Buffer.from([21, 3, 3, 0, 2, 2, 40]), false)!;
  assert.equal(alert.result, 'alert');
  assert.equal(alert.alert?.name, 'handshake_failure');

  assert.equal(interpret(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), false)!.result, 'not-tls');
  assert.equal(interpret(Buffer.alloc(0), true)!.result, 'closed');
  assert.equal(
    readCertificateRequest(Buffer.from([1, 1, 0, 2, 4, 3, 0, 9, 0, 20, 0])),
    null,
    'a CA list longer than the message',
  );
});

test('interpret never throws on random or truncated input', () => {
  const hello = clientHello('example.test');
  for (let i = 0; i < 2000; i++) {
    const junk = randomBytes(1 + (i % 300));
    if (i % 3 === 0) junk[0] = 22;
    if (i % 3 === 0 && junk.length > 2) junk[1] = 3;
    assert.doesNotThrow(() => interpret(junk, i % 2 === 0));
    assert.doesNotThrow(() => readCertificateRequest(junk));
  }
  assert.equal(hello[0], 22);
  assert.equal(hello.readUInt16BE(3), hello.length - 5);
  assert.ok(hello.includes(Buffer.from('example.test')), 'SNI is sent');
  assert.ok(!clientHello('127.0.0.1').includes(Buffer.from('127.0.0.1')), 'no SNI for an IP address');
});

test('targets: SNI and Host from the URL, the address from --connect-to and --resolve as curl applies them', () => {
  const t = parseTarget('https://API.example.test:8443/a/b?x=1', ['api.example.test:8443:127.0.0.1,::1'], []);
  assert.equal(t.host, 'api.example.test');
  assert.equal(t.servername, 'api.example.test');
  assert.equal(t.hostHeader, 'api.example.test:8443');
  assert.equal(t.path, '/a/b?x=1');
  assert.deepEqual(t.pinned, ['127.0.0.1', '::1']);
  assert.equal(
    parseTarget('https://api.example.test/', ['api.example.test:8443:127.0.0.1']).pinned,
    null,
    'another port does not match',
  );
  const c = parseTarget(
    'https://api.example.test/',
    ['backend.internal:9443:10.0.0.7'],
    ['api.example.test:443:backend.internal:9443'],
  );
  assert.equal(c.connectHost, 'backend.internal');
  assert.equal(c.connectPort, 9443);
  assert.deepEqual(c.pinned, ['10.0.0.7']);
  assert.equal(c.servername, 'api.example.test', 'SNI stays the URL host');
  assert.equal(parseTarget('https://[::1]:9/').servername, '', 'no SNI for an IP address');
  assert.equal(parseTarget('https://[::1]:9/').hostHeader, '[::1]:9');
  assert.deepEqual(parseResolve('+*:443:[2001:db8::1]'), {
    host: '*',
    port: 443,
    addresses: ['2001:db8::1'],
    remove: false,
  });
  assert.deepEqual(parseConnectTo('::other:'), { host: '', port: null, toHost: 'other', toPort: null });
  for (const bad of ['not a url', 'ftp://x/', 'http://x/'])
    assert.throws(
      () => parseTarget(bad),
      (e: unknown) => e instanceof UserError && e.code === 'E_BAD_URL',
    );
  assert.throws(() => parseTarget('http://x:8080/p'), /plain HTTP; the doctor probes HTTPS \(mutual TLS\) only/);
  for (const bad of ['x', 'x:443', 'x:443:notanip', 'x:99999:1.2.3.4'])
    assert.throws(() => parseResolve(bad), UserError);
  assert.throws(() => parseConnectTo('a:b'), UserError);
});

test("alerts are read from the number in OpenSSL's message or from Node's code", () => {
  assert.equal(alertFromError({ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', message: 'x:SSL alert number 48' }), 48);
  assert.equal(alertFromError({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', message: 'no number' }), 116);
  assert.equal(alertFromError({ code: 'ECONNRESET', message: 'read ECONNRESET' }), null);
});
