/**
 * `npm run fuzz`: the long mode. Splits --runs inputs (default 100,000) over the targets by weight, runs them in
 * worker threads in `count` mode (every input is tried; failures are counted, the first few shown, up to 20 per
 * target saved with --save DIR) and prints inputs tried, failures and time per target.
 *
 *   npm run fuzz -- [--runs N] [--seed S] [--target NAME[,NAME]] [--workers W] [--mode count|assert] [--save DIR]
 *
 * --input I replays one input: the same seed and --runs (or --target) generate the same sequence, and only input
 * number I is run and printed (with --save, also written to DIR). Use it with the index a failure report names.
 *
 * Exit status: 0 no failure, 1 failures, 2 usage error.
 */
import { availableParallelism } from 'node:os';
import { buildCorpus } from './corpus.js';
import { fuzz, formatReports } from './harness.js';
import { TARGET_NAMES, planJobs, type TargetName } from './targets.js';

const USAGE =
  'usage: npm run fuzz -- [--runs N] [--seed S] [--target NAME[,NAME...]] [--workers W] [--mode count|assert] [--save DIR] [--input I]\n' +
  `targets: ${TARGET_NAMES.join(', ')}`;

export async function runCli(argv: string[]): Promise<number> {
  let runs = 100_000;
  let seed = Date.now() % 2 ** 31;
  let names: TargetName[] = [...TARGET_NAMES];
  let workers = Math.max(1, Math.min(4, availableParallelism()));
  let mode: 'count' | 'assert' = 'count';
  let saveDir: string | undefined;
  let only: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, attached] = a.includes('=')
      ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
      : [a, undefined];
    const value = (): string => {
      const v = attached ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (v: string, min: number): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: "${v}" is not an integer >= ${min}`);
      return n;
    };
    try {
      if (flag === '--runs') runs = int(value(), 1);
      else if (flag === '--seed') seed = int(value(), -(2 ** 31));
      else if (flag === '--workers') workers = int(value(), 1);
      else if (flag === '--save') saveDir = value();
      else if (flag === '--input') only = int(value(), 0);
      else if (flag === '--mode') {
        const m = value();
        if (m !== 'count' && m !== 'assert') throw new Error(`--mode: "${m}" is not count or assert`);
        mode = m;
      } else if (flag === '--target') {
        names = value()
          .split(',')
          .map((n) => n.trim()) as TargetName[];
        const bad = names.find((n) => !TARGET_NAMES.includes(n));
        if (bad) throw new Error(`--target: unknown target "${bad}"`);
      } else if (flag === '--help' || flag === '-h') {
        console.log(USAGE);
        return 0;
      } else throw new Error(`unknown option ${a}`);
    } catch (e) {
      console.error(`fuzz: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
  }
  const started = Date.now();
  const corpus = await buildCorpus();
  if (corpus.vectorsMissing) console.log(`fuzz: ${corpus.vectorsMissing}; seeds are the generated files only`);
  const jobs = planJobs(runs, seed, names);
  console.log(
    `fuzz: ${runs} inputs over ${jobs.length} targets, seed ${seed}, ${workers} workers, mode ${mode}; corpus: ${corpus.vectorFiles} vector files, ${corpus.ders.length} DER seeds, ${corpus.pems.length} PEM texts`,
  );
  console.log(
    `fuzz: replay with npm run fuzz -- --runs ${runs} --seed ${seed}${names.length === TARGET_NAMES.length ? '' : ` --target ${names.join(',')}`}`,
  );
  const reports = await fuzz(jobs, {
    corpus,
    mode,
    workers,
    ...(saveDir && { saveDir }),
    ...(only !== undefined && { only, onInput: (text: string) => console.log(`fuzz: input #${only}: ${text}`) }),
    onReport: (r) =>
      console.log(`fuzz: ${r.target}: ${r.runs} inputs, ${r.failures} failures, ${(r.ms / 1000).toFixed(1)} s`),
  });
  console.log(
    `\n${formatReports(reports)}\n\nfuzz: ${((Date.now() - started) / 1000).toFixed(1)} s in all (corpus included)`,
  );
  return reports.some((r) => r.failures > 0) ? 1 : 0;
}
