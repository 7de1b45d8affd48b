/**
 * Runs fuzz jobs in child processes (worker.ts) and watches them: each child writes the number of the input it
 * is about to run to a heartbeat file, so an input that runs past its hang bound gets the child killed (a
 * synchronous infinite loop cannot be interrupted any other way), and one that exhausts the heap cap or aborts
 * the process (a V8 fatal error) is named too, with its target, seed and index so it can be replayed. The
 * remaining jobs then go on in a fresh child.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Corpus } from './corpus.js';
import { replayArgs } from './targets.js';

export interface FuzzJob {
  target: string;
  runs: number;
  /** This target's seed, derived from baseSeed (the --seed given). */
  seed: number;
  baseSeed: number;
}

export interface TargetReport {
  target: string;
  about: string;
  seed: number;
  /** Inputs tried (in assert mode, shrinking runs included). */
  runs: number;
  failures: number;
  /** The first failures, with their input (and, in assert mode, the shrunk counterexample and replay path). */
  examples: string[];
  ms: number;
  /** Slowest input, wall clock. */
  maxInputMs: number;
  /** Slowest input in CPU time (what the per-input bound applies to). */
  maxCpuMs: number;
  /** The command that replays the slowest input. */
  slowest: string | null;
  /** Growth of the process's resident memory while the target ran, in MiB. */
  maxRssMb: number;
}

export interface WorkerData {
  corpus: Corpus;
  jobs: FuzzJob[];
  firstJob: number;
  mode: 'assert' | 'count';
  /** Path of the heartbeat file (job, input, inputs started: three little-endian int32). */
  heartbeat: string;
  saveDir?: string;
  /** Count mode: run only the input with this index (the others are generated and skipped). */
  only?: number;
}

export interface FuzzOptions {
  corpus: Corpus;
  mode: 'assert' | 'count';
  /** Child processes run in parallel, each with a share of the jobs. */
  workers?: number;
  /** V8 old-space cap per child (MiB). */
  heapMb?: number;
  /** An input is declared hung after max(its target's bound * 3, this) ms without progress. */
  hangMs?: number;
  saveDir?: string;
  only?: number;
  onReport?: (r: TargetReport) => void;
  /** Called with the input being replayed (`only`). */
  onInput?: (text: string) => void;
}

export async function fuzz(jobs: FuzzJob[], opts: FuzzOptions): Promise<TargetReport[]> {
  const n = Math.max(1, Math.min(opts.workers ?? 1, jobs.length));
  const shares: FuzzJob[][] = Array.from({ length: n }, () => []);
  // Longest jobs first, each to the least loaded worker.
  const order = jobs.map((j, i) => ({ j, i })).sort((a, b) => b.j.runs - a.j.runs);
  const load = new Array<number>(n).fill(0);
  for (const { j } of order) {
    const w = load.indexOf(Math.min(...load));
    shares[w]!.push(j);
    load[w]! += j.runs;
  }
  const results = await Promise.all(shares.filter((s) => s.length > 0).map((s) => runShare(s, opts)));
  const byTarget = new Map(results.flat().map((r) => [r.target, r]));
  return jobs.map((j) => byTarget.get(j.target)!).filter(Boolean);
}

async function runShare(jobs: FuzzJob[], opts: FuzzOptions): Promise<TargetReport[]> {
  const reports: TargetReport[] = [];
  let first = 0;
  while (first < jobs.length) {
    const done = await runWorker(jobs, first, opts);
    for (const r of done.reports) {
      reports.push(r);
      opts.onReport?.(r);
    }
    first += done.reports.length;
    if (done.died) {
      // The job that was running when the worker died gets a report of its own; the rest go on in a new worker.
      reports.push(done.died);
      opts.onReport?.(done.died);
      first++;
    }
  }
  return reports;
}

interface WorkerRun {
  reports: TargetReport[];
  died: TargetReport | null;
}

function runWorker(jobs: FuzzJob[], firstJob: number, opts: FuzzOptions): Promise<WorkerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-fuzz-beat-'));
  const heartbeat = join(dir, 'heartbeat');
  writeFileSync(heartbeat, Buffer.alloc(12, 0xff));
  const heapMb = opts.heapMb ?? 1024;
  const data: WorkerData = {
    corpus: opts.corpus,
    jobs,
    firstJob,
    mode: opts.mode,
    heartbeat,
    ...(opts.saveDir && { saveDir: opts.saveDir }),
    ...(opts.only !== undefined && { only: opts.only }),
  };
  const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], {
    // FUZZ_NODE_ARGS adds node options to the children, e.g. '--cpu-prof' to profile a slow input replayed with
    // --input.
    execArgv: [
      '--import',
      'tsx',
      `--max-old-space-size=${heapMb}`,
      ...(process.env.FUZZ_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
    ],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString('utf8')).slice(-8192);
  });
  child.send(data);
  const reports: TargetReport[] = [];
  let current = firstJob;
  let bound = opts.hangMs ?? 30_000;
  let lastCount = -1;
  let lastChange = Date.now();
  let stopped: string | null = null;
  const beat = (): { job: number; index: number; count: number } => {
    const b = readFileSync(heartbeat);
    return { job: b.readInt32LE(0), index: b.readInt32LE(4), count: b.readInt32LE(8) };
  };
  return new Promise<WorkerRun>((resolve) => {
    const timer = setInterval(() => {
      const { count } = beat();
      if (count !== lastCount) {
        lastCount = count;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > bound && stopped === null) {
        stopped = `hang: no progress for ${Math.round((Date.now() - lastChange) / 1000)} s`;
        child.kill('SIGKILL');
      }
    }, 100);
    timer.unref();
    child.on('message', (m: { type: string; job: number; maxMs?: number; report?: TargetReport; text?: string }) => {
      if (m.type === 'input') opts.onInput?.(m.text ?? '');
      else if (m.type === 'target-start') {
        current = m.job;
        bound = Math.max((m.maxMs ?? 0) * 3, opts.hangMs ?? 10_000);
        lastChange = Date.now();
      } else if (m.type === 'target-done' && m.report) {
        reports.push(m.report);
        current = m.job + 1;
      }
    });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const { index } = beat();
      rmSync(dir, { recursive: true, force: true });
      if (current >= jobs.length && code === 0) return resolve({ reports, died: null });
      const fatal = /FATAL ERROR[^\n]*|JavaScript heap out of memory|Allocation failed[^\n]*/.exec(stderr)?.[0];
      const why =
        stopped ??
        (fatal
          ? `the process aborted (${signal ?? `exit ${code}`}): ${fatal}${/heap out of memory|Reached heap limit/.test(stderr) ? ` (the ${heapMb} MiB heap cap)` : ''}`
          : `the process died (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-6).join(' | ')}` : ''}`);
      const job = jobs[Math.min(current, jobs.length - 1)]!;
      resolve({
        reports,
        died: {
          target: job.target,
          about: '',
          seed: job.seed,
          runs: index + 1,
          failures: 1,
          examples: [`${why} on input #${index}\n  replay: ${replayArgs(job, index)}`],
          ms: 0,
          maxInputMs: 0,
          maxCpuMs: 0,
          slowest: null,
          maxRssMb: 0,
        },
      });
    });
  });
}

/** A readable summary, one line per target. */
export function formatReports(reports: readonly TargetReport[]): string {
  const w = Math.max(...reports.map((r) => r.target.length));
  const lines = reports.map(
    (r) =>
      `${r.target.padEnd(w)}  ${String(r.runs).padStart(7)} inputs  ${String(r.failures).padStart(4)} failures  ${(r.ms / 1000).toFixed(1).padStart(6)} s  slowest ${Math.round(r.maxCpuMs)} ms CPU (${Math.round(r.maxInputMs)} ms wall)  rss +${Math.round(r.maxRssMb)} MiB`,
  );
  const total = reports.reduce((a, r) => ({ runs: a.runs + r.runs, failures: a.failures + r.failures }), {
    runs: 0,
    failures: 0,
  });
  lines.push(
    `${'total'.padEnd(w)}  ${String(total.runs).padStart(7)} inputs  ${String(total.failures).padStart(4)} failures`,
  );
  for (const r of reports) for (const e of r.examples) lines.push(`\n[${r.target}] ${e}`);
  const slow = [...reports]
    .sort((a, b) => b.maxCpuMs - a.maxCpuMs)
    .slice(0, 3)
    .filter((r) => r.slowest);
  if (slow.length > 0)
    lines.push(
      '',
      'slowest inputs:',
      ...slow.map((r) => `  ${r.target}: ${Math.round(r.maxCpuMs)} ms CPU: ${r.slowest}`),
    );
  return lines.join('\n');
}
