/**
 * Inputs the fuzzer (or its seed corpus) found to break something, kept as plain tests so the fix stays fixed.
 * Each names what was wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { issue } from '../../src/pki/generate.js';
import { MAX_PROBLEMS, loadBytes } from '../../src/pki/load.js';
import { parseCert } from '../../src/pki/cert.js';
import { toPem } from '../../src/pki/pem.js';
import { truststoreFromPem } from '../../src/trust/load.js';
import { parseConfig } from '../../src/gateway/config.js';
import { isUserError } from '../../src/errors.js';
import { bufferIo } from '../helpers/io.js';
import { tmpDir } from '../helpers/pki.js';

/** A real certificate whose notBefore (index 0) or notAfter (1) UTCTime has a letter for a digit. */
async function badTimeCert(which: 0 | 1): Promise<Buffer> {
  const der = Buffer.from((await issue({ subject: 'CN=bad time' })).der);
  let at = -1;
  for (let i = 0; i <= which; i++) at = der.indexOf(Buffer.from([0x17, 0x0d]), at + 1); // UTCTime, 13 octets
  assert.ok(at > 0);
  der[at + 2 + 3] = 0x78; // 'x' in the month: YYMxDD...
  return der;
}

test('cert: a malformed validity time is a parse problem, not a RangeError from describeCert (found in vectors x509/badasn1time.pem)', async () => {
  for (const which of [0, 1] as const) {
    const der = await badTimeCert(which);
    const x = new X509Certificate(der); // OpenSSL itself parses it...
    assert.equal(which === 0 ? x.validFrom : x.validTo, 'Bad time value');
    assert.throws(
      () => parseCert(der),
      /not a valid x\.509 certificate: a validity date \(notbefore or notafter\) is malformed/,
    );
    const f = loadBytes(Buffer.from(toPem('CERTIFICATE', der)), 'bad-time.pem');
    assert.equal(f.certs.length, 0);
    assert.deepEqual(
      f.problems.map((p) => p.kind),
      ['cert-parse-error'],
    );
    const ts = truststoreFromPem(toPem('CERTIFICATE', der), 'bad-time.pem'); // threw from makeTruststore
    assert.ok(ts.findings.some((fd) => fd.id === 'truststore.parse-error'));
  }
  // ...and the CLI said "internal error" with a stack trace, exit 3.
  const file = join(tmpDir(), 'bad-time.pem');
  writeFileSync(file, toPem('CERTIFICATE', await badTimeCert(1)));
  for (const argv of [
    ['inspect', file],
    ['inspect', '--json', file],
    ['truststore', 'lint', '--json', file],
  ]) {
    const b = bufferIo({ NO_COLOR: '1' });
    const code = await main(argv, b.io);
    assert.ok(code === 1 || code === 2, `${argv.join(' ')}: exit ${code}`);
    assert.doesNotMatch(b.out() + b.err(), /\n\s+at |RangeError|internal error/);
  }
});

test("config: YAML errors cost linear time (yaml prettyErrors made 400 kB of bad aliases take 15 s: the fuzzer's hang) and keep their line and column", () => {
  const errorOf = (text: string): string => {
    try {
      parseConfig(text, '/etc/mtlsgate/gw.yaml');
    } catch (e) {
      assert.ok(isUserError(e), String(e));
      return e.message;
    }
    assert.fail('no error');
  };
  const hostile = (n: number): string => '<<: *a<<: *abasePath:'.repeat(n); // the fuzzer's input: 400 kB at 19,000
  const growth = tenfoldGrowth(
    () => errorOf(hostile(1_900)),
    () => errorOf(hostile(19_000)),
  );
  assert.ok(growth < 40, `ten times the input took ${growth.toFixed(1)} times as long (linear: ~10, quadratic: ~100)`);
  const msg = errorOf(hostile(19_000));
  assert.match(msg, /^\/etc\/mtlsgate\/gw\.yaml: not valid YAML: .+ at line 1, column \d+$/);
  // Positions as yaml's prettyErrors gave them (1-based line and column).
  assert.match(errorOf('a: [1, 2\nb: 3'), /at line 2, column 1$/);
  assert.match(errorOf('"abc'), /Missing closing "quote at line 1, column 5$/);
  assert.match(errorOf('listen: {}\nlisten: {}\n'), /Map keys must be unique at line 2, column 1$/);
  assert.match(errorOf('\n\n  x: [\n'), /at line \d+, column \d+$/);
});

test('config: an unknown key holding a newline or ESC gives a one-line error (the key was printed raw: a two-line message, or terminal escapes)', () => {
  for (const [text, file, shown] of [
    ['{"domains": [], "a\\nb": 1}', 'gw.json', 'a\\x0ab'],
    ['"a\\nb": 1\ndomains: []\n', 'gw.yaml', 'a\\x0ab'],
    ['timeouts: { "x\\u001b[31m": 1 }\ndomains: []\n', 'gw.yaml', 'timeouts.x\\x1b[31m'],
  ] as const) {
    let msg = '';
    try {
      parseConfig(text, file);
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /unknown key/);
    assert.doesNotMatch(msg, /[\x00-\x1f]/, JSON.stringify(msg));
    assert.ok(msg.includes(`${shown}: unknown key`), msg);
  }
});

test('config: deeply nested YAML is refused before yaml recurses; the second parse of ~1,000 nested [ used to abort the process (V8 "RegExpCompiler Allocation failed"), i.e. the second reload of such a config killed the gateway', () => {
  // In a child process: the old failure was a fatal abort, which would take this test file down with it.
  const script = join(tmpDir(), 'deep-yaml.ts');
  writeFileSync(
    script,
    `import { parseConfig } from ${JSON.stringify(new URL('../../src/gateway/config.ts', import.meta.url).pathname)};\n` +
      `for (const text of ['['.repeat(1000), '{'.repeat(5000), '['.repeat(100000), '- '.repeat(5000) + 'x', '{'.repeat(5000)]) {\n` +
      `  try { parseConfig(text, 'gw.yaml'); } catch (e) { console.log((e as Error).message); }\n}\n`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr.slice(0, 500));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 5, r.stdout);
  for (const l of lines) assert.equal(l, 'gw.yaml: not valid YAML: collections nested more than 64 levels deep');
  // A real config nests 5 deep; 64 leaves plenty of room.
  assert.doesNotThrow(() =>
    parseConfig(
      'domains:\n  - domainName: a.test\n    certificate: { cert: s.crt, key: s.key }\n    mutualTls: { truststoreUri: "file://ts.pem" }\n    basePathMappings: [{ basePath: x, target: "http://127.0.0.1:1" }]\n',
      'gw.yaml',
    ),
  );
});

test("config: a YAML mapping of 30,000 keys is refused in linear time (yaml's duplicate-key check is quadratic: 32,000 keys took 10 s, the 1 MiB cap minutes)", () => {
  const keys = (n: number, sep: string): string => Array.from({ length: n }, (_, i) => `k${i}: 1`).join(sep);
  const refused = (text: string) => (): void =>
    assert.throws(
      () => parseConfig(text, 'gw.yaml'),
      (e: unknown) => isUserError(e) && e.message === 'gw.yaml: not valid YAML: a mapping with more than 1000 keys',
    );
  for (const [small, big] of [
    [keys(3_000, '\n'), keys(30_000, '\n')],
    [`{${keys(3_000, ', ')}}`, `{${keys(30_000, ', ')}}`],
    [`domains:\n  - ${keys(3_000, '\n    ')}\n`, `domains:\n  - ${keys(30_000, '\n    ')}\n`],
  ] as const) {
    const growth = tenfoldGrowth(refused(small), refused(big));
    assert.ok(growth < 40, `ten times the keys took ${growth.toFixed(1)} times as long (linear: ~10, quadratic: ~100)`);
  }
  // Up to the limit yaml still reads it, and the schema names the first unknown key.
  assert.throws(() => parseConfig(keys(1000, '\n'), 'gw.yaml'), /gw\.yaml: k0: unknown key/);
  // Sequences are not mappings: a long list of domains is not refused for its length.
  assert.throws(() => parseConfig(`domains:\n${'  - 1\n'.repeat(5000)}`, 'gw.yaml'), /domains\[0\]: expected object/);
});

test('load: 350,000 broken PEM blocks give 100 problems and a count, not 350,000 (2 GB and seconds per command in truststore lint and doctor)', () => {
  const text = '-----BEGIN CERTIFICATE-----\n'.repeat(350_000);
  const f = loadBytes(Buffer.from(text), 'begins.pem');
  assert.equal(f.problems.length, MAX_PROBLEMS + 1);
  assert.deepEqual(f.problems[MAX_PROBLEMS], {
    kind: 'cert-parse-error',
    message: `${350_000 - MAX_PROBLEMS} more unreadable blocks, not listed one by one`,
  });
  const ts = truststoreFromPem(text, 'begins.pem');
  assert.ok(ts.findings.length <= MAX_PROBLEMS + 2, `${ts.findings.length} findings`);
  // Up to the limit every problem is listed.
  assert.equal(
    loadBytes(Buffer.from('-----BEGIN CERTIFICATE-----\n'.repeat(MAX_PROBLEMS)), 'x.pem').problems.length,
    MAX_PROBLEMS,
  );
});

/** A PKCS#12 without MAC whose `parts` encrypted parts each ask for `iterations` PKCS#12-KDF iterations (3DES). */
/** A PKCS#12 file of encrypted parts (contents never decrypted), one per iteration count given. */
function costlyPkcs12(iterationsPerPart: number[]): Buffer {
  const tlv = (tag: number, ...content: Buffer[]): Buffer => {
    const body = Buffer.concat(content);
    const n = body.length;
    const len =
      n < 0x80
        ? [n]
        : n < 0x100
          ? [0x81, n]
          : n < 0x10000
            ? [0x82, n >> 8, n & 0xff]
            : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    return Buffer.concat([Buffer.from([tag, ...len]), body]);
  };
  const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
  const int = (v: number): Buffer => tlv(0x02, Buffer.from(v.toString(16).padStart(8, '0'), 'hex'));
  const part = (iterations: number): Buffer => {
    const alg = tlv(0x30, oid('2a864886f70d010c0103'), tlv(0x30, tlv(0x04, Buffer.alloc(8, 1)), int(iterations)));
    const encrypted = tlv(
      0x30,
      int(0),
      tlv(0x30, oid('2a864886f70d010701'), alg, Buffer.from([0x80, 16, ...Buffer.alloc(16, 7)])),
    );
    return tlv(0x30, oid('2a864886f70d010706'), tlv(0xa0, encrypted));
  };
  return tlv(
    0x30,
    int(3),
    tlv(0x30, oid('2a864886f70d010701'), tlv(0xa0, tlv(0x04, tlv(0x30, ...iterationsPerPart.map(part))))),
  );
}

test('pkcs12: the key derivation cap is per file, not per part (8 kB of 100 parts at 1,000,000 iterations each ran for minutes: seconds per part)', () => {
  // A cheap first part, then 99 at the per-derivation limit: each alone is allowed, together far over.
  const f = loadBytes(costlyPkcs12([1_000, ...Array<number>(99).fill(1_000_000)]), 'costly.p12');
  assert.equal(f.format, 'pkcs12');
  assert.ok(
    f.problems.some(
      (p) =>
        p.message ===
        'encrypted part 1 asks for 1000000 key derivation iterations (1001000 in all, over the 1000000 a file may use); not tried',
    ),
    f.problems.map((p) => p.message).join('\n'),
  );
  assert.equal(
    f.problems.filter((p) => /key derivation iterations/.test(p.message)).length,
    1,
    'one problem, not one per part',
  );
  assert.equal(f.pkcs12?.nodeLoads, false);
  assert.equal(f.pkcs12?.kdfIterations, 1_000, 'only the first part was derived');
});

test('config: a parse error quotes at most 200 characters of the offending token (yaml quoted all of it: one-line errors of 200 kB)', () => {
  for (const text of ['*a'.repeat(30_000), '| ..'.repeat(50_000), '{"a": ' + 'x'.repeat(100_000)]) {
    for (const file of ['gw.yaml', 'gw.json']) {
      let msg = '';
      try {
        parseConfig(text, file);
      } catch (e) {
        msg = (e as Error).message;
      }
      assert.match(msg, /^gw\.(yaml|json): /);
      assert.ok(msg.length < 320, `${msg.length} characters: ${msg.slice(0, 120)}`);
    }
  }
  // Short messages are whole.
  assert.throws(
    () => parseConfig('a: [1, 2\nb: 3', 'gw.yaml'),
    /^UserError: gw\.yaml: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \] at line 2, column 1$/,
  );
});

test('config: a JSON parse error quoting a CR or ESC from the file shows it as \\xNN (V8 quotes the text around the error: a raw CR rewrote the line on a terminal)', () => {
  for (const bad of ['{"a": [1,\r x]}', '{"a": x\x1b[2J}']) {
    let msg = '';
    try {
      parseConfig(bad, 'gw.json');
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /^gw\.json: not valid JSON: /);
    assert.doesNotMatch(msg, /[\x00-\x1f]/, JSON.stringify(msg));
    assert.match(msg, /\\x(0d|1b)/);
  }
});

test('config: an unknown key of 200 kB (a YAML complex key) is cut to 100 characters in the error (it was quoted whole)', () => {
  for (const text of ['? ' + 'timeouts:,kLEI-? '.repeat(12_000) + '\n', `"${'k'.repeat(200_000)}": 1\ndomains: []\n`]) {
    let msg = '';
    try {
      parseConfig(text, 'gw.yaml');
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.match(msg, /^gw\.yaml: /);
    assert.ok(msg.length < 300, `${msg.length} characters: ${msg.slice(0, 150)}`);
  }
  assert.throws(
    () => parseConfig(`${'k'.repeat(100)}: 1\ndomains: []\n`, 'gw.yaml'),
    new RegExp(`gw\\.yaml: ${'k'.repeat(100)}: unknown key`),
  );
});

/**
 * How many times longer `big` (ten times the input of `small`) takes: ~10 for linear work, ~100 for quadratic. A ratio
 * of two runs on the same machine, each the fastest of three, holds on busy cores where a wall-clock bound does not.
 */
function tenfoldGrowth(small: () => unknown, big: () => unknown): number {
  const fastest = (f: () => unknown): number => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      f();
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  return fastest(big) / Math.max(fastest(small), 0.05);
}
