/**
 * Unit tests of src/gateway/config.ts: the schema, its defaults, the one-line errors (file, key path, what is
 * wrong) and path resolution against the config file's folder. No files are read except in the loadConfig tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig, type GatewayConfig } from '../../src/gateway/config.js';
import { isUserError } from '../../src/errors.js';
import { tmpDir } from '../helpers/pki.js';

const FILE = '/etc/mtlsgate/gateway.yaml';

const MINIMAL = `
domains:
  - domainName: mtls.example.test
    certificate: { cert: ./server.crt, key: ./server.key }
    mutualTls:
      truststoreUri: file://./truststore.pem
    basePathMappings:
      - basePath: orders
        target: http://127.0.0.1:9000
`;

/** The UserError message parseConfig throws for `text` (fails the test if it does not throw one). */
function errorOf(text: string, file = FILE): string {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    assert.equal(e.code, 'E_CONFIG');
    assert.doesNotMatch(e.message, /\n/, 'one line');
    return e.message;
  }
  assert.fail(`expected an error for:\n${text}`);
}

/** MINIMAL with one line replaced (exact text) — keeps each case readable. */
function edit(from: string, to: string): string {
  assert.ok(MINIMAL.includes(from), from);
  return MINIMAL.replace(from, to);
}

test('the minimal config gets every documented default', () => {
  const c: GatewayConfig = parseConfig(MINIMAL, FILE);
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8443 });
  assert.equal(c.admin, undefined);
  assert.equal(c.disableDefaultEndpoint, true);
  assert.equal(c.s3, undefined);
  assert.deepEqual(c.timeouts, {
    handshakeMs: 10_000,
    headersMs: 10_000,
    requestMs: 60_000,
    idleMs: 60_000,
    backendMs: 30_000,
    shutdownMs: 10_000,
  });
  assert.deepEqual(c.tls, { sessionResumption: true, sessionLifetimeSec: 300 });
  assert.deepEqual(c.limits, { maxConnections: 10_000, maxHeaderBytes: 16_384 });
  assert.deepEqual(c.logs, { format: 'json', level: 'info' });
  const d = c.domains[0]!;
  assert.equal(d.securityPolicy, 'TLS_1_2');
  assert.deepEqual(d.mutualTls, {
    truststoreUri: 'file:///etc/mtlsgate/truststore.pem',
    exposeReason: false,
    clientCertificate: 'required',
    noCertificate: 'handshake',
    trustClientIntermediates: false,
  });
  assert.deepEqual(d.basePathMappings, [{ basePath: 'orders', target: 'http://127.0.0.1:9000' }]);
});

test('the issue example parses with every key as written', () => {
  const c = parseConfig(
    `
listen: { host: 127.0.0.1, port: 8443 }
admin: { host: 127.0.0.1, port: 9901 }
domains:
  - domainName: MTLS.Example.Test
    certificate: { cert: ./server.crt, key: ./server.key }
    securityPolicy: TLS_1_3
    mutualTls:
      truststoreUri: s3://bucket/path/truststore.pem
      truststoreVersion: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
      exposeReason: true
      noCertificate: http403
      trustClientIntermediates: true
    basePathMappings:
      - basePath: /orders/
        target: http://127.0.0.1:9000
      - basePath: "(none)"
        target: https://backend.internal/prefix
disableDefaultEndpoint: true
s3: { endpoint: "http://127.0.0.1:4568", region: eu-west-1, forcePathStyle: true }
logs: { format: pretty, level: debug }
`,
    FILE,
  );
  assert.deepEqual(c.admin, { host: '127.0.0.1', port: 9901, denialsBuffer: 200 });
  const d = c.domains[0]!;
  assert.equal(d.domainName, 'mtls.example.test', 'domain names are case-insensitive: lower-cased');
  assert.equal(d.securityPolicy, 'TLS_1_3');
  assert.deepEqual(d.mutualTls, {
    truststoreUri: 's3://bucket/path/truststore.pem',
    truststoreVersion: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY',
    exposeReason: true,
    clientCertificate: 'required',
    noCertificate: 'http403',
    trustClientIntermediates: true,
  });
  assert.deepEqual(
    d.basePathMappings.map((m) => m.basePath),
    ['orders', ''],
    'slashes trimmed; "(none)" is the empty base path',
  );
  assert.deepEqual(c.s3, { endpoint: 'http://127.0.0.1:4568', region: 'eu-west-1', forcePathStyle: true });
  assert.deepEqual(c.logs, { format: 'pretty', level: 'debug' });
});

test('JSON config files are read as JSON', () => {
  const c = parseConfig(
    JSON.stringify({
      listen: { port: 0 },
      domains: [
        {
          domainName: 'a.example.test',
          certificate: { cert: 'c', key: 'k' },
          mutualTls: { truststoreUri: 'file://t.pem' },
          basePathMappings: [{ target: 'http://127.0.0.1:1' }],
        },
      ],
    }),
    '/srv/gw.json',
  );
  assert.equal(c.listen.port, 0);
  assert.equal(c.domains[0]!.basePathMappings[0]!.basePath, '', 'basePath defaults to the empty base path');
  assert.match(errorOf('{"domains": [', '/srv/gw.json'), /^\/srv\/gw\.json: not valid JSON: /);
});

test('relative paths resolve against the config file folder; absolute paths and s3 URIs are kept', () => {
  const c = parseConfig(
    edit(
      'certificate: { cert: ./server.crt, key: ./server.key }',
      'certificate: { cert: ../pki/server.crt, key: /abs/server.key }',
    ).replace('file://./truststore.pem', 'file://trust%20store.pem'),
    '/srv/gw/conf/gateway.yaml',
  );
  const d = c.domains[0]!;
  assert.equal(d.certificate.cert, '/srv/gw/pki/server.crt');
  assert.equal(d.certificate.key, '/abs/server.key');
  assert.equal(d.mutualTls.truststoreUri, 'file:///srv/gw/conf/trust store.pem', 'percent-decoded, then resolved');
  const abs = parseConfig(edit('file://./truststore.pem', 'file:///var/lib/ts.pem'), FILE);
  assert.equal(abs.domains[0]!.mutualTls.truststoreUri, 'file:///var/lib/ts.pem');
  const s3 = parseConfig(edit('file://./truststore.pem', 's3://b/k.pem'), FILE);
  assert.equal(s3.domains[0]!.mutualTls.truststoreUri, 's3://b/k.pem');
});

// Each bad config: one line `FILE: key.path: what is wrong`.
const BAD: [string, string, RegExp][] = [
  [
    'an unknown key (a typo) is named with its full path, before the missing key it causes',
    edit('truststoreUri: file://./truststore.pem', 'truststoreUrl: file://./truststore.pem'),
    /^\/etc\/mtlsgate\/gateway\.yaml: domains\[0\]\.mutualTls\.truststoreUrl: unknown key \(did you mean truststoreUri\?\)/,
  ],
  ['an unknown top-level key', `foo: 1\n${MINIMAL}`, /: foo: unknown key$/],
  ['a wrong type', `listen: { port: "8443" }\n${MINIMAL}`, /: listen\.port: expected number, received string$/],
  ['a port out of range', `listen: { port: 70000 }\n${MINIMAL}`, /: listen\.port: .*65535/],
  [
    'a boolean given as a string',
    edit('truststoreUri: file://./truststore.pem', 'truststoreUri: file://./truststore.pem\n      exposeReason: "yes"'),
    /: domains\[0\]\.mutualTls\.exposeReason: expected boolean, received string$/,
  ],
  ['missing domains', 'listen: { port: 8443 }\n', /: domains: required \(a list\)$/],
  ['an empty domains list', 'domains: []\n', /: domains: .*>=1/],
  [
    'a missing truststoreUri',
    edit('truststoreUri: file://./truststore.pem', 'exposeReason: true'),
    /: domains\[0\]\.mutualTls\.truststoreUri: required \(a string\)$/,
  ],
  [
    'a bad URI scheme',
    edit('file://./truststore.pem', 'https://example.test/truststore.pem'),
    /: domains\[0\]\.mutualTls\.truststoreUri: expected file:\/\/PATH or s3:\/\/BUCKET\/KEY$/,
  ],
  [
    'a plain path instead of a URI',
    edit('file://./truststore.pem', './truststore.pem'),
    /: domains\[0\]\.mutualTls\.truststoreUri: expected file:\/\/PATH/,
  ],
  [
    'an unknown securityPolicy',
    edit('    mutualTls:', '    securityPolicy: TLS_1_0\n    mutualTls:'),
    /: domains\[0\]\.securityPolicy: expected one of "TLS_1_2"\|"TLS_1_3"$/,
  ],
  [
    'an unknown noCertificate',
    edit(
      'truststoreUri: file://./truststore.pem',
      'truststoreUri: file://./truststore.pem\n      noCertificate: allow',
    ),
    /: domains\[0\]\.mutualTls\.noCertificate: expected one of "handshake"\|"http403"$/,
  ],
  [
    'a target that is not http(s)',
    edit('http://127.0.0.1:9000', 'ftp://127.0.0.1:9000'),
    /: domains\[0\]\.basePathMappings\[0\]\.target: expected an http:\/\/ or https:\/\/ URL/,
  ],
  [
    'a target with a query',
    edit('http://127.0.0.1:9000', 'http://127.0.0.1:9000/?a=1'),
    /basePathMappings\[0\]\.target: /,
  ],
  [
    'a base path with ..',
    edit('basePath: orders', 'basePath: a/../b'),
    /: domains\[0\]\.basePathMappings\[0\]\.basePath: a base path may not contain \. or \.\. segments$/,
  ],
  [
    'no base path mapping',
    edit(
      '    basePathMappings:\n      - basePath: orders\n        target: http://127.0.0.1:9000\n',
      '    basePathMappings: []\n',
    ),
    /: domains\[0\]\.basePathMappings: /,
  ],
  [
    'a bad domain name',
    edit('domainName: mtls.example.test', 'domainName: "mtls example"'),
    /: domains\[0\]\.domainName: expected a DNS name/,
  ],
  [
    'a wildcard that is not the whole first label',
    edit('domainName: mtls.example.test', 'domainName: "a*.example.test"'),
    /: domains\[0\]\.domainName: expected a DNS name/,
  ],
  [
    'disableDefaultEndpoint: false',
    `disableDefaultEndpoint: false\n${MINIMAL}`,
    /: disableDefaultEndpoint: mtlsgate never serves these APIs without mutual TLS/,
  ],
  ['an unknown logs.format', `logs: { format: xml }\n${MINIMAL}`, /: logs\.format: expected one of "json"\|"pretty"$/],
  ['a bad s3.endpoint', `s3: { endpoint: "not a url" }\n${MINIMAL}`, /: s3\.endpoint: /],
  ['a top level that is not a mapping', '- a\n- b\n', /: \(top level\): expected object, received array$/],
  [
    'invalid YAML, with its line',
    'domains: [\n  - x\n',
    /^\/etc\/mtlsgate\/gateway\.yaml: not valid YAML: .* at line 2, column 3$/,
  ],
  ['an empty file', '', /^\/etc\/mtlsgate\/gateway\.yaml: the file is empty$/],
  ['a file of comments only', '# nothing here\n', /: the file is empty$/],
];

for (const [what, text, pattern] of BAD) {
  test(`config error: ${what}`, () => {
    const msg = errorOf(text);
    assert.ok(msg.startsWith(`${FILE}: `), msg);
    assert.match(msg, pattern);
  });
}

test('a domain configured twice is an error naming the second one (case-insensitively)', () => {
  const second = MINIMAL.replace('domains:\n', '').replace('mtls.example.test', 'MTLS.example.test');
  assert.equal(errorOf(MINIMAL + second), `${FILE}: domains[1].domainName: mtls.example.test is configured twice`);
});

test('a base path mapped twice (after trimming slashes) is an error naming the mapping', () => {
  const text = edit(
    '        target: http://127.0.0.1:9000\n',
    '        target: http://127.0.0.1:9000\n      - basePath: /orders/\n        target: http://127.0.0.1:9001\n',
  );
  assert.equal(errorOf(text), `${FILE}: domains[0].basePathMappings[1].basePath: "orders" is mapped twice`);
  const none =
    edit('basePath: orders', 'basePath: ""') + '      - basePath: "(none)"\n        target: http://127.0.0.1:9001\n';
  assert.equal(errorOf(none), `${FILE}: domains[0].basePathMappings[1].basePath: "(none)" is mapped twice`);
});

test('several problems: the first is reported and the rest counted', () => {
  assert.match(
    errorOf(`listen: { port: "x" }\nlogs: { format: xml }\n${MINIMAL}`),
    /: listen\.port: expected number, received string \(and 1 more\)$/,
  );
});

test('loadConfig: a missing file, a directory and an oversized file are one-line errors naming the file', async () => {
  const dir = tmpDir();
  const missing = join(dir, 'nope.yaml');
  await assert.rejects(loadConfig(missing), (e: unknown) => isUserError(e) && e.message === `${missing}: no such file`);
  await assert.rejects(
    loadConfig(dir),
    (e: unknown) => isUserError(e) && e.message === `${dir}: is a directory, not a file (EISDIR)`,
  );
  const big = join(dir, 'big.yaml');
  writeFileSync(big, '#'.repeat(1_048_577));
  await assert.rejects(loadConfig(big), (e: unknown) => isUserError(e) && /larger than 1 MiB/.test(e.message));
  const ok = join(dir, 'gw.yaml');
  writeFileSync(ok, MINIMAL);
  const c = await loadConfig(ok);
  assert.equal(c.domains[0]!.certificate.cert, join(dir, 'server.crt'), 'relative to the file, not the cwd');
});

test('loadConfig: a FIFO is refused at once with a one-line error naming it, never read', async () => {
  const fifo = join(tmpDir(), 'gateway.yaml');
  execFileSync('mkfifo', [fifo]);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Open and close the write end: a reader stuck on the FIFO gets EOF, so a hang fails this test rather than the
      // run.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: no reader.
      }
      reject(new Error('loadConfig still reading the FIFO after 5 s'));
    }, 5000);
  });
  try {
    await assert.rejects(Promise.race([loadConfig(fifo), hung]), (e: unknown) => {
      assert.ok(isUserError(e), String(e));
      assert.equal(e.code, 'E_CONFIG');
      assert.equal(e.message, `${fifo}: not a regular file (a fifo)`);
      return true;
    });
  } finally {
    clearTimeout(timer);
  }
});
