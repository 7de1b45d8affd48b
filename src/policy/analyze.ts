/**
 * The verification policy: OpenSSL's verdict on the presented chain + API Gateway's rules -> one Verdict.
 * The gateway calls `analyzeChain` + `decide` with the result Node's TLS server gave it; the doctor calls them
 * with a real loopback handshake's result (key given) or with the model's prediction (no key).
 */
import type { Cert } from '../pki/types.js';
import type { Truststore } from '../trust/truststore.js';
import { buildChain, type Chain } from './chain.js';
import { ruleDefects, unmodelledExtension, DEFAULT_POLICY, type PolicyOptions } from './rules.js';
import { predictOpenSsl } from './openssl-model.js';
import { nameConstraintsUnmodelled } from './name-constraints.js';
import { OWN_CODES, categoryOf, denyCodeOf, primaryDefect, reasonFor, type Defect } from './defect.js';
import { ACCEPTED, denied, type OpenSslResult, type Verdict } from './verdict.js';

export interface ChainAnalysis {
  /**
   * The path API Gateway's rules apply to: issuers from the truststore only (unless client intermediates are trusted).
   */
  rulesChain: Chain;
  /** The path OpenSSL builds, using the client's intermediates too. */
  opensslChain: Chain;
  /** Everything wrong on rulesChain, in no particular order. */
  defects: Defect[];
  /**
   * What Node's TLS server is expected to report for this chain (computed on first read: the gateway has the real one).
   */
  readonly predicted: OpenSslResult;
  /**
   * A truststore certificate with the leaf's subject that is not the leaf (a changed or regenerated self-signed cert).
   */
  sameSubjectInTruststore: Cert | null;
}

export function analyzeChain(
  leaf: Cert,
  clientIntermediates: readonly Cert[],
  store: Truststore,
  opts: PolicyOptions = DEFAULT_POLICY,
  now: Date = new Date(),
): ChainAnalysis {
  const opensslChain = buildChain(leaf, store, clientIntermediates, now);
  const rulesChain = opts.trustClientIntermediates ? opensslChain : buildChain(leaf, store, [], now);
  const sameSubject = (store.bySubject.get(leaf.x509.subject) ?? []).find(
    (c) => c.info.fingerprintSha256 !== leaf.info.fingerprintSha256,
  );
  let predicted: OpenSslResult | undefined;
  return {
    rulesChain,
    opensslChain,
    defects: ruleDefects(rulesChain, opensslChain, opts, now),
    get predicted() {
      return (predicted ??= predictOpenSsl(opensslChain, now));
    },
    sameSubjectInTruststore: sameSubject ?? null,
  };
}

/**
 * The verdict. OpenSSL's rejection always denies; a rule violation denies even where OpenSSL accepted. The
 * reason comes from the highest-ranking defect (see defect.ts), so it does not depend on which error OpenSSL
 * happened to report last.
 */
export function decide(analysis: ChainAnalysis, openssl: OpenSslResult): Verdict {
  const defects = analysis.defects.slice();
  if (!openssl.authorized) {
    let result = openssl;
    // A client key the TLS stack refuses (P-192, DSA) comes back from a handshake as an issuer error although the
    // issuer is there: the key is the cause, and the model says what OpenSSL's verification makes of that key.
    if (categoryOf(denyCodeOf(openssl.code, openssl.message)) === 'issuer' && leafKeyRefused(analysis))
      result = analysis.predicted;
    if (!result.authorized) {
      const code = denyCodeOf(result.code, result.message);
      defects.push({ code, category: categoryOf(code), depth: 0, openssl: true });
    }
  }
  const primary = primaryDefect(defects);
  if (primary === null) return ACCEPTED;
  return denied(reasonFor(primary), primary.code);
}

/** The leaf's own key is weak (API Gateway's rule, or OpenSSL's level) while the model finds the issuer. */
function leafKeyRefused(a: ChainAnalysis): boolean {
  const weak = a.defects.some((d) => d.depth === 0 && (d.code === OWN_CODES.weakKey || d.code === 'EE_KEY_TOO_SMALL'));
  const p = a.predicted;
  return weak && (p.authorized || categoryOf(denyCodeOf(p.code, p.message)) !== 'issuer');
}

/** The doctor's offline verdict: the policy applied to the model's prediction of OpenSSL. */
export function predictVerdict(analysis: ChainAnalysis): Verdict {
  return decide(analysis, analysis.predicted);
}

/**
 * The gateway's verdict where no handshake judged this chain against this truststore: a resumed TLS session (it
 * carries the verdict of its first handshake, perhaps under another domain or an older truststore) or a truststore
 * too large to name in the handshake (OpenSSL is not given it). The model stands in for OpenSSL; a chain carrying
 * what the model does not evaluate (policies, RFC 3779 resources, the rare name constraints it cannot follow) is
 * refused rather than guessed.
 */
export function decideWithoutHandshake(analysis: ChainAnalysis): Verdict {
  for (const chain of [analysis.rulesChain, analysis.opensslChain]) {
    for (const c of chain.certs) {
      const ext = unmodelledExtension(c);
      if (ext !== null)
        return denied(
          `certificate chain uses ${ext}, which only OpenSSL's own verification checks`,
          OWN_CODES.unmodelledExtension,
        );
    }
    const nc = nameConstraintsUnmodelled(chain);
    if (nc !== null)
      return denied(
        `certificate chain uses ${nc}, which only OpenSSL's own verification checks`,
        OWN_CODES.unmodelledExtension,
      );
  }
  return predictVerdict(analysis);
}
