/**
 * `bin/mtlsgate.js` runs `dist/`; this builds it when missing or older than any file under src/ (or the
 * tsconfigs), once per test process. Test files run in parallel processes, so builds are serialized with a lock
 * directory: the second process waits, then sees a fresh stamp and does not build again.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(REPO, 'bin', 'mtlsgate.js');
const DIST_MAIN = join(REPO, 'dist', 'cli', 'main.js');
const STAMP = join(REPO, 'dist', '.e2e-build-stamp');
const LOCK = join(tmpdir(), `mtlsgate-e2e-build-${createHash('sha256').update(REPO).digest('hex').slice(0, 12)}.lock`);

/** Diagnostics of the last build when tsc complained but still emitted (shown if the gateway then fails). */
export let buildDiagnostics = '';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts') || e.name.endsWith('.json')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  if (!existsSync(DIST_MAIN) || !existsSync(STAMP)) return false;
  const builtFrom = Number(readFileSync(STAMP, 'utf8'));
  const sources = Math.max(
    newestMtime(join(REPO, 'src')),
    statSync(join(REPO, 'tsconfig.json')).mtimeMs,
    statSync(join(REPO, 'tsconfig.build.json')).mtimeMs,
  );
  return Number.isFinite(builtFrom) && sources <= builtFrom;
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock older than two minutes belongs to a process that died mid-build.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        /* raced with its owner */
      }
      if (Date.now() > deadline) throw new Error(`e2e build: lock ${LOCK} held for two minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function runTsc(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const child = spawn(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.build.json')], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => resolveRun({ code, output }));
  });
}

let built: Promise<void> | undefined;

/** Make sure dist/ matches src/ (once per process). */
export function ensureBuilt(): Promise<void> {
  built ??= withLock(async () => {
    if (isFresh()) return;
    const started = Date.now();
    const { code, output } = await runTsc();
    if (code !== 0) {
      // tsc emits despite type errors; go on if it did (the typecheck step of `npm test` reports them) and keep
      // the output for a gateway that then fails to start.
      if (!existsSync(DIST_MAIN) || statSync(DIST_MAIN).mtimeMs < started - 1000)
        throw new Error(`e2e build: tsc failed and emitted nothing:\n${output}`);
      buildDiagnostics = output;
    }
    writeFileSync(STAMP, String(started));
  });
  return built;
}
