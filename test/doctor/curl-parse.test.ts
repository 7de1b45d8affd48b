/** curl's option parsing: long/short, attached values, combined flags, `--`, and the URL wherever it is. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveUrl, parseCurlArgs, redactCurlCommand, type CurlCommand } from '../../src/doctor/curl/parse.js';
import { tokenize } from '../../src/doctor/curl/tokenize.js';
import { LONG, SHORT } from '../../src/doctor/curl/options.js';

const cases: Array<{ name: string; args: string[]; expect: Partial<CurlCommand>; note?: RegExp }> = [
  {
    name: 'long options with separate values',
    args: ['--cert', 'c.pem', '--key', 'k.pem', 'https://x.test/'],
    expect: { cert: 'c.pem', key: 'k.pem', urls: ['https://x.test/'] },
  },
  { name: '-E short form, value attached', args: ['-Ec.pem', 'u'], expect: { cert: 'c.pem', urls: ['u'] } },
  {
    name: '--opt=value form, with a note about old curl',
    args: ['--cert=c.pem', '--cacert=ca.pem', 'u'],
    expect: { cert: 'c.pem', cacert: 'ca.pem', urls: ['u'] },
    note: /curl 7\.88 stops/,
  },
  { name: 'combined short flags', args: ['-vk', 'u'], expect: { verbose: true, insecure: true, urls: ['u'] } },
  {
    name: 'combined flags ending in a value-taking letter take the next word',
    args: ['-skE', 'c.pem', 'u'],
    expect: { insecure: true, cert: 'c.pem', urls: ['u'] },
  },
  {
    name: 'combined flags ending in a value-taking letter with the value attached',
    args: ['-vkEc.pem:pw', 'u'],
    expect: { cert: 'c.pem', passphrase: { value: 'pw', from: '--cert' }, urls: ['u'] },
  },
  {
    name: 'value-taking options consume their value so the URL is found',
    args: [
      '-o',
      'out.txt',
      '-H',
      'X: y',
      '-w',
      '%{http_code}',
      '-A',
      'agent',
      '-u',
      'me:secret',
      'https://x.test/',
      '-d',
      'body',
    ],
    expect: { urls: ['https://x.test/'], data: true, method: 'POST' },
  },
  {
    name: 'URL before the options',
    args: ['https://x.test/', '--cert', 'c.pem', '-k'],
    expect: { urls: ['https://x.test/'], cert: 'c.pem', insecure: true },
  },
  {
    name: '-- ends the options',
    args: ['-k', '--', '-not-an-option'],
    expect: { insecure: true, urls: ['-not-an-option'] },
  },
  {
    name: 'Windows path with drive letter and a passphrase',
    args: ['--cert', 'C:\\a\\b.pem:pw', 'u'],
    expect: { cert: 'C:\\a\\b.pem', passphrase: { value: 'pw', from: '--cert' } },
  },
  {
    name: "curl's \\: escape in --cert",
    args: ['--cert', 'a\\:b.pem:pw', 'u'],
    expect: { cert: 'a:b.pem', passphrase: { value: 'pw', from: '--cert' } },
  },
  {
    name: 'file: with an empty passphrase is no passphrase',
    args: ['--cert', 'c.pem:', 'u'],
    expect: { cert: 'c.pem', passphrase: null },
  },
  {
    name: '--pass after --cert file:pass wins',
    args: ['--cert', 'c.p12:one', '--pass', 'two', 'u'],
    expect: { cert: 'c.p12', passphrase: { value: 'two', from: '--pass' } },
  },
  {
    name: '--cert file:pass after --pass wins',
    args: ['--pass', 'two', '--cert', 'c.p12:one', 'u'],
    expect: { passphrase: { value: 'one', from: '--cert' } },
  },
  {
    name: 'types are upper-cased',
    args: ['--cert-type', 'p12', '--key-type', 'der', 'u'],
    expect: { certType: 'P12', keyType: 'DER' },
  },
  {
    name: '--resolve and --connect-to repeat',
    args: ['--resolve', 'a:443:127.0.0.1', '--resolve', 'b:443:::1', '--connect-to', 'a:443:c:8443', 'u'],
    expect: { resolve: ['a:443:127.0.0.1', 'b:443:::1'], connectTo: ['a:443:c:8443'] },
  },
  {
    name: 'Host header is kept, other headers are only listed by name',
    args: ['-H', 'Host: api.x.test', '-H', 'Authorization: Bearer t0k', 'u'],
    expect: { hostHeader: 'api.x.test', ignored: ['-H'] },
  },
  { name: 'TLS versions', args: ['--tlsv1.2', '--tls-max', '1.3', 'u'], expect: { tlsMin: '1.2', tlsMax: '1.3' } },
  { name: '-X and -I', args: ['-I', '-X', 'PUT', 'u'], expect: { method: 'PUT' } },
  {
    name: 'unknown long and short options',
    args: ['--bogus', '-W', 'u'],
    expect: { unknown: ['--bogus', '-W'], urls: ['u'] },
  },
  {
    name: 'unambiguous abbreviation',
    args: ['--inse', 'u'],
    expect: { insecure: true },
    note: /--inse is read as --insecure/,
  },
  {
    name: 'ambiguous abbreviation',
    args: ['--ca', 'x', 'u'],
    expect: { unknown: ['--ca'], urls: ['x', 'u'] },
    note: /ambiguous/,
  },
  { name: '--no- switches a boolean off', args: ['-k', '--no-insecure', 'u'], expect: { insecure: false } },
  { name: 'missing value at the end', args: ['u', '--cert'], expect: { missingValue: ['--cert'], cert: null } },
  {
    name: '-K is noted',
    args: ['-K', 'opts.txt', 'u'],
    expect: { configFiles: ['opts.txt'] },
    note: /reads more options from that file/,
  },
  {
    name: '--next stops',
    args: ['--cert', 'a.pem', 'u1', '--next', '--cert', 'b.pem', 'u2'],
    expect: { cert: 'a.pem', urls: ['u1'] },
    note: /only the options and URLs before it/,
  },
  { name: '--url', args: ['--url', 'https://x.test/'], expect: { urls: ['https://x.test/'] } },
  { name: '--expand-cert', args: ['--expand-cert', 'c.pem', 'u'], expect: { cert: 'c.pem' } },
  {
    name: '--proxy-cert is for the proxy',
    args: ['--proxy-cert', 'c.pem', 'u'],
    expect: { cert: null, ignored: ['--proxy-cert'] },
    note: /for an HTTPS proxy/,
  },
  { name: '-m gives the time limit', args: ['-m', '2.5', 'u'], expect: { maxTime: 2.5 } },
  { name: '-x proxy', args: ['-x', 'http://proxy:3128', 'u'], expect: { proxy: 'http://proxy:3128', urls: ['u'] } },
];

for (const c of cases) {
  test(`parse: ${c.name}`, () => {
    const got = parseCurlArgs(c.args);
    for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(got[k as keyof CurlCommand], v, k);
    if (c.note)
      assert.ok(
        got.notes.some((n) => c.note!.test(n)),
        `notes: ${JSON.stringify(got.notes)}`,
      );
  });
}

test('parse: a pasted line end to end', () => {
  const t = tokenize(
    `curl -sS --cert 'client.p12:my pass' --cert-type P12 \\\n  --resolve api.x.test:443:10.0.0.5 -H 'Host: api.x.test' \\\n  "https://api.x.test/ping?a=1&b=2" -o /dev/null`,
  );
  const c = parseCurlArgs(t.args, { dialect: t.dialect, program: t.program });
  assert.equal(c.cert, 'client.p12');
  assert.deepEqual(c.passphrase, { value: 'my pass', from: '--cert' });
  assert.equal(c.certType, 'P12');
  assert.deepEqual(c.urls, ['https://api.x.test/ping?a=1&b=2']);
  assert.deepEqual(c.ignored, ['-s', '-S', '-o']);
  assert.equal(c.program, 'curl');
});

test('redactCurlCommand hides the passphrase and nothing else', () => {
  const c = parseCurlArgs(['--cert', 'c.p12:hunter2', 'u']);
  const r = redactCurlCommand(c);
  assert.deepEqual(r.passphrase, { value: '***', from: '--cert' });
  assert.ok(!JSON.stringify(r).includes('hunter2'));
  assert.equal(c.passphrase?.value, 'hunter2', 'the original is untouched');
});

test('effectiveUrl: what curl does with a URL', () => {
  assert.deepEqual(effectiveUrl('https://x.test:8443/p'), {
    url: 'https://x.test:8443/p',
    scheme: 'https',
    guessed: false,
    host: 'x.test',
    port: 8443,
  });
  assert.deepEqual(effectiveUrl('x.test/p'), {
    url: 'http://x.test/p',
    scheme: 'http',
    guessed: true,
    host: 'x.test',
    port: 80,
  });
  assert.equal(effectiveUrl('ftp.x.test').scheme, 'ftp');
  assert.equal(effectiveUrl('HTTPS://[::1]/').host, '::1');
  assert.equal(effectiveUrl('https://[::1]/').port, 443);
});

test('the option table: every short letter names a long option, and the common value-taking ones are there', () => {
  for (const [letter, name] of Object.entries(SHORT)) assert.ok(LONG.has(name), `-${letter} -> --${name}`);
  for (const name of [
    'cert',
    'key',
    'pass',
    'cacert',
    'capath',
    'resolve',
    'connect-to',
    'header',
    'data',
    'output',
    'write-out',
    'user',
    'request',
    'max-time',
    'proxy',
    'json',
    'url-query',
    'variable',
    'config',
  ]) {
    assert.equal(LONG.get(name), 'value', name);
  }
  for (const name of ['insecure', 'verbose', 'silent', 'fail', 'location', 'compressed'])
    assert.equal(LONG.get(name), 'bool', name);
});

test('parse: the word after a misspelt --password is not taken for a URL (it is never shown)', () => {
  const c = parseCurlArgs(['--password', 'hunter2', '--cert', 'c.pem', 'https://x.test/']);
  assert.deepEqual(c.unknown, ['--password']);
  assert.deepEqual(c.urls, ['https://x.test/']);
  assert.ok(!JSON.stringify(c).includes('hunter2'));
});

test('parse: the credential after an ambiguous --us/--use (--user?) or a misspelt --usr is not taken for a URL', () => {
  for (const opt of ['--us', '--use', '--usr', '--proxy-usr']) {
    const c = parseCurlArgs([opt, 'bob:hunter2', '--cert', 'c.pem', 'https://x.test/']);
    assert.deepEqual(c.unknown, [opt], opt);
    assert.deepEqual(c.urls, ['https://x.test/'], opt);
    assert.ok(!JSON.stringify(c).includes('hunter2'), opt);
  }
  // A URL right after such an option stays a URL.
  assert.deepEqual(parseCurlArgs(['--us', 'https://x.test/']).urls, ['https://x.test/']);
});

test("parse: a PKCS#11 URI's pin-value (RFC 7512) in --cert or --key is masked, the rest kept", () => {
  const c = parseCurlArgs([
    '--cert',
    'pkcs11:token=t;object=o?pin-value=12%3434',
    '--key',
    'pkcs11:object=o;type=private?module-name=m&pin-value=9876',
    'https://x.test/',
  ]);
  assert.equal(c.cert, 'pkcs11:token=t;object=o?pin-value=***');
  assert.equal(c.key, 'pkcs11:object=o;type=private?module-name=m&pin-value=***');
  assert.ok(!JSON.stringify(c).includes('9876') && !JSON.stringify(c).includes('%3434'));
});
