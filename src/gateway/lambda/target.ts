/**
 * `lambda:` targets, read by the config schema and by the gateway that runs them. Kept apart from the schema so a
 * gateway thread, handed its config already validated, does not load zod.
 */

/** `lambda:./app.mjs#handler`: a local module and the export that is the handler (default `handler`). */
export const LAMBDA_PREFIX = 'lambda:';

export function isLambdaTarget(t: string): boolean {
  return t.startsWith(LAMBDA_PREFIX);
}

/** `./app.mjs#handler` -> its file and export name; null when either is empty. */
export function splitHandler(spec: string): { file: string; exportName: string } | null {
  const hash = spec.lastIndexOf('#');
  const file = hash === -1 ? spec : spec.slice(0, hash);
  const exportName = hash === -1 ? 'handler' : spec.slice(hash + 1);
  if (file === '' || !/^[A-Za-z_$][\w$]*$/.test(exportName)) return null;
  return { file, exportName };
}
