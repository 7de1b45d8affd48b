/**
 * A test PKI on disk: `initPki` writes one, `loadPki` reads its two CAs back so variants can be issued later.
 * Keys are written 0600 and unencrypted: this is for tests and demos, never for production.
 */
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { issue, issuedFrom } from './generate-cert.js';
import { escapeDnValue } from './generate-name.js';
import { recordIssued, writeCrls } from './generate-revocation.js';
import type { Issued, KeySpec } from './generate-cert.js';

/** Absolute-or-as-given paths of everything `initPki` writes. */
export interface PkiFiles {
  dir: string;
  rootCert: string; // root-ca.crt
  rootKey: string; // root-ca.key
  intermediateCert: string; // intermediate-ca.crt
  intermediateKey: string; // intermediate-ca.key
  serverCert: string; // server.crt: leaf + intermediate
  serverKey: string;
  clientCert: string; // client.crt: leaf only (the truststore holds the intermediate)
  clientKey: string;
  selfSignedCert: string; // self-signed.crt: self-signed client certificate with clientAuth
  selfSignedKey: string;
  truststore: string; // truststore.pem: root + intermediate
  index: string; // index.txt: the intermediate's OpenSSL CA database
  rootIndex: string; // root-index.txt: the root's
  crlNumber: string; // crlnumber: the next CRL number, hex
  intermediateCrl: string; // intermediate-ca.crl (PEM)
  rootCrl: string; // root-ca.crl (PEM)
  ocspResponderCert: string; // ocsp-responder.crt: issued by the intermediate, EKU OCSPSigning
  ocspResponderKey: string;
}

export interface LoadedPki {
  dir: string;
  files: PkiFiles;
  root: Issued;
  intermediate: Issued;
}

export const ROOT_SUBJECT = 'CN=mtlsgate Test Root CA,O=mtlsgate test PKI';
export const INTERMEDIATE_SUBJECT = 'CN=mtlsgate Test Intermediate CA,O=mtlsgate test PKI';

export function pkiFiles(dir: string): PkiFiles {
  const p = (name: string): string => join(dir, name);
  return {
    dir,
    rootCert: p('root-ca.crt'),
    rootKey: p('root-ca.key'),
    intermediateCert: p('intermediate-ca.crt'),
    intermediateKey: p('intermediate-ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    selfSignedCert: p('self-signed.crt'),
    selfSignedKey: p('self-signed.key'),
    truststore: p('truststore.pem'),
    index: p('index.txt'),
    rootIndex: p('root-index.txt'),
    crlNumber: p('crlnumber'),
    intermediateCrl: p('intermediate-ca.crl'),
    rootCrl: p('root-ca.crl'),
    ocspResponderCert: p('ocsp-responder.crt'),
    ocspResponderKey: p('ocsp-responder.key'),
  };
}

/**
 * Writes root CA -> intermediate CA (pathLen 0) -> server and client leaves, a self-signed client and the
 * truststore, and the revocation data: both CAs' OpenSSL databases, empty CRLs and an OCSP responder certificate.
 * Every certificate gets `key` (default EC P-256).
 */
export async function initPki(
  dir: string,
  opts: { domain: string; key?: KeySpec; force?: boolean },
): Promise<PkiFiles> {
  const files = pkiFiles(dir);
  const domain = opts.domain.trim();
  if (domain === '' || /\s/.test(domain))
    throw new UserError(
      'E_BAD_DOMAIN',
      `bad domain ${JSON.stringify(opts.domain)}: give a DNS name such as api.example.test`,
    );
  await ensureDir(dir);
  if (!opts.force) {
    const { dir: _dir, ...paths } = files;
    for (const path of Object.values(paths)) {
      if (await exists(path))
        throw new UserError(
          'E_PKI_EXISTS',
          `${path} already exists; refusing to overwrite a PKI (use --force to replace it)`,
        );
    }
  }
  const key = opts.key;
  // Independent certificates are made concurrently: RSA key generation dominates and runs on the thread pool.
  const [root, selfSigned] = await Promise.all([
    issue({ subject: ROOT_SUBJECT, profile: 'root-ca', key }),
    issue({ subject: 'CN=self-signed client', profile: 'client', key }),
  ]);
  const intermediate = await issue({
    subject: INTERMEDIATE_SUBJECT,
    profile: 'intermediate-ca',
    pathLength: 0,
    issuer: root,
    key,
  });
  const [server, client, responder] = await Promise.all([
    issue({
      subject: `CN=${escapeDnValue(domain)}`,
      profile: 'server',
      issuer: intermediate,
      key,
      sans: [isIP(domain) ? `IP:${domain}` : `DNS:${domain}`],
    }),
    issue({ subject: 'CN=client', profile: 'client', issuer: intermediate, key }),
    issue({
      subject: 'CN=mtlsgate Test OCSP Responder,O=mtlsgate test PKI',
      issuer: intermediate,
      key,
      ca: false,
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['OCSPSigning'],
    }),
  ]);
  await writeCert(files.rootCert, root.certPem);
  await writeKey(files.rootKey, root.keyPem);
  await writeCert(files.intermediateCert, intermediate.certPem);
  await writeKey(files.intermediateKey, intermediate.keyPem);
  await writeCert(files.serverCert, server.certPem + intermediate.certPem);
  await writeKey(files.serverKey, server.keyPem);
  await writeCert(files.clientCert, client.certPem);
  await writeKey(files.clientKey, client.keyPem);
  await writeCert(files.selfSignedCert, selfSigned.certPem);
  await writeKey(files.selfSignedKey, selfSigned.keyPem);
  await writeCert(files.truststore, root.certPem + intermediate.certPem);
  await writeCert(files.ocspResponderCert, responder.certPem);
  await writeKey(files.ocspResponderKey, responder.keyPem);
  // A forced re-init starts the databases and CRL numbers afresh: the old entries name another CA's serials.
  await rm(files.index, { force: true });
  await rm(files.rootIndex, { force: true });
  await rm(files.crlNumber, { force: true });
  const loaded: LoadedPki = { dir, files, root, intermediate };
  await recordIssued(loaded, [intermediate, server, client, responder]);
  await writeCrls(loaded);
  return files;
}

/** Reads back the root and intermediate CA of a PKI made by `initPki`. */
export async function loadPki(dir: string): Promise<LoadedPki> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new UserError(
      'E_PKI_NOT_FOUND',
      `${dir}: no such directory; create a test PKI first with: mtlsgate pki init ${dir} --domain NAME`,
    );
  }
  const files = pkiFiles(dir);
  const root = await loadCa(files.rootCert, files.rootKey, '', dir);
  const intermediate = await loadCa(files.intermediateCert, files.intermediateKey, root.chainPem, dir);
  return { dir, files, root, intermediate };
}

async function loadCa(certPath: string, keyPath: string, issuerChainPem: string, dir: string): Promise<Issued> {
  const certText = await readOrExplain(certPath, dir);
  const keyPem = await readOrExplain(keyPath, dir);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certText); // the first PEM block
  } catch {
    throw new UserError(
      'E_PKI_BAD_FILE',
      `${certPath}: not a PEM certificate; recreate the PKI with: mtlsgate pki init ${dir} --domain NAME --force`,
    );
  }
  let keyMatches: boolean;
  try {
    keyMatches = x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    throw new UserError(
      'E_PKI_BAD_FILE',
      `${keyPath}: not an unencrypted PEM private key; recreate the PKI with: mtlsgate pki init ${dir} --domain NAME --force`,
    );
  }
  if (!keyMatches)
    throw new UserError(
      'E_PKI_KEY_MISMATCH',
      `${keyPath} does not belong to ${certPath}; recreate the PKI with: mtlsgate pki init ${dir} --domain NAME --force`,
    );
  // Normalise to PKCS#8 so Issued.keyPem always means the same thing.
  const pkcs8 = String(createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem' }));
  return issuedFrom(x509.raw, pkcs8, issuerChainPem);
}

async function readOrExplain(path: string, dir: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'cannot be read';
    throw new UserError(
      'E_PKI_FILE_MISSING',
      `${path} ${why}; create a test PKI with: mtlsgate pki init ${dir} --domain NAME`,
    );
  }
}

export async function ensureDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (info && !info.isDirectory()) throw new UserError('E_NOT_A_DIRECTORY', `${dir} exists and is not a directory`);
  await mkdir(dir, { recursive: true });
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

export async function writeCert(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o644 });
}

/** 0600 even when overwriting: writeFile's mode only applies to a file it creates, so tighten an old one first. */
export async function writeKey(path: string, pem: string): Promise<void> {
  await chmod(path, 0o600).catch(() => undefined);
  await writeFile(path, pem, { mode: 0o600 });
}
