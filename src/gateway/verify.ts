/**
 * The per-connection verdict: OpenSSL's result on the socket + the shared policy against the domain's current
 * truststore. Computed once per connection and truststore generation (a reload re-judges open connections on
 * their next request; a resumed TLS session is judged like a new one), and cached per certificate chain so a
 * client that reconnects costs a map lookup.
 */
import type { TLSSocket } from 'node:tls';
import type { Cert } from '../pki/types.js';
import { parseCert } from '../pki/cert.js';
import { analyzeChain, decide } from '../policy/analyze.js';
import { opensslResultOf } from '../policy/node-tls.js';
import { OWN_CODES } from '../policy/defect.js';
import { denied, type OpenSslResult, type Verdict } from '../policy/verdict.js';
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
  openssl: OpenSslResult;
}

export interface VerifyContext {
  generation: number;
  truststore: Truststore;
  policy: PolicyOptions;
  /** Per truststore generation: chain fingerprints + OpenSSL code -> verdict. */
  cache: Map<string, { verdict: Verdict; expires: number }>;
}

export const NO_CERTIFICATE: Verdict = denied('No required SSL certificate was sent', OWN_CODES.noCertificate);

const CACHE_MAX = 10_000;
/** Validity is time-dependent: a cached verdict is re-derived at least this often. */
const CACHE_TTL_MS = 60_000;

/** Parsed certificates by DER, shared by all domains: a reconnecting client is not parsed again. */
const certCache = new Map<string, Cert>();

function certOf(raw: Buffer): Cert {
  const key = raw.toString('base64');
  let c = certCache.get(key);
  if (!c) {
    if (certCache.size >= CACHE_MAX) certCache.clear();
    c = parseCert(raw);
    certCache.set(key, c);
  }
  return c;
}

/** The chain the client presented: its certificate, then what it sent (Node links them through issuerCertificate). */
function presentedChain(socket: TLSSocket): { leaf: Cert; sent: Cert[] } | null {
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) return null;
  const leaf = certOf(peer.raw);
  const sent: Cert[] = [];
  const seen = new Set<string>([peer.fingerprint256]);
  let cur = peer.issuerCertificate;
  // Node's issuerCertificate chain may loop back on a self-signed certificate; stop at anything seen.
  while (cur && cur.raw && !seen.has(cur.fingerprint256) && sent.length < 16) {
    seen.add(cur.fingerprint256);
    sent.push(certOf(cur.raw));
    cur = cur.issuerCertificate;
  }
  return { leaf, sent };
}

export function verifyConnection(socket: TLSSocket, ctx: VerifyContext): ConnectionVerdict {
  const openssl = opensslResultOf(socket);
  let chain: { leaf: Cert; sent: Cert[] } | null;
  try {
    chain = presentedChain(socket);
  } catch {
    // OpenSSL accepted the bytes but our parser did not: deny rather than guess.
    return { generation: ctx.generation, verdict: denied('certificate could not be parsed', 'MTLSGATE_PARSE_ERROR'), client: null, openssl };
  }
  if (chain === null) return { generation: ctx.generation, verdict: NO_CERTIFICATE, client: null, openssl };
  const key = `${chain.leaf.info.fingerprintSha256}|${chain.sent.map((c) => c.info.fingerprintSha256).join(',')}|${openssl.code ?? 'ok'}`;
  const now = Date.now();
  let hit = ctx.cache.get(key);
  if (!hit || hit.expires < now) {
    const analysis = analyzeChain(chain.leaf, chain.sent, ctx.truststore, ctx.policy, new Date(now));
    hit = { verdict: decide(analysis, openssl), expires: now + CACHE_TTL_MS };
    if (ctx.cache.size >= CACHE_MAX) ctx.cache.clear();
    ctx.cache.set(key, hit);
  }
  const client: ClientIdentity = { leaf: chain.leaf, sent: chain.sent, headers: hit.verdict.accepted ? clientCertHeaders(chain.leaf, chain.sent) : {} };
  return { generation: ctx.generation, verdict: hit.verdict, client, openssl };
}
