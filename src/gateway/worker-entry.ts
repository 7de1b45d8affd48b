/**
 * A worker thread's module beside the module that starts it: `name.js` in dist/. Run from src/ under tsx (the tests),
 * it is `name.ts`, and the worker needs tsx's loader too: it inherits `--import tsx` with the parent's execArgv, else
 * it is added.
 */
export function workerEntry(callerUrl: string, name: string): { url: URL; execArgv?: string[] } {
  const fromSource = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, callerUrl);
  if (!fromSource || process.execArgv.some((a) => a.includes('tsx'))) return { url };
  return { url, execArgv: ['--import', 'tsx'] };
}
