/**
 * The fuzz targets: every parser mtlsgate owns or calls, each with the inputs that exercise it (mutated real
 * files, grammar fragments, random bytes) and the call that must keep the properties of check.ts. Built inside a
 * fuzz worker from the corpus the main thread made.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadBytes } from '../../src/pki/load.js';
import { parsePem, toPem } from '../../src/pki/pem.js';
import { sniffDer, sniffFormat } from '../../src/pki/sniff.js';
import { parseCert } from '../../src/pki/cert.js';
import { splitCurlCertArg } from '../../src/pki/curl-arg.js';
import { truststoreFromPem } from '../../src/trust/load.js';
import { lintTruststore } from '../../src/trust/lint.js';
import { parseConfig } from '../../src/gateway/config.js';
import { tokenize } from '../../src/doctor/curl/tokenize.js';
import { effectiveUrl, parseCurlArgs, redactCurlCommand } from '../../src/doctor/curl/parse.js';
import { runCurlDoctor } from '../../src/doctor/curl/run.js';
import { diagnose } from '../../src/doctor/diagnose.js';
import type { LoadedFile } from '../../src/pki/types.js';
import { renderFindings } from '../../src/doctor/render.js';
import { renderReport } from '../../src/doctor/render-report.js';
import { renderCurlReport } from '../../src/doctor/curl/render.js';
import type { Corpus, Seed } from './corpus.js';
import { CONFIG_OBJECT } from './corpus.js';
import {
  Violation,
  checkFindings,
  checkLoaded,
  checkMessage,
  checkRendered,
  checkText,
  outcome,
  outcomeSync,
} from './check.js';
import { applyByteEdits, byteEdit, fragmentText, mutatedBytes, mutatedText, randomBytes } from './mutate.js';

export interface Target<T = unknown> {
  name: string;
  /** What it covers, for the report. */
  about: string;
  /** Per-input time bound (ms). */
  maxMs: number;
  arbitrary: fc.Arbitrary<T>;
  run(input: T): void | Promise<void>;
}

/** Each target's share of the runs: CI runs `weight * base` inputs (base ~200), the long mode the same proportions. */
export const TARGET_WEIGHTS = {
  pem: 1.5,
  der: 1.5,
  cert: 2,
  pkcs12: 1,
  pkcs7: 1,
  key: 2,
  truststore: 1.5,
  curl: 2,
  config: 2,
  doctor: 0.25,
  'curl-doctor': 0.25,
} as const;
export type TargetName = keyof typeof TARGET_WEIGHTS;
export const TARGET_NAMES = Object.keys(TARGET_WEIGHTS) as TargetName[];

/** `total` inputs split by weight over `names`; each target gets its own seed, derived from `seed`. */
export function planJobs(
  total: number,
  seed: number,
  names: readonly TargetName[] = TARGET_NAMES,
): Array<{ target: TargetName; runs: number; seed: number; baseSeed: number }> {
  const sum = names.reduce((a, n) => a + TARGET_WEIGHTS[n], 0);
  return names.map((n) => ({
    target: n,
    runs: Math.max(1, Math.round((total * TARGET_WEIGHTS[n]) / sum)),
    seed: (seed + TARGET_NAMES.indexOf(n) * 7919) | 0,
    baseSeed: seed,
  }));
}

/** The `npm run fuzz` arguments that run this job's input `index` again, alone. */
export function replayArgs(job: { target: string; runs: number; baseSeed: number }, index?: number): string {
  return `npm run fuzz -- --target ${job.target} --seed ${job.baseSeed} --runs ${job.runs}${index === undefined ? '' : ` --input ${index}`}`;
}

/** Buffers arrive in a worker as plain Uint8Arrays. */
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const bytesOf = (seeds: readonly Seed[]): Buffer[] => seeds.map((s) => buf(s.bytes));

/** loadBytes is documented never to throw; its safety net (`could not be read (...)`) firing means a parser threw. */
function load(what: string, bytes: Buffer, passphrase?: string): LoadedFile {
  const f = outcomeSync(what, () => loadBytes(bytes, 'fuzz-input', passphrase === undefined ? {} : { passphrase }));
  if (!f) throw new Violation(`${what}: no result`);
  const net = f.problems.find((p) => /^could not be read \(/.test(p.message));
  if (net) throw new Violation(`${what}: a parser threw inside loadBytes (its safety net caught it): ${net.message}`);
  checkLoaded(what, f);
  return f;
}

const PEM_FRAGMENTS = [
  '-----BEGIN CERTIFICATE-----\n',
  '-----END CERTIFICATE-----\n',
  '-----BEGIN PRIVATE KEY-----\n',
  '-----END PRIVATE KEY-----\n',
  '-----BEGIN RSA PRIVATE KEY-----\n',
  '-----END RSA PRIVATE KEY-----\n',
  '-----BEGIN ENCRYPTED PRIVATE KEY-----\n',
  '-----BEGIN PKCS7-----\n',
  '-----END PKCS7-----\n',
  '-----BEGIN ',
  '-----END ',
  '-----',
  'Proc-Type: 4,ENCRYPTED\n',
  'DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n',
  'DEK-Info: DES-EDE3-CBC,0011223344556677\n',
  ' continued\n',
  'MIIB',
  'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA',
  '====',
  '=',
  '\n',
  '\r\n',
  ' ',
  '\t',
  'AAAA',
  '+/+/',
  'x:y\n',
  '\n\n',
  '-----BEGIN X509 CRL-----\n',
  '-----BEGIN CERTIFICATE REQUEST-----\n',
  '\u0000',
  'ÿ',
];

const CURL_FRAGMENTS = [
  'curl ',
  'curl.exe ',
  '$ ',
  'PS C:\\> ',
  '--cert ',
  '-E ',
  '--key ',
  '--pass ',
  '--cacert ',
  '--cert-type P12 ',
  '--key-type DER ',
  '--resolve a:443:127.0.0.1 ',
  '--connect-to a:443:b:8443 ',
  '-k ',
  '-v ',
  '-H "Host: x" ',
  '--next ',
  '-- ',
  '--url ',
  '-K f ',
  '--expand-cert ',
  '--cert=',
  'https://a.test/ ',
  'http://',
  'c.pem:pass ',
  "'",
  '"',
  '\\',
  '\\\n',
  '^\n',
  '`\n',
  "$'\\x41\\101\\u00e9'",
  '$"x"',
  '${HOME}',
  '$(id)',
  '`id`',
  '~/',
  '~',
  '#',
  ' # c\n',
  '|',
  '||',
  '&',
  '&&',
  ';',
  '>',
  '2>&1',
  '&>f',
  '<<<',
  '%PATH%',
  '$env:X',
  '\n',
  '\r\n',
  '\t',
  'C:\\x\\y.pem',
  'pkcs11:token=a',
  'a\\:b',
  '-Ec.pem:pw',
  '-sSfL',
  '--tlsv1.2 ',
  '--tls-max 1.3 ',
  '-m 5 ',
  '--proxy-cert p ',
];

const YAML_FRAGMENTS = [
  'listen:',
  'admin:',
  'domains:',
  'domainName:',
  'certificate:',
  'mutualTls:',
  'truststoreUri:',
  'basePathMappings:',
  'basePath:',
  'target:',
  'timeouts:',
  'limits:',
  'logs:',
  's3:',
  'port:',
  'host:',
  '\n',
  '\n  ',
  '\n    ',
  '- ',
  '{',
  '}',
  '[',
  ']',
  ': ',
  ', ',
  '"',
  "'",
  '&a ',
  '*a',
  '<<: *a',
  '!!binary ',
  '!!str ',
  '!tag ',
  '---\n',
  '...\n',
  '%YAML 1.2\n',
  '? ',
  '| ',
  '> ',
  '# c',
  'null',
  '~',
  'true',
  'no',
  '1e999',
  '-0',
  '0x1F',
  '0o17',
  '.inf',
  '.nan',
  '12:30',
  '2001-12-14',
  'file://x',
  's3://b/k',
  'http://127.0.0.1:9000',
  '(none)',
  '..',
  '%2e',
  'TLS_1_2',
  'http403',
  '\t',
  '\u0085',
  '\ufeff',
  '\\u0000',
  '"\\x00"',
  '{{',
  '}}',
  'a\nb:',
  '"a\\nb": 1',
];

const JSON_FRAGMENTS = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '"domains"',
  '"listen"',
  '"port"',
  '8443',
  '-1',
  '1e400',
  'null',
  'true',
  '"\\u0000"',
  '"\\ud800"',
  '\n',
  ' ',
  '"a\\nb"',
  '{"__proto__":{}}',
  '"constructor"',
];

/** Config values that are wrong in interesting ways, put at a random place in a valid config. */
const CONFIG_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  65536,
  1.5,
  // Infinity on purpose: a number JSON cannot carry.
  // eslint-disable-next-line no-loss-of-precision
  1e400,
  '',
  ' ',
  'x',
  '..',
  '(none)',
  'a\nb',
  '\u0000',
  [],
  [1],
  {},
  { a: 1 },
  { 'a\nb': 1 },
  'file://',
  's3://b',
  'http://x?q',
  'ftp://x',
];

function configPaths(o: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (o === null || typeof o !== 'object') return [prefix];
  const entries = Array.isArray(o) ? o.map((v, i) => [i, v] as const) : Object.entries(o as Record<string, unknown>);
  return [prefix, ...entries.flatMap(([k, v]) => configPaths(v, [...prefix, k]))];
}

function setPath(o: unknown, path: ReadonlyArray<string | number>, value: unknown, key: string | null): unknown {
  const copy = structuredClone(o) as Record<string | number, unknown>;
  if (path.length === 0) return value;
  let cur: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (key !== null && !Array.isArray(cur)) {
    delete cur[last];
    cur[key] = value;
  } else cur[last] = value;
  return copy;
}

interface TargetContext {
  corpus: Corpus;
  /** A scratch directory for targets that need files on disk (removed when the worker exits). */
  dir: string;
}

export function makeTargets(corpus: Corpus): Map<TargetName, Target> {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-fuzz-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ctx: TargetContext = { corpus, dir };
  const list: Target[] = [
    pem(ctx),
    der(ctx),
    cert(ctx),
    pkcs12(ctx),
    pkcs7(ctx),
    key(ctx),
    truststore(ctx),
    curl(ctx),
    config(ctx),
    doctor(ctx),
    curlDoctor(ctx),
  ] as Target[];
  return new Map(list.map((t) => [t.name as TargetName, t]));
}

const passphrase = (c: Corpus): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(...c.passphrases) },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  );

function pem({ corpus }: TargetContext): Target<string> {
  return {
    name: 'pem',
    about: 'parsePem and loadBytes on PEM text: mutated real PEM files, PEM fragments, 10^4-fold repeats',
    maxMs: 2000,
    arbitrary: fc.oneof(
      { weight: 3, arbitrary: mutatedText(corpus.pems, PEM_FRAGMENTS) },
      { weight: 2, arbitrary: fragmentText(PEM_FRAGMENTS) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
    ),
    run(text) {
      const r = outcomeSync('parsePem', () => parsePem(text))!;
      let last = -1;
      for (const b of r.blocks) {
        if (b.index <= last) throw new Violation(`parsePem: block indexes not increasing (${b.index} after ${last})`);
        last = b.index;
        if (!Buffer.isBuffer(b.body) || b.body.length === 0) throw new Violation('parsePem: a block without a body');
      }
      r.problems.forEach((p, i) => checkMessage(`parsePem problem ${i}`, p.message));
      load('loadBytes(pem)', Buffer.from(text, 'latin1'));
    },
  };
}

function der({ corpus }: TargetContext): Target<Buffer> {
  return {
    name: 'der',
    about:
      'sniffFormat/sniffDer and loadBytes on mutated DER of every kind (certificates, CSRs, CRLs, keys, PKCS#7/#12) and random bytes',
    maxMs: 2000,
    arbitrary: fc.oneof(
      { weight: 4, arbitrary: mutatedBytes(bytesOf(corpus.ders)) },
      { weight: 1, arbitrary: randomBytes },
    ),
    run(bytes) {
      outcomeSync('sniffDer', () => sniffDer(bytes));
      const format = outcomeSync('sniffFormat', () => sniffFormat(bytes));
      if (format === undefined) throw new Violation('sniffFormat returned nothing');
      load('loadBytes(der)', bytes);
    },
  };
}

function cert({ corpus }: TargetContext): Target<{ der: Buffer; asPem: boolean }> {
  return {
    name: 'cert',
    about:
      'parseCert and the certificate description (lazy .info) on mutated real certificates: bit flips, truncations, length fields, nesting',
    maxMs: 2000,
    arbitrary: fc.record({ der: mutatedBytes(bytesOf(corpus.certDers), 3), asPem: fc.boolean() }),
    run({ der, asPem }) {
      // parseCert's contract: a certificate, or an Error with a one-line message (loadBytes turns it into a problem).
      try {
        const c = parseCert(der);
        outcomeSync('parseCert(...).info', () => JSON.stringify(c.info));
      } catch (e) {
        if (e instanceof Violation) throw e;
        checkMessage('parseCert error', (e as Error).message);
      }
      load('loadBytes(cert)', asPem ? Buffer.from(toPem('CERTIFICATE', der)) : der);
    },
  };
}

function pkcs12({ corpus }: TargetContext): Target<{ bytes: Buffer; pass: string | undefined }> {
  return {
    name: 'pkcs12',
    about: 'parsePkcs12 via loadBytes on mutated real PKCS#12 files, with no, right, wrong and random passwords',
    // A file may ask for 1,000,000 PKCS#12-KDF iterations in all (src/pki/pkcs12.ts), about 3 s of CPU.
    maxMs: 8000,
    arbitrary: fc.record({ bytes: mutatedBytes(bytesOf(corpus.p12), 3), pass: passphrase(corpus) }),
    run({ bytes, pass }) {
      load('loadBytes(pkcs12)', bytes, pass);
    },
  };
}

function pkcs7({ corpus }: TargetContext): Target<{ der: Buffer; asPem: boolean }> {
  return {
    name: 'pkcs7',
    about: 'certsFromPkcs7 via loadBytes on mutated real PKCS#7 bundles, DER and PEM-armoured',
    maxMs: 2000,
    arbitrary: fc.record({ der: mutatedBytes(bytesOf(corpus.p7Ders), 3), asPem: fc.boolean() }),
    run({ der, asPem }) {
      load('loadBytes(pkcs7)', asPem ? Buffer.from(toPem('PKCS7', der)) : der);
    },
  };
}

const KEY_LABELS = [
  'PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'DSA PRIVATE KEY',
  'OPENSSH PRIVATE KEY',
];
const LEGACY_HEADERS = [
  '',
  'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n',
  'Proc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,0011223344556677\n\n',
  'Proc-Type: 4,ENCRYPTED\nDEK-Info: BOGUS,zz\n\n',
  'Proc-Type: 4,ENCRYPTED\n\n',
];

function key({ corpus }: TargetContext): Target<{ bytes: Buffer; pass: string | undefined }> {
  const armoured = fc
    .tuple(mutatedBytes(bytesOf(corpus.keyDers), 3), fc.constantFrom(...KEY_LABELS), fc.constantFrom(...LEGACY_HEADERS))
    .map(([d, label, headers]) => {
      const p = toPem(label, d);
      const nl = p.indexOf('\n') + 1;
      return Buffer.from(p.slice(0, nl) + headers + p.slice(nl));
    });
  return {
    name: 'key',
    about:
      'PKCS#8, PKCS#1, SEC1, encrypted PKCS#8 and legacy encrypted PEM keys, mutated as DER, as PEM text and re-armoured, with and without passphrases',
    maxMs: 3000,
    arbitrary: fc.record({
      bytes: fc.oneof(
        mutatedBytes(bytesOf(corpus.keyDers), 3),
        armoured,
        mutatedText(corpus.keyPems, PEM_FRAGMENTS, 3).map((t) => Buffer.from(t, 'latin1')),
      ),
      pass: passphrase(corpus),
    }),
    run({ bytes, pass }) {
      load('loadBytes(key)', bytes, pass);
    },
  };
}

function truststore({ corpus }: TargetContext): Target<string> {
  const certPems = corpus.certDers.slice(0, 200).map((s) => toPem('CERTIFICATE', s.bytes));
  const mutatedCertPem = mutatedBytes(bytesOf(corpus.certDers), 2).map((d) => toPem('CERTIFICATE', d));
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...certPems) },
    { weight: 2, arbitrary: mutatedCertPem },
    { weight: 1, arbitrary: fc.constantFrom(...corpus.keyPems.slice(0, 20)) },
    { weight: 1, arbitrary: fc.constantFrom(...PEM_FRAGMENTS) },
  );
  return {
    name: 'truststore',
    about:
      'truststoreFromPem + lintTruststore on mutated real bundles and on bundles assembled from real, mutated and key blocks',
    maxMs: 3000,
    arbitrary: fc.oneof(
      { weight: 2, arbitrary: mutatedText(corpus.bundles, PEM_FRAGMENTS, 3) },
      { weight: 3, arbitrary: fc.array(piece, { minLength: 1, maxLength: 12 }).map((p) => p.join('')) },
    ),
    run(text) {
      const read = outcomeSync('truststoreFromPem', () => truststoreFromPem(text, 'fuzz-truststore.pem'))!;
      checkLoaded('truststoreFromPem file', read.file);
      checkFindings('truststoreFromPem', read.findings);
      if (read.truststore) {
        const lint = outcomeSync('lintTruststore', () => lintTruststore(read.truststore!, read.file))!;
        checkFindings('lintTruststore', lint);
        checkRendered(
          'truststore lint text',
          outcomeSync('renderFindings', () => renderFindings([...read.findings, ...lint], { color: false }))!,
        );
        const ids = new Set(lint.map((f) => f.id));
        if (read.file.keyBlocks > 0 && !ids.has('truststore.contains-private-key'))
          throw new Violation('a private key in the bundle was not reported');
      } else if (read.findings.every((f) => f.severity !== 'error')) {
        throw new Violation('no truststore and no error finding saying why');
      }
    },
  };
}

function curl({
  corpus,
}: TargetContext): Target<{ line: string; dialect: 'posix' | 'windows' | null } | { args: string[] }> {
  const word = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...CURL_FRAGMENTS.map((f) => f.trim()).filter(Boolean)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
  );
  return {
    name: 'curl',
    about:
      'tokenize (POSIX and Windows shells) and parseCurlArgs on mutated real curl commands, shell fragments and random argument lists',
    maxMs: 2000,
    arbitrary: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          line: mutatedText(corpus.curlLines, CURL_FRAGMENTS),
          dialect: fc.constantFrom(null, 'posix' as const, 'windows' as const),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          line: fragmentText(CURL_FRAGMENTS),
          dialect: fc.constantFrom(null, 'posix' as const, 'windows' as const),
        }),
      },
      { weight: 2, arbitrary: fc.array(word, { maxLength: 20 }).map((args) => ({ args })) },
    ),
    run(input) {
      let args: string[];
      let dialect: 'posix' | 'windows' = 'posix';
      let program: string | null = null;
      if ('line' in input) {
        // null: the dialect is detected from the line, as doctor curl does.
        const t = outcomeSync(
          'tokenize',
          () => tokenize(input.line, { ...(input.dialect && { dialect: input.dialect }), home: '/home/u' }),
          ['E_CURL_LINE'],
        );
        if (!t) return;
        // Notes quote the user's words (newlines and all); the renderer escapes them, so only stack text is checked
        // here.
        t.notes.forEach((n, i) => checkText(`tokenize note ${i}`, n));
        ({ args, dialect, program } = t);
      } else args = input.args;
      const c = outcomeSync('parseCurlArgs', () => parseCurlArgs(args, { dialect, program }))!;
      c.notes.forEach((n, i) => checkText(`parseCurlArgs note ${i}`, n));
      for (const u of c.urls) outcomeSync('effectiveUrl', () => effectiveUrl(u));
      if (c.cert !== null) outcomeSync('splitCurlCertArg', () => splitCurlCertArg(c.cert!));
      const red = redactCurlCommand(c);
      if (c.passphrase && red.passphrase?.value !== '***') throw new Violation('redactCurlCommand kept the passphrase');
    },
  };
}

function config({ corpus }: TargetContext): Target<{ text: string; json: boolean }> {
  const paths = configPaths(CONFIG_OBJECT);
  const structural = fc
    .tuple(
      fc.constantFrom(...paths),
      fc.oneof(fc.constantFrom(...CONFIG_VALUES), fc.jsonValue({ maxDepth: 3 })),
      fc.option(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('a\nb', '__proto__', 'constructor', ''))),
      fc.boolean(),
    )
    .map(([path, value, rename, json]) => {
      const obj = setPath(CONFIG_OBJECT, path, value, rename);
      return { text: JSON.stringify(obj), json };
    });
  return {
    name: 'config',
    about:
      'parseConfig (YAML and JSON) on mutated valid configs, values swapped at every key path, and YAML/JSON fragments',
    maxMs: 2000,
    arbitrary: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ text: mutatedText(corpus.configsYaml, YAML_FRAGMENTS), json: fc.constant(false) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ text: mutatedText(corpus.configsJson, JSON_FRAGMENTS), json: fc.constant(true) }),
      },
      { weight: 3, arbitrary: structural },
      { weight: 2, arbitrary: fc.record({ text: fragmentText(YAML_FRAGMENTS), json: fc.constant(false) }) },
      { weight: 1, arbitrary: fc.record({ text: fragmentText(JSON_FRAGMENTS), json: fc.constant(true) }) },
    ),
    run({ text, json }) {
      outcomeSync(
        'parseConfig',
        () => parseConfig(text, json ? '/etc/mtlsgate/fuzz.json' : '/etc/mtlsgate/fuzz.yaml'),
        ['E_CONFIG'],
      );
    },
  };
}

/**
 * Writes the doctor's three files (each a real file, a mutation of one, or missing) and runs the whole offline doctor.
 */
function doctor({ corpus, dir }: TargetContext): Target<{
  cert: Buffer | null;
  key: Buffer | null;
  truststore: Buffer | null;
  pass: string | undefined;
  mode: number;
}> {
  const realCerts = bytesOf(
    corpus.certDers.filter((s) => s.name.startsWith('generate/') || s.name.startsWith('openssl/')),
  );
  const file = (seeds: Buffer[], texts: string[]): fc.Arbitrary<Buffer | null> =>
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.constantFrom(...texts.map((t) => Buffer.from(t, 'latin1'))) },
      { weight: 3, arbitrary: mutatedText(texts, PEM_FRAGMENTS, 2).map((t) => Buffer.from(t, 'latin1')) },
      { weight: 2, arbitrary: mutatedBytes(seeds, 2) },
    );
  const ours = (name: string): boolean => name.startsWith('generate/') || name.startsWith('openssl/');
  const certTexts = corpus.pems.filter((p) => p.includes('BEGIN CERTIFICATE')).slice(-12);
  const keyTexts = corpus.keyPems.slice(-10);
  let n = 0;
  return {
    name: 'doctor',
    about:
      'diagnose end to end (files on disk, loopback handshake when the key fits) with mutated certificate, key, truststore and PKCS#12 files',
    maxMs: 8000,
    arbitrary: fc.oneof(
      fc.record({
        cert: file([...realCerts, ...bytesOf(corpus.p12.filter((s) => ours(s.name)))], certTexts),
        key: file(bytesOf(corpus.keyDers.filter((s) => ours(s.name))), keyTexts),
        truststore: file(realCerts, corpus.bundles.slice(-6)),
        pass: passphrase(corpus),
        mode: fc.constantFrom(0o600, 0o644, 0o640),
      }),
      // A matching certificate, key and truststore with one of them mutated: the handshake path runs too.
      fc
        .tuple(
          fc.constantFrom(...corpus.pairs),
          fc.constantFrom('cert', 'key', 'truststore', 'none'),
          fc.array(byteEdit, { minLength: 1, maxLength: 2 }),
          fc.boolean(),
          fc.constantFrom(0o600, 0o644),
        )
        .map(([p, which, edits, rightPass, mode]) => {
          const pick = (name: 'cert' | 'key' | 'truststore', b: Uint8Array | null): Buffer | null =>
            b === null ? null : which === name ? applyByteEdits(b, edits) : buf(b);
          return {
            cert: pick('cert', p.cert),
            key: pick('key', p.key),
            truststore: pick('truststore', p.truststore),
            pass: p.pass === undefined ? undefined : rightPass ? p.pass : 'wrong',
            mode,
          };
        }),
    ),
    async run(input) {
      const id = n++;
      const path = (name: string, b: Buffer | null): string | undefined => {
        if (b === null) return undefined;
        const p = join(dir, `${id}-${name}`);
        writeFileSync(p, b, { mode: input.mode });
        return p;
      };
      const cert = path('client.crt', input.cert);
      const key = path('client.key', input.key);
      const truststore = path('truststore.pem', input.truststore);
      if (cert === undefined && key === undefined && truststore === undefined) return;
      const files = {
        ...(cert && { cert }),
        ...(key && { key }),
        ...(truststore && { truststore }),
        ...(input.pass !== undefined && { pass: input.pass }),
      };
      const r = await outcome('diagnose', () => diagnose({ files }));
      checkFindings('diagnose', r!.findings);
      outcomeSync('doctor JSON', () => JSON.stringify(r));
      checkRendered(
        'doctor text',
        outcomeSync('renderReport', () => renderReport(r!, { color: false }))!,
      );
      for (const p of [cert, key, truststore]) if (p) rmSync(p, { force: true });
    },
  };
}

function curlDoctor({ corpus, dir }: TargetContext): Target<string> {
  return {
    name: 'curl-doctor',
    about: 'runCurlDoctor (no live probe) on mutated real curl command lines naming real files',
    maxMs: 8000,
    arbitrary: mutatedText(corpus.curlLines, CURL_FRAGMENTS, 3),
    async run(line) {
      const r = await outcome('runCurlDoctor', () => runCurlDoctor({ line, live: false, cwd: dir, home: dir }), [
        'E_CURL_LINE',
        'E_USAGE',
      ]);
      if (!r) return;
      checkFindings('runCurlDoctor', r.findings);
      checkRendered(
        'doctor curl text',
        outcomeSync('renderCurlReport', () => renderCurlReport(r, { color: false }))!,
      );
    },
  };
}
