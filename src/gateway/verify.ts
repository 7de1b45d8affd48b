/**
 * The per-connection verdict: OpenSSL's result on the socket + the shared policy against the domain's current
 * truststore. Computed once per connection and truststore generation (a reload re-judges open connections on
 * their next request), and cached per certificate chain so a client that reconnects costs a map lookup.
 *
 * Where the handshake's own result does not apply, the policy's model of OpenSSL decides instead
 * (decideWithoutHandshake): on a resumed TLS session, whose stored result is that of its first handshake (under
 * another domain, perhaps, or a truststore since replaced), and for a truststore OpenSSL is not given (too large to
 * name in a CertificateRequest, see state.ts).
 */
import type { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { Cert } from '../pki/types.js';
import { parseCert } from '../pki/cert.js';
import { analyzeChain, decide, decideWithoutHandshake } from '../policy/analyze.js';
import { opensslResultOf } from '../policy/node-tls.js';
import { OWN_CODES } from '../policy/defect.js';
import { denied, type Denied, type OpenSslResult, type Verdict } from '../policy/verdict.js';
import type { PolicyOptions } from '../policy/rules.js';
import type { Truststore } from '../trust/truststore.js';
import { clientCertHeaders } from './headers.js';

export interface ClientIdentity {
  leaf: Cert;
  /** What the client sent after its certificate. */
  sent: Cert[];
  /** Headers for the backend, built once. */
  headers: Record<string, string>;
}

export interface ConnectionVerdict {
  generation: number;
  verdict: Verdict;
  /** null when no certificate was presented. */
  client: ClientIdentity | null;
  /** OpenSSL's result from the handshake, or null where the model decided (resumed session, large truststore). */
  openssl: OpenSslResult | null;
  /** The verified path, leaf first, up to the truststore anchor (empty when denied): what revocation checks. */
  path: readonly Cert[];
}

export interface VerifyContext {
  generation: number;
  truststore: Truststore;
  policy: PolicyOptions;
  /** handshake: OpenSSL verified against this truststore in the handshake; model: it did not (see state.ts). */
  oracle: 'handshake' | 'model';
  /**
   * Per truststore generation: chain fingerprints + OpenSSL code -> verdict and the backend's identity headers,
   * bounded by the characters of keys and header values as the certificate caches are by DER bytes.
   */
  cache: BoundedCache<{ verdict: Verdict; headers: Record<string, string>; path: readonly Cert[]; expires: number }>;
}

/**
 * A map bounded in entries and in bytes, cleared when a new entry would pass either: these caches are filled by
 * what clients send, so a client choosing large certificates must not grow them without bound.
 */
export interface BoundedCache<V> {
  map: Map<string, V>;
  bytes: number;
}

export function boundedCache<V>(): BoundedCache<V> {
  return { map: new Map(), bytes: 0 };
}

/** A replaced entry's bytes stay counted until the next clear: an overestimate, safe. */
function cachePut<V>(c: BoundedCache<V>, key: string, value: V, bytes: number): void {
  if (c.map.size >= CACHE_MAX || c.bytes + bytes > CACHE_MAX_BYTES) {
    c.map.clear();
    c.bytes = 0;
  }
  c.map.set(key, value);
  c.bytes += bytes;
}

export const NO_CERTIFICATE: Denied = denied('No required SSL certificate was sent', OWN_CODES.noCertificate);

const CACHE_MAX = 10_000;
/**
 * The certificate caches are filled before any verdict, so by any client: bounded in DER bytes too, not only in
 * entries, or 10,000 distinct 60 kB certificates (one handshake each, no trust needed) held gigabytes once parsed.
 * The verdict cache's identity headers carry what a trusted client sent after its certificate: the same bound.
 */
const CACHE_MAX_BYTES = 16 * 1024 * 1024;
/** Validity is time-dependent: a cached verdict is re-derived at least this often. */
const CACHE_TTL_MS = 60_000;

/**
 * The gateway instance's certificate caches, shared by all its domains and generations: a reconnecting client is
 * not parsed again.
 */
export interface CertCaches {
  /** Parsed certificates by SHA-256 fingerprint. */
  certs: BoundedCache<Cert>;
  /**
   * What each client sent after its certificate, by the certificate's fingerprint. A resumed session carries only
   * the client's own certificate; its intermediates, seen at the full handshake, still go to the backend
   * (client-cert-chain) and serve the model as untrusted candidates (safe: every signature on a path is checked).
   */
  sentByLeaf: BoundedCache<Cert[]>;
}

export function certCaches(): CertCaches {
  return { certs: boundedCache(), sentByLeaf: boundedCache() };
}

function certOf(caches: CertCaches, x: X509Certificate): Cert {
  const key = x.fingerprint256;
  let c = caches.certs.map.get(key);
  if (!c) {
    c = parseCert(x.raw);
    cachePut(caches.certs, key, c, c.der.length);
  }
  return c;
}

/**
 * What verification needs from a finished handshake, read once per connection (see tlsPresentation): whether the
 * session was resumed, OpenSSL's result, and the client's certificate linked to what it sent (issuerCertificate).
 */
export interface Presentation {
  resumed: boolean;
  /** OpenSSL's result of the handshake; null where there was none to read (a connection not made by TLS). */
  openssl: OpenSslResult | null;
  peer: X509Certificate | null;
}

/** Before the handshake has ended: nothing presented yet. */
export const NOT_PRESENTED: Presentation = Object.freeze({ resumed: false, openssl: null, peer: null });

/**
 * A TLS socket's presentation. The peer is read once and kept: Node hands the socket's peer chain to the first
 * object it makes, and a second getPeerX509Certificate() returns the certificate without its chain.
 */
export function tlsPresentation(socket: TLSSocket): Presentation {
  const resumed = socket.isSessionReused();
  return { resumed, openssl: resumed ? null : opensslResultOf(socket), peer: socket.getPeerX509Certificate() ?? null };
}

/** The chain the client presented: its certificate, then what it sent (Node links them through issuerCertificate). */
function presentedChain(caches: CertCaches, peer: X509Certificate | null): { leaf: Cert; sent: Cert[] } | null {
  if (!peer) return null;
  const leaf = certOf(caches, peer);
  const sent: Cert[] = [];
  let cur = peer.issuerCertificate;
  // Node's issuerCertificate chain may loop back on a self-signed certificate; stop at anything seen.
  while (cur && sent.length < 16) {
    const c = certOf(caches, cur);
    if (c === leaf || sent.includes(c)) break;
    sent.push(c);
    cur = cur.issuerCertificate;
  }
  return { leaf, sent };
}

/**
 * The verdict on what a connection presented, against a domain's current truststore. Where OpenSSL's result does
 * not apply (a resumed session, a truststore it was not given) or there is none, the policy's model decides.
 */
export function verifyConnection(p: Presentation, ctx: VerifyContext, caches: CertCaches): ConnectionVerdict {
  const resumed = p.resumed;
  const openssl = ctx.oracle === 'handshake' && !resumed ? p.openssl : null;
  let chain: { leaf: Cert; sent: Cert[] } | null;
  try {
    chain = presentedChain(caches, p.peer);
  } catch {
    // OpenSSL accepted the bytes but our parser did not: deny rather than guess.
    return {
      generation: ctx.generation,
      verdict: denied('certificate could not be parsed', 'MTLSGATE_PARSE_ERROR'),
      client: null,
      openssl,
      path: NO_PATH,
    };
  }
  if (chain === null)
    return { generation: ctx.generation, verdict: NO_CERTIFICATE, client: null, openssl, path: NO_PATH };
  const leafFp = chain.leaf.info.fingerprintSha256;
  if (!resumed && chain.sent.length > 0) {
    let bytes = 0;
    for (const c of chain.sent) bytes += c.der.length;
    cachePut(caches.sentByLeaf, leafFp, chain.sent, bytes);
  } else if (resumed) {
    chain.sent = caches.sentByLeaf.map.get(leafFp) ?? [];
  }
  let key = leafFp;
  for (const c of chain.sent) key += `,${c.info.fingerprintSha256}`;
  key += openssl === null ? '|model' : `|${openssl.code ?? 'ok'}`;
  const now = Date.now();
  let hit = ctx.cache.map.get(key);
  if (!hit || hit.expires < now) {
    const analysis = analyzeChain(chain.leaf, chain.sent, ctx.truststore, ctx.policy, new Date(now));
    const verdict = openssl === null ? decideWithoutHandshake(analysis) : decide(analysis, openssl);
    hit = {
      verdict,
      headers: verdict.accepted ? clientCertHeaders(chain.leaf, chain.sent) : {},
      path: verdict.accepted ? analysis.opensslChain.certs : NO_PATH,
      expires: now + CACHE_TTL_MS,
    };
    // A trusted client chooses what it sends after its certificate, and the identity headers carry all of it
    // (Client-Cert-Chain): a new large extra certificate on each handshake must not grow this without bound.
    let bytes = key.length;
    for (const name in hit.headers) bytes += hit.headers[name]!.length;
    cachePut(ctx.cache, key, hit, bytes);
  }
  const client: ClientIdentity = { leaf: chain.leaf, sent: chain.sent, headers: hit.headers };
  return { generation: ctx.generation, verdict: hit.verdict, client, openssl, path: hit.path };
}

const NO_PATH: readonly Cert[] = Object.freeze([]);
