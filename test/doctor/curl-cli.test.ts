/**
 * `mtlsgate doctor curl` as a command: options before `--`, --line and stdin, usage errors (exit 2), exit 0/1, JSON,
 * and above all: a passphrase given to curl is never printed, in any output.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { testPki, tmpDir, type TestPki } from '../helpers/pki.js';

const SECRET = 'Sup3r-S3cret pass';
let pki: TestPki;
let dir = '';

before(async () => {
  pki = await testPki();
  dir = tmpDir();
  const key = createPrivateKey(readFileSync(pki.clientKey, 'utf8'));
  writeFileSync(
    join(dir, 'enc.key'),
    key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: SECRET }),
    { mode: 0o600 },
  );
  execFileSync('openssl', [
    'pkcs12',
    '-export',
    '-in',
    pki.clientCert,
    '-inkey',
    pki.clientKey,
    '-passout',
    `pass:${SECRET}`,
    '-out',
    join(dir, 'client.p12'),
  ]);
});

function assertNoSecret(r: { out: string; err: string }): void {
  assert.ok(!r.out.includes(SECRET) && !r.err.includes(SECRET), 'the passphrase was printed');
  assert.ok(!r.out.includes('S3cret') && !r.err.includes('S3cret'), 'part of the passphrase was printed');
}

test('the passphrase is never printed: --cert file:PASS and --pass, text and JSON, argv and --line, right and wrong', async () => {
  const p12 = join(dir, 'client.p12');
  const enc = join(dir, 'enc.key');
  const runs: string[][] = [
    ['doctor', 'curl', '--no-live', '--', '--cert-type', 'P12', '--cert', `${p12}:${SECRET}`, 'https://x.test/'],
    [
      'doctor',
      'curl',
      '--no-live',
      '--json',
      '--',
      '--cert-type',
      'P12',
      '--cert',
      `${p12}:${SECRET}`,
      'https://x.test/',
    ],
    [
      'doctor',
      'curl',
      '--no-live',
      '--truststore',
      pki.truststore,
      '--',
      '--cert',
      pki.clientCert,
      '--key',
      enc,
      '--pass',
      SECRET,
      'https://x.test/',
    ],
    [
      'doctor',
      'curl',
      '--no-live',
      '--json',
      '--truststore',
      pki.truststore,
      '--',
      '--cert',
      pki.clientCert,
      '--key',
      enc,
      '--pass',
      `${SECRET}x`,
      'https://x.test/',
    ],
    [
      'doctor',
      'curl',
      '--no-live',
      '--line',
      `curl --cert-type P12 --cert '${p12}:${SECRET}' --pass "${SECRET}" https://x.test/`,
    ],
    ['doctor', 'curl', '--no-live', '--json', '--line', `curl -E '${p12}:${SECRET}' https://x.test/`],
    // live, to a closed port: the probe's findings and evidence must not carry it either
    [
      'doctor',
      'curl',
      '--json',
      '--timeout',
      '3',
      '--',
      '--cert-type',
      'P12',
      '--cert',
      `${p12}:${SECRET}`,
      'https://127.0.0.1:1/',
    ],
  ];
  for (const args of runs) {
    const r = await cli(args);
    assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: exit ${r.code} ${r.err}`);
    assertNoSecret(r);
    if (args.includes('--json')) {
      const j = JSON.parse(r.out) as { curl: { passphrase: { value: string } | null } };
      assert.equal(j.curl.passphrase?.value, '***');
    }
  }
});

test('--json and --truststore may come before --, and give the offline verdict', async () => {
  const r = await cli([
    'doctor',
    'curl',
    '--json',
    '--no-live',
    '--truststore',
    pki.truststore,
    '--',
    '--cert',
    pki.clientCert,
    '--key',
    pki.clientKey,
    'https://x.test/',
  ]);
  assert.equal(r.code, 0, r.err + r.out);
  const j = JSON.parse(r.out) as {
    verdict: { accepted: boolean; source: string };
    findings: Array<{ id: string; severity: string }>;
    live: unknown;
    curl: { cert: string };
  };
  assert.deepEqual(Object.keys(j), ['curl', 'error', 'verdict', 'findings', 'live', 'liveSkipped']);
  assert.equal(j.verdict.accepted, true);
  assert.equal(j.verdict.source, 'handshake');
  assert.equal(j.curl.cert, pki.clientCert);
  assert.deepEqual(
    j.findings.filter((f) => f.severity === 'error'),
    [],
  );
  assert.equal(j.live, null);
});

test('a leading curl after -- is the program word, not a URL', async () => {
  const r = await cli(['doctor', 'curl', '--no-live', '--json', '--', 'curl', '-k', 'https://x.test/']);
  const j = JSON.parse(r.out) as { curl: { program: string; insecure: boolean; urls: string[] } };
  assert.deepEqual([j.curl.program, j.curl.insecure, j.curl.urls], ['curl', true, ['https://x.test/']]);
});

test('a whole curl command pasted as one argument is read as --line reads it, and the report says so', async () => {
  const line = `curl https://x.test/ --cert ${pki.clientCert} --key ${pki.clientKey}`;
  for (const args of [[line], [`  ${line}  `], [`--cert ${pki.clientCert} --key ${pki.clientKey} https://x.test/`]]) {
    const r = await cli(['doctor', 'curl', '--no-live', '--json', '--truststore', pki.truststore, '--', ...args]);
    assert.equal(r.code, 0, r.err + r.out);
    const j = JSON.parse(r.out) as {
      curl: { urls: string[]; cert: string; key: string; notes: string[] };
      verdict: { accepted: boolean };
    };
    assert.deepEqual(j.curl.urls, ['https://x.test/'], args[0]);
    assert.equal(j.curl.cert, pki.clientCert);
    assert.equal(j.curl.key, pki.clientKey);
    assert.equal(j.verdict.accepted, true);
    assert.ok(
      j.curl.notes.some((n) => /whole command line.*read as --line/.test(n)),
      j.curl.notes.join('|'),
    );
  }
  // A plain URL, and a URL as its own argument after options, are not command lines.
  const plain = await cli(['doctor', 'curl', '--no-live', '--json', '--', 'https://x.test/a b']);
  const p = JSON.parse(plain.out) as { curl: { notes: string[] } };
  assert.ok(!p.curl.notes.some((n) => /whole command line/.test(n)));
});

test("--line - reads the command from stdin; curl's error pasted after it is used", async () => {
  const pasted = `$ curl -sS --cert ${pki.clientCert} \\\n    --key ${join(dir, 'enc.key')} https://x.test/\nEnter PEM pass phrase:\ncurl: (58) unable to set private key file: '${join(dir, 'enc.key')}' type PEM\n`;
  const r = await cli(['doctor', 'curl', '--no-live', '--json', '--line', '-'], { stdin: pasted });
  assert.equal(r.code, 1, r.err);
  const j = JSON.parse(r.out) as {
    error: { exitCode: number };
    findings: Array<{ id: string }>;
    curl: { notes: string[] };
  };
  assert.equal(j.error.exitCode, 58);
  assert.deepEqual(
    j.findings.slice(0, 2).map((f) => f.id),
    ['curl.key-not-loaded', 'curl.pass-missing'],
  );
  assert.ok(j.curl.notes.some((n) => /pasted after the command/.test(n)));
});

test("text output: the command as curl reads it, curl's error, then the findings", async () => {
  const r = await cli([
    'doctor',
    'curl',
    '--no-live',
    '--error',
    'curl: (6) Could not resolve host: mtls.example.invalid',
    '--',
    '-sk',
    '--cert',
    pki.clientCert,
    '--key',
    pki.clientKey,
    'https://mtls.example.invalid/',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.out, /^curl command, as curl reads it\n {2}URL +https:\/\/mtls\.example\.invalid\/ {2}GET\n/);
  assert.match(r.out, /\n {2}server CA +not checked \(-k\)\n/);
  assert.match(r.out, /\n {2}ignored +-s\n/);
  assert.match(r.out, /\n {2}curl said +\(6\) Could not resolve host: mtls\.example\.invalid\n/);
  assert.match(r.out, /\[curl\.cannot-resolve\]/);
  assert.match(r.out, /\[curl\.insecure\]/);
  assert.match(r.out, /Live probe not run: --no-live/);
});

test('usage errors exit 2 with one line', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['doctor', 'curl'], /give curl's arguments after --/],
    [['doctor', 'curl', '--line', "curl --cert 'c.pem https://x.test/"], /unterminated single quote/],
    [['doctor', 'curl', '--line', 'wget https://x.test/'], /does not start with curl/],
    [
      ['doctor', 'curl', '--line', 'curl https://x.test/', '--', '-k', 'https://x.test/'],
      /either after -- or with --line/,
    ],
    [['doctor', 'curl', '--exit-code', 'abc', '--', 'https://x.test/'], /--exit-code: "abc"/],
    ...['1e2', '0x3a', ' 58', '58 ', '', '-0', '+58', '58.0', '256', '9'.repeat(400)].map((n): [string[], RegExp] => [
      ['doctor', 'curl', '--exit-code', n, '--', 'https://x.test/'],
      /--exit-code: ".*" is not an exit code \(0-255\)/,
    ]),
    [['doctor', 'curl', '--timeout', '0', '--', 'https://x.test/'], /--timeout/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});

test("without --, curl options after `doctor curl` are still read as curl's (doctor has positional options)", async () => {
  const r = await cli(['doctor', 'curl', '--json', '--no-live', '--cert', 'c.pem', 'https://x.test/']);
  assert.equal(r.code, 1, r.err);
  const report = JSON.parse(r.out) as { curl: { cert: unknown; urls?: unknown }; findings: { id: string }[] };
  assert.match(JSON.stringify(report.curl), /c\.pem/);
  assert.ok(report.findings.some((f) => f.id === 'cert.file-not-found'));
});

test('--help describes the command and exits 0', async () => {
  const r = await cli(['doctor', 'curl', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.out, /-- <curl arguments>/);
  assert.match(r.out, /--line <command>/);
});

test('a password in a URL or a proxy URL is never printed: text and JSON, argv and --line', async () => {
  const runs: string[][] = [
    [
      'doctor',
      'curl',
      '--no-live',
      '--',
      '-x',
      `http://pu:${SECRET}@proxy.test:3128`,
      `https://alice:${SECRET}@x.test/`,
      `http://bob:${SECRET}@y.test/`,
    ],
    [
      'doctor',
      'curl',
      '--no-live',
      '--json',
      '--',
      '--proxy',
      `pu:${SECRET}@proxy.test:3128`,
      '--url',
      `alice:${SECRET}@x.test/`,
    ],
    [
      'doctor',
      'curl',
      '--no-live',
      '--line',
      `curl -x 'http://pu:${SECRET}@proxy.test' 'https://alice:${SECRET}@x.test/'`,
    ],
    ['doctor', 'curl', '--json', '--timeout', '3', '--', `https://alice:${SECRET}@127.0.0.1:1/`],
  ];
  for (const args of runs) {
    const r = await cli(args);
    assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')}: exit ${r.code} ${r.err}`);
    assertNoSecret(r);
    assert.match(r.out, /alice:\*\*\*@/, 'the user name stays, the password is masked');
  }
});

test('a huge pasted line (250,000 redirections, assignments, %VARS%, URLs or unknown options) gives a short report, not a stack overflow', async () => {
  const lines = [
    'curl ' + '2>x '.repeat(250_000) + 'https://x.test/',
    'A=b '.repeat(250_000) + 'curl https://x.test/',
    'curl.exe ' + '%a% '.repeat(250_000) + 'https://x.test/',
    'curl https://x.test/ ' + 'a '.repeat(250_000),
    'curl https://x.test/ ' + '--zz '.repeat(200_000),
  ];
  for (const line of lines) {
    for (const json of [false, true]) {
      const r = await cli(['doctor', 'curl', '--no-live', ...(json ? ['--json'] : []), '--line', '-'], { stdin: line });
      assert.ok(r.code === 0 || r.code === 1, `${line.slice(0, 30)}: exit ${r.code} ${r.err.slice(0, 300)}`);
      // The JSON lists every URL in curl.urls; the text report is bounded.
      if (json) assert.ok(JSON.parse(r.out) && r.out.length < 20 * line.length, `--json: ${r.out.length} bytes`);
      else
        assert.ok(
          r.out.split('\n').length < 400 && r.out.length < 100_000,
          `${line.slice(0, 30)}: ${r.out.split('\n').length} lines, ${r.out.length} bytes`,
        );
    }
  }
});

test("text pasted after the command (1 MiB of blank lines) is searched for curl's error in linear time", () => {
  // A catastrophic regular expression cannot be interrupted from inside this process: run it in a child.
  const script = [
    `import { runCurlDoctor } from ${JSON.stringify(new URL('../../src/doctor/curl/run.ts', import.meta.url).href)};`,
    `const r = await runCurlDoctor({ line: 'curl https://x.test/\\na' + ' \\n'.repeat(500_000) + 'x\\ncurl: (58) bad', live: false });`,
    `process.stdout.write(String(r.error?.exitCode));`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(r.signal, null, `still searching after 15 s (killed by ${r.signal})`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '58', 'the error after the blank lines is still found');
});

test('--exit-code takes a plain decimal 0-255', async () => {
  for (const [given, code] of [
    ['0', 0],
    ['58', 58],
    ['058', 58],
    ['255', 255],
  ] as const) {
    const r = await cli(['doctor', 'curl', '--json', '--no-live', '--exit-code', given, '--', 'https://x.test/']);
    assert.notEqual(r.code, 2, `${given}: ${r.err}`);
    assert.equal((JSON.parse(r.out) as { error: { exitCode: number } }).error.exitCode, code, given);
  }
});
