/**
 * Text rendering of a CRL for inspect. Pure: CrlInfo in, lines out.
 *
 *   Issuer:             CN=Example Intermediate CA,O=Example
 *   Next update:        2026-01-08 00:00:00Z (expires in 6 days)
 *   Revoked:            3 certificates
 *     0a:1b  2026-01-01 00:00:00Z  keyCompromise
 */
import type { CrlInfo } from '../pki/crl.js';
import { WEAK_HASHES } from '../pki/oids.js';
import { field } from './render-cert.js';
import type { Colors } from './render-cert.js';

export function renderCrlInfo(info: CrlInfo, c: Colors, now: Date = new Date()): string[] {
  const sig = info.signatureAlgorithm;
  const lines = [
    field('Issuer', info.issuer || c.dim('(empty)'), c),
    field('This update', shortTime(info.thisUpdate) + thisUpdateNote(info, c, now), c),
    field(
      'Next update',
      info.nextUpdate ? `${shortTime(info.nextUpdate)} (${nextUpdateNote(info, c, now)})` : c.yellow('none'),
      c,
    ),
    field('CRL number', info.crlNumber ?? c.dim('absent'), c),
    field('Signature', sig.name + (sig.hash && WEAK_HASHES.has(sig.hash) ? ' ' + c.red(`(weak: ${sig.hash})`) : ''), c),
    field('Revoked', `${info.revokedCount} certificate${info.revokedCount === 1 ? '' : 's'}`, c),
  ];
  const width = Math.max(0, ...info.revoked.map((r) => r.serial.length));
  for (const r of info.revoked)
    lines.push(`  ${r.serial.padEnd(width)}  ${shortTime(r.revokedAt)}${r.reason ? `  ${r.reason}` : ''}`);
  if (info.revokedCount > info.revoked.length)
    lines.push(c.dim(`  ... and ${info.revokedCount - info.revoked.length} more`));
  if (info.unsupported.length > 0)
    lines.push(field('Unsupported', c.yellow(`${info.unsupported.join(', ')} (mtlsgate does not use this CRL)`), c));
  if (info.unknownCriticalExtensions.length > 0)
    lines.push(
      field('Unknown critical', c.red(`${info.unknownCriticalExtensions.join(', ')} (the CRL must not be used)`), c),
    );
  return lines;
}

function thisUpdateNote(info: CrlInfo, c: Colors, now: Date): string {
  return Date.parse(info.thisUpdate) > now.getTime() ? ' ' + c.yellow('(in the future: not yet valid)') : '';
}

/** "expires in 6 days", "expires in 5 hours", "expired 2 days ago". */
function nextUpdateNote(info: CrlInfo, c: Colors, now: Date): string {
  const left = Date.parse(info.nextUpdate!) - now.getTime();
  const hours = Math.floor(Math.abs(left) / 3_600_000);
  const span = hours < 48 ? plural(hours, 'hour') : plural(Math.floor(hours / 24), 'day');
  if (left < 0) return c.red(`expired ${span} ago`);
  return hours < 24 ? c.yellow(`expires in ${span}`) : c.green(`expires in ${span}`);
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
