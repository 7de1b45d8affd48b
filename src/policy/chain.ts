/**
 * Chain building as OpenSSL 3.0 does it (x509_vfy.c build_chain): from the leaf upwards, looking for each issuer
 * first in the trust store, then among the certificates the client sent; a candidate must match by name and
 * authority key id, and among several the first one currently valid wins. The chain ends at a self-signed
 * certificate or where no issuer is found.
 */
import type { Cert } from '../pki/types.js';
import type { Truststore } from '../trust/truststore.js';

export type ChainEnd =
  | 'anchored' // top is self-signed and in the truststore
  | 'self-signed-untrusted' // top is self-signed and not in the truststore
  | 'root-missing' // top is in the truststore but is not self-signed, and its issuer is nowhere
  | 'issuer-missing'; // top is not in the truststore and its issuer is nowhere

export interface Chain {
  /** Leaf first. */
  certs: Cert[];
  /** Parallel to certs: whether each came from the truststore (exact copy), as OpenSSL's num_untrusted split. */
  trusted: boolean[];
  end: ChainEnd;
}

/** Self-signed as OpenSSL's X509_self_signed(x, 0) sees it (no signature check): likely issued by itself. */
export function looksSelfSigned(c: Cert): boolean {
  // A plain certificate answers from our own parse (pki/plain.ts): a bundle's roots then need no OpenSSL parse.
  return c.plainSelfSigned ?? likelyIssued(c, c);
}

/**
 * ossl_x509_likely_issued, what OpenSSL 3.0's chain building asks of a candidate issuer: names chain, the child's
 * authority key id (key id, serial, issuer name) matches the issuer, the signature algorithm fits the issuer's key
 * type, and neither certificate has an extension OpenSSL cannot decode (a duplicate or malformed one).
 * Node's checkIssued is OpenSSL's X509_check_issued, which is exactly that plus "the issuer's key usage, if any,
 * allows keyCertSign"; chain building does not ask the latter, so only for such an issuer do we decide ourselves.
 */
export function likelyIssued(child: Cert, issuer: Cert): boolean {
  if (child.x509.checkIssued(issuer.x509)) return true;
  const ku = issuer.info.keyUsage;
  if (ku === null || ku.includes('keyCertSign')) return false;
  return approximatelyIssued(child, issuer);
}

/** likely_issued from our own parse, for an issuer whose key usage lacks keyCertSign (AKI key id only). */
function approximatelyIssued(child: Cert, issuer: Cert): boolean {
  if (child.x509.issuer !== issuer.x509.subject) return false;
  const akid = child.info.authorityKeyId;
  const skid = issuer.info.subjectKeyId;
  if (akid !== null && skid !== null && akid !== skid) return false;
  return sigFitsKey(child.info.signatureAlgorithm.name, issuer.info.publicKey.type);
}

function sigFitsKey(sigName: string, keyType: string): boolean {
  const s = sigName.toLowerCase();
  if (s.includes('ecdsa')) return keyType === 'ec';
  if (s.includes('ed25519')) return keyType === 'ed25519';
  if (s.includes('ed448')) return keyType === 'ed448';
  if (s.includes('rsa')) return keyType === 'rsa' || keyType === 'rsa-pss';
  if (s.includes('dsa')) return keyType === 'dsa';
  return true; // unknown algorithm: let the signature check decide
}

export function timeValid(c: Cert, now: Date): boolean {
  const t = now.getTime();
  return c.facts.notBeforeMs <= t && t < c.facts.notAfterMs;
}

/** X509_STORE_CTX_get1_issuer / find_issuer: the first matching candidate that is time-valid, else the last match. */
function pickIssuer(
  child: Cert,
  candidates: readonly Cert[] | undefined,
  exclude: readonly Cert[],
  now: Date,
): Cert | null {
  if (!candidates) return null;
  let fallback: Cert | null = null;
  for (const cand of candidates) {
    if (exclude.includes(cand) || !likelyIssued(child, cand)) continue;
    if (timeValid(cand, now)) return cand;
    fallback = cand;
  }
  return fallback;
}

/** Longest chain we follow; OpenSSL's default depth limit is 100, API Gateway's rule is far below that. */
const MAX_CHAIN = 32;

export function buildChain(leaf: Cert, store: Truststore, untrusted: readonly Cert[], now: Date): Chain {
  const certs: Cert[] = [leaf];
  const trusted: boolean[] = [store.contains(leaf)];
  const untrustedBySubject = groupBySubject(untrusted);
  for (;;) {
    const top = certs[certs.length - 1]!;
    const topTrusted = trusted[trusted.length - 1]!;
    if (looksSelfSigned(top)) {
      return { certs, trusted, end: topTrusted ? 'anchored' : 'self-signed-untrusted' };
    }
    if (certs.length >= MAX_CHAIN) return { certs, trusted, end: topTrusted ? 'root-missing' : 'issuer-missing' };
    const fromStore = pickIssuer(top, store.bySubject.get(top.x509.issuer), certs, now);
    const next = fromStore ?? pickIssuer(top, untrustedBySubject.get(top.x509.issuer), certs, now);
    if (!next) return { certs, trusted, end: topTrusted ? 'root-missing' : 'issuer-missing' };
    certs.push(next);
    // A client-sent copy of a truststore certificate counts as trusted, as OpenSSL's trust check finds it.
    trusted.push(fromStore !== null || store.contains(next));
  }
}

function groupBySubject(certs: readonly Cert[]): Map<string, Cert[]> {
  const m = new Map<string, Cert[]>();
  for (const c of certs) {
    const list = m.get(c.x509.subject);
    if (list) list.push(c);
    else m.set(c.x509.subject, [c]);
  }
  return m;
}
