/** Option values shared by the pki and crl commands, checked into one-line usage errors (exit 2). */
import { UserError } from '../errors.js';

/** An ISO 8601 date or time (`--at`). */
export function parseTimeOption(flag: string, text: string): Date {
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UserError(
      'E_BAD_DATE',
      `bad ${flag} ${JSON.stringify(text)}: give an ISO 8601 date such as 2030-01-01 or 2030-01-01T12:00:00Z`,
    );
  return new Date(t);
}

/** `--days N`: how long a CRL is valid, 1 to 3650. */
export function parseDays(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 3650)
    throw new UserError('E_BAD_DAYS', `bad --days ${JSON.stringify(text)}: give a whole number from 1 to 3650`);
  return n;
}
