/**
 * Processes for the bench: every process it starts is registered here and stopped by PID (with its descendants,
 * found through /proc) at the end, on errors and on Ctrl-C. Nothing is ever killed by name.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** pid -> { name, child, exited } */
const started = new Map();

/** Every process on the machine as { pid, ppid }, from /proc. */
export function procTable() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), ppid: Number(rest[1]) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** pid and all its descendants. */
export function processTree(pid) {
  const table = procTable();
  const tree = [pid];
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table) {
      if (!tree.includes(p.pid) && tree.includes(p.ppid)) {
        tree.push(p.pid);
        grew = true;
      }
    }
  }
  return tree.filter((p) => fs.existsSync(`/proc/${p}`));
}

export function alive(pid) {
  try {
    // A zombie still has /proc/PID; its state is Z.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Sum of VmRSS and of Pss (KiB) over a process tree. */
export function memoryOf(pid) {
  let rss = 0;
  let pss = 0;
  const pids = processTree(pid);
  const perProcessKiB = [];
  for (const p of pids) {
    try {
      const r = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'latin1'))?.[1] ?? 0);
      rss += r;
      perProcessKiB.push(r);
      pss += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, 'latin1'))?.[1] ?? 0);
    } catch {
      /* exited */
    }
  }
  return { rssKiB: rss, pssKiB: pss, processes: pids.length, perProcessKiB };
}

/** Established TCP connections whose local port is `port` (the server side of each client connection). */
export function establishedOn(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = fs.readFileSync(f, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '01' && cols[1]?.endsWith(hex)) n++;
    }
  }
  return n;
}

/**
 * Start a process with the file-descriptor limit raised to the hard limit (2,000 idle connections need it).
 * `sh -c 'ulimit ...; exec "$@"'` keeps the PID: the registered PID is the program's own.
 */
export function startProcess(name, cmd, args, { env, cwd, stdout = 'ignore', stderr = 'ignore' } = {}) {
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', cmd, ...args], {
    env: env ?? process.env,
    cwd,
    stdio: ['ignore', stdout, stderr],
  });
  const rec = { name, child, exited: false, exit: null };
  rec.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  rec.exit.then(() => {
    rec.exited = true;
    started.delete(child.pid);
  });
  started.set(child.pid, rec);
  return rec;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM the process, wait up to graceMs, then SIGKILL it and every descendant it had when we started. */
export async function stopProcess(rec, { signal = 'SIGTERM', graceMs = 8000 } = {}) {
  if (!rec || rec.exited) return;
  const pid = rec.child.pid;
  const tree = processTree(pid);
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
  const done = await Promise.race([rec.exit.then(() => true), sleep(graceMs).then(() => false)]);
  const deadline = Date.now() + (done ? 3000 : 0);
  // Workers leave on their own once their primary/master has gone; give them a moment, then make sure.
  while (Date.now() < deadline && tree.some(alive)) await sleep(50);
  for (const p of tree)
    if (alive(p))
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
  if (!rec.exited) await Promise.race([rec.exit, sleep(2000)]);
}

/** Synchronous last resort (process 'exit'): SIGKILL everything still registered, with descendants. */
export function killAllSync() {
  for (const [pid] of started) {
    for (const p of processTree(pid).reverse()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  started.clear();
}

export async function stopAll() {
  await Promise.all([...started.values()].map((rec) => stopProcess(rec, { graceMs: 3000 })));
}

/** Resolves once something accepts on 127.0.0.1:port; rejects if rec exits first or after timeoutMs. */
export async function waitForPort(port, rec, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (rec?.exited) throw new Error(`${rec.name} exited before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${rec?.name ?? 'server'}: nothing listening on ${port} after ${timeoutMs} ms`);
}

/** A free loopback port (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Run a program to completion with a time bound; collects stdout/stderr. Registered while it runs. */
export function runToEnd(name, cmd, args, { timeoutMs = 60000, env, cwd } = {}) {
  return new Promise((resolve) => {
    const rec = startProcess(name, cmd, args, { env, cwd, stdout: 'pipe', stderr: 'pipe' });
    let out = '';
    let err = '';
    rec.child.stdout.on('data', (d) => (out += d));
    rec.child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => void stopProcess(rec, { graceMs: 2000 }), timeoutMs);
    rec.child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
}

export { sleep };
