/**
 * Revocation: whether a verified chain's certificates are revoked, by the CRLs in force or by OCSP answers. The one
 * judgement the gateway (per request, so a revocation reaches open connections and resumed sessions) and the doctor
 * share.
 *
 * Revoked entries are looked up under the certificate's own issuer (the CA on the verified path), never by serial
 * alone: a serial on another CA's CRL says nothing about this certificate. A level with no fresh answer is
 * `unavailable`, and the domain's onUnavailable decides; a revoked level anywhere wins over an unavailable one.
 */
import type { Crl } from '../pki/crl.js';
import { verifyCrlSignature } from '../pki/crl.js';
import type { OcspAnswer } from '../pki/ocsp.js';
import type { Cert } from '../pki/types.js';
import { reasonForCode } from './defect.js';
import { ACCEPTED, denied, type DenyCode, type Verdict } from './verdict.js';

export type RevocationMode = 'off' | 'crl' | 'ocsp' | 'prefer-ocsp' | 'prefer-crl';

export interface RevocationPolicy {
  mode: RevocationMode;
  onUnavailable: 'deny' | 'allow';
  /** leaf: only the client's certificate; chain: every certificate on the path below the root. */
  scope: 'leaf' | 'chain';
}

/** A CRL in force: its signature verified by a truststore CA allowed to sign CRLs. */
export interface TrustedCrl {
  crl: Crl;
  /** The source URI or file it came from. */
  source: string;
  issuer: Cert;
}

/** A CRL that cannot be used, kept so that a level without a CRL can say why (OpenSSL's code for the condition). */
export interface RefusedCrl {
  /** RFC 4514 name of the CRL's issuer. */
  issuer: string;
  source: string;
  code: DenyCode;
  why: string;
}

export interface CrlSet {
  /**
   * The newest usable CRL by the SHA-256 fingerprint of each truststore certificate whose key signed it (a CA
   * re-issued with the same name and key has several certificates; any of them may be on a path).
   */
  byIssuer: ReadonlyMap<string, TrustedCrl>;
  /** By issuer name: the last refused CRL of a CA that has no usable one. */
  refused: ReadonlyMap<string, RefusedCrl>;
  /** Every CRL in force, once each, in source order. */
  inForce: readonly TrustedCrl[];
}

export const EMPTY_CRL_SET: CrlSet = Object.freeze({ byIssuer: new Map(), refused: new Map(), inForce: [] });

/**
 * The CRLs usable against a truststore. A CRL is refused when it carries a critical extension we do not know, a
 * feature that changes its scope (delta, partitioned, indirect), or no truststore CA of its name and authority key
 * id both verifies its signature and may sign CRLs (key usage with cRLSign, or no key usage extension, RFC 5280
 * §4.2.1.3).
 */
export function buildCrlSet(crls: ReadonlyArray<{ crl: Crl; source: string }>, cas: readonly Cert[]): CrlSet {
  const byIssuer = new Map<string, TrustedCrl>();
  const refused = new Map<string, RefusedCrl>();
  const inForce: TrustedCrl[] = [];
  const byName = new Map<string, Cert[]>();
  for (const ca of cas) {
    const list = byName.get(ca.info.subject);
    if (list) list.push(ca);
    else byName.set(ca.info.subject, [ca]);
  }
  for (const { crl, source } of crls) {
    const refuse = (code: DenyCode, why: string): void => {
      refused.set(crl.issuer, { issuer: crl.issuer, source, code, why });
    };
    if (crl.unknownCriticalExtensions.length > 0) {
      refuse('UNHANDLED_CRITICAL_CRL_EXTENSION', `unknown critical extension ${crl.unknownCriticalExtensions[0]}`);
      continue;
    }
    if (crl.unsupported.length > 0) {
      refuse('UNABLE_TO_GET_CRL', `uses ${crl.unsupported.join(', ')}, which mtlsgate does not apply`);
      continue;
    }
    const sameName = byName.get(crl.issuer) ?? [];
    if (sameName.length === 0) {
      refuse('UNABLE_TO_GET_CRL_ISSUER', `no CA in the truststore named ${crl.issuer}`);
      continue;
    }
    // OpenSSL (X509_check_akid) takes a CRL whose authority key id names another key for no CRL of this CA at all.
    const named = sameName.filter((ca) => akidMatches(ca, crl));
    if (named.length === 0) {
      refuse('UNABLE_TO_GET_CRL', `its authority key id ${crl.authorityKeyId} is not the key of CA ${crl.issuer}`);
      continue;
    }
    const signers = named.filter((ca) => verifyCrlSignature(crl, ca.x509.publicKey));
    if (signers.length === 0) {
      refuse('CRL_SIGNATURE_FAILURE', `signed by another key than CA ${crl.issuer}'s`);
      continue;
    }
    const allowed = signers.filter((ca) => !ca.info.keyUsage || ca.info.keyUsage.includes('cRLSign'));
    if (allowed.length === 0) {
      refuse('KEYUSAGE_NO_CRL_SIGN', `CA ${crl.issuer}'s key usage lacks cRLSign`);
      continue;
    }
    const trusted: TrustedCrl = { crl, source, issuer: allowed[0]! };
    let used = false;
    for (const ca of allowed) {
      const fp = ca.info.fingerprintSha256;
      const current = byIssuer.get(fp);
      if (current && !newer(crl, current.crl)) continue;
      byIssuer.set(fp, trusted);
      used = true;
    }
    if (used) {
      inForce.push(trusted);
      refused.delete(crl.issuer);
    }
  }
  // A CRL replaced by a newer one of the same CA is no longer in force.
  const live = new Set(byIssuer.values());
  return { byIssuer, refused, inForce: inForce.filter((t) => live.has(t)) };
}

/** By CRL number when both have one (RFC 5280 §5.2.3: monotonically increasing), else by thisUpdate. */
function newer(a: Crl, b: Crl): boolean {
  if (a.crlNumber !== null && b.crlNumber !== null && a.crlNumber !== b.crlNumber) return a.crlNumber > b.crlNumber;
  return a.thisUpdate.getTime() > b.thisUpdate.getTime();
}

/** As X509_check_akid on the key id: a CA without a subject key id matches any. */
function akidMatches(ca: Cert, crl: Crl): boolean {
  return crl.authorityKeyId === null || ca.info.subjectKeyId === null || ca.info.subjectKeyId === crl.authorityKeyId;
}

/**
 * One certificate's status from one source of revocation data. `ocsp`: the responder's answer it came from (absent
 * when a CRL decided).
 */
export type LevelStatus =
  | { status: 'good'; source: string; ocsp?: OcspAnswer }
  | { status: 'revoked'; revokedAt: Date; reason: string | null; source: string; ocsp?: OcspAnswer }
  | { status: 'unavailable'; code: DenyCode; why: string; ocsp?: OcspAnswer };

/** Clock skew allowed on a CRL's or OCSP answer's thisUpdate, as NATS's allowed_clockskew. */
export const CLOCK_SKEW_MS = 30_000;

/**
 * A certificate's status by the CRL of `issuer` (the CA above it on the verified path; the certificate itself when
 * it is a pinned self-signed one). OpenSSL's codes name why there is no answer, so a denial reads as
 * `openssl verify -crl_check` would report it.
 */
export function crlStatus(set: CrlSet, cert: Cert, issuer: Cert, now: Date): LevelStatus {
  const entry = set.byIssuer.get(issuer.info.fingerprintSha256);
  if (!entry) {
    const refused = set.refused.get(issuer.info.subject);
    if (refused) return { status: 'unavailable', code: refused.code, why: `${refused.source}: ${refused.why}` };
    return { status: 'unavailable', code: 'UNABLE_TO_GET_CRL', why: `no CRL from ${issuer.info.subject}` };
  }
  const crl = entry.crl;
  // A revocation stays true once the CA signed it: an entry counts even on a CRL past nextUpdate (where OpenSSL
  // would report the CRL's age first), so onUnavailable: allow never admits a certificate its CA revoked.
  const revoked = crl.revoked.get(cert.info.serial);
  if (revoked) return { status: 'revoked', revokedAt: revoked.revokedAt, reason: revoked.reason, source: entry.source };
  if (crl.thisUpdate.getTime() > now.getTime() + CLOCK_SKEW_MS)
    return {
      status: 'unavailable',
      code: 'CRL_NOT_YET_VALID',
      why: `${entry.source}: the CRL of ${crl.issuer} is valid from ${crl.thisUpdate.toISOString()}`,
    };
  if (crl.nextUpdate !== null && crl.nextUpdate.getTime() < now.getTime())
    return {
      status: 'unavailable',
      code: 'CRL_HAS_EXPIRED',
      why: `${entry.source}: the CRL of ${crl.issuer} expired at ${crl.nextUpdate.toISOString()} (nextUpdate)`,
    };
  return { status: 'good', source: entry.source };
}

/** The verdict on a path: the first revoked level, else the first without an answer, else good. */
export type RevocationResult =
  | { status: 'good' }
  | { status: 'revoked'; level: number; cert: Cert; revokedAt: Date; reason: string | null; source: string }
  | { status: 'unavailable'; level: number; cert: Cert; code: DenyCode; why: string };

export const GOOD: RevocationResult = Object.freeze({ status: 'good' });

/**
 * The (certificate, issuer) pairs revocation applies to on a verified path, leaf first: the leaf only, or every
 * certificate below the root. A one-certificate path (a pinned self-signed client) is its own issuer.
 */
export function levelsToCheck(path: readonly Cert[], scope: RevocationPolicy['scope']): Array<[Cert, Cert]> {
  if (path.length === 0) return [];
  if (path.length === 1) return [[path[0]!, path[0]!]];
  const last = scope === 'leaf' ? 1 : path.length - 1;
  const out: Array<[Cert, Cert]> = [];
  for (let i = 0; i < last; i++) out.push([path[i]!, path[i + 1]!]);
  return out;
}

/** Combines level statuses (leaf first) into the path's result. */
export function combineLevels(levels: ReadonlyArray<[Cert, LevelStatus]>): RevocationResult {
  let unavailable: RevocationResult | null = null;
  for (let i = 0; i < levels.length; i++) {
    const [cert, s] = levels[i]!;
    if (s.status === 'revoked')
      return { status: 'revoked', level: i, cert, revokedAt: s.revokedAt, reason: s.reason, source: s.source };
    if (s.status === 'unavailable' && unavailable === null)
      unavailable = { status: 'unavailable', level: i, cert, code: s.code, why: s.why };
  }
  return unavailable ?? GOOD;
}

/** A path judged by CRLs alone (the gateway's crl mode, the doctor with --crl). */
export function crlPathStatus(
  set: CrlSet,
  path: readonly Cert[],
  scope: RevocationPolicy['scope'],
  now: Date,
): RevocationResult {
  if (scope === 'leaf' && path.length > 0) {
    // The common case, on every request: no arrays built.
    const cert = path[0]!;
    const s = crlStatus(set, cert, path[1] ?? cert, now);
    return s.status === 'good' ? GOOD : combineLevels([[cert, s]]);
  }
  const levels = levelsToCheck(path, scope);
  return combineLevels(levels.map(([cert, issuer]) => [cert, crlStatus(set, cert, issuer, now)]));
}

export const REVOKED_REASON = 'certificate revoked';

/** The verdict a revocation result gives: revoked denies; no answer denies under onUnavailable: deny. */
export function revocationVerdict(r: RevocationResult, onUnavailable: RevocationPolicy['onUnavailable']): Verdict {
  if (r.status === 'revoked') return denied(REVOKED_REASON, 'CERT_REVOKED');
  if (r.status === 'unavailable' && onUnavailable === 'deny') return denied(reasonForCode(r.code), r.code);
  return ACCEPTED;
}

/**
 * Truststore CAs with no usable CRL: certificates they issue get no answer and follow onUnavailable. Under scope
 * leaf a root that issued another CA of the truststore is left out (it signs CAs, whose revocation leaf scope does
 * not check); under scope chain every CA counts. Named by `serve --check`, the gateway's load log and the doctor.
 */
export function casWithoutCrl(set: CrlSet, cas: readonly Cert[], scope: RevocationPolicy['scope']): Cert[] {
  const issuersOfCas = new Set<string>();
  for (const c of cas) if (c.info.basicConstraints?.ca && !c.info.selfSigned) issuersOfCas.add(c.info.issuer);
  return cas.filter(
    (c) =>
      c.info.basicConstraints?.ca === true &&
      !set.byIssuer.has(c.info.fingerprintSha256) &&
      (scope === 'chain' || !(c.info.selfSigned && issuersOfCas.has(c.info.subject))),
  );
}

/** Where OCSP answers come from: the gateway's cached checker, or the doctor's one-shot one. */
export interface OcspSource {
  /** A value when the answer is at hand (cached), a promise while a responder is asked; never rejects. */
  check(cert: Cert, issuer: Cert): OcspAnswer | Promise<OcspAnswer>;
}

/** What revocation judges a path with: the mode's sources. */
export interface RevocationData {
  mode: Exclude<RevocationMode, 'off'>;
  crls: CrlSet;
  /** Null in crl mode. */
  ocsp: OcspSource | null;
}

/**
 * A path's status under a mode: the gateway's per request and the doctor's. Synchronous for CRLs (a map lookup per
 * level) and for OCSP answers at hand; a promise only while a responder is asked.
 */
export function pathRevocation(
  data: RevocationData,
  path: readonly Cert[],
  scope: RevocationPolicy['scope'],
  now: Date,
): RevocationResult | Promise<RevocationResult> {
  if (data.mode === 'crl' || data.ocsp === null) return crlPathStatus(data.crls, path, scope, now);
  const levels = levelsToCheck(path, scope);
  const statuses = levels.map(([cert, issuer]) => levelStatus(data, cert, issuer, now));
  if (!statuses.some((s) => s instanceof Promise))
    return combineLevels(levels.map(([cert], i) => [cert, statuses[i] as LevelStatus]));
  return Promise.all(statuses).then((done) => combineLevels(levels.map(([cert], i) => [cert, done[i]!])));
}

/** One certificate under a mode: the preferred source, and the other where the preferred one has no answer. */
export function levelStatus(
  data: RevocationData,
  cert: Cert,
  issuer: Cert,
  now: Date,
): LevelStatus | Promise<LevelStatus> {
  const { mode, crls, ocsp } = data;
  if (mode === 'crl' || ocsp === null) return crlStatus(crls, cert, issuer, now);
  if (mode === 'prefer-crl') {
    const byCrl = crlStatus(crls, cert, issuer, now);
    if (byCrl.status !== 'unavailable') return byCrl;
    return then(ocsp.check(cert, issuer), (a) => orElse(ocspStatus(a), byCrl));
  }
  return then(ocsp.check(cert, issuer), (a) => {
    const byOcsp = ocspStatus(a);
    if (mode === 'ocsp' || byOcsp.status !== 'unavailable') return byOcsp;
    return orElse(crlStatus(crls, cert, issuer, now), byOcsp);
  });
}

/** The fallback's answer, unless it has none either: then the preferred source's reason. */
function orElse(fallback: LevelStatus, preferred: LevelStatus): LevelStatus {
  return fallback.status === 'unavailable' ? preferred : fallback;
}

function then<A, B>(v: A | Promise<A>, f: (a: A) => B): B | Promise<B> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** An OCSP answer as a level's status: unknown and every failure are no answer (onUnavailable decides). */
export function ocspStatus(a: OcspAnswer): LevelStatus {
  switch (a.status) {
    case 'good':
      return { status: 'good', source: `OCSP ${a.responder}`, ocsp: a };
    case 'revoked':
      return { status: 'revoked', revokedAt: a.revokedAt, reason: a.reason, source: `OCSP ${a.responder}`, ocsp: a };
    case 'unknown':
      return {
        status: 'unavailable',
        code: 'MTLSGATE_REVOCATION_UNAVAILABLE',
        why: `OCSP responder ${a.responder} does not know the certificate (unknown)`,
        ocsp: a,
      };
    default:
      return { status: 'unavailable', code: 'MTLSGATE_REVOCATION_UNAVAILABLE', why: a.why, ocsp: a };
  }
}
