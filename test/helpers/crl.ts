/**
 * CRLs made by OpenSSL's own `openssl ca -gencrl` for a CA of the test PKI (an `Issued`): the CA's database lists
 * the revoked certificates, so the CRL is what a real OpenSSL CA would publish. Files are written with a rename, as
 * the gateway's docs ask of anyone replacing a CRL in place.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitCertificate } from '../../src/pki/cert.js';
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
