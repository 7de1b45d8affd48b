/**
 * Each curl error users paste, mapped to its finding. The lines are verbatim: from curl 7.88 / OpenSSL 3.0 on this
 * machine (also pinned end to end by test/e2e/doctor-curl.test.ts), OpenSSL 1.1 and schannel wordings from the
 * AWS knowledge-center article and user reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mapCurlError } from '../../src/doctor/curl/errors.js';

const NO_KEY = '(no key found, wrong pass phrase, or wrong file format?)';
const cases: Array<[string, string, Record<string, unknown>?]> = [
  [
    `curl: (58) could not load PEM client certificate, OpenSSL error error:02001002:system library:fopen:No such file or directory, ${NO_KEY}`,
    'curl.cert-file-not-found',
  ],
  [
    `curl: (58) could not load PEM client certificate from nofile.crt, OpenSSL error error:80000002:system library::No such file or directory, ${NO_KEY}`,
    'curl.cert-file-not-found',
    { file: 'nofile.crt' },
  ],
  ["curl: (58) could not open PKCS12 file 'missing.p12'", 'curl.cert-file-not-found', { file: 'missing.p12' }],
  [
    `curl: (58) could not load PEM client certificate from sha1.crt, OpenSSL error error:0A00018E:SSL routines::ca md too weak, ${NO_KEY}`,
    'curl.client-cert-refused-locally',
    { reason: 'ca md too weak' },
  ],
  [
    `curl: (58) could not load PEM client certificate from r1024.crt, OpenSSL error error:0A00018F:SSL routines::ee key too small, ${NO_KEY}`,
    'curl.client-cert-refused-locally',
    { reason: 'ee key too small' },
  ],
  [
    `curl: (58) could not load PEM client certificate from c.der, OpenSSL error error:0480006C:PEM routines::no start line, ${NO_KEY}`,
    'curl.cert-not-loaded',
    { file: 'c.der' },
  ],
  [
    `curl: (58) could not load ASN1 client certificate from c.pem, OpenSSL error error:068000A8:asn1 encoding routines::wrong tag, ${NO_KEY}`,
    'curl.cert-not-loaded',
  ],
  [
    "curl: (58) unable to set private key file: 'self-signed.key' type PEM",
    'curl.key-not-loaded',
    { file: 'self-signed.key', type: 'PEM' },
  ],
  [
    'curl: (58) could not parse PKCS12 file, check password, OpenSSL error error:11800071:PKCS12 routines::mac verify failure',
    'curl.p12-not-loaded',
  ],
  ["curl: (58) error reading PKCS12 file 'client.crt'", 'curl.p12-not-loaded', { file: 'client.crt' }],
  ["curl: (58) not supported file type 'FOO' for certificate", 'curl.cert-type-invalid'],
  [
    'url: (58) schannel: Failed to import cert file self-signed.pem, last error is 0x80092002',
    'curl.schannel-import-failed',
    { file: 'self-signed.pem', code: '0x80092002' },
  ],
  [
    'curl: (35) schannel: next InitializeSecurityContext failed: SEC_E_UNTRUSTED_ROOT (0x80090325) - The certificate chain was issued by an authority that is not trusted.',
    'curl.server-cert-untrusted',
  ],
  [
    'curl: (35) schannel: next InitializeSecurityContext failed: Unknown error (0x80092012) - CRYPT_E_NO_REVOCATION_CHECK',
    'curl.schannel-revocation',
  ],
  [
    'curl: (35) schannel: next InitializeSecurityContext failed: SEC_E_ILLEGAL_MESSAGE (0x80090326) - This error usually occurs when a fatal SSL/TLS alert is received',
    'curl.tls-alert',
  ],
  ['curl: (77) error setting certificate file: nope.pem', 'curl.cacert-not-loaded', { file: 'nope.pem' }],
  ['curl: (6) Could not resolve host: mtls.example.info', 'curl.cannot-resolve', { host: 'mtls.example.info' }],
  [
    "curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
    'curl.connect-failed',
    { host: '127.0.0.1', port: 1 },
  ],
  ['curl: (7) Failed to connect to api.x.test port 443: Connection refused', 'curl.connect-failed'],
  ['curl: (28) Connection timed out after 1001 milliseconds', 'curl.timeout', { stage: 'connection' }],
  [
    'curl: (28) Operation timed out after 10000 milliseconds with 0 out of 0 bytes received',
    'curl.timeout',
    { stage: 'operation' },
  ],
  ['curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to api.x.test:443 ', 'curl.connection-reset'],
  ['curl: (56) Recv failure: Connection reset by peer', 'curl.connection-reset'],
  ['curl: (35) Recv failure: Connection reset by peer', 'curl.connection-reset'],
  [
    'curl: (56) OpenSSL SSL_read: error:0A000126:SSL routines::unexpected eof while reading, errno 0',
    'curl.connection-reset',
  ],
  ['curl: (52) Empty reply from server', 'curl.empty-reply'],
  ['curl: (60) SSL certificate problem: unable to get local issuer certificate', 'curl.server-cert-untrusted'],
  ['curl: (60) SSL certificate problem: self-signed certificate in certificate chain', 'curl.server-cert-untrusted'],
  ['curl: (60) SSL certificate problem: certificate has expired', 'curl.server-cert-expired'],
  [
    "curl: (60) SSL: no alternative certificate subject name matches target host name '127.0.0.1'",
    'curl.server-name-mismatch',
    { target: '127.0.0.1' },
  ],
  [
    "curl: (51) SSL: certificate subject name 'a.test' does not match target host name 'b.test'",
    'curl.server-name-mismatch',
    { target: 'b.test' },
  ],
  ['curl: (35) error:0A00045C:SSL routines::tlsv13 alert certificate required', 'curl.client-cert-required'],
  [
    'curl: (56) OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0',
    'curl.client-cert-required',
  ],
  [
    'curl: (35) error:14094412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate',
    'curl.client-cert-rejected',
    { alert: 'bad certificate' },
  ],
  [
    'curl: (56) OpenSSL SSL_read: error:0A000415:SSL routines::sslv3 alert certificate expired, errno 0',
    'curl.client-cert-rejected',
    { alert: 'certificate expired' },
  ],
  ['curl: (35) OpenSSL/3.0.19: error:0A000418:SSL routines::tlsv1 alert unknown ca', 'curl.client-cert-unknown-ca'],
  ['curl: (35) error:14094418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca', 'curl.client-cert-unknown-ca'],
  ['curl: (35) OpenSSL/3.0.19: error:0A000410:SSL routines::sslv3 alert handshake failure', 'curl.handshake-failure'],
  ['curl: (35) OpenSSL/3.0.19: error:0A00042E:SSL routines::tlsv1 alert protocol version', 'curl.tls-version-mismatch'],
  ['curl: (35) OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number', 'curl.not-tls'],
  [
    'curl: (35) OpenSSL/3.0.19: error:0A000438:SSL routines::tlsv1 alert internal error',
    'curl.tls-alert',
    { alert: 'internal error' },
  ],
  ['curl: (22) The requested URL returned error: 403', 'curl.http-error', { status: 403 }],
  ['curl: (1) Protocol "htps" not supported or disabled in libcurl', 'curl.unsupported-protocol', { scheme: 'htps' }],
  ['curl: (3) URL using bad/illegal format or missing URL', 'curl.bad-url'],
  ['curl: option --cert=x: is unknown', 'curl.usage-error', { option: '--cert=x' }],
];

for (const [line, id, evidence] of cases) {
  test(`${id}: ${line.slice(0, 90)}`, () => {
    const r = mapCurlError({ message: line });
    assert.deepEqual(
      r.findings.map((f) => f.id),
      [id],
    );
    const f = r.findings[0]!;
    assert.ok(f.title !== '' && !f.title.includes('\n'), 'one-line title');
    assert.equal(f.severity === 'error' || f.severity === 'warning', true);
    const code = /\((\d+)\)/.exec(line);
    assert.equal(r.exitCode, code ? Number(code[1]) : null);
    assert.equal(f.evidence.said, r.text);
    for (const [k, v] of Object.entries(evidence ?? {})) assert.deepEqual(f.evidence[k], v, k);
  });
}

test('the curl: line is found in a whole pasted stderr', () => {
  const stderr =
    "Enter PEM pass phrase:\nEnter PEM pass phrase:\ncurl: (58) unable to set private key file: 'enc.key' type PEM\n";
  const r = mapCurlError({ message: stderr });
  assert.equal(r.exitCode, 58);
  assert.equal(r.findings[0]!.id, 'curl.key-not-loaded');
  const sixty =
    'curl: (60) SSL certificate problem: unable to get local issuer certificate\nMore details here: https://curl.se/docs/sslcerts.html\n\ncurl failed to verify the legitimacy of the server...';
  assert.equal(mapCurlError({ message: sixty }).findings[0]!.id, 'curl.server-cert-untrusted');
});

test('a message without "curl: (N)" is still recognized; the exit code can come separately', () => {
  const r = mapCurlError({ message: "unable to set private key file: 'k.pem' type PEM", exitCode: 58 });
  assert.equal(r.exitCode, 58);
  assert.deepEqual(
    r.findings.map((f) => f.id),
    ['curl.key-not-loaded'],
  );
});

test('exit code alone', () => {
  const ids = (n: number): string[] => mapCurlError({ exitCode: n }).findings.map((f) => f.id);
  assert.deepEqual(ids(6), ['curl.cannot-resolve']);
  assert.deepEqual(ids(7), ['curl.connect-failed']);
  assert.deepEqual(ids(28), ['curl.timeout']);
  assert.deepEqual(ids(35), ['curl.tls-handshake-failed']);
  assert.deepEqual(ids(56), ['curl.receive-failed']);
  assert.deepEqual(ids(58), ['curl.local-cert-problem']);
  assert.deepEqual(ids(60), ['curl.server-cert-untrusted']);
  assert.deepEqual(ids(99), ['curl.exit-99']);
});

test("the command's file names make the fix concrete", () => {
  const r = mapCurlError({ exitCode: 58 }, { cert: 'my cert.crt', key: 'my.key' });
  assert.match(r.findings[0]!.fix, /openssl pkey -in my\.key -pubout/);
  assert.match(r.findings[0]!.fix, /openssl x509 -in 'my cert\.crt'/);
});

test('a code in the message that differs from --exit-code is noted; the message wins', () => {
  const r = mapCurlError({ message: 'curl: (6) Could not resolve host: x.test', exitCode: 7 });
  assert.equal(r.exitCode, 6);
  assert.deepEqual(
    r.findings.map((f) => f.id),
    ['curl.exit-code-differs', 'curl.cannot-resolve'],
  );
});

test('an unknown message: unrecognized, with or without a code', () => {
  assert.deepEqual(
    mapCurlError({ message: 'something odd happened' }).findings.map((f) => f.id),
    ['curl.error-unrecognized'],
  );
  const r = mapCurlError({ message: 'curl: (16) Error in the HTTP2 framing layer' });
  assert.deepEqual(
    r.findings.map((f) => f.id),
    ['curl.exit-16'],
  );
  assert.equal(r.findings[0]!.evidence.unrecognized, true);
});

test("a 1 MB error text is matched in bounded time (curl's own messages are under 256 characters)", () => {
  // A catastrophic regular expression cannot be interrupted from inside this process: run it in a child.
  const script = [
    `import { mapCurlError } from ${JSON.stringify(new URL('../../src/doctor/curl/errors.ts', import.meta.url).href)};`,
    `const a = mapCurlError({ message: 'curl: (35) ' + 'schannel: '.repeat(100_000) });`,
    `const b = mapCurlError({ message: 'curl: (58) could not load PEM client certificate from ' + ','.repeat(1_000_000) });`,
    `process.stdout.write(JSON.stringify([a.exitCode, b.exitCode, a.text.length <= 1024, b.text.length <= 1024]));`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(r.signal, null, `still matching after 15 s (killed by ${r.signal})`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '[35,58,true,true]');
});
