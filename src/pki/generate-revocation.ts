/**
 * Revocation data of a test PKI made by initPki: each CA's OpenSSL database (`index.txt` for the intermediate,
 * which `openssl ocsp -index` serves; `root-index.txt` for the root, whose only subjects are CAs), the CRL number
 * (`crlnumber`, hex, as `openssl ca` keeps it) and both CRLs, re-written whole after each change.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import {
  INDEX_REASONS,
  formatIndex,
  indexReason,
  indexSerial,
  parseIndex,
  parseRevocation,
  revokedEntry,
  validEntry,
} from './ca-database.js';
import type { CaDbEntry } from './ca-database.js';
import { makeCrl } from './generate-crl.js';
import type { RevokedSpec } from './generate-crl.js';
import type { Issued } from './generate-cert.js';
import type { LoadedPki, PkiFiles } from './generate-files.js';

export const DEFAULT_CRL_DAYS = 7;
const DAY = 86_400_000;

export type PkiCa = 'root' | 'intermediate';

export interface CrlsWritten {
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Revoked entries in each CRL. */
  counts: Record<PkiCa, number>;
}

/** Which of the PKI's CAs signed `x509` (name and signature), or null. */
export function issuingCa(pki: LoadedPki, x509: X509Certificate): PkiCa | null {
  for (const [ca, issued] of [
    ['intermediate', pki.intermediate],
    ['root', pki.root],
  ] as const) {
    if (x509.issuer !== issued.x509.subject) continue;
    try {
      if (x509.verify(issued.x509.publicKey)) return ca;
    } catch {
      // an unsupported key type signs nothing here
    }
  }
  return null;
}

/**
 * Adds V lines for certificates the PKI's CAs issued; others (self-signed, a variant's own CAs') are skipped.
 * Returns how many went into each CA's database.
 */
export async function recordIssued(pki: LoadedPki, certs: readonly Issued[]): Promise<Record<PkiCa, number>> {
  const added: Record<PkiCa, number> = { intermediate: 0, root: 0 };
  for (const ca of ['intermediate', 'root'] as const) {
    const mine = certs
      .filter((c) => c.x509.fingerprint256 !== pki.root.x509.fingerprint256)
      .filter((c) => issuingCa(pki, c.x509) === ca);
    if (mine.length === 0) continue;
    const path = indexPath(pki.files, ca);
    const entries = await readIndex(path, pki.dir);
    entries.push(...mine.map((c) => validEntry(c.x509)));
    await replaceFile(path, formatIndex(entries));
    added[ca] = mine.length;
  }
  return added;
}

export interface RevokeResult {
  ca: PkiCa;
  serial: string;
  subject: string;
  revokedAt: Date;
  reason: string | null;
  crls: CrlsWritten;
}

/**
 * Records `certPem`'s first certificate as revoked in its CA's database and re-writes both CRLs. Throws a UserError
 * for an unknown reason, a file without a certificate, a certificate from elsewhere, or one already revoked.
 */
export async function revokeInPki(
  pki: LoadedPki,
  opts: { cert: Buffer; certPath: string; reason?: string; at?: Date; days?: number; now?: Date },
): Promise<RevokeResult> {
  const reason = opts.reason === undefined ? null : indexReason(opts.reason);
  if (opts.reason !== undefined && reason === null)
    throw new UserError(
      'E_BAD_REASON',
      `unknown --reason ${JSON.stringify(opts.reason)}; choose one of: ${INDEX_REASONS.join(', ')}`,
    );
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(opts.cert);
  } catch {
    throw new UserError('E_NOT_A_CERTIFICATE', `${opts.certPath}: not a certificate (PEM or DER)`);
  }
  if (x509.fingerprint256 === pki.root.x509.fingerprint256)
    throw new UserError(
      'E_PKI_NOT_ISSUER',
      `${opts.certPath} is ${pki.dir}'s root CA itself: no CRL here can revoke it (make a new PKI instead)`,
    );
  const ca = issuingCa(pki, x509);
  if (ca === null)
    throw new UserError(
      'E_PKI_NOT_ISSUER',
      `${opts.certPath} (${oneLine(x509.subject)}) was not issued by ${pki.dir}'s root or intermediate CA`,
    );
  const path = indexPath(pki.files, ca);
  const entries = await readIndex(path, pki.dir);
  const serial = indexSerial(x509.serialNumber);
  const at = opts.at ?? opts.now ?? new Date();
  const index = entries.findIndex((e) => e.serial === serial);
  const known = index >= 0 ? entries[index]! : null;
  if (known?.status === 'R')
    throw new UserError(
      'E_ALREADY_REVOKED',
      `${opts.certPath} (serial ${serial}) is already revoked (${known.revocation}) in ${path}`,
    );
  const revoked = revokedEntry(known ?? validEntry(x509), at, reason);
  if (known) entries[index] = revoked;
  else entries.push(revoked); // issued before the database existed, or elsewhere with this PKI's key
  await replaceFile(path, formatIndex(entries));
  const crls = await writeCrls(pki, { days: opts.days, now: opts.now });
  return { ca, serial, subject: oneLine(x509.subject), revokedAt: at, reason, crls };
}

/** Both CRLs from the two databases, the CRL number taken from `crlnumber` and incremented. */
export async function writeCrls(pki: LoadedPki, opts: { days?: number; now?: Date } = {}): Promise<CrlsWritten> {
  const files = pki.files;
  const thisUpdate = opts.now ?? new Date();
  const nextUpdate = new Date(thisUpdate.getTime() + (opts.days ?? DEFAULT_CRL_DAYS) * DAY);
  const crlNumber = await readCrlNumber(files.crlNumber, pki.dir);
  const counts: Record<PkiCa, number> = { intermediate: 0, root: 0 };
  for (const ca of ['intermediate', 'root'] as const) {
    const revoked = revokedSpecs(await readIndex(indexPath(files, ca), pki.dir));
    counts[ca] = revoked.length;
    const issuer = ca === 'root' ? pki.root : pki.intermediate;
    const crl = makeCrl({ issuer, revoked, thisUpdate, nextUpdate, crlNumber });
    await replaceFile(ca === 'root' ? files.rootCrl : files.intermediateCrl, crl.pem);
  }
  await replaceFile(files.crlNumber, hexNumber(crlNumber + 1n));
  return { crlNumber, thisUpdate, nextUpdate, counts };
}

function revokedSpecs(entries: CaDbEntry[]): RevokedSpec[] {
  const out: RevokedSpec[] = [];
  for (const e of entries) {
    if (e.status !== 'R') continue;
    const r = parseRevocation(e.revocation)!; // parseIndex checked it
    out.push({ serial: e.serial, revokedAt: r.at, ...(r.reason === null ? {} : { reason: r.reason }) });
  }
  return out;
}

function indexPath(files: PkiFiles, ca: PkiCa): string {
  return ca === 'root' ? files.rootIndex : files.index;
}

/** A missing database is an empty one: PKIs made before revocation existed have none. */
async function readIndex(path: string, dir: string): Promise<CaDbEntry[]> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new UserError('E_PKI_BAD_INDEX', `${path} cannot be read (${e.code ?? e.message})`);
  });
  const { entries, problem } = parseIndex(text);
  if (problem)
    throw new UserError(
      'E_PKI_BAD_INDEX',
      `${path}: ${problem}; fix or delete that line (recreate the PKI with: mtlsgate pki init ${dir} --domain NAME --force)`,
    );
  return entries;
}

async function readCrlNumber(path: string, dir: string): Promise<bigint> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '01';
    throw new UserError('E_PKI_BAD_INDEX', `${path} cannot be read (${e.code ?? e.message})`);
  });
  if (!/^[0-9A-Fa-f]+\s*$/.test(text))
    throw new UserError('E_PKI_BAD_INDEX', `${path} does not hold a hex CRL number; write 01 into it (PKI ${dir})`);
  return BigInt(`0x${text.trim()}`);
}

function hexNumber(n: bigint): string {
  const hex = n.toString(16).toUpperCase();
  return `${hex.length % 2 ? '0' : ''}${hex}\n`;
}

/** Written beside and renamed over, so a gateway or responder re-reading the file never sees half of it. */
export async function replaceFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

function oneLine(subject: string): string {
  return subject.split('\n').reverse().join(',');
}
