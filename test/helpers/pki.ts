/**
 * Test PKI and temp directories.
 *
 * - testPki()/testVariant(): one `pki init` PKI per test process (tests in a file share it; node --test runs each
 *   file in its own process), made in-process in a fresh temp directory.
 * - tmpDir(): a fresh directory removed at exit (set MTLSGATE_KEEP_TMP=1 to keep them).
 * - serverIdentity()/writeClient()/writeTruststore(): the files a gateway and its clients use in the end-to-end
 *   tests: the gateway's server certificate (one EC certificate whose SANs name every test domain, under its own
 *   CA), client identities and truststores, written into a test directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki, issue, issueVariant, loadPki } from '../../src/pki/generate.js';
import type { Issued, LoadedPki, PkiFiles, Variant, VariantFiles } from '../../src/pki/generate.js';

/** Every path initPki wrote (rootCert, clientKey, truststore, ...) plus the loaded CAs; usable as a LoadedPki. */
export type TestPki = PkiFiles & LoadedPki;

/** The server certificate's name; `localhost` so TLS loopback tests can check the server's identity. */
export const TEST_DOMAIN = 'localhost';

let pki: Promise<TestPki> | undefined;
const variants = new Map<string, Promise<VariantFiles>>();

export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const dir = tmpDir();
    const files = await initPki(dir, { domain: TEST_DOMAIN });
    return { ...files, ...(await loadPki(dir)) };
  })();
  return pki;
}

/** A variant issued once per process into the test PKI's directory, as `<name>.crt` (name defaults to the variant). */
export function testVariant(
  variant: Variant,
  opts: { name?: string; depth?: number; cn?: string } = {},
): Promise<VariantFiles> {
  const name = opts.name ?? variant;
  const key = JSON.stringify([variant, name, opts.depth, opts.cn]);
  let made = variants.get(key);
  if (!made) {
    made = testPki().then((p) => issueVariant(p, variant, { ...opts, name }));
    variants.set(key, made);
  }
  return made;
}

const made: string[] = [];

/** A fresh empty directory, removed when the process exits. */
export function tmpDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-'));
  // One exit listener for all directories (one each would trip the max-listeners warning).
  if (made.length === 0 && !process.env.MTLSGATE_KEEP_TMP) {
    process.once('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  }
  made.push(dir);
  return dir;
}

export interface ServerIdentity {
  ca: Issued;
  /** PEM of the CA clients trust for the gateway. */
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A server CA and one certificate for all `domains` (EC P-256: fast), written into `dir`. */
export async function serverIdentity(dir: string, domains: string[]): Promise<ServerIdentity> {
  const ca = await issue({ subject: 'CN=e2e Server CA,O=mtlsgate e2e', profile: 'root-ca' });
  const leaf = await issue({
    subject: `CN=${domains[0]}`,
    profile: 'server',
    issuer: ca,
    sans: domains.map((d) => `DNS:${d}`),
  });
  const caFile = join(dir, 'server-ca.pem');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(certFile, leaf.certPem + ca.certPem);
  writeFileSync(keyFile, leaf.keyPem, { mode: 0o600 });
  return { ca, caPem: ca.certPem, caFile, certFile, keyFile };
}

export interface ClientFiles {
  /** The leaf followed by `sent` (what a client presents, e.g. a curl --cert file). */
  certFile: string;
  keyFile: string;
  /** Same bytes as certFile. */
  certPem: string;
  keyPem: string;
}

/** Write a client identity: the leaf and what it sends after it, and its key. */
export function writeClient(dir: string, name: string, leaf: Issued, sent: Issued[] = []): ClientFiles {
  const certPem = leaf.certPem + sent.map((i) => i.certPem).join('');
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, leaf.keyPem, { mode: 0o600 });
  return { certFile, keyFile, certPem, keyPem: leaf.keyPem };
}

/** A truststore file holding these certificates, in order. */
export function writeTruststore(dir: string, name: string, certs: Issued[]): string {
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, certs.map((c) => c.certPem).join(''));
  return file;
}
