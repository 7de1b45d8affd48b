/**
 * Text rendering of CertInfo and KeyInfo (inspect, and the doctor's evidence). Pure: info in, lines out;
 * colour only through picocolors' createColors, so NO_COLOR and pipes get plain text.
 *
 *   Subject:          CN=client,O=Example,C=US
 *   Validity:         2026-01-01 00:00:00Z to 2026-04-01 00:00:00Z (89 days left)
 *   Signature:        sha1WithRSAEncryption (weak: sha1)
 */
import pc from 'picocolors';
import type { CertInfo, KeyEncoding, KeyInfo, PublicKeyInfo } from '../pki/types.js';
import { WEAK_HASHES } from '../pki/oids.js';

export type Colors = ReturnType<typeof pc.createColors>;

export function colors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

const LABEL_WIDTH = 20;

/** One "Label: value" line; the label is padded so values line up. */
export function field(label: string, value: string, c: Colors): string {
  return `${c.dim(`${label}:`.padEnd(LABEL_WIDTH))}${value}`;
}

export function renderCertInfo(info: CertInfo, c: Colors): string[] {
  const lines = [
    field('Subject', info.subject || c.dim('(empty)'), c),
    field(
      'Issuer',
      info.issuer + (info.selfSigned ? c.dim(' (self-signed)') : info.selfIssued ? c.dim(' (self-issued)') : ''),
      c,
    ),
    field('Serial', info.serial, c),
    field('Validity', `${shortTime(info.notBefore)} to ${shortTime(info.notAfter)} (${validityNote(info, c)})`, c),
    field('Public key', describeKey(info.publicKey) + weakKeyNote(info.publicKey, c), c),
    field('Signature', info.signatureAlgorithm.name + weakHashNote(info.signatureAlgorithm.hash, c), c),
    field('Subject alt names', info.subjectAltNames.length ? info.subjectAltNames.join(', ') : c.dim('none'), c),
    field('Key usage', info.keyUsage ? info.keyUsage.join(', ') || c.dim('(empty)') : c.dim('absent'), c),
    field(
      'Extended key usage',
      info.extendedKeyUsage ? info.extendedKeyUsage.join(', ') || c.dim('(empty)') : c.dim('absent'),
      c,
    ),
    field('Basic constraints', basicConstraints(info, c), c),
    field('Subject key id', info.subjectKeyId ?? c.dim('absent'), c),
    field('Authority key id', info.authorityKeyId ?? c.dim('absent'), c),
    field('SHA-256', info.fingerprintSha256, c),
  ];
  // Shown only when present: most client certificates carry neither, and "absent" twice would be noise.
  if (info.crlDistributionPoints.length > 0) lines.push(field('CRL', info.crlDistributionPoints.join(', '), c));
  if (info.ocspUrls.length > 0) lines.push(field('OCSP', info.ocspUrls.join(', '), c));
  if (info.modulusSha1) lines.push(field('Modulus SHA-1', info.modulusSha1, c));
  lines.push(field('SPKI SHA-256', info.spkiSha256, c));
  return lines;
}

export function renderKeyInfo(info: KeyInfo, c: Colors): string[] {
  const lines = [
    field('Type', describeKey(info) + weakKeyNote(info, c), c),
    field('Encoding', `${ENCODINGS[info.encoding]}${info.encrypted ? ', encrypted' : ', not encrypted'}`, c),
  ];
  if (info.modulusSha1) lines.push(field('Modulus SHA-1', info.modulusSha1, c));
  lines.push(field('SPKI SHA-256', info.spkiSha256, c));
  return lines;
}

/** "RSA 2048 bits", "EC 256 bits (prime256v1)", "Ed25519". */
export function describeKey(key: PublicKeyInfo): string {
  switch (key.type) {
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    case 'ec':
      return `EC ${key.bits} bits (${key.curve ?? 'unknown curve'})`;
    case 'rsa-pss':
      return `RSA-PSS ${key.bits} bits`;
    case 'unknown':
      return key.curve ? key.curve : 'unknown key type';
    default:
      return `${key.type.toUpperCase()} ${key.bits} bits`;
  }
}

/** "89 days left", "expired 3 days ago", "not yet valid: starts in 2 days". */
export function validityNote(
  info: Pick<CertInfo, 'notBefore' | 'notAfter'>,
  c: Colors,
  now: Date = new Date(),
): string {
  const day = 86_400_000;
  const start = Date.parse(info.notBefore);
  const end = Date.parse(info.notAfter);
  if (end < now.getTime()) {
    const ago = Math.floor((now.getTime() - end) / day);
    return c.red(ago === 0 ? 'expired today' : `expired ${plural(ago, 'day')} ago`);
  }
  if (start > now.getTime())
    return c.yellow(`not yet valid: starts in ${plural(Math.ceil((start - now.getTime()) / day), 'day')}`);
  const left = Math.floor((end - now.getTime()) / day);
  return left < 30 ? c.yellow(`${plural(left, 'day')} left`) : c.green(`${plural(left, 'day')} left`);
}

const ENCODINGS: Record<KeyEncoding, string> = {
  pkcs8: 'PKCS#8 PEM',
  pkcs1: 'PKCS#1 PEM (traditional)',
  sec1: 'SEC1 PEM (EC PRIVATE KEY)',
  'encrypted-pkcs8': 'encrypted PKCS#8',
  'legacy-encrypted-pem': 'legacy encrypted PEM (Proc-Type: 4,ENCRYPTED)',
  der: 'DER',
  pkcs12: 'PKCS#12 key bag',
};

function basicConstraints(info: CertInfo, c: Colors): string {
  const bc = info.basicConstraints;
  if (!bc) return c.dim('absent');
  const parts = [bc.ca ? 'CA:TRUE' : 'CA:FALSE'];
  if (bc.pathLength !== null) parts.push(`pathlen:${bc.pathLength}`);
  if (bc.critical) parts.push('critical');
  return parts.join(', ');
}

function weakHashNote(hash: string | null, c: Colors): string {
  return hash && WEAK_HASHES.has(hash) ? ' ' + c.red(`(weak: ${hash})`) : '';
}

function weakKeyNote(key: PublicKeyInfo, c: Colors): string {
  if ((key.type === 'rsa' || key.type === 'rsa-pss' || key.type === 'dsa') && key.bits < 2048)
    return ' ' + c.red('(weak: under 2048 bits)');
  if (key.type === 'ec' && key.bits < 256) return ' ' + c.red('(weak: under 256 bits)');
  return '';
}

/** ISO time without milliseconds: 2026-01-01 00:00:00Z. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
