/**
 * PKI pieces for the end-to-end tests: the gateway's server certificate (one EC certificate whose SANs name every
 * test domain, under its own CA) and files for client identities, written into a test directory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, type Issued } from '../../../src/pki/generate.js';

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
  const leaf = await issue({ subject: `CN=${domains[0]}`, profile: 'server', issuer: ca, sans: domains.map((d) => `DNS:${d}`) });
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

/** `domain` config entry with the usual defaults for tests. */
export function domainConfig(
  domainName: string,
  server: ServerIdentity,
  truststoreFile: string,
  targets: { basePath: string; target: string }[],
  mutualTls: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    domainName,
    certificate: { cert: server.certFile, key: server.keyFile },
    mutualTls: { truststoreUri: `file://${truststoreFile}`, exposeReason: true, ...mutualTls },
    basePathMappings: targets,
  };
}
