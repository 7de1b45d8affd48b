/**
 * A hang guard that does not measure wall-clock time: the work runs in a worker thread, and only a worker that has
 * not answered after minutes is stopped (worker.terminate() ends it even inside a synchronous loop) and reported.
 * A run that is slow because two cores are busy with other test files passes; a super-linear blow-up on the big
 * inputs these guards use (hours, not seconds) fails instead of hanging the suite.
 */
import { Worker } from 'node:worker_threads';

/** Long enough for any loaded machine, short enough to report a true hang. */
export const HANG_TIMEOUT_MS = 120_000;

/**
 * Evaluates `expr` in a worker thread, where `m` holds the modules (each imported from its URL, e.g. a src/ .ts file,
 * through tsx) and `data` is the structured clone of `data`. Resolves with the
 * expression's (awaited, structured-cloned) value; rejects with the worker's error, or when it has not answered
 * within `timeoutMs`.
 */
export async function inWorker<T>(
  label: string,
  modules: Record<string, URL>,
  expr: string,
  data: unknown,
  timeoutMs = HANG_TIMEOUT_MS,
): Promise<T> {
  const imports = Object.entries(modules)
    .map(([name, url]) => `${JSON.stringify(name)}: await import(${JSON.stringify(url.href)})`)
    .join(', ');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      // tsx's loader is not active in an eval worker: register it here, so src/ .ts files and their .js imports load.
      (await import('tsx/esm/api')).register();
      const m = { ${imports} };
      const data = workerData;
      parentPort.postMessage(await (${expr}));
    })().catch((e) => { throw e; });`;
  const worker = new Worker(code, { eval: true, workerData: data });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${label}: no answer after ${timeoutMs / 1000} s (a hang)`)),
        timeoutMs,
      );
      worker.once('message', (v: T) => resolve(v));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`${label}: worker exited (${code}) without an answer`)));
    });
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}
