/**
 * `doctor --url`: the client the probe presents, and one finding that ties the probe to the offline report —
 * does what the server did (its stated reason, its status, or how it hung up) agree with the offline verdict on
 * the same files? When they agree the offline findings that explain the reason are quoted with their evidence
 * (e.g. the modulus digests of a modified self-signed certificate); when not, the server trusts something else.
 */
import type { Cert, PrivateKey } from '../../pki/types.js';
import { finding, type Finding } from '../../report/finding.js';
import type { Known } from '../known.js';
import type { OfflineReport } from '../offline.js';
import { alertName, CERT_REJECT_ALERTS } from './alerts.js';
import { refusesCertificate } from './findings-http.js';
import { explainReason, REVOCATION_CODES } from './reasons.js';
import type { ProbeReport } from './types.js';

/** What the server made of the client certificate; judged: false when the probe never got that far or sent none. */
export function liveVerdict(live: ProbeReport): {
  judged: boolean;
  accepted: boolean;
  reason: string | null;
  how: string;
} {
  const o = live.outcome;
  const sent = live.tls?.clientCertSent === true;
  if (!sent) return { judged: false, accepted: false, reason: null, how: 'no client certificate was sent' };
  if (o.kind === 'http') {
    const r = refusesCertificate({ status: o.status, body: o.body });
    if (r.refused)
      return {
        judged: true,
        accepted: false,
        reason: r.reason,
        how: r.reason
          ? `the server said "${r.reason}" (HTTP ${o.status})`
          : `the server refused it without saying why (HTTP ${o.status})`,
      };
    return { judged: true, accepted: true, reason: null, how: `the server accepted it (HTTP ${o.status})` };
  }
  if (o.kind === 'closed-after-handshake')
    return {
      judged: true,
      accepted: false,
      reason: null,
      how: 'the server closed the connection right after the handshake (no alert, no HTTP answer)',
    };
  if (o.kind === 'tls-failed' && o.alert !== null) {
    const n = alertNumber(o.alert);
    if (n !== null && CERT_REJECT_ALERTS.has(n))
      return { judged: true, accepted: false, reason: null, how: `the server sent alert ${n} ${o.alert}` };
  }
  return {
    judged: false,
    accepted: false,
    reason: null,
    how: 'the probe did not get to the point where the server judges the certificate',
  };
}

function alertNumber(name: string): number | null {
  for (let n = 0; n < 256; n++) if (alertName(n) === name) return n;
  return null;
}

/** The finding that ties live and offline together; null when either side has no verdict. */
export function compareWithOffline(offline: OfflineReport, live: ProbeReport): Finding | null {
  const lv = liveVerdict(live);
  const ov = offline.verdict;
  if (!lv.judged || ov === null) return null;
  const offlineSays = ov.accepted ? 'accepted' : `denied: "${ov.reason}"`;
  const base = {
    server: lv.how,
    offline: offlineSays,
    offlineCode: ov.accepted ? null : ov.code,
    offlineSource: offline.verdictSource,
  };
  if (lv.accepted && ov.accepted) {
    return finding({
      id: 'live.matches-offline',
      severity: 'info',
      title: 'the server accepted the client certificate, as the offline doctor predicted',
      detail: '',
      fix: '',
      evidence: base,
    });
  }
  if (!lv.accepted && !ov.accepted && (lv.reason === null || sameReason(lv.reason, ov.reason))) {
    const reason = lv.reason ?? ov.reason;
    const explaining = offline.findings.filter((f) => explainReason(reason).findingIds.includes(f.id));
    const lead = explaining[0];
    const said =
      lv.reason !== null ? `the server said "${lv.reason}"` : `${lv.how}; the offline doctor's reason: "${ov.reason}"`;
    return finding({
      id: 'live.matches-offline',
      severity: 'info',
      title: `${said}${lead ? `; ${lead.title}` : ''}`,
      detail:
        `The server's answer agrees with the offline verdict on these files, so the offline ` +
        `findings${explaining.length ? ` (${explaining.map((f) => f.id).join(', ')})` : ''} are what to fix.`,
      fix: lead?.fix ?? '',
      evidence: { ...base, ...mergeEvidence(explaining) },
    });
  }
  const revocation = lv.reason !== null && explainReason(lv.reason).codes.some((c) => REVOCATION_CODES.has(c));
  if (revocation && ov.accepted && offline.revocation === null)
    return finding({
      id: 'live.differs-from-offline',
      severity: 'warning',
      title: `${lv.how}, but the offline doctor says ${offlineSays} (revocation not checked offline)`,
      detail:
        'The server checks revocation and the offline doctor was given no CRL: the certificate passes ' +
        "verification against the truststore, and the server's CRL (or OCSP answer) is what denies it.",
      fix: "mtlsgate doctor --url ... --truststore SERVER-TRUSTSTORE.pem --crl SERVER-CRL.pem   # the server's CRLs",
      evidence: base,
    });
  const why = lv.accepted
    ? "The server accepted the certificate although the offline doctor denies it with the files given: the server's truststore or rules differ from them (another truststore version, intermediates sent by the client allowed, not an API Gateway-compatible server)."
    : ov.accepted
      ? "The server refused the certificate although it passes against the truststore given: the server uses another truststore (an older S3 object version, another domain's bundle) or other rules."
      : `The server denied it for another reason than the offline doctor predicts ("${ov.reason}"): the truststore given is not the one the server uses.`;
  return finding({
    id: 'live.differs-from-offline',
    severity: 'warning',
    title: `${lv.how}, but the offline doctor says ${offlineSays}`,
    detail: why,
    fix:
      "get the truststore the server really uses (mtlsgate: the domain's truststoreUri and version; API Gateway: " +
      "the custom domain's truststore URI and version) and run: mtlsgate doctor --url ... --truststore THAT.pem",
    evidence: base,
  });
}

function sameReason(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

function mergeEvidence(fs: Finding[]): Finding['evidence'] {
  const out: Finding['evidence'] = {};
  for (const f of fs) {
    out[f.id] = f.title;
    for (const [k, v] of Object.entries(f.evidence)) if (!(k in out)) out[k] = v;
  }
  return out;
}

/**
 * The client chain and key the probe presents, from what the offline doctor loaded; a finding when there is none to
 * send.
 */
export function clientForProbe(k: Known): {
  client: { chainPem: string; keyPem: string } | undefined;
  finding: Finding | null;
} {
  if (k.leaf === null) return { client: undefined, finding: null };
  if (k.key === null) {
    return {
      client: undefined,
      finding: finding({
        id: 'tls.client-cert-not-sent',
        severity: 'warning',
        title: 'the probe sent no client certificate: there is no usable private key',
        detail:
          'A client needs the certificate and its private key; curl fails with "(58) unable to set private key ' +
          'file" (or sends nothing). See the key findings above.',
        fix: 'give the key: --key client.key (and --pass for an encrypted one)',
        evidence: { certificate: k.certPath },
      }),
    };
  }
  return { client: { chainPem: pem([k.leaf, ...k.intermediates]), keyPem: keyPem(k.key) }, finding: null };
}

function pem(certs: Cert[]): string {
  return certs.map((c) => c.x509.toString()).join('');
}

function keyPem(k: PrivateKey): string {
  return k.keyObject.export({ type: 'pkcs8', format: 'pem' }).toString();
}
