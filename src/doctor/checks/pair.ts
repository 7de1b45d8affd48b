/**
 * Does the key belong to the certificate? The manual ritual compares `openssl ... -modulus | openssl sha1` for the
 * key, the client certificate and the truststore's copy; we print exactly those digests (RSA) and the SPKI
 * SHA-256 for every key type, so the user can cross-check with the same commands.
 */
import { finding, type Finding } from '../../report/finding.js';
import type { Known } from '../known.js';
import { shellQuote } from '../../report/shell.js';

export function checkKeyPair(k: Known): Finding[] {
  const { leaf, key } = k;
  if (leaf === null || key === null) return [];
  if (leaf.info.spkiSha256 === key.info.spkiSha256) return [];
  const certPath = k.certPath ?? 'client.crt';
  const keyPath = k.keySource === 'key-file' && k.keyFile ? k.keyFile.path : certPath;
  const trustCopy = k.truststore?.bySubject.get(leaf.x509.subject)?.[0] ?? null;
  const rsa = leaf.info.modulusSha1 !== null || key.info.modulusSha1 !== null;
  const evidence: Finding['evidence'] = rsa
    ? {
        [`openssl rsa -noout -modulus -in ${keyPath} | openssl sha1`]: key.info.modulusSha1 ?? '(not an RSA key)',
        [`openssl x509 -noout -modulus -in ${certPath} | openssl sha1`]:
          leaf.info.modulusSha1 ?? '(not an RSA certificate)',
      }
    : {
        [`key ${keyPath} SPKI SHA-256`]: key.info.spkiSha256,
        [`certificate ${certPath} SPKI SHA-256`]: leaf.info.spkiSha256,
      };
  if (trustCopy) {
    evidence[rsa ? 'truststore copy (same subject) modulus sha1' : 'truststore copy (same subject) SPKI SHA-256'] =
      (rsa ? trustCopy.info.modulusSha1 : trustCopy.info.spkiSha256) ?? '(not RSA)';
  }
  const matchesTrustCopy = trustCopy !== null && trustCopy.info.spkiSha256 === key.info.spkiSha256;
  return [
    finding({
      id: 'key.mismatch',
      severity: 'error',
      title: `the private key does not belong to the certificate ${certPath}`,
      detail: `The key's public half differs from the certificate's, so the TLS handshake fails on the client ("unable to set private key file", "key values mismatch") or the server rejects the signature. ${
        matchesTrustCopy
          ? "The key does match the truststore's copy of this subject: the client certificate file was replaced or regenerated after the truststore was made."
          : 'All digests must be equal.'
      }`,
      fix:
        `# find the certificate that goes with the key:\nfor f in *.crt *.pem; do echo "$f $(openssl x509 -noout ` +
        `-pubkey -in "$f" 2>/dev/null | openssl sha256)"; done\necho "key $(openssl pkey -pubout ` +
        `-in ${shellQuote(keyPath)} | openssl sha256)"`,
      evidence,
    }),
  ];
}
