/**
 * A truststore: the CA certificates (and pinned self-signed client certificates) that client certificates are
 * checked against, as one PEM bundle. Built once at load; lookups by subject serve path building.
 */
import type { Cert } from '../pki/types.js';

export interface Truststore {
  /** Where it came from: a path, file:// or s3:// URI. */
  readonly source: string;
  readonly certs: readonly Cert[];
  /** The bundle re-encoded as PEM, one block per certificate (what a TLS context's `ca` gets). */
  readonly pem: string;
  /** Certificates by Node's subject string. */
  readonly bySubject: ReadonlyMap<string, readonly Cert[]>;
  /** DER SHA-256 fingerprints, for "this exact certificate is in the truststore". */
  readonly fingerprints: ReadonlySet<string>;
}

export function makeTruststore(source: string, certs: readonly Cert[]): Truststore {
  const bySubject = new Map<string, Cert[]>();
  const fingerprints = new Set<string>();
  const blocks: string[] = [];
  for (const c of certs) {
    const list = bySubject.get(c.x509.subject);
    if (list) list.push(c);
    else bySubject.set(c.x509.subject, [c]);
    fingerprints.add(c.info.fingerprintSha256);
    blocks.push(c.x509.toString());
  }
  return { source, certs, pem: blocks.join(''), bySubject, fingerprints };
}
