/**
 * CRLs made by `openssl ca -gencrl` for CAs made by `issue()`: each CA gets an `openssl ca` database in `dir`, its
 * revocations go through `openssl ca -revoke`, and its CRLs through `-gencrl` (times and extensions as asked), so
 * the CRLs our reader and policy judge are OpenSSL's own.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Issued } from '../../src/pki/generate.js';
import { openssl } from './openssl.js';

export interface CrlCa {
  name: string;
  issued: Issued;
  config: string;
  certFile: string;
  keyFile: string;
  dir: string;
}

/** Extension sections of every CA's config, for gencrl's `extensions`. */
export const CRL_EXTENSIONS = {
  /** authorityKeyIdentifier, as `openssl ca` is usually configured. */
  plain: 'crl_ext',
  /** Plus a critical extension no one knows. */
  unknownCritical: 'crl_ext_unknown_critical',
  /** No extension at all (a v1 CRL). */
  none: null,
} as const;

/** An `openssl ca` database for `issued` (a CA made by issue()), in `dir` under `name`. */
export function crlCa(dir: string, issued: Issued, name: string): CrlCa {
  const base = join(dir, name);
  const certFile = `${base}.pem`;
  const keyFile = `${base}.key`;
  writeFileSync(certFile, issued.certPem);
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
  writeFileSync(`${base}.index`, '');
  writeFileSync(`${base}.crlnumber`, '1000\n');
  const config = `${base}.cnf`;
  writeFileSync(
    config,
    [
      '[ca]',
      'default_ca = CA_default',
      '[CA_default]',
      `database = ${base}.index`,
      `certificate = ${certFile}`,
      `private_key = ${keyFile}`,
      `crlnumber = ${base}.crlnumber`,
      'default_md = sha256',
      'default_crl_days = 7',
      '[crl_ext]',
      'authorityKeyIdentifier = keyid:always',
      '[crl_ext_unknown_critical]',
      'authorityKeyIdentifier = keyid:always',
      '1.3.6.1.4.1.55555.1 = critical,ASN1:UTF8String:must understand',
      '',
    ].join('\n'),
  );
  return { name, issued, config, certFile, keyFile, dir };
}

let revoked = 0;

/** `openssl ca -revoke` of a certificate (by its PEM), with a reasonCode when given. */
export function revoke(ca: CrlCa, cert: Issued, reason?: string): void {
  const file = join(ca.dir, `${ca.name}-revoked-${revoked++}.pem`);
  writeFileSync(file, cert.certPem);
  openssl(['ca', '-config', ca.config, '-revoke', file, ...(reason ? ['-crl_reason', reason] : [])]);
}

/** OpenSSL's time form for -crl_lastupdate / -crl_nextupdate. */
function asn1Time(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** `openssl ca -gencrl` into `dir/out`; by default valid from now for 7 days, with authorityKeyIdentifier. */
export function gencrl(
  ca: CrlCa,
  out: string,
  o: { lastUpdate?: Date; nextUpdate?: Date; extensions?: string | null } = {},
): string {
  const file = join(ca.dir, out);
  const ext = o.extensions === undefined ? CRL_EXTENSIONS.plain : o.extensions;
  openssl([
    'ca', '-config', ca.config, '-gencrl', '-out', file,
    ...(ext === null ? [] : ['-crlexts', ext]),
    ...(o.lastUpdate ? ['-crl_lastupdate', asn1Time(o.lastUpdate)] : []),
    ...(o.nextUpdate ? ['-crl_nextupdate', asn1Time(o.nextUpdate)] : []),
  ]); // prettier-ignore
  return file;
}
