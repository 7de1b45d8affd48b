/**
 * CRLs made by OpenSSL's own `openssl ca -gencrl` for a CA of the test PKI (an `Issued`): the CA's database lists
 * the revoked certificates, so the CRL is what a real OpenSSL CA would publish. Files are written with a rename, as
 * the gateway's docs ask of anyone replacing a CRL in place.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Issued } from '../../src/pki/generate.js';
import { openssl } from './openssl.js';
import { tmpDir } from './pki.js';

export interface Revocation {
  cert: Issued;
  /** An RFC 5280 reason name as `openssl ca -crl_reason` takes it (keyCompromise, superseded, ...). */
  reason?: string;
  /** Default: one hour ago. */
  at?: Date;
}

export interface CrlOptions {
  ca: Issued;
  revoked?: Revocation[];
  /** Seconds from now to nextUpdate (default one day); negative is not possible with `openssl ca`, see `expired`. */
  validSeconds?: number;
  /** DER instead of PEM. */
  der?: boolean;
  /** Write here (replaced with a rename); default a new file in a temp directory. */
  out?: string;
}

let counter = 0;

/** `openssl ca -gencrl` for `ca`, revoking `revoked`; returns the file written. */
export function opensslCrl(o: CrlOptions): string {
  const dir = join(tmpDir(), `ca-${++counter}`);
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.pem');
  writeFileSync(keyFile, o.ca.keyPem, { mode: 0o600 });
  writeFileSync(certFile, o.ca.certPem);
  const index = (o.revoked ?? []).map((r) => {
    const x = r.cert.x509;
    const at = r.at ?? new Date(Date.now() - 3600_000);
    const revoked = `${caTime(at)}${r.reason ? `,${r.reason}` : ''}`;
    return `R\t${caTime(new Date(x.validTo))}\t${revoked}\t${evenHex(x.serialNumber)}\tunknown\t/CN=x\n`;
  });
  writeFileSync(join(dir, 'index.txt'), index.join(''));
  writeFileSync(join(dir, 'crlnumber'), `${(0x1000 + counter).toString(16)}\n`);
  const config = join(dir, 'ca.cnf');
  writeFileSync(
    config,
    [
      '[ca]',
      'default_ca = CA_default',
      '[CA_default]',
      `database = ${join(dir, 'index.txt')}`,
      `certificate = ${certFile}`,
      `private_key = ${keyFile}`,
      `crlnumber = ${join(dir, 'crlnumber')}`,
      'default_md = sha256',
      'crl_extensions = crl_ext',
      '[crl_ext]',
      'authorityKeyIdentifier = keyid:always',
      '',
    ].join('\n'),
  );
  const pem = join(dir, 'crl.pem');
  openssl(['ca', '-config', config, '-gencrl', '-crlsec', String(o.validSeconds ?? 86_400), '-out', pem]);
  const out = o.out ?? join(dir, o.der ? 'crl.der' : 'crl.pem');
  const tmp = `${out}.tmp-${counter}`;
  if (o.der) openssl(['crl', '-in', pem, '-outform', 'DER', '-out', tmp]);
  else openssl(['crl', '-in', pem, '-out', tmp]);
  renameSync(tmp, out);
  return out;
}

/** YYMMDDHHMMSSZ, the CA database's time format. */
function caTime(d: Date): string {
  return d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}

/** The serial of a certificate in CertInfo's form (colon hex, lowercase), for matching log lines. */
export function serialOf(cert: Issued): string {
  const hex = new X509Certificate(cert.certPem).serialNumber.toLowerCase().replace(/^(00)+(?=..)/, '');
  return hex.match(/../g)!.join(':');
}

function evenHex(h: string): string {
  const up = h.toUpperCase();
  return up.length % 2 === 1 ? `0${up}` : up;
}
