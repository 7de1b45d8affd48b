/**
 * Revocation by the `--crl` files and/or OCSP (`--ocsp`): the gateway's own judgement (policy/revocation.ts) on the
 * path it verified, so the doctor's verdict is what `mutualTls.revocation` with mode crl, ocsp or prefer-ocsp would
 * give. Each level of the path that revocation checks is explained: revoked, no CRL, a CRL out of its validity or
 * refused, the responder's answer or why there was none, or not revoked.
 */
import type { Crl } from '../../pki/crl.js';
import type { Cert } from '../../pki/types.js';
import {
  buildCrlSet,
  combineLevels,
  levelStatus,
  levelsToCheck,
  revocationVerdict,
  type CrlSet,
  type LevelStatus,
  type RevocationData,
  type RevocationPolicy,
} from '../../policy/revocation.js';
import type { OcspAnswer } from '../../pki/ocsp.js';
import { ocspChecker } from '../../trust/ocsp.js';
import type { DenyCode, Verdict } from '../../policy/verdict.js';
import { finding, type Finding } from '../../report/finding.js';
import { shellQuote } from '../../report/shell.js';
import { titleText } from '../../report/text.js';
import type { Known } from '../known.js';

/** What `doctor --json` carries as `revocation`: the path's status by the CRLs, and the CRL that decided it. */
export interface RevocationReport {
  /** not-checked: the certificate is denied before revocation is judged (the gateway judges verified paths only). */
  status: 'good' | 'revoked' | 'unavailable' | 'not-checked';
  scope: RevocationPolicy['scope'];
  onUnavailable: RevocationPolicy['onUnavailable'];
  /** The level the status is about (0 = the client certificate); null when good or not checked. */
  level: number | null;
  subject: string | null;
  /** The deny code this status gives (CERT_REVOKED, UNABLE_TO_GET_CRL, CRL_HAS_EXPIRED, ...); null when good. */
  code: DenyCode | null;
  /** ISO 8601; revoked only. */
  revokedAt: string | null;
  /** The CRL entry's reasonCode (keyCompromise, ...); null when it has none or the status is not revoked. */
  reason: string | null;
  /** The CRL that decided the status (for good: the one of the client certificate's issuer). */
  crl: CrlSummary | null;
  /** The OCSP answer that decided it, when a responder did. */
  ocsp: OcspSummary | null;
  /** Why there is no answer, one line; unavailable only. */
  why: string | null;
}

export interface OcspSummary {
  status: OcspAnswer['status'];
  /** Who signed the answer (the CA or its delegated responder); null for an error. */
  responder: string | null;
  thisUpdate: string | null;
  nextUpdate: string | null;
  /** Why there was no usable answer, one line; error only. */
  why: string | null;
}

export interface CrlSummary {
  file: string;
  issuer: string;
  thisUpdate: string;
  nextUpdate: string | null;
  crlNumber: string | null;
}

/** A CRL in force that expires within this is worth a warning: the gateway's own threshold. */
export const CRL_EXPIRES_SOON_MS = 24 * 3600_000;

export interface RevocationJudgement {
  verdict: Verdict;
  report: RevocationReport;
  findings: Finding[];
}

/**
 * Revocation of the path the gateway verified (`path`, leaf first: analysis.opensslChain.certs of an accepted
 * verdict), by the CRLs of `k.crlFiles`. A verdict already denied stays as it is: the gateway judges revocation
 * after verification, so a path it refuses is never looked up.
 */
export async function judgeRevocation(o: {
  k: Known;
  verdict: Verdict;
  path: readonly Cert[];
}): Promise<RevocationJudgement> {
  const { k } = o;
  const files = k.crlFiles ?? [];
  const cas = k.truststore?.certs ?? [];
  const policy = k.revocation;
  const set = buildCrlSet(
    files.flatMap((f) => f.crls.map((crl) => ({ crl, source: f.path }))),
    cas,
  );
  const base = { scope: policy.scope, onUnavailable: policy.onUnavailable };
  const findings: Finding[] = [];
  if (!o.verdict.accepted || o.path.length === 0) {
    findings.push(...refusedFiles(k, new Set()));
    const report: RevocationReport = { ...base, ...NOTHING, status: 'not-checked' };
    return { verdict: o.verdict, report, findings };
  }

  const checker = k.ocsp
    ? ocspChecker({
        timeoutMs: k.ocsp.timeoutMs,
        nonce: true,
        ...(k.ocsp.url !== null && { responder: k.ocsp.url }),
        now: () => k.now.getTime(),
      })
    : null;
  const data: RevocationData = {
    mode: checker === null ? 'crl' : k.crlFiles === null ? 'ocsp' : 'prefer-ocsp',
    crls: set,
    ocsp: checker,
  };
  const levels = levelsToCheck(o.path, policy.scope);
  let statuses: LevelStatus[];
  try {
    statuses = await Promise.all(levels.map(([cert, issuer]) => levelStatus(data, cert, issuer, k.now)));
  } finally {
    checker?.close();
  }
  const result = combineLevels(levels.map(([cert], i) => [cert, statuses[i]!]));
  const verdict = revocationVerdict(result, policy.onUnavailable);
  const explained = new Set<string>();
  levels.forEach(([cert, issuer], level) => {
    const s = statuses[level]!;
    const f = s.ocsp
      ? explainOcsp({ k, level, cert, issuer, s, answer: s.ocsp })
      : explainLevel({ k, set, level, cert, issuer, s });
    if (f) findings.push(f);
    if (s.status === 'unavailable') explained.add(`${issuer.info.subject}\n${s.code}`);
  });
  findings.push(...refusedFiles(k, explained));

  let report: RevocationReport;
  const decidedBy = (level: number): { crl: CrlSummary | null; ocsp: OcspSummary | null } => {
    const s = statuses[level]!;
    if (s.ocsp) return { crl: null, ocsp: ocspSummary(s.ocsp) };
    const used = set.byIssuer.get(levels[level]![1].info.fingerprintSha256);
    return { crl: used ? summary(used.crl, used.source) : null, ocsp: null };
  };
  if (result.status === 'good') {
    report = { ...base, ...NOTHING, status: 'good', ...decidedBy(0) };
  } else if (result.status === 'revoked') {
    report = {
      ...base,
      ...NOTHING,
      status: 'revoked',
      level: result.level,
      subject: result.cert.info.subject,
      code: 'CERT_REVOKED',
      revokedAt: result.revokedAt.toISOString(),
      reason: result.reason,
      ...decidedBy(result.level),
    };
  } else {
    report = {
      ...base,
      ...NOTHING,
      status: 'unavailable',
      level: result.level,
      subject: result.cert.info.subject,
      code: result.code,
      ...decidedBy(result.level),
      why: result.why,
    };
  }
  return { verdict, report, findings };
}

const NOTHING = {
  level: null,
  subject: null,
  code: null,
  revokedAt: null,
  reason: null,
  crl: null,
  ocsp: null,
  why: null,
} as const;

function ocspSummary(a: OcspAnswer): OcspSummary {
  if (a.status === 'error') return { status: 'error', responder: null, thisUpdate: null, nextUpdate: null, why: a.why };
  return {
    status: a.status,
    responder: a.responder,
    thisUpdate: a.thisUpdate.toISOString(),
    nextUpdate: a.nextUpdate?.toISOString() ?? null,
    why: null,
  };
}

/** One level decided by an OCSP answer (or its absence, when no CRL stood in). */
function explainOcsp(o: {
  k: Known;
  level: number;
  cert: Cert;
  issuer: Cert;
  s: LevelStatus;
  answer: OcspAnswer;
}): Finding {
  const { k, level, cert, issuer, answer } = o;
  const who = level === 0 ? 'the client certificate' : `CA "${titleText(cert.info.subject)}"`;
  const at = { level, subject: cert.info.subject, serial: cert.info.serial, issuer: issuer.info.subject };
  const url = k.ocsp?.url ?? (cert.info.ocspUrls[0] || null);
  const deny = k.revocation.onUnavailable === 'deny';
  const follows = deny
    ? 'With onUnavailable: deny (the default) the gateway denies it: "revocation status unavailable" ' +
      '(MTLSGATE_REVOCATION_UNAVAILABLE)'
    : 'With onUnavailable: allow the gateway lets it through unchecked (and counts it)';
  if (answer.status === 'revoked')
    return finding({
      id: 'revocation.revoked',
      severity: 'error',
      title:
        `${who} is revoked: the OCSP responder of "${titleText(issuer.info.subject)}" says so since ` +
        `${answer.revokedAt.toISOString()}${answer.reason ? ` (${answer.reason})` : ''}`,
      detail:
        `The answer from ${url ?? 'the responder'}, signed by ${answer.responder}, says revoked. The gateway ` +
        `denies it whatever onUnavailable says: "Access denied. Reason: certificate revoked" (CERT_REVOKED).` +
        (level === 0 ? ' The client needs a new certificate.' : ' Every certificate this CA issued is refused.'),
      fix: `# issue a new certificate (new key, new serial) from "${issuer.info.subject}" and deploy it with its key`,
      evidence: { ...at, responderUrl: url, responder: answer.responder, revokedAt: answer.revokedAt.toISOString() },
    });
  if (answer.status === 'good')
    return finding({
      id: 'revocation.not-revoked',
      severity: 'info',
      title: `${who} is good according to the OCSP responder of "${titleText(issuer.info.subject)}"`,
      detail:
        `Answer signed by ${answer.responder}, produced for ${answer.thisUpdate.toISOString()}; next update ` +
        `${answer.nextUpdate?.toISOString() ?? 'not given (the gateway keeps it at most an hour)'}.`,
      fix: '',
      evidence: { ...at, responderUrl: url, responder: answer.responder },
    });
  if (answer.status === 'unknown')
    return finding({
      id: 'revocation.ocsp-unknown',
      severity: deny ? 'error' : 'warning',
      title: `the OCSP responder of "${titleText(issuer.info.subject)}" does not know ${who} (unknown)`,
      detail:
        `${answer.responder} answered "unknown": the certificate is not in its database (issued by another CA of ` +
        `the same name, or the responder's database is behind). ${follows}.`,
      fix: "add the certificate to the responder's database (openssl ca: index.txt), or ask the right responder with --ocsp-url",
      evidence: { ...at, responderUrl: url, responder: answer.responder },
    });
  return finding({
    id: 'revocation.ocsp-unavailable',
    severity: deny ? 'error' : 'warning',
    title: `no OCSP answer for ${who}: ${titleText(answer.why)}`,
    detail:
      `The responder could not be asked or its answer could not be used (unreachable, timed out, not signed by ` +
      `the CA or a delegated OCSP signer, wrong nonce, stale). ${follows}.`,
    fix: url
      ? `openssl ocsp -issuer ISSUER-CA.pem -cert ${k.certPath ?? 'client.crt'} -url ${url} -resp_text`
      : 'the certificate names no OCSP responder (AIA): give one with --ocsp-url, or set ocsp.responder in the config',
    evidence: { ...at, responderUrl: url, why: answer.why },
  });
}

function summary(crl: Crl, file: string): CrlSummary {
  return {
    file,
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: crl.nextUpdate?.toISOString() ?? null,
    crlNumber: crl.crlNumber === null ? null : crl.crlNumber.toString(),
  };
}

function explainLevel(o: {
  k: Known;
  set: CrlSet;
  level: number;
  cert: Cert;
  issuer: Cert;
  s: LevelStatus;
}): Finding | null {
  const { k, level, cert, issuer, s } = o;
  const deny = k.revocation.onUnavailable === 'deny';
  const severity = deny ? 'error' : 'warning';
  const who = level === 0 ? 'the client certificate' : `CA "${titleText(cert.info.subject)}"`;
  const ca = titleText(issuer.info.subject);
  const at = { level, subject: cert.info.subject, serial: cert.info.serial, issuer: issuer.info.subject };
  const follows = deny
    ? 'With onUnavailable: deny (the default) the gateway denies it'
    : 'With onUnavailable: allow the gateway lets it through unchecked (and counts it)';
  if (s.status === 'revoked') {
    const used = o.set.byIssuer.get(issuer.info.fingerprintSha256)!;
    return finding({
      id: 'revocation.revoked',
      severity: 'error',
      title:
        `${who} is revoked: on the CRL of "${ca}" since ${s.revokedAt.toISOString()}` +
        (s.reason ? ` (${s.reason})` : ''),
      detail:
        `Serial ${cert.info.serial} is listed in ${s.source} (the CRL of ${issuer.info.subject}, ` +
        `number ${used.crl.crlNumber ?? '-'}, issued ${used.crl.thisUpdate.toISOString()}). The gateway denies ` +
        `it whatever onUnavailable says: "Access denied. Reason: certificate revoked" (CERT_REVOKED). A revoked ` +
        `certificate stays revoked${level === 0 ? ': the client needs a new one' : ': every certificate it issued is refused until it is replaced'}.`,
      fix:
        level === 0
          ? `# issue a new certificate (new key, new serial) from "${issuer.info.subject}" and deploy it with its key:\n` +
            `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client-new.key ` +
            `-subj ${shellQuote(`/CN=${commonName(cert) ?? 'client'}`)} -out client-new.csr\n` +
            `openssl x509 -req -in client-new.csr -CA ISSUER-CA.pem -CAkey ISSUER-CA.key -days 365 ` +
            `-extfile client.ext -out client-new.crt   # client.ext: extendedKeyUsage = clientAuth\n` +
            `# a test PKI made by mtlsgate pki init: mtlsgate pki issue DIR --variant ec-p256 --name client-new`
          : `# replace the revoked CA: a new CA certificate (new key) in the truststore, and new certificates under it\n` +
            `# then upload the truststore again and publish its CA's CRL`,
      evidence: {
        ...at,
        revokedAt: s.revokedAt.toISOString(),
        reasonCode: s.reason,
        crlFile: s.source,
        crlIssuer: used.crl.issuer,
        crlNumber: used.crl.crlNumber?.toString() ?? null,
      },
    });
  }
  if (s.status === 'good') {
    const used = o.set.byIssuer.get(issuer.info.fingerprintSha256)!;
    const next = used.crl.nextUpdate;
    if (next !== null && next.getTime() - k.now.getTime() < CRL_EXPIRES_SOON_MS)
      return finding({
        id: 'revocation.crl-expires-soon',
        severity: 'warning',
        title: `the CRL of "${ca}" (${titleText(used.source)}) expires at ${next.toISOString()}, within a day`,
        detail:
          `${who} is not revoked, but after its nextUpdate the CRL no longer answers: the gateway then treats ` +
          `certificates from this CA as having no revocation status and follows onUnavailable ` +
          `(${k.revocation.onUnavailable}). Publish the next CRL before then.`,
        fix: crlRenewFix(issuer),
        evidence: { ...at, crlFile: used.source, nextUpdate: next.toISOString() },
      });
    return finding({
      id: 'revocation.not-revoked',
      severity: 'info',
      title: `${who} is not on the CRL of "${ca}" (${titleText(used.source)})`,
      detail:
        `Checked against CRL number ${used.crl.crlNumber ?? '-'} issued ${used.crl.thisUpdate.toISOString()}; ` +
        `next update ${next?.toISOString() ?? 'not given'}.`,
      fix: '',
      evidence: {
        ...at,
        crlFile: used.source,
        thisUpdate: used.crl.thisUpdate.toISOString(),
        nextUpdate: next?.toISOString() ?? null,
      },
    });
  }
  // crlStatus answers with the refusal's code when the CA's only CRL was refused.
  const refused = o.set.refused.get(issuer.info.subject);
  switch (s.code) {
    case 'CRL_HAS_EXPIRED': {
      const used = o.set.byIssuer.get(issuer.info.fingerprintSha256)!;
      return finding({
        id: 'revocation.crl-expired',
        severity,
        title: `the CRL of "${ca}" (${titleText(used.source)}) expired at ${used.crl.nextUpdate!.toISOString()}`,
        detail:
          `Past its nextUpdate a CRL says nothing about ${who}: "CRL has expired" (CRL_HAS_EXPIRED). The gateway ` +
          `follows onUnavailable. ${follows}.`,
        fix: crlRenewFix(issuer),
        evidence: { ...at, crlFile: used.source, nextUpdate: used.crl.nextUpdate!.toISOString() },
      });
    }
    case 'CRL_NOT_YET_VALID': {
      const used = o.set.byIssuer.get(issuer.info.fingerprintSha256)!;
      return finding({
        id: 'revocation.crl-not-yet-valid',
        severity,
        title: `the CRL of "${ca}" (${titleText(used.source)}) is not valid until ${used.crl.thisUpdate.toISOString()}`,
        detail:
          `Its thisUpdate is in the future (the issuing machine's clock is ahead, or --at is earlier): "CRL is not ` +
          `yet valid" (CRL_NOT_YET_VALID). The gateway follows onUnavailable. ${follows}.`,
        fix: 'check the clock of the machine that signs the CRL, then publish it again',
        evidence: { ...at, crlFile: used.source, thisUpdate: used.crl.thisUpdate.toISOString() },
      });
    }
    default:
      if (refused)
        return refusedFinding({ k, ca: issuer, file: refused.source, code: refused.code, why: refused.why, severity });
      return finding({
        id: 'revocation.no-crl',
        severity,
        title: `no CRL from CA "${ca}": ${who} has no revocation status`,
        detail:
          `None of the --crl files is a CRL of ${issuer.info.subject}, so the status of ${who} is unknown: ` +
          `"unable to get certificate CRL" (UNABLE_TO_GET_CRL). ${follows}.` +
          (k.revocation.scope === 'chain'
            ? " Under scope chain every certificate below the root needs its issuer's CRL: the root's CRL too."
            : ''),
        fix: `mtlsgate doctor ... --crl CRL-OF-${shortName(issuer)}.pem   # and add it to mutualTls.revocation.crl.sources`,
        evidence: { ...at, crlFiles: (k.crlFiles ?? []).map((f) => f.path) },
      });
  }
}

function refusedFinding(o: {
  k: Known;
  ca: Cert | null;
  file: string;
  code: DenyCode;
  why: string;
  severity: 'error' | 'warning';
  issuerName?: string;
}): Finding {
  const name = o.ca?.info.subject ?? o.issuerName ?? '?';
  const fix: Partial<Record<DenyCode, string>> = {
    CRL_SIGNATURE_FAILURE:
      `the CRL was signed by another key than the truststore's CA of that name: sign it with that CA's key ` +
      `(openssl ca -gencrl -keyfile CA.key -cert CA.pem), or put the CA that did sign it in the truststore`,
    KEYUSAGE_NO_CRL_SIGN:
      `the CA's keyUsage must include cRLSign to sign CRLs: re-issue the CA certificate (same key and subject) ` +
      `with keyUsage = critical, keyCertSign, cRLSign and replace it in the truststore`,
    UNHANDLED_CRITICAL_CRL_EXTENSION:
      'publish the CRL without that critical extension (openssl ca -gencrl with a crl_extensions section that ' +
      'leaves it out)',
    UNABLE_TO_GET_CRL_ISSUER: `add the CA named ${name} to the truststore, or drop this CRL`,
  };
  return finding({
    id: 'revocation.crl-refused',
    severity: o.severity,
    title: `the CRL of "${titleText(name)}" in ${titleText(o.file)} cannot be used: ${titleText(o.why)}`,
    detail:
      `The gateway refuses this CRL when it loads it: a CRL source that brings it is not taken (at start-up ` +
      `the domain does not load; on a refresh the source keeps its previous CRLs). Without another CRL of that ` +
      `CA in force, certificates of ${name} have no revocation status (OpenSSL: ${o.code}) and follow ` +
      `onUnavailable (${o.k.revocation.onUnavailable}).`,
    fix: fix[o.code] ?? 'publish a full CRL (no delta, no issuing distribution point, not indirect)',
    evidence: { crlFile: o.file, crlIssuer: name, code: o.code, why: o.why },
  });
}

/** Every --crl file checked on its own, as the gateway loads a source: refusals not already explained on the path. */
function refusedFiles(k: Known, explained: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  const cas = k.truststore?.certs ?? [];
  for (const f of k.crlFiles ?? []) {
    const alone = buildCrlSet(
      f.crls.map((crl) => ({ crl, source: f.path })),
      cas,
    );
    for (const r of alone.refused.values()) {
      if (explained.has(`${r.issuer}\n${r.code}`)) continue;
      const ca = cas.find((c) => c.info.subject === r.issuer) ?? null;
      out.push(
        refusedFinding({ k, ca, file: r.source, code: r.code, why: r.why, severity: 'warning', issuerName: r.issuer }),
      );
    }
  }
  return out;
}

function crlRenewFix(issuer: Cert): string {
  return (
    `# sign a fresh CRL with the key of "${issuer.info.subject}" and publish it where the gateway reads it:\n` +
    `openssl ca -config CA.cnf -gencrl -crldays 7 -out ${shortName(issuer)}.crl.pem`
  );
}

function commonName(c: Cert): string | null {
  return /(?:^|,)CN=((?:[^,\\]|\\.)+)/.exec(c.info.subject)?.[1] ?? null;
}

function shortName(c: Cert): string {
  return (commonName(c) ?? 'CA').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
}
