/** --timeout, shared by doctor and doctor curl. */
import { UserError } from '../errors.js';

/** The longest live probe, in seconds: a longer one would overflow Node's 32-bit timers (firing at once). */
const MAX_TIMEOUT_S = 600;

/** Seconds as given on the command line, in milliseconds. */
export function parseTimeout(s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0 || n > MAX_TIMEOUT_S) {
    throw new UserError('E_BAD_TIMEOUT', `--timeout: "${s}" is not a number of seconds between 0 and ${MAX_TIMEOUT_S}`);
  }
  return Math.round(n * 1000);
}
