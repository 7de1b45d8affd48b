#!/usr/bin/env node
/**
 * `npm run bench [-- options]`: mtlsgate against nginx and Caddy on this machine, in one run (BENCHMARKS.md says
 * what is measured and how). Not part of `npm test`. Loopback only; every process it starts is stopped by PID at
 * the end, on errors and on Ctrl-C; every run is time-bounded.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  establishedOn,
  freePort,
  killAllSync,
  memoryOf,
  runToEnd,
  sleep,
  startProcess,
  stopAll,
  stopProcess,
  waitForPort,
} from './lib/procs.mjs';
import { fmt, mainTable, stats, summarize, targets, targetsTable } from './lib/report.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = path.join(ROOT, 'bench');
const BUILD = path.join(BENCH, '.build');
const SNI = 'bench.test';
const ALL_TESTS = ['hs', 'resume', 'ka', 'rate', 'rss', 'truststore', 'doctor', 'speed', 'revocation', 'authz'];
// node: bench/peers/node-forwarder.mjs, a minimal Node forwarder of the same shape (the ceiling on Node).
const ALL_SERVERS = ['nginx', 'caddy', 'node', 'mtlsgate'];

const HELP = `usage: npm run bench [-- options]     (or: node bench/run.mjs [options])

  --quick               smoke run: 1 round, short windows
  --only LIST           some of: ${ALL_TESTS.join(',')}  (default: all)
  --servers LIST        some of: ${ALL_SERVERS.join(',')}  (default: all that are installed)
  --keys LIST           rsa,ec (default both)
  --rounds N            interleaved rounds (default 3)
  --secs S              measured window per run in seconds (default 8)
  --workers N           mtlsgate --workers and nginx worker_processes (default: one per core)
  --idle-conns N        connections for the RSS test (default 2000)
  --gw-log-level L      mtlsgate logs.level (default info: a JSON line per request, to /dev/null)
  --gw-node-args "A B"  extra node options for mtlsgate, e.g. "--max-semi-space-size=32" (workers inherit them)
  --node-peer-args "A B"  extra options for the node forwarder, e.g. "--sni" (bench/peers/node-forwarder.mjs)
  --gateway BIN         run this mtlsgate entry point instead of a private build of src/ (e.g. bin/mtlsgate.js)
  --no-build            reuse the previous private build of src/
  --update-md           write the report into BENCHMARKS.md (between its bench:results markers)
  --profile             instead of the comparison: mtlsgate under hs, resume and ka load with node --cpu-prof, top functions
  -h, --help
`;

// ---------- options ----------
function parseArgs(argv) {
  const o = {
    quick: false,
    only: ALL_TESTS,
    servers: null,
    keys: ['rsa', 'ec'],
    rounds: 3,
    secs: 8,
    workers: os.availableParallelism(),
    idleConns: 2000,
    gwLogLevel: 'info',
    gwNodeArgs: [],
    nodePeerArgs: [],
    gateway: null,
    build: true,
    updateMd: false,
    profile: false,
  };
  const list = (s, allowed, what) => {
    const v = s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    for (const x of v) if (!allowed.includes(x)) die(`${what}: unknown "${x}" (expected some of ${allowed.join(',')})`);
    return v;
  };
  const num = (s, what) =>
    Number.isFinite(Number(s)) && Number(s) > 0 ? Number(s) : die(`${what}: expected a positive number, got "${s}"`);
  let explicitRounds = false;
  let explicitSecs = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i] ?? die(`${a} needs a value`);
    if (a === '--quick') o.quick = true;
    else if (a === '--only') o.only = list(val(), ALL_TESTS, '--only');
    else if (a === '--servers') o.servers = list(val(), ALL_SERVERS, '--servers');
    else if (a === '--keys') o.keys = list(val(), ['rsa', 'ec'], '--keys');
    else if (a === '--rounds') {
      o.rounds = num(val(), a);
      explicitRounds = true;
    } else if (a === '--secs') {
      o.secs = num(val(), a);
      explicitSecs = true;
    } else if (a === '--workers') o.workers = num(val(), a);
    else if (a === '--idle-conns') o.idleConns = num(val(), a);
    else if (a === '--gw-log-level') o.gwLogLevel = val();
    else if (a === '--gw-node-args') o.gwNodeArgs = val().split(/\s+/).filter(Boolean);
    else if (a === '--node-peer-args') o.nodePeerArgs = val().split(/\s+/).filter(Boolean);
    else if (a === '--gateway') o.gateway = path.resolve(val());
    else if (a === '--no-build') o.build = false;
    else if (a === '--update-md') o.updateMd = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else die(`unknown option ${a}\n\n${HELP}`);
  }
  if (o.quick) {
    if (!explicitRounds) o.rounds = 1;
    if (!explicitSecs) o.secs = 2;
  }
  o.warm = o.quick ? 0.5 : 1.5; // warm-up runs after each start, then each measured run has its own excluded warm-up
  o.settle = o.quick ? 2 : 4; // idle connections open -> RSS read
  o.reps = o.quick ? 1 : 3; // lint / check / doctor repetitions
  return o;
}

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}
const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const which = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).stdout.trim() || null;
const sh = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 600000, ...opts });

// ---------- the machine ----------
function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const first = (re) => re.exec(cpuinfo)?.[1]?.trim() ?? null;
  const version = (bin, args) => {
    if (!which(bin)) return null;
    const r = sh(bin, args);
    return `${r.stdout}${r.stderr}`.trim().split('\n')[0];
  };
  const git = (args) => sh('git', args, { cwd: ROOT }).stdout?.trim() ?? '';
  return {
    host: os.hostname(),
    cpuModel: first(/^model name\s*:\s*(.*)$/m),
    cpuFamily: first(/^cpu family\s*:\s*(.*)$/m),
    cores: os.availableParallelism(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    os:
      /PRETTY_NAME="([^"]+)"/.exec(
        fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '',
      )?.[1] ?? null,
    node: process.version,
    nodeOpenssl: process.versions.openssl,
    openssl: version('openssl', ['version']),
    nginx: version('nginx', ['-v']),
    caddy: version('caddy', ['version']),
    cc: version('cc', ['--version']),
    git: {
      commit: git(['rev-parse', '--short', 'HEAD']),
      srcDirty: git(['status', '--porcelain', '--', 'src']) !== '',
    },
  };
}

/** nginx / caddy from the Debian packages when missing and root; else a clear reason to skip. */
function ensurePeer(bin, pkg) {
  if (which(bin)) return null;
  if (process.getuid?.() !== 0) return `${bin} is not installed and this is not root: skipped (apt-get install ${pkg})`;
  log(`${bin} missing: apt-get install ${pkg}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = sh('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env });
  if (r.status !== 0) {
    sh('apt-get', ['update'], { env });
    r = sh('apt-get', ['install', '-y', '--no-install-recommends', pkg], { env });
  }
  if (which(bin)) return null;
  return `apt-get install ${pkg} failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}; ${bin} skipped`;
}

// ---------- builds: tb, the gateway, certificates, truststores ----------
function buildTb() {
  const out = path.join(BUILD, 'tb');
  fs.mkdirSync(BUILD, { recursive: true });
  const r = sh('cc', ['-O2', '-o', out, path.join(BENCH, 'loadgen/tb.c'), '-lssl', '-lcrypto']);
  if (r.status !== 0) die(`cannot build the load generator (needs cc and libssl-dev):\n${r.stderr}`);
  return out;
}

/**
 * A private build of src/ (bench/.build/gw), so the bench measures the current source without touching dist/,
 * which other work in this tree (tests) uses. bin/mtlsgate.js is copied as is: it imports ../dist/cli/main.js.
 */
function buildGateway(o) {
  if (o.gateway) return { bin: o.gateway, how: `given: ${path.relative(ROOT, o.gateway)}` };
  const gw = path.join(BUILD, 'gw');
  const bin = path.join(gw, 'bin/mtlsgate.js');
  if (!o.build && fs.existsSync(bin)) return { bin, how: 'private build of src/ (reused, --no-build)' };
  fs.rmSync(gw, { recursive: true, force: true });
  fs.mkdirSync(path.join(gw, 'bin'), { recursive: true });
  log('building src/ into bench/.build/gw (tsc)');
  const r = sh(
    path.join(ROOT, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.build.json', '--outDir', path.join(gw, 'dist'), '--declaration', 'false'],
    { cwd: ROOT },
  );
  if (r.status !== 0 || !fs.existsSync(path.join(gw, 'dist/cli/main.js'))) {
    const fallback = path.join(ROOT, 'bin/mtlsgate.js');
    log(
      `tsc failed; measuring the existing dist/ through bin/mtlsgate.js instead:\n${(r.stdout + r.stderr).trim().split('\n').slice(0, 5).join('\n')}`,
    );
    return { bin: fallback, how: 'dist/ (the private build of src/ failed)' };
  }
  fs.copyFileSync(path.join(ROOT, 'bin/mtlsgate.js'), bin);
  return {
    bin,
    how:
      'private build of src/ at this commit' +
      (sh('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).stdout.trim()
        ? ' (with uncommitted changes)'
        : ''),
  };
}

/**
 * root -> intermediate -> server/client leaves for each key type, made by mtlsgate's own `pki init`; reused while
 * valid.
 */
function ensurePki(gwBin, key) {
  const dir = path.join(BUILD, 'pki', key);
  const client = path.join(dir, 'client.crt');
  const fresh = fs.existsSync(client) && fs.statSync(client).mtimeMs > Date.now() - 300 * 86400e3;
  if (!fresh) {
    log(`making the ${key} PKI (mtlsgate pki init)`);
    const r = sh('node', [gwBin, 'pki', 'init', dir, '--domain', SNI, '--key', key, '--force']);
    if (r.status !== 0) die(`pki init failed: ${r.stderr}`);
  }
  // Caddy 2.6 reads only the first certificate of a file: one file per truststore certificate.
  const pems = fs
    .readFileSync(path.join(dir, 'truststore.pem'), 'utf8')
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  const caFiles = pems.map((p, i) => {
    const f = path.join(dir, `truststore-${i}.pem`);
    fs.writeFileSync(f, p.endsWith('\n') ? p : p + '\n');
    return f;
  });
  return {
    dir,
    key,
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
    clientCert: client,
    clientKey: path.join(dir, 'client.key'),
    truststore: path.join(dir, 'truststore.pem'),
    caFiles,
  };
}

/** Bundles of N CA certificates: the PKI's root + intermediate and N-2 distinct filler root CAs (EC keys, cached). */
async function ensureTruststores(gwBin, pkis, sizes) {
  const dir = path.join(BUILD, 'truststores');
  fs.mkdirSync(dir, { recursive: true });
  const max = Math.max(...sizes) - 2;
  const fillerFile = path.join(dir, `fillers-${max}.pem`);
  if (!fs.existsSync(fillerFile)) {
    log(`generating ${max} filler CA certificates (once; cached in bench/.build/truststores)`);
    const { issue } = await import(pathToFileURL(path.join(path.dirname(gwBin), '../dist/pki/generate.js')).href);
    const out = [];
    const notAfter = new Date(Date.now() + 10 * 365 * 86400e3);
    for (let i = 0; i < max; i += 64) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(64, max - i) }, (_, j) =>
          issue({ subject: `CN=Bench Filler CA ${i + j},O=mtlsgate bench fillers`, profile: 'root-ca', notAfter }),
        ),
      );
      for (const c of batch) out.push(c.certPem);
    }
    fs.writeFileSync(fillerFile + '.tmp', out.join(''));
    fs.renameSync(fillerFile + '.tmp', fillerFile);
  }
  const fillers = fs
    .readFileSync(fillerFile, 'utf8')
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  const files = {};
  for (const [key, pki] of Object.entries(pkis)) {
    files[key] = {};
    for (const n of sizes) {
      const f = path.join(dir, `ts-${n}-${key}.pem`);
      // The real CAs first and last, so neither a first-match nor a last-match lookup is flattered.
      const half = (n - 2) >> 1;
      const pem =
        fs.readFileSync(pki.caFiles[0], 'utf8') +
        fillers.slice(0, half).join('') +
        fillers.slice(half, n - 2).join('') +
        fs.readFileSync(pki.caFiles[1], 'utf8');
      fs.writeFileSync(f, pem);
      files[key][n] = f;
    }
  }
  return files;
}

/** Entries in the bench's big CRL (issue 14's figure). */
const CRL_ENTRIES = 100000;
/** Fingerprints in the authorization test's allow-list (issue 15's benchmark size). */
const ALLOW_ENTRIES = 10000;

/** YYMMDDHHMMSSZ, the time format of an `openssl ca` database. */
const caTime = (d) => d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');

/** A certificate's serial as an `openssl ca` database writes it: upper-case hex, an even number of digits. */
const dbSerial = (hex) => (hex.length % 2 ? `0${hex}` : hex).toUpperCase();

/**
 * `openssl ca -gencrl -crldays 30` for a CA whose database is `index` (lines of an index.txt): the CRL a real
 * OpenSSL CA would publish, written as PEM to `out`.
 */
function opensslCrl({ dir, cert, key, index, out }) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.txt'), index);
  fs.writeFileSync(path.join(dir, 'crlnumber'), '1000\n');
  const config = path.join(dir, 'ca.cnf');
  fs.writeFileSync(
    config,
    [
      '[ca]',
      'default_ca = CA_default',
      '[CA_default]',
      `database = ${path.join(dir, 'index.txt')}`,
      `certificate = ${cert}`,
      `private_key = ${key}`,
      `crlnumber = ${path.join(dir, 'crlnumber')}`,
      'default_md = sha256',
      'crl_extensions = crl_ext',
      '[crl_ext]',
      'authorityKeyIdentifier = keyid:always',
      '',
    ].join('\n'),
  );
  const r = sh('openssl', ['ca', '-config', config, '-gencrl', '-crldays', '30', '-out', out + '.tmp'], {
    timeout: 300000,
  });
  if (r.status !== 0) die(`openssl ca -gencrl (${dir}) failed: ${(r.stderr || r.stdout).trim()}`);
  fs.renameSync(out + '.tmp', out);
}

/**
 * Revocation fixtures for one PKI, cached in bench/.build/revocation: a CRL_ENTRIES-entry CRL from the intermediate
 * (random 16-byte serials, never the client's), an empty CRL from the root (nginx's ssl_crl wants one for every
 * level of the chain), both in one file for nginx, and an index listing the client as valid for `openssl ocsp`.
 * Remade when the PKI is newer than they are or the CRLs (30 days) are over 10 days old.
 */
function ensureRevocationFixtures(pki) {
  const dir = path.join(BUILD, 'revocation', pki.key);
  const f = {
    crl: path.join(dir, `intermediate-${CRL_ENTRIES}.crl.pem`),
    rootCrl: path.join(dir, 'root.crl.pem'),
    nginxCrls: path.join(dir, 'nginx-crls.pem'),
    ocspIndex: path.join(dir, 'ocsp-index.txt'),
    caCert: path.join(pki.dir, 'intermediate-ca.crt'),
    caKey: path.join(pki.dir, 'intermediate-ca.key'),
  };
  const madeAt = fs.existsSync(f.ocspIndex) ? fs.statSync(f.ocspIndex).mtimeMs : 0;
  if (madeAt > fs.statSync(pki.clientCert).mtimeMs && madeAt > Date.now() - 10 * 86400e3) return f;
  log(`making the ${pki.key} revocation fixtures: a ${CRL_ENTRIES.toLocaleString('en-US')}-entry CRL (openssl ca)`);
  fs.rmSync(dir, { recursive: true, force: true });
  const client = new X509Certificate(fs.readFileSync(pki.clientCert));
  const clientSerial = dbSerial(client.serialNumber).replace(/^(00)+(?=..)/, '');
  const serials = new Set();
  while (serials.size < CRL_ENTRIES) {
    const s = randomBytes(16);
    s[0] = s[0] & 0x7f || 1; // positive, and no leading zero byte: the hex is the DER serial
    const hex = s.toString('hex').toUpperCase();
    if (hex !== clientSerial) serials.add(hex);
  }
  // Revoked over the past year, some with a reason code, as a long-lived CA's CRL would be.
  const reasons = ['', 'keyCompromise', 'superseded', '', 'cessationOfOperation', 'affiliationChanged'];
  const expires = caTime(new Date(Date.now() + 2 * 365 * 86400e3));
  let i = 0;
  const lines = [];
  for (const s of serials) {
    const at = caTime(new Date(Date.now() - Math.floor(Math.random() * 365 * 86400e3)));
    const reason = reasons[i % reasons.length];
    lines.push(`R\t${expires}\t${at}${reason ? `,${reason}` : ''}\t${s}\tunknown\t/CN=revoked ${i++}\n`);
  }
  opensslCrl({ dir: path.join(dir, 'intermediate'), cert: f.caCert, key: f.caKey, index: lines.join(''), out: f.crl });
  opensslCrl({
    dir: path.join(dir, 'root'),
    cert: path.join(pki.dir, 'root-ca.crt'),
    key: path.join(pki.dir, 'root-ca.key'),
    index: '',
    out: f.rootCrl,
  });
  fs.writeFileSync(f.nginxCrls, fs.readFileSync(f.crl, 'utf8') + fs.readFileSync(f.rootCrl, 'utf8'));
  const subject = '/' + client.subject.split('\n').join('/');
  const valid = `V\t${caTime(new Date(client.validTo))}\t\t${clientSerial}\tunknown\t${subject}\n`;
  fs.writeFileSync(f.ocspIndex + '.tmp', valid);
  fs.renameSync(f.ocspIndex + '.tmp', f.ocspIndex); // last: its mtime says the set is complete
  return f;
}

// ---------- servers ----------
/** mtlsgate's mutualTls.revocation values, in YAML flow style (the template's {{REVOCATION}}). */
const REVOCATION_OFF = '{ mode: off }';
const revocationCrl = (file) => `{ mode: crl, crl: { sources: [${JSON.stringify(`file://${file}`)}] } }`;
const revocationOcsp = (port) => `{ mode: ocsp, ocsp: { responder: "http://127.0.0.1:${port}" } }`;

const render = (template, vars) =>
  fs
    .readFileSync(path.join(BENCH, 'peers', template), 'utf8')
    .replace(/\{\{(\w+)\}\}/g, (_, k) => (k in vars ? String(vars[k]) : die(`${template}: no value for {{${k}}}`)));

function hardNofile() {
  const r = sh('sh', ['-c', 'ulimit -Hn']);
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1048576) : 16384;
}

class Bench {
  constructor(o, env) {
    this.o = o;
    this.env = env;
    this.runs = []; // { test, server, key, round, result, ... }
    this.failures = [];
    this.samples = {};
  }

  tbArgs(srv, extra) {
    const p = srv.pki;
    return [
      '-p',
      String(srv.port),
      '-S',
      SNI,
      '-c',
      p.clientCert,
      '-k',
      p.clientKey,
      '-s',
      String(srv.rec.child.pid),
      '-b',
      String(this.backend.child.pid),
      ...extra,
    ];
  }

  /** One tb run; resolves to its JSON result. */
  async tb(srv, extra, timeoutMs) {
    const r = await runToEnd('tb', this.tbBin, this.tbArgs(srv, extra), { timeoutMs });
    const line = r.stdout.trim().split('\n').pop();
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`tb ${extra.join(' ')}: no result (exit ${r.code ?? r.signal}): ${r.stderr.trim() || line}`);
    }
  }

  async startBackend() {
    this.backendPort = await freePort();
    const dir = path.join(BUILD, 'run', 'backend');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    if (this.env.peers.nginx.ok) {
      fs.writeFileSync(
        path.join(dir, 'nginx.conf'),
        render('backend-nginx.conf', { PREFIX: dir, BACKEND_PORT: this.backendPort, NOFILE: hardNofile() }),
      );
      const err = fs.openSync(path.join(dir, 'stderr.log'), 'w');
      this.backend = startProcess(
        'backend (nginx)',
        'nginx',
        ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')],
        { stderr: err },
      );
      this.backendKind = 'nginx, 1 worker, return 200';
    } else {
      this.backend = startProcess('backend (node)', process.execPath, [
        path.join(BENCH, 'peers/backend.mjs'),
        String(this.backendPort),
      ]);
      this.backendKind = 'node:http fallback (nginx unavailable): may limit keep-alive figures';
      log(`WARNING: no nginx; the backend is ${this.backendKind}`);
    }
    await waitForPort(this.backendPort, this.backend);
  }

  /** Start one server fresh; resolves once it accepts on its port. */
  /**
   * Start one server fresh; resolves once it accepts on its port and a probe (one handshake and request) succeeds.
   * requireOk: false resolves with the failed probe in srv.probe instead of throwing. caNames (nginx only): the
   * CA names sent in the CertificateRequest, when they should differ from the truststore (a big truststore).
   * revocation (mtlsgate): its mutualTls.revocation in YAML flow style; sslCrl (nginx): a CRL file for ssl_crl.
   */
  async startServer(
    kind,
    pki,
    {
      truststore = pki.truststore,
      caNames = truststore,
      tag = '',
      requireOk = true,
      revocation = REVOCATION_OFF,
      sslCrl = null,
      editConfig = (yaml) => yaml,
    } = {},
  ) {
    const port = await freePort();
    const dir = path.join(BUILD, 'run', `${kind}-${pki.key}${tag}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const vars = {
      PREFIX: dir,
      PORT: port,
      BACKEND_PORT: this.backendPort,
      SNI,
      SERVER_CERT: pki.serverCert,
      SERVER_KEY: pki.serverKey,
      TRUSTSTORE: truststore,
      CA_NAMES: caNames,
      WORKERS: this.o.workers,
      NOFILE: hardNofile(),
      LOG_LEVEL: this.o.gwLogLevel,
      REVOCATION: revocation,
      SSL_CRL: sslCrl ? `ssl_crl ${sslCrl};` : '',
    };
    const err = fs.openSync(path.join(dir, 'stderr.log'), 'w');
    let rec;
    if (kind === 'nginx') {
      fs.writeFileSync(path.join(dir, 'nginx.conf'), render('nginx.conf', vars));
      rec = startProcess(
        'nginx',
        'nginx',
        ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')],
        { stderr: err },
      );
    } else if (kind === 'caddy') {
      if (truststore !== pki.truststore) throw new Error('caddy runs with the 2-certificate truststore only');
      const lines = pki.caFiles.map((f) => `\t\t\ttrusted_ca_cert_file ${f}`).join('\n');
      fs.writeFileSync(path.join(dir, 'Caddyfile'), render('Caddyfile', { ...vars, CA_FILE_LINES: lines }));
      const env = {
        ...process.env,
        HOME: dir,
        XDG_DATA_HOME: path.join(dir, 'data'),
        XDG_CONFIG_HOME: path.join(dir, 'config'),
      };
      rec = startProcess('caddy', 'caddy', ['run', '--config', path.join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
        env,
        stderr: err,
        stdout: err,
      });
    } else if (kind === 'node') {
      const args = [
        ...(this.profileDir ? [`--cpu-prof`, `--cpu-prof-dir=${this.profileDir}`] : []),
        path.join(BENCH, 'peers/node-forwarder.mjs'),
        ...['--port', String(port), '--backend-port', String(this.backendPort)],
        ...['--cert', pki.serverCert, '--key', pki.serverKey, '--ca', truststore, '--workers', String(this.o.workers)],
        // Renewing tickets as mtlsgate does, so its resumed figure is a ceiling, not every other connection in full.
        '--renew-tickets',
        ...this.o.nodePeerArgs,
      ];
      rec = startProcess('node', process.execPath, args, { stderr: err });
    } else {
      fs.writeFileSync(path.join(dir, 'mtlsgate.yaml'), editConfig(render('mtlsgate.yaml', vars)));
      const args = [
        ...this.o.gwNodeArgs,
        ...(this.profileDir ? [`--cpu-prof`, `--cpu-prof-dir=${this.profileDir}`] : []),
        this.gw.bin,
        'serve',
        '--config',
        path.join(dir, 'mtlsgate.yaml'),
        ...(this.gwWorkers ? ['--workers', String(this.o.workers)] : []),
      ];
      rec = startProcess('mtlsgate', process.execPath, args, { stderr: err }); // stdout (the request log) -> /dev/null
    }
    const srv = { kind, pki, port, dir, rec };
    try {
      await waitForPort(port, rec, 60000); // a 10,000-CA truststore takes seconds per process to load
      // A probe: one full handshake and request must succeed. Retried only while connections are refused
      // (workers still starting); a TLS alert or a bad status is an answer.
      let probe;
      for (let i = 0; i < 20; i++) {
        probe = await this.tb(srv, ['-m', 'hs', '-P', '1', '-w', '0', '-t', '0.3'], 20000);
        if ((probe.ok > 0 && probe.errors === 0 && probe.non200 === 0) || !/^connect|^$/.test(probe.first_error)) break;
        await sleep(250);
      }
      srv.probe = probe;
      const ok = probe.ok > 0 && probe.errors === 0 && probe.non200 === 0;
      if (!ok && requireOk) throw new Error(`probe failed: ${probe.first_error || JSON.stringify(probe)}`);
    } catch (e) {
      const tail = fs.readFileSync(path.join(dir, 'stderr.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
      await stopProcess(rec);
      throw new Error(`${kind} (${pki.key}): ${e.message}${tail ? `\n${tail}` : ''}`);
    }
    return srv;
  }

  async warm(srv) {
    const w = String(this.o.warm);
    await this.tb(srv, ['-m', 'hs', '-P', '4', '-w', '0', '-t', w], 30000);
    const ka = await this.tb(srv, ['-m', 'ka', '-n', '64', '-w', '0', '-t', w], 30000);
    this.samples[srv.kind] ??= ka.sample;
  }

  record(test, srv, round, result, extra = {}) {
    this.runs.push({ test, server: srv.kind, key: srv.pki.key, round, result, ...extra });
    if (result.errors || result.non200)
      log(
        `  ${srv.kind}/${srv.pki.key} ${test}: ${result.errors} errors, ${result.non200} non-200 (${result.first_error})`,
      );
    if (result.other_cores > 0.3)
      log(
        `  note: ${result.other_cores.toFixed(2)} cores used by other processes during ${srv.kind}/${srv.pki.key} ${test}`,
      );
  }

  /** hs, resume, ka, ka@5000 on one fresh server. */
  async suite(kind, pki, round) {
    const t = this.o.only;
    const secs = String(this.o.secs);
    const bound = (this.o.secs + 30) * 1000;
    const srv = await this.startServer(kind, pki);
    try {
      await this.warm(srv);
      const line = [];
      if (t.includes('hs')) {
        const r = await this.tb(srv, ['-m', 'hs', '-P', '8', '-w', '1', '-t', secs], bound);
        this.record('hs', srv, round, r);
        line.push(`hs ${fmt(r.per_server_core)}/core`);
      }
      if (t.includes('resume')) {
        const r = await this.tb(srv, ['-m', 'resume', '-P', '8', '-w', '1', '-t', secs], bound);
        this.record('resume', srv, round, r);
        line.push(`resume ${fmt(r.per_server_core)}/core (${(r.reuse_ratio * 100).toFixed(0)} % resumed)`);
      }
      if (t.includes('ka')) {
        const r = await this.tb(srv, ['-m', 'ka', '-n', '64', '-w', '1', '-t', secs], bound);
        this.record('ka', srv, round, r);
        line.push(`ka ${fmt(r.per_server_core)}/core`);
      }
      if (t.includes('rate')) {
        const r = await this.tb(srv, ['-m', 'ka', '-n', '64', '-r', '5000', '-w', '1', '-t', secs], bound);
        this.record('rate', srv, round, r);
        line.push(`@5k p50 ${fmt(r.lat_ms.p50)} p99 ${fmt(r.lat_ms.p99)} ms`);
      }
      log(`  ${kind}/${pki.key}: ${line.join(', ')}`);
    } finally {
      await stopProcess(srv.rec);
    }
  }

  /**
   * RSS per idle connection: a fresh server (no warm-up: a heap grown by load and shrunk later would make the
   * difference meaningless, even negative), its idle baseline, N idle connections, RSS again: 4 s after they are
   * open (the reference run's reading) and once it has stopped moving.
   */
  async rss(kind, pki, round) {
    const srv = await this.startServer(kind, pki);
    let idle = null;
    try {
      // Node's heaps shrink about 8 s after activity stops (V8's memory reducer): wait that out on both sides.
      const nodeWait = kind === 'mtlsgate' || kind === 'node' ? 10 : 0;
      const base = await settledMemory(srv.rec.child.pid, Math.max(1, nodeWait));
      idle = startProcess(
        'tb idle',
        this.tbBin,
        this.tbArgs(srv, ['-m', 'idle', '-n', String(this.o.idleConns), '-C', '32', '-t', '120']),
        { stdout: 'pipe' },
      );
      let out = '';
      idle.child.stdout.on('data', (d) => (out += d));
      const end = Date.now() + 90000;
      while (!out.includes('"ready"') && !idle.exited && Date.now() < end) await sleep(50);
      if (!out.includes('"ready"')) throw new Error('idle connections never all opened');
      const ready = JSON.parse(out.split('\n')[0]);
      await sleep(this.o.settle * 1000);
      const early = memoryOf(srv.rec.child.pid); // what a fixed wait would read (the reference run's method)
      const withConns = await settledMemory(srv.rec.child.pid, Math.max(0, nodeWait - this.o.settle));
      const established = establishedOn(srv.port);
      await stopProcess(idle, { signal: 'SIGTERM', graceMs: 5000 });
      const done = JSON.parse(out.trim().split('\n').pop());
      const open = ready.open;
      const result = {
        open,
        established,
        failed: ready.failed,
        openSeconds: ready.open_s,
        closedByServer: done.closed_by_server ?? null,
        baseKiB: base.rssKiB,
        withKiB: withConns.rssKiB,
        basePssKiB: base.pssKiB,
        withPssKiB: withConns.pssKiB,
        processes: withConns.processes,
        basePerProcessKiB: base.perProcessKiB,
        withPerProcessKiB: withConns.perProcessKiB,
        settleSeconds: [base.settleSeconds, this.o.settle + withConns.settleSeconds],
        earlyKiB: early.rssKiB,
        earlyPerConnKiB: open ? (early.rssKiB - base.rssKiB) / open : NaN,
        perConnKiB: open ? (withConns.rssKiB - base.rssKiB) / open : NaN,
      };
      this.runs.push({ test: 'rss', server: kind, key: pki.key, round, result });
      log(
        `  ${kind}/${pki.key}: ${open} idle conns (${established} established), RSS ${fmt(base.rssKiB / 1024)} -> ${fmt(withConns.rssKiB / 1024)} MiB, ${fmt(result.perConnKiB)} KiB/conn`,
      );
    } finally {
      if (idle) await stopProcess(idle, { graceMs: 2000 });
      await stopProcess(srv.rec);
    }
  }

  /** Time and peak RSS of one command, repeated; /usr/bin/time -v gives the peak. */
  async timed(name, args, reps) {
    const out = [];
    for (let i = 0; i < reps; i++) {
      const hasTime = fs.existsSync('/usr/bin/time');
      const t0 = process.hrtime.bigint();
      const r = hasTime
        ? await runToEnd(name, '/usr/bin/time', ['-f', 'BENCHTIME %e %M', process.execPath, this.gw.bin, ...args], {
            timeoutMs: 120000,
          })
        : await runToEnd(name, process.execPath, [this.gw.bin, ...args], { timeoutMs: 120000 });
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const m = /BENCHTIME ([\d.]+) (\d+)/.exec(r.stderr);
      out.push({
        wall,
        peakRssKiB: m ? Number(m[2]) : null,
        code: r.code,
        stdoutBytes: r.stdout.length,
        stdout: r.stdout,
      });
    }
    return out;
  }
}

/**
 * RSS once it has stopped moving: Node's heaps shrink about 8 s after start-up or a burst of work (V8's memory
 * reducer), which would otherwise land in the per-connection difference (a main thread alone drops ~20 MiB). After at
 * least minSeconds, sampled every 0.5 s until four samples in a row are within 1 % (at most 30 s in all).
 */
async function settledMemory(pid, minSeconds) {
  const started = Date.now();
  const samples = [];
  for (const end = started + 30000; Date.now() < end;) {
    await sleep(500);
    samples.push(memoryOf(pid));
    const last = samples.slice(-4).map((m) => m.rssKiB);
    if (
      Date.now() - started >= minSeconds * 1000 &&
      last.length === 4 &&
      Math.max(...last) - Math.min(...last) <= 0.01 * Math.max(...last)
    )
      break;
  }
  return { ...samples[samples.length - 1], settleSeconds: Math.round((Date.now() - started) / 100) / 10 };
}

// ---------- phases ----------
/**
 * The interleaved order phaseMain and phaseRss both run in: per round, the keys (reversed on odd rounds), and for
 * each key the servers rotated by the round, so no server always goes first or follows the same one. One step per
 * (round, key): { round, key, order }, order being the servers to run for it, in turn.
 */
function* schedule(o, servers) {
  for (let round = 0; round < o.rounds; round++) {
    for (const key of round % 2 ? [...o.keys].reverse() : o.keys) {
      yield { round, key, order: servers.map((_, i) => servers[(i + round) % servers.length]) };
    }
  }
}

/**
 * Runs `each(kind, pki, round)` over the schedule, logging `heading` per step; a failure is recorded and the run goes
 * on.
 */
async function runSchedule(b, servers, phase, heading, each) {
  for (const { round, key, order } of schedule(b.o, servers)) {
    log(heading(round, key, order));
    for (const kind of order) {
      try {
        await each(kind, b.pkis[key], round);
      } catch (e) {
        b.failures.push({ phase, server: kind, key, round, error: e.message });
        log(`  FAILED ${e.message}`);
      }
    }
  }
}

async function phaseMain(b, servers) {
  if (!b.o.only.some((t) => ['hs', 'resume', 'ka', 'rate'].includes(t))) return;
  await runSchedule(
    b,
    servers,
    'main',
    (round, key, order) => `round ${round + 1}/${b.o.rounds}, ${key}: ${order.join(', ')}`,
    (kind, pki, round) => b.suite(kind, pki, round),
  );
}

async function phaseRss(b, servers) {
  if (!b.o.only.includes('rss')) return;
  await runSchedule(
    b,
    servers,
    'rss',
    (round, key) => `RSS round ${round + 1}/${b.o.rounds}, ${key}: ${b.o.idleConns} idle connections`,
    (kind, pki, round) => b.rss(kind, pki, round),
  );
}

/** Truststore scale: lint and serve --check on 100/1,000/10,000 CAs; handshake rate with 10,000 vs 2. */
async function phaseTruststore(b, servers) {
  const res = { sizes: [100, 1000, 10000], lint: [], check: [], hs: [], hsRatio: {} };
  if (!b.o.only.includes('truststore')) return null;
  const pki = b.pkis.ec ?? b.pkis.rsa;
  const base = await b.timed('version', ['--version'], b.o.reps);
  res.startup = { wall: stats(base.map((x) => x.wall)), peakRssMiB: stats(base.map((x) => x.peakRssKiB / 1024)) };
  for (const n of res.sizes) {
    const file = b.truststores[pki.key][n];
    const lint = await b.timed('truststore lint', ['truststore', 'lint', file, '--json'], b.o.reps);
    const cfgDir = path.join(BUILD, 'run', `check-${n}`);
    fs.mkdirSync(cfgDir, { recursive: true });
    const cfg = path.join(cfgDir, 'mtlsgate.yaml');
    fs.writeFileSync(
      cfg,
      render('mtlsgate.yaml', {
        PORT: 0,
        BACKEND_PORT: b.backendPort,
        SNI,
        SERVER_CERT: pki.serverCert,
        SERVER_KEY: pki.serverKey,
        TRUSTSTORE: file,
        LOG_LEVEL: 'warn',
        REVOCATION: REVOCATION_OFF,
      }),
    );
    const check = await b.timed('serve --check', ['serve', '--config', cfg, '--check'], b.o.reps);
    const certs = (() => {
      try {
        return JSON.parse(lint[0].stdout).certificates.length;
      } catch {
        return null;
      }
    })();
    const summ = (xs) => ({
      wall: stats(xs.map((x) => x.wall)),
      peakRssMiB: stats(xs.map((x) => x.peakRssKiB / 1024)),
      exitCodes: [...new Set(xs.map((x) => x.code))],
    });
    res.lint.push({ size: n, certificatesParsed: certs, ...summ(lint) });
    res.check.push({ size: n, ...summ(check) });
    log(
      `  ${n} CAs: lint ${fmt(stats(lint.map((x) => x.wall)).med)} s (${certs} parsed, exit ${lint[0].code}), serve --check ${fmt(stats(check.map((x) => x.wall)).med)} s (exit ${check[0].code})`,
    );
  }
  const who = servers.filter((s) => s === 'mtlsgate' || s === 'nginx');
  // Does a handshake work at all with N CAs, each server configured the plain way (the truststore is also the
  // list of CA names sent in the CertificateRequest, whose certificate_authorities field is limited to 64 KiB)?
  res.probes = [];
  for (const kind of who) {
    for (const key of b.o.keys) {
      for (const n of res.sizes) {
        try {
          const srv = await b.startServer(kind, b.pkis[key], {
            truststore: b.truststores[key][n],
            tag: `-ts${n}`,
            requireOk: false,
          });
          await stopProcess(srv.rec);
          const p = srv.probe;
          const works = p.ok > 0 && p.errors === 0 && p.non200 === 0;
          res.probes.push({
            server: kind,
            key,
            size: n,
            works,
            bytesIn: works ? p.bytes_in_per_conn : null,
            error: works ? null : p.first_error,
          });
          log(
            `  ${kind}/${key}, ${n} CAs (all named in the CertificateRequest): ${works ? `handshake ok, ${fmt(p.bytes_in_per_conn)} bytes in` : `FAILS: ${p.first_error}`}`,
          );
        } catch (e) {
          res.probes.push({ server: kind, key, size: n, works: false, error: e.message.split('\n')[0] });
        }
      }
    }
  }
  // Handshake rate with the 10,000-CA truststore against the 2-CA one. nginx as its docs advise for a big
  // truststore: all 10,000 in ssl_trusted_certificate (verification), only the 2 real CAs named
  // (ssl_client_certificate). mtlsgate has no such setting: when its handshakes fail, that is the figure.
  const secs = String(Math.max(2, Math.round(b.o.secs * 0.5)));
  for (let round = 0; round < b.o.rounds; round++) {
    for (const key of b.o.keys) {
      for (const kind of who) {
        for (const n of round % 2 ? [10000, 2] : [2, 10000]) {
          const pki = b.pkis[key];
          const ts = n === 2 ? pki.truststore : b.truststores[key][n];
          try {
            const srv = await b.startServer(kind, pki, {
              truststore: ts,
              caNames: pki.truststore,
              tag: `-ts${n}`,
              requireOk: false,
            });
            try {
              const p = srv.probe;
              if (!(p.ok > 0 && p.errors === 0 && p.non200 === 0)) {
                res.hs.push({ server: kind, key, size: n, round, error: p.first_error });
                log(`  ${kind}/${key} truststore ${n}: handshakes FAIL (${p.first_error})`);
                continue;
              }
              await sleep(500);
              const idleRss = memoryOf(srv.rec.child.pid).rssKiB;
              await b.tb(srv, ['-m', 'hs', '-P', '4', '-w', '0', '-t', String(b.o.warm)], 30000);
              const r = await b.tb(srv, ['-m', 'hs', '-P', '8', '-w', '1', '-t', secs], (Number(secs) + 30) * 1000);
              res.hs.push({ server: kind, key, size: n, round, idleRssKiB: idleRss, result: r });
              log(
                `  ${kind}/${key} truststore ${n}: ${fmt(r.per_server_core)} hs/core, ${fmt(r.bytes_in_per_conn)} bytes in per connection, idle RSS ${fmt(idleRss / 1024)} MiB`,
              );
            } finally {
              await stopProcess(srv.rec);
            }
          } catch (e) {
            b.failures.push({ phase: 'truststore', server: kind, key, size: n, round, error: e.message });
            log(`  FAILED ${e.message}`);
          }
        }
      }
    }
  }
  // A truststore that makes every handshake fail scores 0.
  for (const kind of who) {
    res.hsRatio[kind] = {};
    for (const key of b.o.keys) {
      const ratios = [];
      for (let round = 0; round < b.o.rounds; round++) {
        const get = (n) => {
          const x = res.hs.find((y) => y.server === kind && y.key === key && y.size === n && y.round === round);
          return x ? (x.error ? 0 : x.result.per_server_core) : undefined;
        };
        if (get(2) && get(10000) !== undefined) ratios.push(get(10000) / get(2));
      }
      res.hsRatio[kind][key] = stats(ratios);
    }
  }
  return res;
}
async function phaseDoctor(b) {
  if (!b.o.only.includes('doctor')) return null;
  const out = [];
  for (const key of b.o.keys) {
    const p = b.pkis[key];
    for (const [size, ts] of [
      [2, p.truststore],
      [10000, b.truststores[key][10000]],
    ]) {
      const runs = await b.timed(
        'doctor',
        ['doctor', '--cert', p.clientCert, '--key', p.clientKey, '--truststore', ts, '--json'],
        b.o.reps,
      );
      let verdict = null;
      try {
        verdict = JSON.parse(runs[0].stdout).verdict;
      } catch {
        /* not JSON */
      }
      const wall = stats(runs.map((r) => r.wall));
      out.push({
        key,
        size,
        wall,
        peakRssMiB: stats(runs.map((r) => r.peakRssKiB / 1024)),
        exitCode: runs[0].code,
        accepted: verdict?.accepted ?? null,
      });
      log(
        `  doctor --json, ${key}, ${size}-cert truststore: ${fmt(wall.med)} s (exit ${runs[0].code}, accepted ${verdict?.accepted})`,
      );
    }
  }
  return out;
}

/**
 * OpenSSL's own OCSP responder for a PKI's intermediate, answering from the fixtures' index (the client: good).
 * -port takes a port only in OpenSSL 3.0: it listens on every address, for as long as this phase runs.
 */
async function startOcspResponder(pki, fx) {
  const port = await freePort();
  const dir = path.join(BUILD, 'run', `ocsp-${pki.key}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const err = fs.openSync(path.join(dir, 'stderr.log'), 'w');
  const rec = startProcess(
    `openssl ocsp (${pki.key})`,
    'openssl',
    [
      'ocsp',
      '-index',
      fx.ocspIndex,
      '-port',
      String(port),
      '-rsigner',
      fx.caCert,
      '-rkey',
      fx.caKey,
      '-CA',
      fx.caCert,
      '-ndays',
      '1', // a nextUpdate, so the answer may be cached
      '-nrequest',
      '1000000', // a bound; a warm cache asks a handful of times
    ],
    { stderr: err, stdout: err },
  );
  // Not waitForPort: openssl ocsp serves one connection at a time, and a probe connection that sends no request
  // leaves it waiting on that connection (every OCSP query then times out). It prints ACCEPT once it listens.
  const log = path.join(dir, 'stderr.log');
  const end = Date.now() + 10000;
  while (!/ACCEPT/.test(fs.readFileSync(log, 'utf8'))) {
    if (rec.exited || Date.now() > end) throw new Error(`openssl ocsp did not start: ${fs.readFileSync(log, 'utf8')}`);
    await sleep(50);
  }
  return { port, rec, dir };
}

const probeOk = (p) => p && p.ok > 0 && p.errors === 0 && p.non200 === 0;

/**
 * Revocation (issue 14): full handshakes per server core with revocation in force against the same server without
 * it, paired by round: mtlsgate off / 100,000-entry CRL / OCSP with a warm cache (the warm-up fills it), nginx
 * without and with ssl_crl for reference. Then what loading that CRL costs: `serve --check` with it minus without,
 * and parseCrls + buildCrlSet timed in this process on the private build.
 */
/**
 * Authorization (issue 15): keep-alive proxied requests per server core, mtlsgate alone, paired by round: no
 * authorization, a 10,000-entry allow-list (the client's fingerprint last), and a Lambda authorizer whose decision is
 * cached (the warm-up fills the cache). The variants edit the rendered config: an allow line under mutualTls, an
 * authorizers list and the mapping's authorizer.
 */
async function phaseAuthz(b, servers) {
  if (!b.o.only.includes('authz') || !servers.includes('mtlsgate')) return null;
  const res = { entries: ALLOW_ENTRIES, ka: [], ratios: {} };
  const dir = path.join(BUILD, 'authz');
  fs.mkdirSync(dir, { recursive: true });
  const authorizer = path.join(dir, 'authorizer.mjs');
  fs.writeFileSync(
    authorizer,
    'export const handler = async (event) => ({ principalId: "bench", policyDocument: { Version: "2012-10-17", ' +
      'Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: event.methodArn }] } });\n',
  );
  const variants = ['plain', 'allow', 'authorizer'];
  const secs = String(b.o.secs);
  for (let round = 0; round < b.o.rounds; round++) {
    for (const key of round % 2 ? [...b.o.keys].reverse() : b.o.keys) {
      const pki = b.pkis[key];
      const fp = sh('openssl', ['x509', '-in', pki.clientCert, '-noout', '-fingerprint', '-sha256'])
        .stdout.trim()
        .split('=')[1];
      const fillers = Array.from({ length: ALLOW_ENTRIES - 1 }, (_, i) =>
        JSON.stringify(createHash('sha256').update(`filler ${i}`).digest('hex').toUpperCase().match(/../g).join(':')),
      );
      const allowLine = `      allow: { sha256Fingerprints: [${[...fillers, JSON.stringify(fp)].join(', ')}] }\n`;
      const edit = {
        plain: (y) => y,
        allow: (y) => y.replace(/^( {6}revocation: .*\n)/m, `$1${allowLine}`),
        authorizer: (y) =>
          y
            .replace(
              /^(domains:)/m,
              `authorizers: [{ name: bench, handler: ${JSON.stringify(`${authorizer}#handler`)} }]\n$1`,
            )
            .replace(/^( {8}target: .*\n)/m, '$1        authorizer: bench\n'),
      };
      const order = variants.map((_, i) => variants[(i + round) % variants.length]);
      log(`authorization round ${round + 1}/${b.o.rounds}, ${key}: ${order.join(', ')}`);
      for (const v of order) {
        try {
          const srv = await b.startServer('mtlsgate', pki, { tag: `-authz-${v}`, editConfig: edit[v] });
          try {
            await b.tb(srv, ['-m', 'ka', '-n', '64', '-w', '0', '-t', String(b.o.warm)], 30000);
            const r = await b.tb(srv, ['-m', 'ka', '-n', '64', '-w', '1', '-t', secs], (b.o.secs + 30) * 1000);
            if (r.non200 > 0 || r.ok === 0) throw new Error(`${r.non200} non-200 of ${r.ok + r.non200}`);
            res.ka.push({ variant: v, key, round, result: r });
            log(`  mtlsgate/${key} ${v}: ${fmt(r.per_server_core)} req/s per core`);
          } finally {
            await stopProcess(srv.rec);
          }
        } catch (e) {
          res.ka.push({ variant: v, key, round, error: e.message.split('\n')[0] });
          b.failures.push({ phase: 'authz', variant: v, key, round, error: e.message });
          log(`  FAILED ${v} (${key}): ${e.message.split('\n')[0]}`);
        }
      }
    }
  }
  for (const v of ['allow', 'authorizer']) {
    res.ratios[v] = {};
    for (const key of b.o.keys) {
      const ratios = [];
      for (let round = 0; round < b.o.rounds; round++) {
        const get = (x) => res.ka.find((y) => y.variant === x && y.key === key && y.round === round);
        const [base, with_] = [get('plain'), get(v)];
        if (base?.result && with_)
          ratios.push(with_.error ? 0 : with_.result.per_server_core / base.result.per_server_core);
      }
      res.ratios[v][key] = stats(ratios);
    }
  }
  return res;
}

/** The report's Authorization section. */
function authzReport(b, a) {
  const L = [
    `Authorization (issue 15): keep-alive proxied requests per server core (\`ka\`, 64 connections), mtlsgate with a ${a.entries.toLocaleString('en-US')}-entry allow-list (\`mutualTls.allow.sha256Fingerprints\`, the client last) and with a Lambda authorizer whose decision is cached, against the same server with neither, paired by round.`,
    '',
    '| key | req/s per core: plain | allow-list | authorizer (cached) | ratio allow ÷ plain | ratio authorizer ÷ plain |',
    '|---|---|---|---|---|---|',
  ];
  for (const key of b.o.keys) {
    const rate = (v) =>
      fmtS(
        stats(a.ka.filter((x) => x.variant === v && x.key === key && x.result).map((x) => x.result.per_server_core)),
      );
    L.push(
      `| ${key} | ${rate('plain')} | ${rate('allow')} | ${rate('authorizer')} | ${fmtS(a.ratios.allow?.[key])} | ${fmtS(a.ratios.authorizer?.[key])} |`,
    );
  }
  return L.join('\n');
}

async function phaseRevocation(b, servers) {
  if (!b.o.only.includes('revocation')) return null;
  const res = { entries: CRL_ENTRIES, hs: [], ratios: {}, responders: {}, load: null };
  const cases = [
    ...(servers.includes('mtlsgate') ? ['off', 'crl', 'ocsp'].map((v) => ['mtlsgate', v]) : []),
    ...(servers.includes('nginx') ? ['off', 'crl'].map((v) => ['nginx', v]) : []),
  ];
  const secs = String(b.o.secs);
  const responders = {};
  try {
    for (const key of b.o.keys) {
      try {
        responders[key] = await startOcspResponder(b.pkis[key], b.revocation[key]);
        res.responders[key] = { port: responders[key].port };
      } catch (e) {
        res.responders[key] = { error: e.message };
        b.failures.push({ phase: 'revocation', server: 'openssl ocsp', key, error: e.message });
        log(`  FAILED openssl ocsp (${key}): ${e.message}`);
      }
    }
    for (let round = 0; round < b.o.rounds; round++) {
      for (const key of round % 2 ? [...b.o.keys].reverse() : b.o.keys) {
        const order = cases.map((_, i) => cases[(i + round) % cases.length]);
        log(`revocation round ${round + 1}/${b.o.rounds}, ${key}: ${order.map((c) => c.join('/')).join(', ')}`);
        for (const [kind, variant] of order) {
          const pki = b.pkis[key];
          const fx = b.revocation[key];
          const rec = { server: kind, variant, key, round };
          try {
            if (variant === 'ocsp' && !responders[key]) throw new Error('no OCSP responder');
            const srv = await b.startServer(kind, pki, {
              tag: `-rev-${variant}`,
              requireOk: false,
              revocation:
                variant === 'crl'
                  ? revocationCrl(fx.crl)
                  : variant === 'ocsp'
                    ? revocationOcsp(responders[key].port)
                    : REVOCATION_OFF,
              sslCrl: kind === 'nginx' && variant === 'crl' ? fx.nginxCrls : null,
            });
            try {
              if (!probeOk(srv.probe))
                throw new Error(`the valid client is refused: ${srv.probe?.first_error || JSON.stringify(srv.probe)}`);
              await b.tb(srv, ['-m', 'hs', '-P', '4', '-w', '0', '-t', String(b.o.warm)], 30000);
              const r = await b.tb(srv, ['-m', 'hs', '-P', '8', '-w', '1', '-t', secs], (b.o.secs + 30) * 1000);
              // A valid client refused even once means revocation did not work: no rate to compare.
              if (r.non200 > 0 || r.ok === 0)
                throw new Error(`${r.non200} non-200 of ${r.ok + r.non200} (${r.first_error || 'no error text'})`);
              if (r.errors) log(`  ${kind}/${key} ${variant}: ${r.errors} errors (${r.first_error})`);
              res.hs.push({ ...rec, result: r });
              log(`  ${kind}/${key} revocation ${variant}: ${fmt(r.per_server_core)} hs/core, ${fmt(r.rate)} hs/s`);
            } finally {
              await stopProcess(srv.rec);
            }
          } catch (e) {
            const error = e.message.split('\n').slice(0, 3).join(' | ');
            res.hs.push({ ...rec, error });
            b.failures.push({ phase: 'revocation', ...rec, error: e.message });
            log(`  FAILED ${kind}/${key} revocation ${variant}: ${error}`);
          }
        }
      }
    }
  } finally {
    for (const r of Object.values(responders)) await stopProcess(r.rec, { graceMs: 2000 });
  }
  for (const [kind, variant] of cases) {
    if (variant === 'off') continue;
    res.ratios[`${kind}/${variant}`] ??= {};
    for (const key of b.o.keys) {
      const ratios = [];
      for (let round = 0; round < b.o.rounds; round++) {
        const get = (v) =>
          res.hs.find((x) => x.server === kind && x.variant === v && x.key === key && x.round === round);
        const on = get(variant);
        const off = get('off')?.result?.per_server_core;
        // A variant whose handshakes fail scores 0, as a truststore that makes them fail does.
        if (off && on) ratios.push(on.error ? 0 : on.result.per_server_core / off);
      }
      res.ratios[`${kind}/${variant}`][key] = stats(ratios);
    }
  }
  res.load = await crlLoadTime(b);
  return res;
}

/**
 * What loading the big CRL costs: `serve --check` (a whole gateway start: read, parse, check against the
 * truststore) with it minus without, alternated, medians of at least 3; and parseCrls + buildCrlSet alone, in this
 * process on the private build (the first call cold, then the median of 4 more).
 */
async function crlLoadTime(b) {
  const pki = b.pkis.ec ?? b.pkis.rsa;
  const fx = b.revocation[pki.key];
  const out = { key: pki.key };
  try {
    const config = (name, revocation) => {
      const dir = path.join(BUILD, 'run', `check-rev-${name}`);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'mtlsgate.yaml');
      const vars = { PORT: 0, BACKEND_PORT: b.backendPort, SNI, SERVER_CERT: pki.serverCert };
      Object.assign(vars, {
        SERVER_KEY: pki.serverKey,
        TRUSTSTORE: pki.truststore,
        LOG_LEVEL: 'warn',
        REVOCATION: revocation,
      });
      fs.writeFileSync(file, render('mtlsgate.yaml', vars));
      return file;
    };
    const files = { off: config('off', REVOCATION_OFF), crl: config('crl', revocationCrl(fx.crl)) };
    const runs = { off: [], crl: [] };
    for (let i = 0; i < Math.max(3, b.o.reps); i++) {
      for (const v of i % 2 ? ['crl', 'off'] : ['off', 'crl']) {
        const [r] = await b.timed('serve --check', ['serve', '--config', files[v], '--check'], 1);
        runs[v].push(r);
      }
    }
    const bad = [...runs.off, ...runs.crl].find((r) => r.code !== 0);
    if (bad) throw new Error(`serve --check exited ${bad.code}`);
    out.check = {
      off: stats(runs.off.map((r) => r.wall)),
      crl: stats(runs.crl.map((r) => r.wall)),
      peakRssMiB: {
        off: stats(runs.off.map((r) => r.peakRssKiB / 1024)),
        crl: stats(runs.crl.map((r) => r.peakRssKiB / 1024)),
      },
    };
    out.check.added = out.check.crl.med - out.check.off.med;
    log(
      `  serve --check: ${fmt(out.check.off.med)} s without revocation, ${fmt(out.check.crl.med)} s with the CRL (+${fmt(out.check.added)} s)`,
    );
  } catch (e) {
    out.checkError = e.message;
    b.failures.push({
      phase: 'revocation',
      server: 'mtlsgate',
      key: pki.key,
      error: `CRL load (serve --check): ${e.message}`,
    });
    log(`  FAILED serve --check with the CRL: ${e.message}`);
  }
  try {
    const dist = path.join(path.dirname(b.gw.bin), '../dist');
    const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
    const [{ parseCrls }, { buildCrlSet, crlPathStatus }, { readTruststore }, { parseCert }] = await Promise.all([
      load('pki/crl.js'),
      load('policy/revocation.js'),
      load('trust/load.js'),
      load('pki/cert.js'),
    ]);
    const cas = (await readTruststore(pki.truststore)).truststore.certs;
    const bytes = fs.readFileSync(fx.crl);
    const source = `file://${fx.crl}`;
    const times = [];
    let set;
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const { crls, problems } = parseCrls(bytes, source);
      if (problems.length) throw new Error(`parseCrls: ${problems[0]}`);
      set = buildCrlSet(
        crls.map((crl) => ({ crl, source })),
        cas,
      );
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const entries = set.inForce[0]?.crl.revoked.size;
    if (set.inForce.length !== 1 || entries !== CRL_ENTRIES)
      throw new Error(`expected 1 CRL of ${CRL_ENTRIES} entries in force, got ${set.inForce.length} (${entries})`);
    // What each request pays once the CRL is in force: the lookup of the client's serial (scope leaf).
    const der = (file) => new X509Certificate(fs.readFileSync(file)).raw;
    const chain = [pki.clientCert, path.join(pki.dir, 'intermediate-ca.crt'), path.join(pki.dir, 'root-ca.crt')];
    const certPath = chain.map((f) => parseCert(der(f)));
    const lookups = 200000;
    let status;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) status = crlPathStatus(set, certPath, 'leaf', new Date()).status;
    const lookupUs = Number(process.hrtime.bigint() - t0) / 1e3 / lookups;
    if (status !== 'good') throw new Error(`the client's status against the CRL is ${status}, not good`);
    out.inProcess = { bytes: bytes.length, firstS: times[0], warmS: stats(times.slice(1)), lookupUs };
    log(
      `  parseCrls + buildCrlSet, ${(bytes.length / 2 ** 20).toFixed(1)} MiB PEM: ${fmt(times[0] * 1000)} ms cold, ${fmt(out.inProcess.warmS.med * 1000)} ms warm; a lookup ${fmt(lookupUs)} µs`,
    );
  } catch (e) {
    out.inProcessError = e.message;
    b.failures.push({
      phase: 'revocation',
      server: 'mtlsgate',
      key: pki.key,
      error: `CRL load (in process): ${e.message}`,
    });
    log(`  FAILED parseCrls + buildCrlSet: ${e.message}`);
  }
  return out;
}

/** The crypto ceiling: openssl speed on this machine, and what one TLS 1.3 mTLS handshake costs in signatures. */
function phaseSpeed(b) {
  if (!b.o.only.includes('speed')) return null;
  const seconds = b.o.quick ? '1' : '3';
  log(`openssl speed -seconds ${seconds} rsa2048 ecdsap256 ecdhx25519`);
  const r = sh('openssl', ['speed', '-seconds', seconds, 'rsa2048', 'ecdsap256', 'ecdhx25519'], { timeout: 120000 });
  const text = r.stdout;
  const rsa = /rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)/.exec(text);
  const ec = /256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)/.exec(text);
  const x = /ecdh \(X25519\)\s+[\d.]+s\s+([\d.]+)/.exec(text);
  if (!rsa || !ec || !x) return { error: 'could not parse openssl speed', raw: text.slice(-800) };
  const ops = {
    rsa2048: { sign: +rsa[1], verify: +rsa[2] },
    ecdsap256: { sign: +ec[1], verify: +ec[2] },
    x25519: { derive: +x[1] },
  };
  // Server side of a TLS 1.3 mTLS full handshake: 1 sign (CertificateVerify), 3 verifies (the client's
  // CertificateVerify, leaf <- intermediate, intermediate <- root) and 2 X25519 operations (keygen, derive).
  const per = (s) => 1e6 * (1 / s.sign + 3 / s.verify + 2 / ops.x25519.derive);
  return {
    command: `openssl speed -seconds ${seconds} rsa2048 ecdsap256 ecdhx25519`,
    ops,
    cryptoUsPerHandshake: { rsa: per(ops.rsa2048), ec: per(ops.ecdsap256) },
  };
}

// ---------- profile mode ----------
async function profileMode(b) {
  b.profileDir = path.join(BUILD, 'profile');
  fs.rmSync(b.profileDir, { recursive: true, force: true });
  fs.mkdirSync(b.profileDir, { recursive: true });
  const key = b.o.keys.includes('ec') ? 'ec' : b.o.keys[0];
  // mtlsgate, and with `--servers ...,node` the Node forwarder too: what differs between the two is ours.
  const kinds = (b.o.servers ?? ['mtlsgate']).filter((k) => k === 'mtlsgate' || k === 'node');
  const report = {};
  for (const kind of kinds) {
    for (const test of ['hs', 'resume', 'ka']) {
      const name = kind === 'mtlsgate' ? test : `${kind}-${test}`;
      report[name] = await profileOne(b, kind, key, test);
    }
  }
  return report;
}

async function profileOne(b, kind, key, test) {
  const dir = path.join(b.profileDir, `${kind}-${test}`);
  fs.mkdirSync(dir);
  b.profileDir = dir;
  let primaryPid;
  const srv = await b.startServer(kind, b.pkis[key]);
  try {
    primaryPid = srv.rec.child.pid;
    const r = await b.tb(
      srv,
      test === 'ka'
        ? ['-m', 'ka', '-n', '64', '-w', '1', '-t', String(b.o.secs)]
        : ['-m', test, '-P', '8', '-w', '1', '-t', String(b.o.secs)],
      (b.o.secs + 30) * 1000,
    );
    log(`profile ${kind} ${test}: ${fmt(r.per_server_core)}/core`);
  } finally {
    await stopProcess(srv.rec, { signal: 'SIGTERM', graceMs: 15000 });
  }
  b.profileDir = path.dirname(dir);
  const clustered = b.o.workers > 1 && (kind === 'node' || b.gwWorkers);
  const report = topFunctions(dir, clustered ? primaryPid : null);
  process.stdout.write(`\n## ${kind} CPU profile under ${test} load (${key}), self time\n\n${report.table}\n`);
  return report;
}

/**
 * Self time by function, and by area (the gateway's JS, undici, pino, node internals, native, GC), from the
 * .cpuprofile files of the threads that served (not the main thread of --workers), leaving out each one's first
 * 1.5 s (start-up: module loading, state building).
 */
function topFunctions(dir, skipPid) {
  const self = new Map();
  const areas = new Map();
  let total = 0;
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    // CPU.date.time.PID.TID.seq.cpuprofile: the main thread (TID 0) of the process that ran the workers, whether
    // they are its threads or (another build) its child processes.
    const [pid, tid] = f.split('.').slice(3, 5);
    if (skipPid && pid === String(skipPid) && tid === '0') continue;
    const prof = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const dt = new Map();
    let t = prof.startTime;
    for (let i = 0; i < prof.samples.length; i++) {
      t += prof.timeDeltas[i] ?? 0;
      if (t - prof.startTime < 1.5e6) continue;
      dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
    }
    for (const [id, us] of dt) {
      const n = byId.get(id);
      const cf = n.callFrame;
      if (cf.functionName === '(idle)') continue;
      const url = cf.url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
      const name =
        `${cf.functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : ''}`.trim();
      self.set(name, (self.get(name) ?? 0) + us);
      const area = !url
        ? ['(garbage collector)', '(program)', '(root)'].includes(cf.functionName)
          ? cf.functionName
          : 'native (C++ bindings: socket writes, TLS, fs, regexps)'
        : url.includes('undici')
          ? 'undici (backend client)'
          : /pino|sonic-boom|thread-stream/.test(url)
            ? 'pino (logging)'
            : url.includes('/dist/')
              ? 'mtlsgate (dist/)'
              : url.startsWith('node:')
                ? 'node internals (JS: http, tls, streams, events)'
                : 'other JS (node_modules)';
      areas.set(area, (areas.get(area) ?? 0) + us);
      total += us;
    }
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1)} %`;
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  const area = [...areas.entries()].sort((a, b) => b[1] - a[1]);
  const table = [
    '| area | self time |',
    '|---|---|',
    ...area.map(([k, v]) => `| ${k} | ${pct(v)} |`),
    '',
    '| function | self time |',
    '|---|---|',
    ...top.map(([k, v]) => `| \`${k}\` | ${pct(v)} |`),
  ].join('\n');
  return {
    totalMs: total / 1000,
    areas: Object.fromEntries(area.map(([k, v]) => [k, v / total])),
    top: top.map(([k, v]) => ({ fn: k, share: v / total })),
    table,
  };
}

// ---------- report ----------
function reportMarkdown(b, summary, servers, results, tgt, started, seconds) {
  const { truststore: scale, doctor, speed, revocation } = results;
  const e = b.env.machine;
  const L = [];
  L.push(
    `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on \`${e.host}\` (${Math.round(seconds / 60)} min${b.o.quick ? ', --quick' : ''}): ${e.cores} × ${e.cpuModel}, ${e.memGiB} GiB, kernel ${e.kernel}, ${e.os}; Node ${e.node} (OpenSSL ${e.nodeOpenssl}), ${e.openssl}, ${e.nginx ?? 'no nginx'}, ${e.caddy ? `Caddy ${e.caddy}` : 'no Caddy'}. mtlsgate ${e.git.commit}${e.git.srcDirty ? ' + uncommitted src/ changes' : ''} (${b.gw.how}), ${b.gwWorkers ? `--workers ${b.o.workers}` : 'one process (this build has no --workers)'}${b.o.gwLogLevel !== 'info' ? `, logs.level ${b.o.gwLogLevel}` : ''}${b.o.gwNodeArgs.length ? `, node ${b.o.gwNodeArgs.join(' ')}` : ''}; nginx worker_processes ${b.o.workers}${(b.o.servers ?? ALL_SERVERS).includes('node') ? `; node forwarder --renew-tickets${b.o.nodePeerArgs.map((a) => ` ${a}`).join('')}` : ''}. ${b.o.rounds} round(s), ${b.o.secs} s windows; backend: ${b.backendKind}.`,
  );
  L.push('');
  L.push(
    'min / **median** / max over rounds; ratios are mtlsgate ÷ peer paired by round (for rates > 1 means mtlsgate is faster; for latency, CPU and memory > 1 means mtlsgate is worse).',
  );
  if (b.o.only.some((t) => ['hs', 'resume', 'ka', 'rate', 'rss'].includes(t)))
    L.push('', mainTable(summary, servers, b.o.keys, b.o));
  const gwRss = b.runs.filter((r) => r.test === 'rss' && r.server === 'mtlsgate').map((r) => r.result);
  if (gwRss.length) {
    const mib = (xs) => xs.map((k) => fmt(k / 1024)).join(' + ');
    const mid = gwRss.slice().sort((x, y) => x.withKiB - y.withKiB)[gwRss.length >> 1];
    L.push(
      '',
      `${mid.basePerProcessKiB.length === 1 ? "mtlsgate's process (its main thread and every worker thread)" : "mtlsgate's processes (a build with worker processes: primary first, then workers)"}, VmRSS MiB in the median RSS run: ${mib(mid.basePerProcessKiB)} before the idle connections, ${mib(mid.withPerProcessKiB)} with them (steady state: sampled until it stopped moving, ${mid.settleSeconds.join(' s and ')} s).`,
    );
  }
  if (scale) {
    L.push(
      '',
      `Truststore scale (${b.pkis.ec ? 'ec' : 'rsa'} PKI + filler CAs; wall time of the whole command, peak RSS from /usr/bin/time):`,
      '',
    );
    L.push(
      '| CA certificates | `truststore lint --json` s | its peak RSS MiB | `serve --check` s | its peak RSS MiB |',
      '|---|---|---|---|---|',
    );
    for (const n of scale.sizes) {
      const l = scale.lint.find((x) => x.size === n);
      const c = scale.check.find((x) => x.size === n);
      L.push(
        `| ${n.toLocaleString('en-US')} | ${fmtS(l?.wall)} | ${fmtS(l?.peakRssMiB)} | ${fmtS(c?.wall)} | ${fmtS(c?.peakRssMiB)} |`,
      );
    }
    if (scale.startup)
      L.push(
        '',
        `(\`mtlsgate --version\` alone: ${fmtS(scale.startup.wall)} s, ${fmtS(scale.startup.peakRssMiB)} MiB: Node start-up and module loading.)`,
      );
    const sizes = scale.sizes.map((n) => n.toLocaleString('en-US'));
    L.push(
      '',
      `Handshake with every CA named in the CertificateRequest (each server's plain configuration), bytes the client reads per handshake:`,
      '',
    );
    L.push(`| server | key | ${sizes.join(' | ')} |`, `|---|---|${sizes.map(() => '---').join('|')}|`);
    for (const kind of Object.keys(scale.hsRatio)) {
      for (const key of b.o.keys) {
        const cells = scale.sizes.map((n) => {
          const p = scale.probes.find((x) => x.server === kind && x.key === key && x.size === n);
          return !p ? '–' : p.works ? `ok, ${fmt(p.bytesIn)} B` : `**fails**: ${p.error}`;
        });
        L.push(`| ${kind} | ${key} | ${cells.join(' | ')} |`);
      }
    }
    L.push(
      '',
      'Handshake rate, 10,000-CA truststore against the 2-CA one (nginx: the 10,000 in `ssl_trusted_certificate`, the 2 real CAs named; mtlsgate: its only configuration):',
      '',
    );
    L.push(
      '| server | key | full hs/core, 2 CAs | 10,000 CAs | ratio | bytes in per handshake, 2 / 10,000 | idle RSS MiB, 2 / 10,000 |',
      '|---|---|---|---|---|---|---|',
    );
    for (const kind of Object.keys(scale.hsRatio)) {
      for (const key of b.o.keys) {
        const at = (n) => scale.hs.filter((x) => x.server === kind && x.key === key && x.size === n);
        const pick = (n, f) =>
          stats(
            at(n)
              .filter((x) => !x.error)
              .map(f),
          );
        const fail = (n) => at(n).find((x) => x.error)?.error;
        const rate = (n) =>
          fail(n) && !pick(n, (x) => x.result.per_server_core)
            ? `fails (${fail(n)})`
            : fmtS(pick(n, (x) => x.result.per_server_core));
        L.push(
          `| ${kind} | ${key} | ${rate(2)} | ${rate(10000)} | ${fmtS(scale.hsRatio[kind][key])} | ${fmt(pick(2, (x) => x.result.bytes_in_per_conn)?.med)} / ${fmt(pick(10000, (x) => x.result.bytes_in_per_conn)?.med)} | ${fmt(pick(2, (x) => x.idleRssKiB / 1024)?.med)} / ${fmt(pick(10000, (x) => x.idleRssKiB / 1024)?.med)} |`,
        );
      }
    }
  }
  if (doctor) {
    L.push(
      '',
      '| `doctor --cert --key --truststore --json` | key | wall s | peak RSS MiB | verdict |',
      '|---|---|---|---|---|',
    );
    for (const d of doctor)
      L.push(
        `| ${d.size.toLocaleString('en-US')}-CA truststore | ${d.key} | ${fmtS(d.wall)} | ${fmtS(d.peakRssMiB)} | ${d.accepted === null ? `exit ${d.exitCode}` : d.accepted ? 'accepted' : 'denied'} |`,
      );
  }
  if (speed && !speed.error) {
    L.push(
      '',
      `Crypto ceiling (\`${speed.command}\`, one core): RSA-2048 ${fmt(speed.ops.rsa2048.sign)} sign/s, ${fmt(speed.ops.rsa2048.verify)} verify/s; ECDSA P-256 ${fmt(speed.ops.ecdsap256.sign)} sign/s, ${fmt(speed.ops.ecdsap256.verify)} verify/s; X25519 ${fmt(speed.ops.x25519.derive)} op/s. Server crypto per TLS 1.3 mTLS full handshake (1 sign + 3 verifies + 2 X25519): RSA ${fmt(speed.cryptoUsPerHandshake.rsa)} µs (ceiling ${fmt(1e6 / speed.cryptoUsPerHandshake.rsa)} hs/s per core), EC ${fmt(speed.cryptoUsPerHandshake.ec)} µs (ceiling ${fmt(1e6 / speed.cryptoUsPerHandshake.ec)}).`,
      '',
    );
    L.push(
      '| server | key | server CPU per full hs (µs, median) | crypto share of it (= hs/core ÷ ceiling) |',
      '|---|---|---|---|',
    );
    for (const s of servers) {
      for (const key of b.o.keys) {
        const cpu = summary.hs_cpu_us?.[key]?.servers?.[s]?.med;
        if (!cpu) continue;
        const c = speed.cryptoUsPerHandshake[key];
        L.push(`| ${s} | ${key} | ${fmt(cpu)} | ${((100 * c) / cpu).toFixed(0)} % |`);
      }
    }
  }
  if (revocation) L.push('', ...revocationReport(b, revocation));
  if (results.authz) L.push('', authzReport(b, results.authz));
  L.push('', 'Targets (issues 18, 5, 14 and 15), judged on the medians above:', '', targetsTable(tgt));
  const loadRuns = b.runs.filter((r) => r.result?.other_cores !== undefined);
  const noisy = loadRuns.filter((r) => r.result.other_cores > 0.3).length;
  const other = stats(loadRuns.filter((r) => ['hs', 'resume', 'ka'].includes(r.test)).map((r) => r.result.other_cores));
  L.push(
    '',
    `Noise: ${noisy} of ${loadRuns.length} load runs saw more than 0.3 core used by processes outside the bench; in the saturated runs (hs, resume, ka) other processes used ${fmtS(other)} cores of the ${e.cores} (tb's \`other_cores\`).${b.failures.length ? ` Failures: ${b.failures.length} (listed in the JSON).` : ''}`,
  );
  if (Object.keys(b.samples).length) {
    L.push(
      '',
      'What the backend received (its echo, one response per server):',
      '',
      '```',
      ...Object.entries(b.samples).map(([k, v]) => `${k.padEnd(8)} ${v.trim()}`),
      '```',
    );
  }
  return L.join('\n');
}
const times1000 = (s) => s && { ...s, min: s.min * 1000, med: s.med * 1000, max: s.max * 1000 };

/** The report's Revocation section. */
function revocationReport(b, rev) {
  const n = rev.entries.toLocaleString('en-US');
  const L = [
    `Revocation (issue 14): full handshakes (\`hs\`, 8 clients, one request each) with revocation in force against the same server without it, paired by round: mtlsgate with a ${n}-entry CRL from the intermediate (\`mode: crl\`) and with OCSP (\`mode: ocsp\`, OpenSSL's \`openssl ocsp\` as responder, its answer cached during the warm-up); nginx with \`ssl_crl\` (the same CRL and the root's) for reference. Judged on every request: a client refused even once fails the run.`,
    '',
    '| server | key | full hs/s per server core: off | CRL | OCSP | ratio CRL ÷ off | ratio OCSP ÷ off |',
    '|---|---|---|---|---|---|---|',
  ];
  const kinds = [...new Set(rev.hs.map((x) => x.server))];
  for (const kind of kinds) {
    for (const key of b.o.keys) {
      const at = (v) => rev.hs.filter((x) => x.server === kind && x.key === key && x.variant === v);
      const rate = (v) => {
        if (!at(v).length) return '–';
        const ok = stats(at(v).map((x) => x.result?.per_server_core));
        const fail = at(v).find((x) => x.error)?.error;
        return `${ok ? fmtS(ok) : ''}${fail ? `${ok ? '; ' : ''}fails (${fail})` : ''}`;
      };
      const ratio = (v) => fmtS(rev.ratios[`${kind}/${v}`]?.[key]);
      L.push(
        `| ${kind} | ${key} | ${rate('off')} | ${rate('crl')} | ${rate('ocsp')} | ${ratio('crl')} | ${ratio('ocsp')} |`,
      );
    }
  }
  const other = rev.hs.filter((x) => x.result).map((x) => x.result.other_cores);
  L.push(
    '',
    `Other processes used ${fmtS(stats(other))} cores during these runs (${other.filter((x) => x > 0.3).length} of ${other.length} above 0.3): the ratios are only as steady as that.`,
  );
  const l = rev.load;
  const offCore = stats(
    rev.hs
      .filter((x) => x.server === 'mtlsgate' && x.variant === 'off' && x.key === l?.key)
      .map((x) => x.result?.per_server_core),
  );
  const offUs = offCore && 1e6 / offCore.med;
  if (l?.check)
    L.push(
      '',
      `Loading the ${n}-entry CRL (${l.key}): \`serve --check\` takes ${fmtS(l.check.crl)} s with it and ${fmtS(l.check.off)} s without (medians **+${fmt(l.check.added)} s**; peak RSS ${fmt(l.check.peakRssMiB.crl?.med)} against ${fmt(l.check.peakRssMiB.off?.med)} MiB).`,
    );
  else if (l?.checkError) L.push('', `Loading the ${n}-entry CRL with \`serve --check\` failed: ${l.checkError}.`);
  if (l?.inProcess)
    L.push(
      '',
      `\`parseCrls\` + \`buildCrlSet\` on it (${fmt(l.inProcess.bytes / 2 ** 20)} MiB PEM) in one process: ${fmt(l.inProcess.firstS * 1000)} ms the first time, ${fmtS(times1000(l.inProcess.warmS))} ms the 4 times after. Once it is in force, judging a request (the client's serial looked up, \`crlPathStatus\`) takes ${fmt(l.inProcess.lookupUs)} µs${offUs ? `, ${fmt((100 * l.inProcess.lookupUs) / offUs)} % of the server CPU of a full handshake without revocation (${fmt(offUs)} µs, median of the ${l.key} runs above)` : ''}.`,
    );
  else if (l?.inProcessError) L.push('', `\`parseCrls\` + \`buildCrlSet\` failed: ${l.inProcessError}.`);
  return L;
}
const fmtS = (s) => (s ? (s.n === 1 ? fmt(s.med) : `${fmt(s.min)} / **${fmt(s.med)}** / ${fmt(s.max)}`) : '–');

// ---------- main ----------
async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = new Date();
  let stopping = false;
  const onSignal = (sig) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping every process the bench started`);
    void stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllSync);

  const peers = { nginx: { ok: true }, caddy: { ok: true }, node: { ok: true } };
  for (const [bin, pkg] of [
    ['nginx', 'nginx'],
    ['caddy', 'caddy'],
  ]) {
    if (o.servers && !o.servers.includes(bin) && bin !== 'nginx') {
      peers[bin] = { ok: false, why: 'not selected' };
      continue;
    }
    const why = ensurePeer(bin, pkg);
    peers[bin] = why ? { ok: false, why } : { ok: true };
    if (why) log(why);
  }
  const env = { machine: machine(), peers };
  const b = new Bench(o, env);
  b.tbBin = buildTb();
  b.gw = buildGateway(o);
  const help = sh(process.execPath, [b.gw.bin, 'serve', '--help']);
  b.gwWorkers = help.stdout.includes('--workers');
  if (!b.gwWorkers) log('this mtlsgate has no --workers: it runs as one process');
  const servers = (o.servers ?? ALL_SERVERS).filter((s) => s === 'mtlsgate' || peers[s].ok);
  log(`servers: ${servers.join(', ')}; tests: ${o.only.join(', ')}; ${o.rounds} round(s) × ${o.secs} s`);

  b.pkis = {};
  for (const key of o.keys) b.pkis[key] = ensurePki(b.gw.bin, key);
  if (o.only.includes('truststore') || o.only.includes('doctor'))
    b.truststores = await ensureTruststores(b.gw.bin, b.pkis, [100, 1000, 10000]);
  if (o.only.includes('revocation'))
    b.revocation = Object.fromEntries(o.keys.map((key) => [key, ensureRevocationFixtures(b.pkis[key])]));
  await b.startBackend();

  const results = {
    env,
    options: o,
    gateway: b.gw,
    gatewayWorkers: b.gwWorkers ? o.workers : 1,
    backend: b.backendKind,
    started: started.toISOString(),
  };
  let exitCode = 0;
  try {
    if (o.profile) {
      results.profile = await profileMode(b);
    } else {
      await phaseMain(b, servers);
      await phaseRss(b, servers);
      results.truststore = await phaseTruststore(b, servers);
      results.doctor = await phaseDoctor(b);
      results.speed = phaseSpeed(b);
      results.revocation = await phaseRevocation(b, servers);
      results.authz = await phaseAuthz(b, servers);
      const summary = summarize(b.runs, servers, o.keys);
      const tgt = targets(summary, results.truststore, results.doctor, results.revocation, results.authz);
      const seconds = (Date.now() - started.getTime()) / 1000;
      const md = reportMarkdown(b, summary, servers, results, tgt, started, seconds);
      Object.assign(results, {
        finished: new Date().toISOString(),
        seconds,
        summary,
        targets: tgt,
        samples: b.samples,
        failures: b.failures,
        runs: b.runs,
        markdown: md,
      });
      process.stdout.write(`\n${md}\n`);
      if (o.updateMd) updateBenchmarksMd(md);
      if (b.failures.length) exitCode = 1;
    }
  } finally {
    await stopAll();
  }
  const resultsDir = path.join(BENCH, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const partial = o.only.length < ALL_TESTS.length || o.servers !== null || o.keys.length < 2;
  let name = `${started.toISOString().slice(0, 10)}-${os.hostname()}${o.quick ? '-quick' : ''}${o.profile ? '-profile' : partial ? '-partial' : ''}`;
  // Never overwrite a run: add the start time, to the minute, then to the second, then a counter.
  const stamp = started.toISOString().slice(11, 19).replace(/:/g, '');
  const taken = (n) => fs.existsSync(path.join(resultsDir, `${n}.json`));
  if (taken(name))
    name =
      [`${name}-${stamp.slice(0, 4)}`, `${name}-${stamp}`].find((n) => !taken(n)) ?? `${name}-${stamp}-${Date.now()}`;
  const file = path.join(resultsDir, `${name}.json`);
  fs.writeFileSync(file + '.tmp', JSON.stringify(results, null, 1) + '\n');
  fs.renameSync(file + '.tmp', file);
  if (results.markdown) fs.writeFileSync(path.join(resultsDir, `${name}.md`), results.markdown + '\n');
  log(`results: ${path.relative(ROOT, file)}`);
  process.exitCode = exitCode;
}

function updateBenchmarksMd(md) {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return log('BENCHMARKS.md has no bench:results markers: not updated');
  fs.writeFileSync(file, `${text.slice(0, i + start.length)}\n${md}\n${text.slice(j)}`);
  log('BENCHMARKS.md updated');
}

main().catch(async (e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  await stopAll();
  process.exit(1);
});
