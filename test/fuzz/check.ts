/**
 * The properties every input must keep, whatever the parser: it returns (or throws only a UserError, with a
 * one-line message and an allowed code), no message is more than one line or carries stack-trace text, and
 * everything a command would print can be turned into JSON.
 */
import { isUserError } from '../../src/errors.js';
import type { Finding } from '../../src/report/finding.js';
import type { LoadedFile } from '../../src/pki/types.js';

/** Text that only a stack trace or a leaked internal error would put in a message. */
// [ \t], not \s, around line starts: \s also matches newlines and made these quadratic on whitespace-heavy output.
const STACK_TEXT: readonly RegExp[] = [
  /\n[ \t]*at[ \t]/,
  /^[ \t]*at[ \t]+(?:async[ \t]+)?[\w.<>$[\]]+[ \t]+\(/m,
  /\bnode:internal\//,
  /\bfile:\/\/\//,
  /\.(?:ts|js|mjs|cjs):\d+:\d+/,
  /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|InternalError):/,
  /\bat (?:Object|Module|Function|new|Array)\.[\w<>]+ /,
];

export class Violation extends Error {
  override readonly name = 'Violation';
}

/** Rendered text output: no stack text, and no ESC or other C0 control character but newline (no colour asked). */
export function checkRendered(what: string, text: string): void {
  checkText(what, text);
  const ctl = /[\x00-\x09\x0b-\x1f\x7f]/.exec(text);
  if (ctl)
    throw new Violation(
      `${what}: raw control character 0x${ctl[0].charCodeAt(0).toString(16)} in the output: ${JSON.stringify(text.slice(Math.max(0, ctl.index - 80), ctl.index + 40))}`,
    );
}

export function stackText(s: string): string | null {
  for (const re of STACK_TEXT) if (re.test(s)) return re.source;
  return null;
}

/** A message the user sees as one line: no line breaks, no stack text, not empty, not absurdly long. */
export function checkMessage(what: string, msg: unknown, maxLength = 2000): void {
  if (typeof msg !== 'string') throw new Violation(`${what}: message is not a string (${typeof msg})`);
  if (msg.trim() === '') throw new Violation(`${what}: empty message`);
  if (/[\r\n]/.test(msg)) throw new Violation(`${what}: message is not one line: ${JSON.stringify(msg.slice(0, 300))}`);
  const st = stackText(msg);
  if (st) throw new Violation(`${what}: stack-trace text (${st}) in message: ${JSON.stringify(msg.slice(0, 300))}`);
  if (msg.length > maxLength)
    throw new Violation(`${what}: message of ${msg.length} characters: ${JSON.stringify(msg.slice(0, 200))}...`);
}

/** Any text that may hold several lines (a finding's detail or fix): no stack text. */
export function checkText(what: string, text: unknown): void {
  if (typeof text !== 'string') return;
  const st = stackText(text);
  if (st) throw new Violation(`${what}: stack-trace text (${st}): ${JSON.stringify(text.slice(0, 300))}`);
}

/**
 * Runs `fn`; a throw is allowed only when it is a UserError with one of `codes` and a clean message. Anything
 * else is a Violation carrying the error's first stack lines, so a crash found by fuzzing is easy to place.
 */
export async function outcome<T>(
  what: string,
  fn: () => T | Promise<T>,
  codes: readonly string[] = [],
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    return allowedThrow(what, e, codes);
  }
}

export function outcomeSync<T>(what: string, fn: () => T, codes: readonly string[] = []): T | undefined {
  try {
    return fn();
  } catch (e) {
    return allowedThrow(what, e, codes);
  }
}

/** The judgement both share: an allowed UserError with a clean message is undefined; anything else a Violation. */
function allowedThrow(what: string, e: unknown, codes: readonly string[]): undefined {
  if (e instanceof Violation) throw e;
  if (isUserError(e) && codes.includes(e.code)) {
    checkMessage(`${what}: UserError ${e.code}`, e.message);
    return undefined;
  }
  throw new Violation(`${what} threw ${describeError(e)}`);
}

export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const frames = (e.stack ?? '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .slice(0, 4)
      .map((l) => l.trim());
    return `${e.name}${(e as { code?: unknown }).code ? ` [${String((e as { code?: unknown }).code)}]` : ''}: ${e.message.split('\n')[0]} | ${frames.join(' | ')}`;
  }
  return String(e);
}

/**
 * What `inspect` and the doctor read from a loaded file: every problem message, the PKCS#12 verdict, and the
 * description of every certificate and key (computed lazily; it must not throw either).
 */
export function checkLoaded(what: string, f: LoadedFile): void {
  f.problems.forEach((p, i) => checkMessage(`${what}: problem ${i} (${p.kind})`, p.message));
  if (f.pkcs12?.nodeError) checkMessage(`${what}: pkcs12.nodeError`, f.pkcs12.nodeError);
  f.certs.forEach((c, i) => {
    const info = outcomeSync(`${what}: certificate ${i} .info`, () => c.info);
    const json = outcomeSync(`${what}: certificate ${i} JSON`, () => JSON.stringify(info));
    if (json === undefined) throw new Violation(`${what}: certificate ${i} has no JSON`);
    if (Number.isNaN(Date.parse(info!.notAfter)) || Number.isNaN(Date.parse(info!.notBefore)))
      throw new Violation(`${what}: certificate ${i} has an invalid date`);
  });
  f.keys.forEach((k, i) => outcomeSync(`${what}: key ${i} JSON`, () => JSON.stringify(k.info)));
  if (f.keyBlocks < f.keys.length) throw new Violation(`${what}: keyBlocks ${f.keyBlocks} < keys ${f.keys.length}`);
}

/**
 * A finding's title is one line as the renderers print it: it may quote a file name or URL the user gave
 * (newlines and all), which the text renderer escapes, so the data itself is only checked for stack text.
 */
export function checkFindings(what: string, findings: readonly Finding[]): void {
  for (const f of findings) {
    if (typeof f.title !== 'string' || f.title.trim() === '')
      throw new Violation(`${what}: finding ${f.id} has no title`);
    checkText(`${what}: finding ${f.id} title`, f.title);
    checkText(`${what}: finding ${f.id} detail`, f.detail);
    checkText(`${what}: finding ${f.id} fix`, f.fix);
    for (const [k, v] of Object.entries(f.evidence)) {
      for (const s of Array.isArray(v) ? v : [v]) checkText(`${what}: finding ${f.id} evidence.${k}`, s);
    }
  }
}
