/**
 * A truststore: the CA certificates (and pinned self-signed client certificates) that client certificates are
 * checked against, as one PEM bundle. Built once at load; lookups by subject serve path building.
 */
import type { Cert } from '../pki/types.js';
import { fingerprintSha256 } from '../pki/cert.js';
import { toPem } from '../pki/pem.js';

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
  /** The size of the CA name list a TLS server trusting these certificates sends in its CertificateRequest. */
  readonly caNamesBytes: number;
}

export function makeTruststore(source: string, certs: readonly Cert[]): Truststore {
  const bySubject = new Map<string, Cert[]>();
  const fingerprints = new Set<string>();
  // TLS carries each CA name as its DER subject with a 2-byte length (see MAX_CA_NAMES_BYTES). Truststore
  // certificates are parsed ones (parseCert walked them already), so locating their parts cannot throw.
  let caNames = 0;
  for (const c of certs) {
    const { subject } = c.parts;
    caNames += 2 + subject.end - subject.start;
    const list = bySubject.get(c.subjectName);
    if (list) list.push(c);
    else bySubject.set(c.subjectName, [c]);
    fingerprints.add(fingerprintSha256(c.der));
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
    fingerprints,
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
