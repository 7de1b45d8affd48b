/**
 * A model of what Node's TLS server reports as `authorizationError` for a client chain. Node's verify callback
 * accepts every error and reads the last one afterwards (node-tls-notes.md), so the prediction replays OpenSSL
 * 3.0's verify_chain order and keeps the last error:
 *   build_chain -> check_extensions (leaf up) -> check_auth_level (SECURITY_LEVEL) -> internal_verify (root down:
 *   signature, then validity of each certificate) -> check_name_constraints (name-constraints.ts).
 * It serves the doctor when no private key is given; where a key is given the real handshake is the oracle and
 * the test suite checks that this model agrees with it on every fixture.
 */
import type { Cert } from '../pki/types.js';
import type { Chain } from './chain.js';
import { signatureVerifies } from '../pki/cert.js';
import { constraintDefects, unanchoredCode, type Purpose } from './rules.js';
import { nameConstraintEvents } from './name-constraints.js';
import { opensslText } from './defect.js';
import type { OpenSslResult } from './verdict.js';

/**
 * OpenSSL's default security level, which Node's TLS server applies to a client chain (check_auth_level): 1 up
 * to OpenSSL 3.1 (Node 20), 2 from OpenSSL 3.2 (Node 22 and 24). docs/node-openssl.md,
 * test/policy/node-runtime.test.ts.
 */
export const SECURITY_LEVEL: 1 | 2 = opensslAtLeast(process.versions.openssl ?? '0', 3, 2) ? 2 : 1;

/** Smallest RSA/DSA and EC keys each level accepts: 80-bit (level 1) and 112-bit (level 2) security. */
const MIN_KEY_BITS = { 1: { rsa: 1024, ec: 160 }, 2: { rsa: 2048, ec: 224 } } as const;

export function opensslAtLeast(version: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

export function predictOpenSsl(chain: Chain, now: Date, purpose: Purpose = 'sslclient'): OpenSslResult {
  const events: string[] = [];
  const n = chain.certs.length;

  const buildError = unanchoredCode(chain);
  if (buildError !== null) events.push(buildError);

  for (const d of constraintDefects(chain, purpose)) events.push(d.code);
  // check_chain refuses an EC key given with explicit curve parameters (CVE-2020-0601-style curve substitution),
  // the client's own included: OpenSSL 3's default, seen from `openssl verify` and Node's TLS server alike.
  chain.certs.forEach((c, i) => {
    if (explicitCurve(c) && (i < n - 1 || n === 1)) events.push('EC_KEY_EXPLICIT_PARAMS');
  });

  chain.certs.forEach((c, i) => {
    if (!keyMeetsLevel(c)) events.push(i === 0 ? 'EE_KEY_TOO_SMALL' : 'CA_KEY_TOO_SMALL');
    if (i < n - 1 && !digestMeetsLevel(c)) events.push('CA_MD_TOO_WEAK');
  });

  internalVerify(chain, now, events);

  // UNMODELLED events are left out here: decideWithoutHandshake refuses such chains before asking the model.
  for (const e of nameConstraintEvents(chain)) if (e.code !== 'UNMODELLED') events.push(e.code);

  const last = events[events.length - 1];
  if (last === undefined) return { authorized: true, code: null, message: null };
  return { authorized: false, code: last, message: opensslText(last) };
}

function internalVerify(chain: Chain, now: Date, events: string[]): void {
  const n = chain.certs.length;
  const top = chain.certs[n - 1]!;
  const topSelfSigned = chain.end === 'anchored' || chain.end === 'self-signed-untrusted';
  let i: number;
  if (topSelfSigned) {
    // A self-signed top has its validity checked, not its own signature.
    timeEvent(top, now, events);
    i = n - 2;
  } else {
    if (n === 1) {
      events.push('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      return;
    }
    i = n - 2; // an unanchored top is only used to check the signature below it
  }
  for (; i >= 0; i--) {
    const c = chain.certs[i]!;
    const issuer = chain.certs[i + 1]!;
    if (!signatureVerifies(c, issuer.x509.publicKey)) events.push('CERT_SIGNATURE_FAILURE');
    timeEvent(c, now, events);
  }
}

/**
 * X509_cmp_time counts a time equal to now as past: valid from the notBefore second itself, expired from the
 * notAfter second itself (`openssl verify -attime` agrees, test/policy/openssl-boundaries.test.ts).
 */
function timeEvent(c: Cert, now: Date, events: string[]): void {
  const t = now.getTime();
  if (c.facts.notBeforeMs > t) events.push('CERT_NOT_YET_VALID');
  else if (c.facts.notAfterMs <= t) events.push('CERT_HAS_EXPIRED');
}

/** An EC key whose parameters are spelled out rather than named by OID (our SPKI reader gives no curve name). */
function explicitCurve(c: Cert): boolean {
  return c.info.publicKey.type === 'ec' && c.info.publicKey.curve === null;
}

function keyMeetsLevel(c: Cert, level: 1 | 2 = SECURITY_LEVEL): boolean {
  const k = c.info.publicKey;
  if (k.type === 'rsa' || k.type === 'rsa-pss' || k.type === 'dsa') return k.bits >= MIN_KEY_BITS[level].rsa;
  if (k.type === 'ec') return k.bits >= MIN_KEY_BITS[level].ec;
  return true;
}

/** OpenSSL 3 refuses MD5 and SHA-1 signatures at level 1 already; level 2 adds nothing for the digests in use. */
function digestMeetsLevel(c: Cert): boolean {
  const h = c.info.signatureAlgorithm.hash;
  return h !== 'md5' && h !== 'sha1' && h !== 'md4' && h !== 'md2';
}
