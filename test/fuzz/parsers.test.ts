/**
 * The bounded fuzz run of `npm test`: every target (see targets.ts) with ~200 inputs, fixed seed, in two child
 * processes watched for hangs, heap blow-ups and aborts (harness.ts). A failure prints fast-check's shrunk
 * counterexample and the `npm run fuzz` command that replays it. FUZZ_SEED=S and FUZZ_RUNS=N change the run;
 * `npm run fuzz` is the long mode (docs/fuzzing.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCorpus } from './corpus.js';
import { fuzz, formatReports, type TargetReport } from './harness.js';
import { TARGET_NAMES, TARGET_WEIGHTS, planJobs } from './targets.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);
/** Inputs per unit of weight: a weight-1 target gets BASE inputs (about 200 on average over the targets). */
const BASE = Number(process.env.FUZZ_RUNS ?? 140);

const total = TARGET_NAMES.reduce((a, n) => a + TARGET_WEIGHTS[n], 0) * BASE;
let run: Promise<TargetReport[]> | undefined;
const results = (): Promise<TargetReport[]> => {
  run ??= (async () => {
    const corpus = await buildCorpus();
    console.log(
      `fuzz: seed ${SEED} (replay: FUZZ_SEED=${SEED} npm test, or npm run fuzz -- --runs ${Math.round(total)} --seed ${SEED} --mode assert)`,
    );
    if (corpus.vectorsMissing) console.log(`fuzz: ${corpus.vectorsMissing}; the seeds are the generated files only`);
    const reports = await fuzz(planJobs(total, SEED), { corpus, mode: 'assert', workers: 2 });
    console.log(formatReports(reports));
    return reports;
  })();
  return run;
};

for (const name of TARGET_NAMES) {
  test(
    `fuzz ${name}: no throw but UserError, one-line messages, no stack text, bounded time and memory`,
    { timeout: 120_000 },
    async (t) => {
      const r = (await results()).find((x) => x.target === name);
      assert.ok(r, `no report for ${name}`);
      t.diagnostic(
        `${r.runs} inputs, seed ${r.seed}, slowest ${Math.round(r.maxCpuMs)} ms CPU, rss +${Math.round(r.maxRssMb)} MiB`,
      );
      assert.equal(r.failures, 0, r.examples.join('\n\n'));
    },
  );
}
