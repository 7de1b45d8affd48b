/**
 * Fuzz worker, a child process of the harness (harness.ts): runs its jobs (a target, a number of inputs, a seed)
 * one after another and reports each over IPC. Before each input it writes the input's number to a heartbeat
 * file, so when an input hangs, blows the heap (--max-old-space-size) or aborts the process (a V8 fatal error),
 * the harness knows which one it was. A child process, not a worker thread: a V8 fatal error takes the whole
 * process down, and the child has the same stack size as the real CLI.
 *
 * Modes: `assert` stops a target at its first failure and shrinks it (fast-check's counterexample, seed and path
 * go into the report); `count` tries every input, counts failures and keeps the first few.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { makeTargets, replayArgs } from './targets.js';
import type { TargetName } from './targets.js';
import { Violation, describeError } from './check.js';
import type { WorkerData, TargetReport } from './harness.js';

const send = (m: unknown): Promise<void> =>
  new Promise((resolve) => process.send!(m, undefined, undefined, () => resolve()));
const data = await new Promise<WorkerData>((resolve) => process.once('message', (m) => resolve(m as WorkerData)));
const beatFd = openSync(data.heartbeat, 'r+');
const beatBuf = Buffer.alloc(12);
/** Job number, input number, inputs started: one pwrite per input. */
function heartbeat(job: number, index: number, count: number): void {
  beatBuf.writeInt32LE(job, 0);
  beatBuf.writeInt32LE(index, 4);
  beatBuf.writeInt32LE(count, 8);
  writeSync(beatFd, beatBuf, 0, 12, 0);
}
let inputsStarted = 0;
const targets = makeTargets(data.corpus);

function preview(input: unknown): string {
  const text = fc.stringify(input);
  return text.length > 600 ? `${text.slice(0, 600)}... (${text.length} characters)` : text;
}

async function runJob(jobIndex: number): Promise<TargetReport> {
  const job = data.jobs[jobIndex]!;
  const t = targets.get(job.target as TargetName);
  if (!t) throw new Error(`unknown fuzz target ${job.target}`);
  await send({ type: 'target-start', job: jobIndex, maxMs: t.maxMs });
  const report: TargetReport = {
    target: t.name,
    about: t.about,
    seed: job.seed,
    runs: 0,
    failures: 0,
    examples: [],
    ms: 0,
    maxInputMs: 0,
    maxCpuMs: 0,
    slowest: null,
    maxRssMb: 0,
  };
  const started = performance.now();
  const rssStart = process.memoryUsage.rss();
  let index = 0;
  const once = async (input: unknown): Promise<void> => {
    heartbeat(jobIndex, index++, ++inputsStarted);
    report.runs++;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    try {
      await t.run(input);
    } catch (e) {
      throw e instanceof Violation ? e : new Violation(`the harness caught ${describeError(e)}`);
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    // CPU time, not wall time, is held to the bound: tests share the machine, and a loaded one stretches wall time.
    const cpuMs = (cpu.user + cpu.system) / 1000;
    report.maxInputMs = Math.max(report.maxInputMs, ms);
    if (cpuMs > report.maxCpuMs) {
      report.maxCpuMs = cpuMs;
      report.slowest = replayArgs(job, index - 1);
    }
    if (report.runs % 16 === 0)
      report.maxRssMb = Math.max(report.maxRssMb, (process.memoryUsage.rss() - rssStart) / 2 ** 20);
    if (cpuMs > t.maxMs)
      throw new Violation(
        `took ${Math.round(cpuMs)} ms of CPU (${Math.round(ms)} ms wall), over the ${t.maxMs} ms bound for one input`,
      );
  };
  if (data.mode === 'assert') {
    const r = await fc.check(fc.asyncProperty(t.arbitrary, once), {
      seed: job.seed,
      numRuns: job.runs,
      endOnFailure: false,
    });
    if (r.failed) {
      report.failures = 1;
      const err = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
      report.examples.push(
        `${err}\n  counterexample (shrunk): ${preview(r.counterexample?.[0])}\n  replay: ${replayArgs(job)} --mode assert (fast-check seed ${r.seed}, path "${r.counterexamplePath}")`,
      );
    }
  } else {
    await fc.assert(
      fc.asyncProperty(t.arbitrary, async (input) => {
        if (data.only !== undefined) {
          // Replaying one input: generate the same sequence, run and show only that one.
          if (index !== data.only) {
            heartbeat(jobIndex, index++, ++inputsStarted); // generating the skipped inputs is progress too
            return;
          }
          await send({ type: 'input', text: fc.stringify(input) });
          if (data.saveDir) save(t.name, job.seed, data.only, input);
        }
        try {
          await once(input);
        } catch (e) {
          report.failures++;
          if (report.examples.length < 3)
            report.examples.push(
              `${(e as Error).message}\n  input #${index - 1}: ${preview(input)}\n  replay: ${replayArgs(job, index - 1)}`,
            );
          if (data.saveDir && report.failures <= 20) save(t.name, job.seed, index - 1, input);
        }
      }),
      { seed: job.seed, numRuns: job.runs },
    );
  }
  report.ms = performance.now() - started;
  report.maxRssMb = Math.round(Math.max(report.maxRssMb, (process.memoryUsage.rss() - rssStart) / 2 ** 20));
  return report;
}

function save(target: string, seed: number, index: number, input: unknown): void {
  const dir = join(data.saveDir!, target);
  mkdirSync(dir, { recursive: true });
  const raw = Buffer.isBuffer(input)
    ? input
    : typeof input === 'string'
      ? Buffer.from(input, 'latin1')
      : Buffer.from(fc.stringify(input));
  writeFileSync(join(dir, `seed${seed}-input${index}.bin`), raw);
}

for (let i = data.firstJob; i < data.jobs.length; i++) {
  const report = await runJob(i);
  await send({ type: 'target-done', job: i, report });
}
closeSync(beatFd);
process.disconnect();
