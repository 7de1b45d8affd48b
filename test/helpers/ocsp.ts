/**
 * OCSP responders for the tests.
 *
 * - startOpensslResponder(): OpenSSL's own `openssl ocsp -index … -port 0` as a child process, the reference our
 *   reader is checked against. OpenSSL 3.0 binds every interface (its -port takes a number only); port 0 lets the
 *   kernel pick a free one, which the responder prints as `ACCEPT [::]:PORT` and we read back, so no port race.
 * - startFaultResponder(mode): a node:http server of our own answering, well or badly on purpose; it counts requests
 *   and the bytes it streamed.
 * - writeIndex(): OpenSSL's CA database (index.txt), the file `openssl ocsp -index` reads.
 * - issueWithOcspUrl(): a leaf whose AIA names an OCSP URL (issue() writes no AIA), made with `openssl x509 -req`.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { certFromPem, splitCertificate } from '../../src/pki/cert.js';
import {
  isContext,
  isUniversal,
  readOid,
  readTlv,
  tlvChildren,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
} from '../../src/pki/der.js';
import { derExplicit, derNull, derOctetString, derOid, derSequence, derTlv } from '../../src/pki/der-write.js';
import { issue } from '../../src/pki/generate.js';
import type { Issued } from '../../src/pki/generate.js';
import { OID_OCSP_BASIC, OID_OCSP_NONCE } from '../../src/pki/ocsp.js';
import type { Cert } from '../../src/pki/types.js';
import { openssl } from './openssl.js';

export interface IndexEntry {
  cert: { x509: { serialNumber: string; validTo: string; subject: string } };
  /** Absent: valid. */
  revoked?: { at: Date; reason?: string };
}

/** index.txt lines: `V|R <TAB> expiry <TAB> revocation[,reason] <TAB> SERIAL <TAB> unknown <TAB> /CN=…`. */
export function writeIndex(file: string, entries: IndexEntry[]): void {
  const lines = entries.map(({ cert, revoked }) => {
    const x = cert.x509;
    const rev = revoked ? `${utcTime(revoked.at)}${revoked.reason ? `,${revoked.reason}` : ''}` : '';
    const dn = '/' + x.subject.split('\n').join('/');
    return [revoked ? 'R' : 'V', utcTime(new Date(x.validTo)), rev, x.serialNumber, 'unknown', dn].join('\t');
  });
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

/** YYMMDDHHMMSSZ, OpenSSL's database time format. */
function utcTime(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
}

/** Writes an identity's certificate and (mode 0600) key as PEM files named `<name>.pem` and `<name>.key`. */
export function writeIdentity(dir: string, name: string, who: Issued): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, who.certPem);
  writeFileSync(key, who.keyPem, { mode: 0o600 });
  return { cert, key };
}

/** A client leaf under `issuer` whose AIA carries `aia` (e.g. `OCSP;URI:http://127.0.0.1:1/`). */
export function issueWithOcspUrl(o: { dir: string; name: string; issuer: Issued; aia: string }): Cert {
  const ca = writeIdentity(o.dir, `${o.name}-issuer`, o.issuer);
  const f = (ext: string): string => join(o.dir, `${o.name}.${ext}`);
  writeFileSync(f('ext'), `[ext]\nauthorityInfoAccess = ${o.aia}\nextendedKeyUsage = clientAuth\n`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('key')]);
  openssl(['req', '-new', '-key', f('key'), '-subj', `/CN=${o.name}`, '-out', f('csr')]);
  openssl([
    'x509', '-req', '-in', f('csr'), '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '30', '-sha256', '-extfile', f('ext'), '-extensions', 'ext', '-out', f('pem'),
  ]); // prettier-ignore
  return certFromPem(readFileSync(f('pem'), 'utf8'));
}

export interface Responder {
  url: string;
  stop(): Promise<void>;
}

const children = new Set<ReturnType<typeof spawn>>();

/** `openssl ocsp` serving `index` on a free loopback port; `nmin` sets nextUpdate (minutes), absent without it. */
export async function startOpensslResponder(o: {
  index: string;
  ca: string;
  rsigner: string;
  rkey: string;
  port?: number;
  nmin?: number;
  extra?: string[];
}): Promise<Responder> {
  const args = ['ocsp', '-index', o.index, '-port', String(o.port ?? 0), '-rsigner', o.rsigner, '-rkey', o.rkey];
  args.push('-CA', o.ca, '-nrequest', '100000', '-ignore_err', ...(o.nmin ? ['-nmin', String(o.nmin)] : []));
  const child = spawn('openssl', [...args, ...(o.extra ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (children.size === 0) process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let seen = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${seen}`)), 10_000);
    const onData = (c: Buffer): void => {
      seen += c.toString();
      const m = /ACCEPT .*:(\d+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`openssl ocsp exited (${code}): ${seen}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

export type FaultMode =
  | 'good'
  | 'revoked'
  | 'unknown'
  | 'no-nonce'
  | 'delegated'
  | 'slow'
  | 'http500'
  | 'garbage'
  | 'huge'
  | 'wrong-type'
  | 'wrong-nonce'
  | 'wrong-signer'
  | 'no-eku-delegate'
  | 'stale'
  | 'try-later';

export interface FaultResponder extends Responder {
  /** Requests received so far. */
  requests(): number;
  /** Body bytes written (the `huge` mode stops when the client hangs up). */
  bytesSent(): number;
}

export const HUGE_BYTES = 100 * 1024 * 1024;

/**
 * A responder answering every request the same way. Signed answers are about the certificate asked for (its CertID
 * copied from the request), signed by `issuer` unless the mode says otherwise, and echo the request's nonce.
 * `clock` sets thisUpdate (clock - 1 min) and nextUpdate (clock + nextUpdateMs; null = absent; default 10 min).
 */
export async function startFaultResponder(
  mode: FaultMode,
  o: { issuer: Issued; clock?: () => number; nextUpdateMs?: number | null },
): Promise<FaultResponder> {
  const clock = o.clock ?? Date.now;
  const signer = await signerFor(mode, o.issuer);
  let requests = 0;
  let bytesSent = 0;
  const server = createServer((req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'slow') return; // never answers; stop() closes the connection
      if (mode === 'http500') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('oops\n');
      const type = { 'content-type': mode === 'wrong-type' ? 'text/html' : 'application/ocsp-response' };
      if (mode === 'garbage') return void res.writeHead(200, type).end(randomBytes(300));
      if (mode === 'try-later') return void res.writeHead(200, type).end(derSequence(derTlv(0x0a, Buffer.from([3]))));
      if (mode === 'huge') return streamHuge(res, (n) => (bytesSent += n));
      const asked = readRequest(Buffer.concat(chunks));
      if (!asked) return void res.writeHead(400).end();
      const now = clock();
      const body = signedResponse({
        certId: asked.certId,
        status: mode === 'revoked' ? 'revoked' : mode === 'unknown' ? 'unknown' : 'good',
        thisUpdate: new Date(mode === 'stale' ? now - 7200_000 : now - 60_000),
        nextUpdate:
          mode === 'stale'
            ? new Date(now - 3600_000)
            : o.nextUpdateMs === null
              ? null
              : new Date(now + (o.nextUpdateMs ?? 600_000)),
        nonceExtValue:
          mode === 'no-nonce' ? null : mode === 'wrong-nonce' ? derOctetString(randomBytes(32)) : asked.nonceExtValue,
        signer,
      });
      bytesSent += body.length;
      res.writeHead(200, { ...type, 'content-length': body.length }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ocsp`,
    requests: () => requests,
    bytesSent: () => bytesSent,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function streamHuge(res: import('node:http').ServerResponse, sent: (n: number) => void): void {
  res.writeHead(200, { 'content-type': 'application/ocsp-response' });
  const chunk = Buffer.alloc(64 * 1024, 0x30);
  let total = 0;
  const pump = (): void => {
    while (total < HUGE_BYTES && !res.destroyed) {
      total += chunk.length;
      sent(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

export interface Signer {
  key: KeyObject;
  /** The signer's subject Name DER, for responderID byName. */
  nameDer: Buffer;
  /** Certificates to put in `certs`. */
  certs: Buffer[];
}

/** `who` signing, named by its subject (responderID byName), with `certs` carried along. */
export function signerOf(who: Issued, certs: Buffer[] = []): Signer {
  const { subject } = splitCertificate(who.der);
  return { key: createPrivateKey(who.keyPem), nameDer: who.der.subarray(subject.start, subject.end), certs };
}

async function signerFor(mode: FaultMode, issuer: Issued): Promise<Signer> {
  const own = signerOf;
  if (mode === 'wrong-signer') {
    const rogue = await issue({ subject: 'CN=Rogue OCSP', profile: 'client', extKeyUsage: ['OCSPSigning'] });
    return own(rogue, [rogue.der]);
  }
  if (mode === 'no-eku-delegate') {
    const d = await issue({ subject: 'CN=Delegate without EKU', issuer, profile: 'client' });
    return own(d, [d.der]);
  }
  if (mode === 'delegated') {
    const d = await issue({ subject: 'CN=Delegated OCSP', issuer, profile: 'client', extKeyUsage: ['OCSPSigning'] });
    return own(d, [d.der]);
  }
  return own(issuer, []);
}

/** The first Request's CertID (DER, verbatim) and the nonce extension's extnValue content, from an OCSPRequest. */
export function readRequest(der: Buffer): { certId: Buffer; nonceExtValue: Buffer | null } | null {
  const outer = readTlv(der, 0);
  const tbs = outer && tlvChildren(der, outer, 1)?.[0];
  const kids = tbs ? tlvChildren(der, tbs) : null;
  const list = kids?.find((k) => isUniversal(k, TAG_SEQUENCE));
  const first = list && tlvChildren(der, list, 1)?.[0];
  const certId = first && tlvChildren(der, first, 1)?.[0];
  if (!certId) return null;
  let nonceExtValue: Buffer | null = null;
  const extsWrapper = kids?.find((k) => isContext(k, 2));
  const exts = extsWrapper ? readTlv(der, extsWrapper.valueStart, extsWrapper.end) : null;
  for (const ext of (exts && tlvChildren(der, exts)) ?? []) {
    const parts = tlvChildren(der, ext) ?? [];
    const value = parts[parts.length - 1];
    if (readOid(der, parts[0]) === OID_OCSP_NONCE && isUniversal(value, TAG_OCTET_STRING))
      nonceExtValue = der.subarray(value.valueStart, value.end);
  }
  return { certId: der.subarray(certId.start, certId.end), nonceExtValue };
}

function generalizedTime(d: Date): Buffer {
  return derTlv(0x18, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z', 'latin1'));
}

/** A successful BasicOCSPResponse about one CertID, as our own DER; `signer` signs with SHA-256 (or Ed25519). */
export function signedResponse(o: {
  certId: Buffer;
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** extnValue's content (an OCTET STRING TLV, RFC 8954), or null for none. */
  nonceExtValue: Buffer | null;
  signer: Signer;
  revokedAt?: Date;
}): Buffer {
  const status =
    o.status === 'good'
      ? Buffer.from([0x80, 0x00])
      : o.status === 'unknown'
        ? Buffer.from([0x82, 0x00])
        : derTlv(0xa1, generalizedTime(o.revokedAt ?? o.thisUpdate), derExplicit(0, derTlv(0x0a, Buffer.from([1]))));
  const single = derSequence(
    o.certId,
    status,
    generalizedTime(o.thisUpdate),
    ...(o.nextUpdate ? [derExplicit(0, generalizedTime(o.nextUpdate))] : []),
  );
  const exts = o.nonceExtValue
    ? [derExplicit(1, derSequence(derSequence(derOid(OID_OCSP_NONCE), derOctetString(o.nonceExtValue))))]
    : [];
  const tbs = derSequence(derExplicit(1, o.signer.nameDer), generalizedTime(new Date()), derSequence(single), ...exts);
  const { alg, digest } = signatureAlgorithm(o.signer.key);
  const signature = sign(digest, tbs, o.signer.key);
  const certs = o.signer.certs.length > 0 ? [derExplicit(0, derSequence(...o.signer.certs))] : [];
  const basic = derSequence(tbs, alg, derTlv(0x03, Buffer.from([0]), signature), ...certs);
  return derSequence(
    derTlv(0x0a, Buffer.from([0])),
    derExplicit(0, derSequence(derOid(OID_OCSP_BASIC), derOctetString(basic))),
  );
}

function signatureAlgorithm(key: KeyObject): { alg: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { alg: derSequence(derOid('1.2.840.10045.4.3.2')), digest: 'sha256' };
    case 'rsa':
      return { alg: derSequence(derOid('1.2.840.113549.1.1.11'), derNull()), digest: 'sha256' };
    case 'ed25519':
      return { alg: derSequence(derOid('1.3.101.112')), digest: null };
    default:
      throw new Error(`cannot sign with a ${key.asymmetricKeyType} key`);
  }
}
