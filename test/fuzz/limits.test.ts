/**
 * Resource limits with real files: 100,000 nested ASN.1 SEQUENCE headers (DER and BER, bare, as a certificate,
 * a PKCS#7 and a PKCS#12), a 100 MB file, 100,000 certificates in one bundle, a PEM line of 10 MB, /dev/zero.
 * Each goes through inspect, inspect --json, truststore lint (text and --json) and doctor (as the client
 * certificate and as the truststore), in a child process bounded by a timeout: every command must end with
 * findings or a one-line error naming the file, exit 0-2 (never 3, the internal error), print no stack text,
 * and stay within its CPU and memory bounds.
 *
 * The 100,000-certificate bundle is refused by the loader's 10 MiB read cap (100,000 certificates cannot fit in
 * 10 MiB: even a 300-byte certificate is 43 MB as PEM), before it is read; the largest bundle under the cap
 * (~14,000 copies of one certificate) loads and lints within the bound stated below.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_PROBLEMS, loadBytes } from '../../src/pki/load.js';
import { toPem } from '../../src/pki/pem.js';
import { truststoreFromPem } from '../../src/trust/load.js';
import { DEFAULT_MAX_BYTES } from '../../src/pki/read.js';
import { testPki, tmpDir } from '../helpers/pki.js';
import type { ChildLine, CliRun } from './cli-child.js';

const CHILD = fileURLToPath(new URL('./cli-child.ts', import.meta.url));
const NEST = 100_000;

/** Bounds, per command: CPU seconds and the child's peak memory. */
const CPU_BOUND_MS = 15_000;
const RSS_BOUND_MB = 1536;
/** The largest bundle under the read cap loads and lints within this much CPU. */
const BIG_BUNDLE_CPU_MS = 30_000;

/** `depth` SEQUENCE headers around a NULL, definite lengths (built inside out). */
function nestedDer(depth: number): Buffer {
  const headers: Buffer[] = [];
  let len = 2;
  for (let i = 0; i < depth; i++) {
    const h =
      len < 0x80
        ? Buffer.from([0x30, len])
        : len < 0x100
          ? Buffer.from([0x30, 0x81, len])
          : len < 0x10000
            ? Buffer.from([0x30, 0x82, len >> 8, len & 0xff])
            : Buffer.from([0x30, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
    headers.push(h);
    len += h.length;
  }
  return Buffer.concat([...headers.reverse(), Buffer.from([0x05, 0x00])]);
}

/** The same with BER indefinite lengths: 30 80 ... 00 00. */
function nestedBer(depth: number): Buffer {
  return Buffer.concat([
    Buffer.alloc(depth * 2, Buffer.from([0x30, 0x80])),
    Buffer.from([0x05, 0x00]),
    Buffer.alloc(depth * 2, 0),
  ]);
}

/** A PFX (version 3, authSafe pkcs7-data) whose content is the nested BER: sniffed as PKCS#12, parsed by asn1js. */
function nestedPkcs12(depth: number): Buffer {
  const head = Buffer.from('3080020103308006092a864886f70d010701a080', 'hex');
  return Buffer.concat([head, nestedBer(depth), Buffer.alloc(6, 0)]);
}

/** A PKCS#7 SignedData whose certificates field holds the nesting. */
function nestedPkcs7(depth: number): Buffer {
  const head = Buffer.from(
    '308006092a864886f70d010702a0803080020101310030800609' + '2a864886f70d0107010000' + 'a080',
    'hex',
  );
  return Buffer.concat([head, nestedBer(depth), Buffer.alloc(10, 0)]);
}

interface Case {
  name: string;
  /** Cases of a group share one child process (start-up is most of a small case's cost). */
  group: string;
  /** The commands to run on the file; default: all six (see commands()). */
  only?: (path: string) => string[][];
  /** Written once; the path is what the commands get. */
  make: (dir: string) => string;
  /** What must be true of the file's commands beyond the common checks. */
  expect?: (runs: CliRun[], path: string) => void;
  cpuBoundMs?: number;
}

interface ChildResult {
  runs: CliRun[];
  maxRssMb: number;
}

/**
 * Runs the commands in one child process; rejects on a hang (120 s) or a death, naming the command that was running.
 */
async function runChild(commands: string[][]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(commands)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    const lines = (): ChildLine[] =>
      Buffer.concat(out)
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ChildLine);
    const running = (): string => {
      const starts = lines().filter((l): l is { start: number } => 'start' in l);
      const last = starts[starts.length - 1];
      return last ? commands[last.start]!.join(' ').slice(0, 300) : '(start-up)';
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hang: no result within 120 s; running: ${running()}`));
    }, 120_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0)
        return reject(new Error(`the child died (${signal ?? `exit ${code}`}) running ${running()}: ${err}`));
      const all = lines();
      const runs = all.flatMap((l) => ('run' in l ? [l.run] : []));
      const rss = all.find((l): l is { maxRssMb: number } => 'maxRssMb' in l);
      resolve({ runs, maxRssMb: rss?.maxRssMb ?? -1 });
    });
  });
}

/** The checks every command on every hostile file must pass. */
function common(r: CliRun, path: string, cpuBoundMs: number): void {
  const what = `${r.argv.join(' ').slice(0, 200)}`;
  assert.ok(r.code >= 0 && r.code <= 2, `${what}: exit ${r.code} (3 is an internal error)\n${r.err.slice(0, 2000)}`);
  assert.equal(r.stack, null, `${what}: stack-trace text (${r.stack}) in the output\n${r.err.slice(0, 2000)}`);
  for (const line of r.err.split('\n').filter(Boolean)) {
    assert.match(line, /^mtlsgate: /, `${what}: stderr line not from mtlsgate: ${line.slice(0, 300)}`);
    assert.ok(line.length < 1000, `${what}: stderr line of ${line.length} characters`);
  }
  // Findings or a one-line error: either way the file is named.
  const name = basename(path);
  assert.ok(
    r.out.includes(name) || r.err.includes(name),
    `${what}: neither the output nor an error names ${name}\nstdout: ${r.out.slice(0, 500)}\nstderr: ${r.err.slice(0, 500)}`,
  );
  assert.ok(r.cpuMs < cpuBoundMs, `${what}: ${Math.round(r.cpuMs)} ms of CPU (bound ${cpuBoundMs} ms)`);
}

const pki = await testPki();
const dir = tmpDir();
const certPem = readFileSync(pki.clientCert, 'utf8');
const oneCert = certPem.slice(0, certPem.indexOf('-----END CERTIFICATE-----') + 26);
const copiesUnderCap = Math.floor((DEFAULT_MAX_BYTES - 1) / oneCert.length);

const CASES: Case[] = [
  {
    group: 'small',
    name: `${NEST} nested SEQUENCE headers, DER`,
    make: (d) => write(d, 'nested.der', nestedDer(NEST)),
  },
  {
    group: 'small',
    name: `${NEST} nested SEQUENCE headers, BER indefinite lengths`,
    make: (d) => write(d, 'nested-ber.der', nestedBer(NEST)),
  },
  {
    group: 'small',
    name: `${NEST} nested SEQUENCEs as a PEM CERTIFICATE`,
    make: (d) => write(d, 'nested-cert.pem', toPem('CERTIFICATE', nestedDer(NEST))),
  },
  {
    group: 'small',
    name: `${NEST} nested SEQUENCEs in a PKCS#12`,
    make: (d) => write(d, 'nested.p12', nestedPkcs12(NEST)),
  },
  {
    group: 'small',
    name: `${NEST} nested SEQUENCEs in a PKCS#7 (DER)`,
    make: (d) => write(d, 'nested.p7b', nestedPkcs7(NEST)),
  },
  {
    group: 'small',
    name: `${NEST} nested SEQUENCEs in a PEM PKCS7 block`,
    make: (d) => write(d, 'nested-p7.pem', toPem('PKCS7', nestedPkcs7(NEST))),
  },
  {
    group: 'small',
    name: 'a 100 MB file: refused by the read cap from its size, without reading it',
    make: (d) => {
      const p = join(d, 'huge-100MB.pem');
      const fd = openSync(p, 'w');
      ftruncateSync(fd, 100 * 1024 * 1024);
      closeSync(fd);
      return p;
    },
    expect: (runs) => {
      for (const r of runs) {
        assert.match(r.out + r.err, /larger than the 10 MiB read cap \(100 MiB\)/, r.argv.join(' '));
        if (r.readBytes !== null)
          assert.ok(
            r.readBytes < 1024 * 1024,
            `${r.argv.join(' ')}: read ${r.readBytes} bytes of a file refused from its size`,
          );
        assert.ok(r.wallMs < 5000, `${r.argv.join(' ')}: ${Math.round(r.wallMs)} ms to refuse a file from its size`);
      }
    },
  },
  {
    group: 'small',
    name: '100,000 certificates in one bundle (one PEM block repeated): refused by the 10 MiB read cap, one line',
    make: (d) => write(d, 'bundle-100k.pem', oneCert.repeat(100_000)),
    expect: (runs, path) => {
      const mib = (100_000 * oneCert.length) / 2 ** 20;
      for (const r of runs) {
        assert.ok(
          (r.out + r.err).includes(
            `larger than the 10 MiB read cap (${+mib.toFixed(1)} MiB); not a certificate or key file?`,
          ),
          `${r.argv.join(' ')}\n${r.out.slice(0, 400)}${r.err}`,
        );
        if (r.readBytes !== null)
          assert.ok(r.readBytes < 1024 * 1024, `${r.argv.join(' ')}: read ${r.readBytes} bytes`);
      }
      // inspect and truststore lint name the file in their one-line error.
      const lint = runs.find((r) => r.argv[0] === 'truststore' && !r.argv.includes('--json'))!;
      assert.equal(lint.code, 2);
      assert.equal(
        lint.err,
        `mtlsgate: ${path}: larger than the 10 MiB read cap (${+mib.toFixed(1)} MiB); not a certificate or key file?\n`,
      );
    },
  },
  {
    group: 'bundle',
    name: `the largest bundle under the read cap (${copiesUnderCap} copies of one certificate) loads and lints`,
    make: (d) => write(d, 'bundle-under-cap.pem', oneCert.repeat(copiesUnderCap)),
    only: (p) => [['truststore', 'lint', p]],
    cpuBoundMs: BIG_BUNDLE_CPU_MS,
    expect: (runs) => {
      const lint = runs.find((r) => r.argv[0] === 'truststore')!;
      assert.match(lint.out, new RegExp(`: ${copiesUnderCap} certificates \\(`), 'every copy is loaded');
      assert.ok(lint.out.includes('[truststore.duplicate]'), 'the copies are reported as duplicates');
    },
  },
  {
    group: 'lines',
    name: 'a PEM line of 10 MB (random base64 in a CERTIFICATE block)',
    make: (d) =>
      write(
        d,
        'line-10MB.pem',
        `-----BEGIN CERTIFICATE-----\n${randomBytes(7_500_000).toString('base64')}\n-----END CERTIFICATE-----\n`,
      ),
  },
  {
    group: 'lines',
    name: 'a BEGIN line of 10 MB',
    make: (d) =>
      write(d, 'label-10MB.pem', `-----BEGIN ${'A'.repeat(10_000_000)}-----\nMIIB\n-----END CERTIFICATE-----\n`),
  },
  {
    group: 'lines',
    name: 'a 10 MB line of text, no PEM at all',
    make: (d) => write(d, 'text-10MB.pem', `${'x'.repeat(10_000_000)}\n`),
  },
  {
    group: 'lines',
    name: '10 MB of BEGIN lines without END (350,000 broken blocks)',
    make: (d) => write(d, 'begins-10MB.pem', '-----BEGIN CERTIFICATE-----\n'.repeat(350_000)),
    expect: fewProblems,
  },
  {
    group: 'lines',
    name: '10 MB of blocks with broken base64 (170,000 blocks)',
    make: (d) =>
      write(d, 'badb64-10MB.pem', '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'.repeat(170_000)),
    expect: fewProblems,
  },
  {
    group: 'lines',
    name: '10 MB of blocks that decode but are not certificates (160,000 blocks)',
    make: (d) =>
      write(
        d,
        'notcert-10MB.pem',
        '-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n'.repeat(160_000),
      ),
    expect: fewProblems,
    only: (p) => [
      ['inspect', p],
      ['truststore', 'lint', p],
    ],
  },
  {
    group: 'small',
    name: '/dev/zero (endless) is refused before any read',
    make: () => '/dev/zero',
    only: (p) => [
      ['inspect', p],
      ['truststore', 'lint', p],
    ],
    expect: (runs) => {
      for (const r of runs) assert.match(r.err, /^mtlsgate: \/dev\/zero: not a regular file \(a character device\)\n$/);
    },
  },
];

/** 100,000s of broken blocks are counted, not listed one by one (src/pki/load.ts MAX_PROBLEMS). */
function fewProblems(runs: CliRun[]): void {
  for (const r of runs) {
    assert.ok(
      r.err.split('\n').length <= MAX_PROBLEMS + 2,
      `${r.argv.join(' ')}: ${r.err.split('\n').length} lines on stderr`,
    );
    // Output may grow with the input (doctor's evidence lists every PEM label), never beyond it.
    assert.ok(r.outLength < DEFAULT_MAX_BYTES, `${r.argv.join(' ')}: ${r.outLength} characters of output`);
  }
  assert.match(runs[0]!.err, /mtlsgate: \S+: \d+ more unreadable blocks, not listed one by one\n$/);
}

function write(d: string, name: string, content: string | Buffer): string {
  const p = join(d, name);
  writeFileSync(p, content);
  return p;
}

function commands(path: string): string[][] {
  return [
    ['inspect', path],
    ['inspect', '--json', path],
    ['truststore', 'lint', path],
    ['truststore', 'lint', '--json', path],
    ['doctor', '--json', '--cert', path, '--truststore', pki.truststore],
    ['doctor', '--cert', pki.clientCert, '--key', pki.clientKey, '--truststore', path],
  ];
}

/** Each group's commands run in one child; a case reads its own slice of the results. */
const groups = new Map<string, Promise<ChildResult>>();
const slices = new Map<Case, { path: string; from: number; count: number }>();
for (const c of CASES) {
  const path = c.make(dir);
  const cmds = (c.only ?? commands)(path);
  const before = CASES.filter((x) => x.group === c.group && CASES.indexOf(x) < CASES.indexOf(c)).reduce(
    (n, x) => n + slices.get(x)!.count,
    0,
  );
  slices.set(c, { path, from: before, count: cmds.length });
}
function groupResult(group: string): Promise<ChildResult> {
  let p = groups.get(group);
  if (!p) {
    const cmds = CASES.filter((c) => c.group === group).flatMap((c) => (c.only ?? commands)(slices.get(c)!.path));
    p = runChild(cmds);
    groups.set(group, p);
  }
  return p;
}

// The groups' children run side by side (at most three at a time through the test runner's concurrency).
describe('limits', { concurrency: 3 }, () => {
  for (const c of CASES) {
    test(`limits: ${c.name}`, { timeout: 150_000 }, async (t) => {
      const { path, from, count } = slices.get(c)!;
      const result = await groupResult(c.group);
      const runs = result.runs.slice(from, from + count);
      assert.equal(runs.length, count);
      t.diagnostic(
        runs.map((r) => `${r.argv.slice(0, 2).join(' ')}: exit ${r.code}, ${Math.round(r.cpuMs)} ms CPU`).join('; ') +
          `; peak rss of the group ${result.maxRssMb} MiB`,
      );
      for (const r of runs) common(r, path, c.cpuBoundMs ?? CPU_BOUND_MS);
      assert.ok(result.maxRssMb < RSS_BOUND_MB, `peak rss ${result.maxRssMb} MiB (bound ${RSS_BOUND_MB} MiB)`);
      c.expect?.(runs, path);
    });
  }
});

test('limits: an in-memory bundle (the S3 path) of 100,000 certificates is refused by the same cap', () => {
  const pem = oneCert.repeat(100_000);
  const t0 = performance.now();
  const read = truststoreFromPem(pem, 's3://bucket/truststore.pem');
  assert.ok(performance.now() - t0 < 10_000, 'a hang guard, generous for a loaded machine');
  assert.equal(read.truststore, null);
  assert.deepEqual(
    read.findings.map((f) => f.id),
    ['truststore.unreadable'],
  );
  assert.equal(
    read.findings[0]!.title,
    `s3://bucket/truststore.pem: larger than the ${DEFAULT_MAX_BYTES} byte read cap`,
  );
  assert.deepEqual(
    loadBytes(Buffer.from(pem), 'x').problems.map((p) => p.kind),
    ['too-large'],
  );
});
