/**
 * CRLs for the tests:
 * - `crlCa()`, `revoke()`, `gencrl()`: OpenSSL's own `openssl ca` for CAs made by `issue()`: each CA gets a database,
 *   revocations go through `openssl ca -revoke` and CRLs through `-gencrl` (times and extensions as asked), so the
 *   CRLs our reader and policy judge are OpenSSL's.
 * - `opensslCrl()`: the same in one call, written with a rename, as the gateway's docs ask of anyone replacing a
 *   CRL in place.
 * - `bigCrl()`: a CRL of a million entries, as DER built here (`openssl ca` takes 20 s for one).
 */
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitCertificate } from '../../src/pki/cert.js';
import type { Issued } from '../../src/pki/generate.js';
import { openssl } from './openssl.js';
import { tmpDir } from './pki.js';

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

export interface Revocation {
  cert: Issued;
  /** An RFC 5280 reason name as `openssl ca -crl_reason` takes it (keyCompromise, superseded, ...). */
  reason?: string;
}

export interface CrlOptions {
  ca: Issued;
  revoked?: Revocation[];
  /** Seconds from now to nextUpdate (default one day). */
  validSeconds?: number;
  /** DER instead of PEM. */
  der?: boolean;
  /** Write here (replaced with a rename); default a new file in a temp directory. */
  out?: string;
}

let counter = 0;

/** `openssl ca -gencrl` for `ca`, revoking `revoked` first; returns the file written. */
export function opensslCrl(o: CrlOptions): string {
  const dir = join(tmpDir(), `ca-${++counter}`);
  mkdirSync(dir, { recursive: true });
  const ca = crlCa(dir, o.ca, 'ca');
  for (const r of o.revoked ?? []) revoke(ca, r.cert, r.reason);
  const pem = gencrl(ca, 'crl.pem', { nextUpdate: new Date(Date.now() + (o.validSeconds ?? 86_400) * 1000) });
  const out = o.out ?? join(dir, o.der ? 'crl.der' : 'crl.out.pem');
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

/**
 * A CRL with `entries` random serials (plus `revoked`), built directly as DER and signed with node:crypto: `openssl
 * ca -gencrl` takes about 20 s for a million entries, this about one. EC CAs only (ecdsa-with-SHA256).
 */
export function bigCrl(o: { ca: Issued; entries: number; revoked?: Issued[]; validSeconds?: number }): Buffer {
  const now = Date.now();
  const time = (ms: number): Buffer => tlv(0x17, Buffer.from(caTime(new Date(ms)).replace(/^(\d{12})Z$/, '$1Z')));
  const when = time(now - 3600_000);
  // Every random entry is 35 bytes: SEQUENCE { INTEGER (16 octets), UTCTime }.
  const random = Buffer.alloc(o.entries * 35);
  const serials = randomBytes(o.entries * 16);
  for (let i = 0; i < o.entries; i++) {
    const at = i * 35;
    random[at] = 0x30;
    random[at + 1] = 33;
    random[at + 2] = 0x02;
    random[at + 3] = 16;
    serials.copy(random, at + 4, i * 16, i * 16 + 16);
    random[at + 4] = (random[at + 4]! & 0x7f) | 0x01; // positive, no leading zero octet
    when.copy(random, at + 20);
  }
  const parts: Buffer[] = [random];
  for (const c of o.revoked ?? []) {
    parts.push(tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from(evenHex(c.x509.serialNumber), 'hex')), when])));
  }
  const alg = Buffer.from('300a06082a8648ce3d040302', 'hex'); // ecdsa-with-SHA256
  const { subject } = splitCertificate(o.ca.der);
  const tbs = tlv(
    0x30,
    Buffer.concat([
      Buffer.from('020101', 'hex'), // v2
      alg,
      o.ca.der.subarray(subject.start, subject.end),
      when,
      time(now + (o.validSeconds ?? 86_400) * 1000),
      tlv(0x30, Buffer.concat(parts)),
    ]),
  );
  const signature = sign('sha256', tbs, createPrivateKey(o.ca.keyPem));
  return tlv(0x30, Buffer.concat([tbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

function tlv(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : n < 0x1000000
            ? Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff])
            : Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, value]);
}
