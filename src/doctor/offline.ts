/**
 * The offline doctor: run every check on the files gathered once (known.ts), and reach the gateway's verdict through
 * the shared policy — from a real loopback handshake when the key is at hand, else from the model of OpenSSL.
 */
import type { CertInfo, KeyInfo } from '../pki/types.js';
import { analyzeChain, decide, decideWithoutHandshake, predictVerdict, type ChainAnalysis } from '../policy/analyze.js';
import type { ChainEnd } from '../policy/chain.js';
import { loopbackVerdict } from '../policy/loopback.js';
import { verdictFields, type OpenSslResult, type Verdict } from '../policy/verdict.js';
import { lintTruststore } from '../trust/lint.js';
import { truststoreOracle } from '../trust/truststore.js';
import { checkCertFile, checkKeyFile, checkPkcs12 } from './checks/files.js';
import { checkKeyPair } from './checks/pair.js';
import { checkLeaf } from './checks/cert.js';
import { checkChain } from './checks/chain.js';
import { judgeRevocation, type RevocationReport } from './checks/revocation.js';
import { finding, sortFindings, type Finding } from '../report/finding.js';
import type { Known } from './known.js';

export interface OfflineReport {
  /** null when no verdict could be reached (no readable client certificate, or no usable truststore). */
  verdict: Verdict | null;
  /** handshake: OpenSSL's real verdict through Node's TLS stack; prediction: the model (no usable key). */
  verdictSource: 'handshake' | 'prediction' | null;
  findings: Finding[];
  /** The client certificate, then the chain it would send. */
  certificates: CertInfo[];
  key: KeyInfo | null;
  /** The path the gateway's rules apply to, leaf first. */
  chain: { subjects: string[]; end: ChainEnd } | null;
  /** What OpenSSL said (handshake) or is expected to say (prediction). */
  openssl: OpenSslResult | null;
  /** Revocation by the --crl files (part of the verdict); null when none was given or there is no verdict. */
  revocation: RevocationReport | null;
}

export async function checkOffline(k: Known): Promise<OfflineReport> {
  const findings: Finding[] = [
    ...checkCertFile(k),
    ...checkKeyFile(k),
    ...checkPkcs12(k),
    ...checkKeyPair(k),
    ...checkLeaf(k),
    ...k.truststoreFindings,
  ];
  if (k.truststore) findings.push(...lintTruststore(k.truststore, k.truststoreFile ?? undefined, k.now));

  let verdict: Verdict | null = null;
  let source: OfflineReport['verdictSource'] = null;
  let openssl: OpenSslResult | null = null;
  let analysis: ChainAnalysis | null = null;
  let revocation: RevocationReport | null = null;
  if (k.leaf && k.truststore) {
    analysis = analyzeChain(k.leaf, k.intermediates, k.truststore, k.policy, k.now);
    findings.push(...checkChain(k, analysis));
    ({ verdict, source, openssl } = await reachVerdict(k, analysis, findings));
    if (k.crlFiles !== null || k.ocsp !== null) {
      // The path the gateway checks: what OpenSSL verified (the gateway's ConnectionVerdict.path).
      const path = verdict.accepted ? analysis.opensslChain.certs : [];
      const judged = await judgeRevocation({ k, verdict, path });
      ({ verdict, report: revocation } = judged);
      findings.push(...judged.findings);
    }
  } else if (k.leaf && k.input.truststore === undefined) {
    findings.push(
      finding({
        id: 'doctor.no-truststore',
        severity: 'info',
        title: "no truststore given: the gateway's verdict is not predicted",
        detail:
          'The files were checked on their own. Add --truststore with the bundle the gateway uses (the PEM file ' +
          'uploaded to S3) to learn whether it would accept this certificate and why not.',
        fix: `mtlsgate doctor --cert ${k.certPath ?? 'client.crt'} --truststore truststore.pem`,
      }),
    );
  }
  return {
    verdict,
    verdictSource: source,
    findings: sortFindings(findings),
    certificates: k.certFile?.certs.map((c) => c.info) ?? [],
    key: k.key?.info ?? null,
    chain: analysis
      ? { subjects: analysis.rulesChain.certs.map((c) => c.info.subject), end: analysis.rulesChain.end }
      : null,
    openssl,
    revocation,
  };
}

interface Reached {
  verdict: Verdict;
  source: 'handshake' | 'prediction';
  openssl: OpenSslResult;
}

async function reachVerdict(k: Known, a: ChainAnalysis, findings: Finding[]): Promise<Reached> {
  // The gateway judges a truststore too large to name in a handshake with the model (see trust/truststore.ts): so does
  // the doctor.
  if (truststoreOracle(k.truststore!) === 'model')
    return { verdict: decideWithoutHandshake(a), source: 'prediction', openssl: a.predicted };
  const predicted = predictVerdict(a);
  // The handshake needs the key that goes with the certificate, and a present-day clock (OpenSSL checks against now).
  const keyFits = k.key !== null && k.leaf !== null && k.key.info.spkiSha256 === k.leaf.info.spkiSha256;
  if (!keyFits || k.input.now !== undefined || !k.leaf || !k.truststore)
    return { verdict: predicted, source: 'prediction', openssl: a.predicted };
  const chainPem = [k.leaf, ...k.intermediates].map((c) => c.x509.toString()).join('');
  const real = await loopbackVerdict({ chainPem, key: k.key!.keyObject, truststorePem: k.truststore.pem });
  if ('error' in real) {
    findings.push(
      finding({
        id: 'doctor.handshake-failed',
        severity: 'info',
        title: 'the loopback handshake could not run; the verdict is predicted',
        detail: real.error,
        fix: '',
      }),
    );
    return { verdict: predicted, source: 'prediction', openssl: a.predicted };
  }
  const verdict = decide(a, real);
  const [hs, model] = [verdictFields(verdict), verdictFields(predicted)];
  if (hs.accepted !== model.accepted || hs.reason !== model.reason || hs.code !== model.code) {
    findings.push(
      finding({
        id: 'doctor.model-disagreement',
        severity: 'warning',
        title: 'the handshake and the offline model disagree (please report this)',
        detail:
          `Handshake: ${hs.reason ?? 'accepted'} (${hs.code ?? '-'}); model: ${model.reason ?? 'accepted'} ` +
          `(${model.code ?? '-'}). The handshake's verdict is the gateway's.`,
        fix: '',
        evidence: { handshake: hs.code, model: model.code },
      }),
    );
  }
  return { verdict, source: 'handshake', openssl: real };
}
