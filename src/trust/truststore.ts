/**
 * A truststore: the CA certificates (and pinned self-signed client certificates) that client certificates are
 * checked against, as one PEM bundle. Built once at load; lookups by subject serve path building.
 */
import type { Cert } from '../pki/types.js';
import { toPem } from '../pki/pem.js';

export interface Truststore {
  /** Where it came from: a path, file:// or s3:// URI. */
  readonly source: string;
  readonly certs: readonly Cert[];
  /** The bundle re-encoded as PEM, one block per certificate (what a TLS context's `ca` gets). */
  readonly pem: string;
  /** Certificates by Node's subject string. */
  readonly bySubject: ReadonlyMap<string, readonly Cert[]>;
  /** Whether this exact certificate (the same DER) is in the truststore. */
  contains(c: Cert): boolean;
  /** The size of the CA name list a TLS server trusting these certificates sends in its CertificateRequest. */
  readonly caNamesBytes: number;
}

export function makeTruststore(source: string, certs: readonly Cert[]): Truststore {
  const bySubject = new Map<string, Cert[]>();
  // TLS carries each CA name as its DER subject with a 2-byte length (see MAX_CA_NAMES_BYTES). Truststore
  // certificates are parsed ones (parseCert walked them already), so locating their parts cannot throw.
  let caNames = 0;
  for (const c of certs) {
    const { subject } = c.parts;
    caNames += 2 + subject.end - subject.start;
    const list = bySubject.get(c.subjectName);
    if (list) list.push(c);
    else bySubject.set(c.subjectName, [c]);
  }
  // Only a TLS context that names the CAs, or the doctor's loopback handshake, reads the PEM: built when asked.
  let pem: string | undefined;
  return {
    source,
    certs,
    get pem() {
      return (pem ??= certs.map((c) => toPem('CERTIFICATE', c.der)).join(''));
    },
    bySubject,
    // A copy of a truststore certificate has its subject: the few of that name are compared, no digest is kept.
    contains: (c) => bySubject.get(c.subjectName)?.some((t) => t.der.equals(c.der)) ?? false,
    caNamesBytes: caNames,
  };
}

/**
 * TLS carries the CA names of a CertificateRequest in one list of at most 2^16-1 bytes (RFC 5246 §7.4.4,
 * RFC 8446 §4.2.4), each name its DER subject with a 2-byte length. Past it, OpenSSL cannot build the message
 * and every handshake fails (internal_error): about 1,000 CAs with ordinary names.
 */
export const MAX_CA_NAMES_BYTES = 65_535;

/**
 * Whether OpenSSL can be given this truststore for the handshake (`handshake`: its verdict is then the socket's),
 * or the policy's model must judge chains against it (`model`: the names would not fit in a CertificateRequest).
 * The gateway and the doctor both ask this, so they judge such a truststore the same way.
 */
export function truststoreOracle(store: Truststore): 'handshake' | 'model' {
  return store.caNamesBytes > MAX_CA_NAMES_BYTES ? 'model' : 'handshake';
}
