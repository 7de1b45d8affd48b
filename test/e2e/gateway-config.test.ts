/**
 * Configuration of a real `mtlsgate serve` process: every kind of bad config ends with exit 2 and one stderr line
 * `mtlsgate: FILE: key.path: what is wrong` (no stack trace); relative paths resolve against the config file's
 * folder whatever the cwd; `serve --check`; securityPolicy against real `openssl s_client` protocol versions; and
 * the admin endpoints.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { runServe } from '../helpers/cli.js';
import { domainConfig, startGateway } from '../helpers/gateway.js';
import { request, type Target } from '../helpers/http.js';
import { makeWorld, type World } from '../helpers/lifecycle.js';
import { serverIdentity, tmpDir, type ServerIdentity } from '../helpers/pki.js';
import { run } from '../helpers/proc.js';

const DOMAIN = 'config.e2e.test';
const TLS13 = 'tls13.e2e.test';
const TLS12 = 'tls12.e2e.test';

let w: World;
let echo: EchoBackend;
/** A folder with server.crt, server.key, client.key (wrong key), truststore.pem: configs refer to them relatively. */
let confDir: string;

before(async () => {
  [w, echo] = await Promise.all([makeWorld(DOMAIN), startEcho()]);
  confDir = join(tmpDir(), 'conf');
  mkdirSync(confDir);
  copyFileSync(w.server.certFile, join(confDir, 'server.crt'));
  copyFileSync(w.server.keyFile, join(confDir, 'server.key'));
  copyFileSync(w.clientFiles.keyFile, join(confDir, 'client.key'));
  copyFileSync(w.truststore, join(confDir, 'truststore.pem'));
});

after(async () => {
  await echo?.close();
});

/** A valid YAML config (relative paths), to be broken one line at a time. */
const good = (): string => `# mtlsgate e2e
listen: { host: 127.0.0.1, port: 0 }
domains:
  - domainName: ${DOMAIN}
    certificate: { cert: ./server.crt, key: ./server.key }
    securityPolicy: TLS_1_2
    mutualTls:
      truststoreUri: file://./truststore.pem
    basePathMappings:
      - basePath: orders
        target: ${echo.url}
`;

function edit(from: string, to: string): string {
  const text = good();
  assert.ok(text.includes(from), from);
  return text.replace(from, to);
}

const secondDomain = (name: string, basePath = 'orders'): string =>
  `  - domainName: ${name}\n    certificate: { cert: ./server.crt, key: ./server.key }\n    mutualTls: { truststoreUri: file://./truststore.pem }\n    basePathMappings: [{ basePath: ${basePath}, target: "http://127.0.0.1:9" }]\n`;

// [what, file name, contents (null: no file), what follows `mtlsgate: FILE: `]
const BAD: [string, string, string | null, RegExp][] = [
  [
    'unknown key',
    'unknown-key.yaml',
    null,
    /^domains\[0\]\.mutualTls\.truststoreUrl: unknown key \(did you mean truststoreUri\?\)/,
  ],
  ['wrong type', 'wrong-type.yaml', null, /^listen\.port: expected number, received string$/],
  ['missing domains', 'no-domains.yaml', 'listen: { port: 0 }\n', /^domains: required \(a list\)$/],
  [
    'bad URI scheme',
    'scheme.yaml',
    null,
    /^domains\[0\]\.mutualTls\.truststoreUri: expected file:\/\/PATH or s3:\/\/BUCKET\/KEY$/,
  ],
  [
    'duplicate domain',
    'dup-domain.yaml',
    null,
    new RegExp(`^domains\\[1\\]\\.domainName: ${DOMAIN.replace(/\./g, '\\.')} is configured twice$`),
  ],
  [
    'duplicate basePath',
    'dup-basepath.yaml',
    null,
    /^domains\[0\]\.basePathMappings\[1\]\.basePath: "orders" is mapped twice$/,
  ],
  ['invalid YAML', 'invalid.yaml', 'domains: [\n  - x\n', /^not valid YAML: .+ at line 2, column 3$/],
  ['missing file', 'does-not-exist.yaml', null, /^no such file$/],
  [
    'server key not matching its certificate',
    'key-mismatch.yaml',
    null,
    /^domains\[0\]\.certificate\.key: \/.+\/conf\/client\.key: the key does not match the certificate \/.+\/conf\/server\.crt$/,
  ],
  [
    'missing server certificate file',
    'no-cert.yaml',
    null,
    /^domains\[0\]\.certificate\.cert: \/.+\/conf\/missing\.crt: no such file$/,
  ],
  [
    'unknown securityPolicy',
    'policy.yaml',
    null,
    /^domains\[0\]\.securityPolicy: expected one of "TLS_1_2"\|"TLS_1_3"$/,
  ],
  [
    'missing truststore file',
    'no-truststore.yaml',
    null,
    /^domains\[0\]\.mutualTls\.truststoreUri: file:\/\/\/.+\/conf\/gone\.pem: no such file$/,
  ],
  ['empty file', 'empty.yaml', '', /^the file is empty$/],
];

function contents(name: string): string | null {
  switch (name) {
    case 'unknown-key.yaml':
      return edit('truststoreUri: file://', 'truststoreUrl: file://');
    case 'wrong-type.yaml':
      return edit('port: 0 }', 'port: "8443" }');
    case 'scheme.yaml':
      return edit('file://./truststore.pem', 'https://example.test/truststore.pem');
    case 'dup-domain.yaml':
      return good() + secondDomain(DOMAIN.toUpperCase());
    case 'dup-basepath.yaml':
      return edit(
        `        target: ${echo.url}\n`,
        `        target: ${echo.url}\n      - basePath: /orders/\n        target: http://127.0.0.1:9\n`,
      );
    case 'key-mismatch.yaml':
      return edit('key: ./server.key', 'key: ./client.key');
    case 'no-cert.yaml':
      return edit('cert: ./server.crt', 'cert: ./missing.crt');
    case 'policy.yaml':
      return edit('securityPolicy: TLS_1_2', 'securityPolicy: TLS_1_0');
    case 'no-truststore.yaml':
      return edit('./truststore.pem', './gone.pem');
    default:
      return null;
  }
}

test('every kind of bad config: exit 2, one stderr line `mtlsgate: FILE: key.path: what is wrong`, nothing else', async () => {
  const cwd = tmpDir(); // not the config's folder: relative paths must still resolve against the config file
  // Four processes at a time: thirteen Node start-ups at once on a loaded 2-core machine can take longer than
  // any sensible per-process timeout.
  const results: { what: string; file: string; pattern: RegExp; r: Awaited<ReturnType<typeof runServe>> }[] = [];
  const queue = [...BAD];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const [what, name, text, pattern] = item;
        const file = join(confDir, name);
        const body = text ?? contents(name);
        if (body !== null) writeFileSync(file, body);
        results.push({ what, file, pattern, r: await runServe(['--config', file], { cwd, timeoutMs: 60_000 }) });
      }
    }),
  );
  for (const { what, file, pattern, r } of results) {
    assert.equal(r.code, 2, `${what}: exit code ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /^mtlsgate: [^\n]+\n$/, `${what}: exactly one line: ${JSON.stringify(r.stderr)}`);
    const prefix = `mtlsgate: ${file}: `;
    assert.ok(r.stderr.startsWith(prefix), `${what}: ${r.stderr}`);
    assert.match(r.stderr.slice(prefix.length).trimEnd(), pattern, what);
    assert.doesNotMatch(r.stderr, /\bat .+:\d+:\d+|internal error/, `${what}: no stack trace`);
    assert.doesNotMatch(r.stdout, /"msg":"listening"/, `${what}: never listened`);
  }
});

test('relative paths resolve against the config file folder, from another cwd', async () => {
  const gw = await startGateway({
    dir: confDir,
    config: {
      domains: [
        {
          domainName: DOMAIN,
          certificate: { cert: './server.crt', key: 'server.key' },
          mutualTls: { truststoreUri: 'file://truststore.pem' },
          basePathMappings: [{ basePath: '', target: echo.url }],
        },
      ],
    },
  });
  try {
    const loaded = await gw.waitForLog((l) => l.msg === 'truststore loaded');
    assert.equal(loaded.truststore, `file://${join(confDir, 'truststore.pem')}`);
    const r = await request(
      { port: gw.port, servername: DOMAIN, ca: w.server.caPem, cert: w.client.certPem, key: w.client.keyPem },
      false,
    );
    assert.equal(r.status, 200, r.body);
  } finally {
    await gw.stop();
  }
});

test('serve --check loads everything and exits 0; a broken truststore makes it exit 2', async () => {
  const file = join(confDir, 'check.yaml');
  writeFileSync(file, good());
  const ok = await runServe(['--config', file, '--check']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '');
  assert.match(ok.stdout, new RegExp(`^${file.replace(/[.]/g, '\\.')}: ok \\(1 domain\\(s\\) loaded\\)$`, 'm'));
  const badFile = join(confDir, 'check-bad.yaml');
  writeFileSync(badFile, edit('./truststore.pem', './server.key'));
  const bad = await runServe(['--config', badFile, '--check']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /^mtlsgate: [^\n]+: domains\[0\]\.mutualTls\.truststoreUri: file:\/\/\/[^\n]+\/server\.key: [^\n]+\n$/,
  );
});

test('a FIFO as the config file or as a server certificate: serve and serve --check refuse it at once, one line naming it', async () => {
  // With no writer, reading a FIFO waits for good: runServe's SIGKILL after 30 s turns such a hang into a failure here.
  const fifoConfig = join(confDir, 'fifo.yaml');
  execFileSync('mkfifo', [fifoConfig]);
  execFileSync('mkfifo', [join(confDir, 'fifo.crt')]);
  const certFile = join(confDir, 'fifo-cert.yaml');
  writeFileSync(certFile, edit('cert: ./server.crt', 'cert: ./fifo.crt'));
  const cases: [string, string[], string, RegExp][] = [
    ['config FIFO', ['--config', fifoConfig], fifoConfig, /^not a regular file \(a fifo\)$/],
    ['config FIFO, --check', ['--config', fifoConfig, '--check'], fifoConfig, /^not a regular file \(a fifo\)$/],
    [
      'certificate FIFO',
      ['--config', certFile],
      certFile,
      /^domains\[0\]\.certificate\.cert: \/.+\/conf\/fifo\.crt: not a regular file \(a fifo\)$/,
    ],
    [
      'certificate FIFO, --check',
      ['--config', certFile, '--check'],
      certFile,
      /^domains\[0\]\.certificate\.cert: \/.+\/conf\/fifo\.crt: not a regular file \(a fifo\)$/,
    ],
  ];
  const results = await Promise.all(cases.map(([, args]) => runServe(args, { timeoutMs: 30_000 })));
  results.forEach((r, i) => {
    const [what, , file, pattern] = cases[i]!;
    assert.deepEqual([r.code, r.signal], [2, null], `${what}: exit code ${r.code}, signal ${r.signal}\n${r.stderr}`);
    assert.match(r.stderr, /^mtlsgate: [^\n]+\n$/, `${what}: exactly one line: ${JSON.stringify(r.stderr)}`);
    const prefix = `mtlsgate: ${file}: `;
    assert.ok(r.stderr.startsWith(prefix), `${what}: ${r.stderr}`);
    assert.match(r.stderr.slice(prefix.length).trimEnd(), pattern, what);
    assert.doesNotMatch(r.stdout, /"msg":"listening"|: ok \(/, `${what}: neither listened nor passed the check`);
  });
});

test('securityPolicy: TLS_1_3 refuses a TLS 1.2 client, TLS_1_2 refuses TLS 1.1 (openssl s_client)', async () => {
  const dir = tmpDir();
  const server: ServerIdentity = await serverIdentity(dir, [TLS13, TLS12]);
  const gw = await startGateway({
    config: {
      domains: [
        {
          ...domainConfig(TLS13, server, w.truststore, [{ basePath: '', target: echo.url }]),
          securityPolicy: 'TLS_1_3',
        },
        {
          ...domainConfig(TLS12, server, w.truststore, [{ basePath: '', target: echo.url }]),
          securityPolicy: 'TLS_1_2',
        },
      ],
    },
  });
  const sclient = (name: string, version: string, ...extra: string[]) =>
    run(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${gw.port}`,
        '-servername',
        name,
        `-${version}`,
        ...extra,
        '-cert',
        w.clientFiles.certFile,
        '-key',
        w.clientFiles.keyFile,
        '-CAfile',
        server.caFile,
        '-verify_return_error',
        '-brief',
        '-ign_eof',
      ],
      {
        input: `GET / HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`,
      },
    );
  try {
    const metricsBefore = (await gw.admin('/metrics')).body;
    const handshakeErrors = (m: string): number => Number(/^mtlsgate_handshake_errors_total (\d+)$/m.exec(m)?.[1]);

    const ok13 = await sclient(TLS13, 'tls1_3');
    assert.equal(ok13.code, 0, ok13.stderr);
    assert.match(ok13.stderr, /Protocol version: TLSv1\.3/);
    assert.match(ok13.stdout.toString(), /^HTTP\/1\.1 200 /);

    const mark = gw.mark();
    const no12 = await sclient(TLS13, 'tls1_2');
    assert.notEqual(no12.code, 0, `a TLS 1.2 client must be refused by a TLS_1_3 domain:\n${no12.stderr}`);
    // Refused in the SNI callback, after OpenSSL chose the version: the socket is closed without an alert.
    assert.doesNotMatch(no12.stderr, /CONNECTION ESTABLISHED/);
    assert.equal(no12.stdout.toString(), '');
    const line = await gw.waitForLog((l) => l.msg === 'tls handshake failed', { from: mark });
    assert.match(String(line.error), /securityPolicy TLS_1_3 refuses TLSv1\.2/);

    const ok12 = await sclient(TLS12, 'tls1_2');
    assert.equal(ok12.code, 0, ok12.stderr);
    assert.match(ok12.stderr, /Protocol version: TLSv1\.2/);
    assert.match(ok12.stdout.toString(), /^HTTP\/1\.1 200 /);
    const ok12on13 = await sclient(TLS12, 'tls1_3');
    assert.equal(ok12on13.code, 0, 'TLS_1_2 means 1.2 and 1.3');

    // SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all; the refusal must come from the gateway (alert 70).
    const no11 = await sclient(TLS12, 'tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0');
    assert.notEqual(no11.code, 0, no11.stderr);
    assert.match(no11.stderr, /alert protocol version|SSL alert number 70/);
    assert.doesNotMatch(no11.stderr, /CONNECTION ESTABLISHED/);

    // Node's client too, for the TLS_1_3 domain.
    const t: Target = {
      port: gw.port,
      servername: TLS13,
      ca: server.caPem,
      cert: w.client.certPem,
      key: w.client.keyPem,
    };
    const agent = new (await import('node:https')).Agent({ maxVersion: 'TLSv1.2' });
    const node12 = await request(t, agent);
    agent.destroy();
    assert.equal(node12.status, 0, `refused: ${JSON.stringify(node12)}`);
    assert.notEqual(node12.error, null);

    assert.ok(
      handshakeErrors((await gw.admin('/metrics')).body) >= handshakeErrors(metricsBefore) + 3,
      'handshake failures are counted',
    );
  } finally {
    await gw.stop();
  }
});

test('admin: /healthz, /readyz, /metrics counting requests and denials, /domains, 404, GET /reload is 405', async () => {
  const gw = await startGateway({
    config: {
      domains: [
        domainConfig(DOMAIN, w.server, w.truststore, [
          { basePath: '', target: echo.url },
          { basePath: 'orders', target: echo.url },
        ]),
      ],
    },
  });
  try {
    const health = await gw.admin('/healthz');
    assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: 'ok' }]);

    const ready = await gw.admin('/readyz');
    assert.equal(ready.status, 200);
    const rb = JSON.parse(ready.body) as {
      ready: boolean;
      degraded: boolean;
      domains: Record<
        string,
        { loaded: boolean; certificates: number; lastError: string | null; truststoreVersion: string | null }
      >;
    };
    assert.deepEqual([rb.ready, rb.degraded], [true, false]);
    assert.deepEqual(rb.domains[DOMAIN] && { ...rb.domains[DOMAIN], loadedAt: undefined }, {
      loaded: true,
      truststoreVersion: null,
      certificates: 1,
      lastError: null,
      loadedAt: undefined,
    });

    const domains = await gw.admin('/domains');
    assert.equal(domains.status, 200);
    const listed = JSON.parse(domains.body) as Array<Record<string, unknown>>;
    const expiry = (subject: string): Record<string, unknown> => ({
      subject,
      notAfter: (
        listed[0]![subject.startsWith(`CN=${DOMAIN}`) ? 'serverCertificate' : 'truststoreEarliestExpiry'] as {
          notAfter: string;
        }
      ).notAfter,
      daysToExpiry: 364,
      status: 'valid',
    });
    assert.match(String(listed[0]?.loadedAt), /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.deepEqual(listed, [
      {
        domainName: DOMAIN,
        truststoreUri: `file://${w.truststore}`,
        truststoreVersion: null,
        certificates: 1,
        warnings: listed[0]!.warnings,
        basePaths: ['orders', '(none)'],
        revocation: null,
        serverCertificate: expiry(`CN=${DOMAIN}`),
        truststoreEarliestExpiry: expiry('CN=lifecycle Client CA,O=mtlsgate e2e'),
        loadedAt: listed[0]!.loadedAt,
        reload: null,
      },
    ]);

    const count = (m: string, re: RegExp): number => Number(re.exec(m)?.[1] ?? 0);
    const ok200 = new RegExp(
      `^mtlsgate_requests_total\\{domain="${DOMAIN.replace(/\./g, '\\.')}",status="200"\\} (\\d+)$`,
      'm',
    );
    const d403 = new RegExp(
      `^mtlsgate_requests_total\\{domain="${DOMAIN.replace(/\./g, '\\.')}",status="403"\\} (\\d+)$`,
      'm',
    );
    const before = (await gw.admin('/metrics')).body;
    assert.match(before, /^# TYPE mtlsgate_requests_total counter$/m);
    assert.match(before, /^mtlsgate_ready 1$/m);

    const t: Target = {
      port: gw.port,
      servername: DOMAIN,
      ca: w.server.caPem,
      cert: w.client.certPem,
      key: w.client.keyPem,
    };
    assert.equal((await request(t, false)).status, 200);
    assert.equal((await request(t, false, '/orders/1')).status, 200);
    const denied = await request({ ...t, cert: w.otherClient.certPem, key: w.otherClient.keyPem }, false);
    assert.equal(denied.status, 403);
    const deny = await gw.waitForRequestLog(denied.requestId!, /^Access denied/);
    await gw.waitForRequestLog(denied.requestId!, 'request');

    const afterText = (await gw.admin('/metrics')).body;
    assert.equal(count(afterText, ok200), count(before, ok200) + 2, afterText);
    assert.equal(count(afterText, d403), count(before, d403) + 1, afterText);
    const denial = new RegExp(
      `^mtlsgate_denials_total\\{domain="${DOMAIN.replace(/\./g, '\\.')}",code="${String(deny.code)}"\\} (\\d+)$`,
      'm',
    );
    assert.equal(
      count(afterText, denial),
      count(before, denial) + 1,
      `denial counted under ${String(deny.code)}:\n${afterText}`,
    );

    const missing = await gw.admin('/nope');
    assert.equal(missing.status, 404);
    assert.equal((JSON.parse(missing.body) as { message: string }).message, 'Not Found');
    const getReload = await gw.admin('/reload');
    assert.equal(getReload.status, 405, getReload.body);
    assert.equal(gw.logs.filter((l) => l.msg === 'truststore loaded').length, 1, 'GET /reload did not reload');
    assert.equal(gw.stderr, '');
  } finally {
    await gw.stop();
  }
});

test('limits.maxHeaderBytes answers 431 and timeouts.headersMs answers 408 within about a second of the limit', async () => {
  const gw = await startGateway({
    config: {
      timeouts: { headersMs: 500, requestMs: 1000 },
      limits: { maxHeaderBytes: 2048 },
      domains: [domainConfig(DOMAIN, w.server, w.truststore, [{ basePath: '', target: echo.url }])],
    },
  });
  try {
    const t: Target = {
      port: gw.port,
      servername: DOMAIN,
      ca: w.server.caPem,
      cert: w.client.certPem,
      key: w.client.keyPem,
    };
    assert.equal((await request(t, false)).status, 200);
    // Raw TLS: one request with a 4 KiB header, one whose headers never end.
    const tls = await import('node:tls');
    const exchange = (head: string): Promise<{ text: string; ms: number }> =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const s = tls.connect(
          {
            host: '127.0.0.1',
            port: gw.port,
            servername: DOMAIN,
            ca: w.server.caPem,
            cert: w.client.certPem,
            key: w.client.keyPem,
          },
          () => s.write(head),
        );
        let text = '';
        s.setEncoding('utf8').on('data', (c: string) => (text += c));
        s.on('close', () => resolve({ text, ms: Date.now() - started }));
        s.on('error', reject);
        s.setTimeout(5000, () => s.destroy(new Error(`no answer in 5 s; got ${JSON.stringify(text)}`)));
      });
    const big = await exchange(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.ok(big.text.endsWith('\r\n\r\n{"message":"Request Header Fields Too Large"}'), big.text);
    const slow = await exchange(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\nX-Slow: 1\r\n`);
    assert.match(slow.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(slow.ms >= 450 && slow.ms < 2500, `408 after ${slow.ms} ms (headersMs 500)`);
  } finally {
    await gw.stop();
  }
});
