#!/usr/bin/env node
/**
 * Where an idle mTLS connection's bytes go (issue 18): opens N idle connections (the bench's `tb -m idle`: a full
 * handshake and one keep-alive request each, then held) against
 *   tls       a bare node:tls server with requestCert (the TLS floor),
 *   https     a bare node:https server with requestCert answering the request (Node's HTTP floor),
 *   mtlsgate  `mtlsgate serve --workers 1` (or --workers N: processes summed) proxying it to a local backend,
 * and reports per connection: VmRSS, and after a full GC the V8 heap used, external and arrayBuffers (from inside the
 * server: bench/lib/mem-probe.mjs). With --snapshot, heap snapshots before and after, diffed by constructor: the JS
 * objects each idle connection keeps.
 *
 *   node bench/conn-memory.mjs [--servers tls,https,mtlsgate] [--conns 2000] [--key ec|rsa] [--snapshot]
 *                              [--gateway DIR/bin/mtlsgate.js] [--workers N] [--node-args "..."]
 *                              [--env K=V,...]
 *
 * Needs the bench's fixtures (bench/.build: `node bench/run.mjs` makes them) and `npm run build`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { processTree } from './lib/procs.mjs';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILD = path.join(HERE, '.build');
const SNI = 'bench.test';

function parseArgs(argv) {
  const o = {
    servers: ['tls', 'https', 'mtlsgate'],
    conns: 2000,
    key: 'ec',
    snapshot: false,
    gateway: path.join(HERE, '..', 'bin', 'mtlsgate.js'),
    nodeArgs: [],
    env: {},
    settle: 4,
    workers: 1,
    serve: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a}: needs a value`);
      return argv[++i];
    };
    if (a === '--servers') o.servers = val().split(',');
    else if (a === '--conns') o.conns = Number(val());
    else if (a === '--key') o.key = val();
    else if (a === '--snapshot') o.snapshot = true;
    else if (a === '--gateway') o.gateway = path.resolve(val());
    else if (a === '--node-args') o.nodeArgs = val().split(/\s+/).filter(Boolean);
    else if (a === '--env')
      for (const kv of val().split(',')) o.env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    else if (a === '--settle') o.settle = Number(val());
    else if (a === '--workers') o.workers = Number(val());
    else if (a === '--serve') o.serve = val();
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.conns) || o.conns < 1) throw new Error('--conns: expected a positive integer');
  return o;
}

const pkiOf = (key) => {
  const dir = path.join(BUILD, 'pki', key);
  return {
    dir,
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
    truststore: path.join(dir, 'truststore.pem'),
    clientCert: path.join(dir, 'client.crt'),
    clientKey: path.join(dir, 'client.key'),
  };
};

/** --serve tls|https: the bare Node servers, in a child process (printing their port). */
function serveBare(kind, key) {
  const p = pkiOf(key);
  const opts = {
    cert: fs.readFileSync(p.serverCert),
    key: fs.readFileSync(p.serverKey),
    ca: fs.readFileSync(p.truststore),
    requestCert: true,
    rejectUnauthorized: true,
  };
  const server =
    kind === 'tls'
      ? tls.createServer(opts, (s) => {
          // The same one request as the HTTP servers get, answered by hand: the TLS socket alone is measured.
          s.once('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
          s.on('error', () => {});
        })
      : https.createServer({ ...opts, keepAliveTimeout: 120000 }, (req, res) => {
          req.resume();
          res.end('ok');
        });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

/** VmRSS summed over the server's processes (mtlsgate --workers N: the primary and its workers). */
function rssKiB(pid) {
  let sum = 0;
  for (const p of processTree(pid))
    sum += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]);
  return sum;
}

/**
 * Resident KiB by kind of mapping: glibc's main malloc arena ([heap], brk), anonymous mappings (V8's heap pages,
 * glibc's other arenas and its mmapped large blocks), and files (code, shared libraries).
 */
function residentByKind(pid) {
  const out = { brk: 0, anon: 0, file: 0 };
  let kind = 'anon';
  const lines = processTree(pid).flatMap((p) => fs.readFileSync(`/proc/${p}/smaps`, 'utf8').split('\n'));
  for (const line of lines) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) kind = head[1] === '[heap]' ? 'brk' : head[1] === '' || head[1].startsWith('[') ? 'anon' : 'file';
    else if (line.startsWith('Rss:')) out[kind] += Number(/(\d+)/.exec(line)[1]);
  }
  return out;
}

/** RSS once four samples 0.5 s apart are within 1 %, after at least minSeconds (V8 shrinks its heaps ~8 s idle). */
async function settledRss(pid, minSeconds) {
  const start = Date.now();
  const last = [];
  while (Date.now() - start < 30000) {
    await sleep(500);
    last.push(rssKiB(pid));
    if (last.length > 4) last.shift();
    const done = Date.now() - start >= minSeconds * 1000 && last.length === 4;
    if (done && Math.max(...last) - Math.min(...last) <= 0.01 * Math.max(...last)) break;
  }
  return last[last.length - 1];
}

/** SIGUSR2 to each of the server's processes: mem-probe.mjs answers with its figures after a full GC; summed. */
async function probe(pid, dir) {
  const sum = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0, snapshot: null };
  for (const p of processTree(pid)) {
    const before = new Set(fs.readdirSync(dir));
    process.kill(p, 'SIGUSR2');
    let got = null;
    for (const end = Date.now() + 120000; !got && Date.now() < end;) {
      await sleep(100);
      const f = fs.readdirSync(dir).find((n) => n.endsWith('.json') && !before.has(n) && n.startsWith(`${p}-`));
      if (f) got = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    }
    if (!got) throw new Error(`no memory figures from ${p}`);
    for (const k of ['rss', 'heapUsed', 'external', 'arrayBuffers']) sum[k] += got[k];
    sum.snapshot ??= got.snapshot;
  }
  return sum;
}

function waitLine(child, what, ms = 60000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    const onData = (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        child.stdout.off('data', onData);
        resolve(buf.slice(0, i));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
  });
}

async function waitPort(port, ms = 60000) {
  const net = await import('node:net');
  for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
  }
  throw new Error(`nothing listens on ${port}`);
}

async function startServer(kind, o, dir, backendPort) {
  const env = { ...process.env, ...o.env, CONN_MEMORY_DIR: dir };
  if (o.snapshot) env.CONN_MEMORY_SNAPSHOT = '1';
  const probeArgs = ['--expose-gc', '--import', path.join(HERE, 'lib', 'mem-probe.mjs'), ...o.nodeArgs];
  if (kind === 'tls' || kind === 'https') {
    const child = spawn(
      process.execPath,
      [...probeArgs, fileURLToPath(import.meta.url), '--serve', kind, '--key', o.key],
      {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    return { child, port: Number(await waitLine(child, kind)) };
  }
  const p = pkiOf(o.key);
  const port = await new Promise((r) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const n = s.address().port;
      s.close(() => r(n));
    });
  });
  const cfg = path.join(dir, 'mtlsgate.yaml');
  fs.writeFileSync(
    cfg,
    [
      `listen: { host: 127.0.0.1, port: ${port} }`,
      'domains:',
      `  - domainName: ${SNI}`,
      `    certificate: { cert: ${p.serverCert}, key: ${p.serverKey} }`,
      '    securityPolicy: TLS_1_2',
      `    mutualTls: { truststoreUri: "file://${p.truststore}" }`,
      `    basePathMappings: [{ basePath: "(none)", target: "http://127.0.0.1:${backendPort}" }]`,
      'timeouts: { idleMs: 120000 }',
      'limits: { maxConnections: 20000 }',
      'logs: { format: json, level: info }',
      '',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [...probeArgs, o.gateway, 'serve', '--config', cfg, '--workers', String(o.workers)],
    {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitPort(port);
  return { child, port };
}

/** Sum self size and count by (type, name) over a heap snapshot's nodes. */
function heapCensus(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[f.indexOf('type')];
  const [iType, iName, iSize, w] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size'), f.length];
  const by = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += w) {
    const type = types[nodes[i + iType]];
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? '(string)'
        : snap.strings[nodes[i + iName]];
    const k = `${type} ${name}`;
    const e = by.get(k) ?? { count: 0, size: 0 };
    e.count++;
    e.size += nodes[i + iSize];
    by.set(k, e);
  }
  return by;
}

async function measure(kind, o, backendPort) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `conn-memory-${kind}-`));
  const srv = await startServer(kind, o, dir, backendPort);
  try {
    const baseRss = await settledRss(srv.child.pid, kind === 'mtlsgate' ? 10 : 3);
    const baseMaps = residentByKind(srv.child.pid);
    const base = await probe(srv.child.pid, dir);
    const p = pkiOf(o.key);
    const tb = spawn(
      path.join(BUILD, 'tb'),
      [
        '-m',
        'idle',
        '-p',
        String(srv.port),
        '-S',
        SNI,
        '-c',
        p.clientCert,
        '-k',
        p.clientKey,
        '-n',
        String(o.conns),
      ].concat(['-C', '32', '-t', '300']),
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const ready = JSON.parse(await waitLine(tb, 'tb idle', 120000));
    await sleep(o.settle * 1000);
    const earlyRss = rssKiB(srv.child.pid);
    const withRss = await settledRss(srv.child.pid, 2);
    const withMaps = residentByKind(srv.child.pid);
    const after = await probe(srv.child.pid, dir);
    tb.kill('SIGTERM');
    const n = ready.open;
    const per = (a, b) => (b - a) / 1024 / n;
    const r = {
      kind,
      open: n,
      failed: ready.failed,
      baseRssMiB: baseRss / 1024,
      rssPerConnKiB: (withRss - baseRss) / n,
      earlyRssPerConnKiB: (earlyRss - baseRss) / n,
      // After a full GC in the server: what V8 and Node's buffers still hold per connection.
      heapUsedPerConnKiB: per(base.heapUsed, after.heapUsed),
      externalPerConnKiB: per(base.external, after.external),
      arrayBuffersPerConnKiB: per(base.arrayBuffers, after.arrayBuffers),
      rssAfterGcPerConnKiB: per(base.rss, after.rss),
      brkPerConnKiB: (withMaps.brk - baseMaps.brk) / n,
      anonPerConnKiB: (withMaps.anon - baseMaps.anon) / n,
    };
    if (o.snapshot) {
      const a = heapCensus(base.snapshot);
      const b = heapCensus(after.snapshot);
      r.heapTop = [...b]
        .map(([k, e]) => {
          const x = a.get(k) ?? { count: 0, size: 0 };
          return { what: k, perConn: (e.count - x.count) / n, bytesPerConn: (e.size - x.size) / n };
        })
        .filter((x) => x.bytesPerConn >= 16)
        .sort((x, y) => y.bytesPerConn - x.bytesPerConn)
        .slice(0, 25);
    }
    return r;
  } finally {
    srv.child.kill('SIGTERM');
    await new Promise((r) => (srv.child.exitCode !== null ? r() : srv.child.once('exit', r)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.serve) return serveBare(o.serve, o.key);
  if (!fs.existsSync(path.join(BUILD, 'tb'))) throw new Error('bench/.build/tb missing: run node bench/run.mjs once');
  const backend = http.createServer({ keepAliveTimeout: 300000 }, (req, res) =>
    req.resume().on('end', () => res.end('ok')),
  );
  await new Promise((r) => backend.listen(0, '127.0.0.1', r));
  try {
    const f = (x) => x.toFixed(1);
    process.stdout.write(`${o.conns} idle connections, ${o.key}, node ${process.version}\n`);
    process.stdout.write(
      '| server | base RSS MiB | RSS/conn KiB (4 s) | settled | after GC | heapUsed | external | arrayBuffers | malloc brk | anon maps |\n',
    );
    process.stdout.write('|---|---|---|---|---|---|---|---|---|---|\n');
    for (const kind of o.servers) {
      const r = await measure(kind, o, backend.address().port);
      process.stdout.write(
        `| ${kind} | ${f(r.baseRssMiB)} | ${f(r.earlyRssPerConnKiB)} | ${f(r.rssPerConnKiB)} | ${f(r.rssAfterGcPerConnKiB)} | ` +
          `${f(r.heapUsedPerConnKiB)} | ${f(r.externalPerConnKiB)} | ${f(r.arrayBuffersPerConnKiB)} | ${f(r.brkPerConnKiB)} | ${f(r.anonPerConnKiB)} |` +
          (r.failed ? ` (${r.failed} failed)` : '') +
          '\n',
      );
      if (r.heapTop) {
        for (const x of r.heapTop)
          process.stdout.write(`    ${x.what}: ${f(x.perConn)} per conn, ${Math.round(x.bytesPerConn)} B\n`);
      }
    }
  } finally {
    backend.close();
    backend.closeAllConnections();
  }
}

main().catch((e) => {
  process.stderr.write(`conn-memory: ${e.message}\n`);
  process.exitCode = 1;
});
