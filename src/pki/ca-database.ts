/**
 * OpenSSL's CA database (`index.txt`), as `openssl ca` writes it and `openssl ca -gencrl` and `openssl ocsp -index`
 * read it: one tab-separated line per certificate,
 *
 *   V  <expiry>  (empty)                  <SERIAL HEX>  unknown  /O=.../CN=...
 *   R  <expiry>  <revoked>[,<reason>[,<hold instruction>]]  <SERIAL HEX>  unknown  /O=.../CN=...
 *
 * times as YYMMDDHHMMSSZ (YYYYMMDDHHMMSSZ from 2050), serials in upper-case hex with an even number of digits.
 */
import type { X509Certificate } from 'node:crypto';
import { crlReasonCode } from './crl.js';

export interface CaDbEntry {
  /** V valid, R revoked, E expired (openssl ca -updatedb). */
  status: 'V' | 'R' | 'E';
  expiry: string;
  /** Empty unless revoked: `<time>[,<reason>[,<hold instruction>]]`. */
  revocation: string;
  /** Upper-case hex, even length, no colons. */
  serial: string;
  /** The certificate's file name when openssl ca keeps copies; always `unknown` here. */
  file: string;
  /** X509_NAME_oneline's form: `/O=Example/CN=client`, most general first. */
  subject: string;
}

/**
 * Reason names as OpenSSL's CA database spells them (crl_reasons in apps/ca.c), where any case is accepted on
 * reading. removeFromCRL belongs in delta CRLs only, which nothing here makes.
 */
export const INDEX_REASONS = [
  'unspecified',
  'keyCompromise',
  'CACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
] as const;

/** OpenSSL refuses a certificateHold line without a hold instruction. */
const HOLD_INSTRUCTION = 'holdInstructionNone';

/** The database spelling of a reason given in any case, or null when it is not one `openssl ca` writes. */
export function indexReason(name: string): string | null {
  return INDEX_REASONS.find((r) => r.toLowerCase() === name.toLowerCase()) ?? null;
}

/** Lines of `text`; a malformed line is reported by number (from 1), as `openssl ca` would stop at it. */
export function parseIndex(text: string): { entries: CaDbEntry[]; problem: string | null } {
  const entries: CaDbEntry[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line === '' && i === lines.length - 1) break;
    const f = line.split('\t');
    const [status, expiry, revocation, serial, file, subject] = f;
    const ok =
      f.length === 6 &&
      (status === 'V' || status === 'R' || status === 'E') &&
      parseIndexTime(expiry!) !== null &&
      /^[0-9A-F]+$/i.test(serial!) &&
      (status !== 'R' || parseRevocation(revocation!) !== null);
    if (!ok) return { entries, problem: `line ${i + 1} is not an OpenSSL CA database line` };
    entries.push({
      status: status as CaDbEntry['status'],
      expiry: expiry!,
      revocation: revocation!,
      serial: serial!,
      file: file!,
      subject: subject!,
    });
  }
  return { entries, problem: null };
}

export function formatIndex(entries: readonly CaDbEntry[]): string {
  return entries.map((e) => [e.status, e.expiry, e.revocation, e.serial, e.file, e.subject].join('\t') + '\n').join('');
}

/** A V line for a certificate. */
export function validEntry(x509: X509Certificate): CaDbEntry {
  return {
    status: 'V',
    expiry: indexTime(new Date(x509.validTo)),
    revocation: '',
    serial: indexSerial(x509.serialNumber),
    file: 'unknown',
    subject: onelineSubject(x509),
  };
}

/** The R form of an entry, revoked at `at` for `reason` (a name INDEX_REASONS holds, or none). */
export function revokedEntry(entry: CaDbEntry, at: Date, reason: string | null): CaDbEntry {
  const parts = [indexTime(at)];
  if (reason !== null) parts.push(reason);
  if (reason === 'certificateHold') parts.push(HOLD_INSTRUCTION);
  return { ...entry, status: 'R', revocation: parts.join(',') };
}

/** `<time>[,<reason>[,...]]` read back; reason null when none is recorded. Null when malformed. */
export function parseRevocation(field: string): { at: Date; reason: string | null } | null {
  const [time, reason] = field.split(',');
  const at = parseIndexTime(time ?? '');
  if (!at) return null;
  if (reason === undefined) return { at, reason: null };
  return crlReasonCode(reason) === null ? null : { at, reason };
}

export function indexSerial(hex: string): string {
  const clean = hex
    .replace(/[:\s]/g, '')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
  return clean.length % 2 ? `0${clean}` : clean;
}

/** ASN1_TIME's text: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function indexTime(d: Date): string {
  const digits = d.toISOString().slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? digits.slice(2) : digits;
}

export function parseIndexTime(s: string): Date | null {
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return null;
  const yy = Number(m[1]);
  const year = m[1]!.length === 4 ? yy : yy < 50 ? 2000 + yy : 1900 + yy;
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Node's subject lines (most general first) as X509_NAME_oneline joins them; tabs would split the line. */
function onelineSubject(x509: X509Certificate): string {
  return (
    '/' +
    x509.subject
      .split('\n')
      .join('/')
      .replace(/[\t\r]/g, ' ')
  );
}
