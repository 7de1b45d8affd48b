/**
 * CRL lint: what is wrong with CRL files before they are uploaded, judged against the truststore of the domain that
 * will use them. `crl lint`, the doctor and `serve --check` call lintCrls; it reads nothing itself.
 *
 * A CRL the gateway cannot use (unknown issuer, bad signature, an unknown critical extension, past nextUpdate) leaves
 * the certificates of its CA without a revocation answer, and the domain's `onUnavailable` setting decides.
 */
import type { Crl } from '../pki/crl.js';
import { verifyCrlSignature } from '../pki/crl.js';
import { splitCertificate } from '../pki/cert.js';
import type { Cert } from '../pki/types.js';
import { finding } from '../report/finding.js';
import type { Finding } from '../report/finding.js';
import { FINDING_IDS } from '../report/finding-ids.js';
import { shellQuote } from '../report/shell.js';
import { titleText } from '../report/text.js';
import type { Truststore } from './truststore.js';

/** Every id lintCrls can produce: the crl.* rows of the finding catalogue. */
export const CRL_FINDING_IDS = FINDING_IDS.filter((id) => id.startsWith('crl.'));

/** `crl.expires-soon` fires when less than this, or less than a quarter of the CRL's lifetime, is left. */
export const CRL_EXPIRY_WARNING_MS = 24 * 3600_000;

/** One CRL file as parseCrls read it. */
export interface CrlSource {
  path: string;
  crls: readonly Crl[];
  /** parseCrls' problems, each starting with the path. */
  problems: readonly string[];
}

export interface LintCrlsInput {
  crls: readonly CrlSource[];
  /** The truststore of the domain the CRLs are for; null when none could be read (every issuer is then unknown). */
  truststore: Truststore | null;
  now?: Date;
}

export function lintCrls(input: LintCrlsInput): Finding[] {
  const now = input.now ?? new Date();
  const cas = input.truststore?.certs ?? [];
  const bySubject = subjectIndex(cas);
  const ts = input.truststore ? shellQuote(input.truststore.source) : 'TRUSTSTORE';
  const out: Finding[] = [];
  for (const source of input.crls) {
    out.push(...source.problems.map((p) => parseError(source.path, p)));
    source.crls.forEach((crl, index) => {
      const at: At = { path: source.path, index: source.crls.length > 1 ? index : null, crl, now, ts };
      out.push(...issuerFindings(at, bySubject.get(crl.issuerDer.toString('hex')) ?? []));
      out.push(...timeFindings(at));
      out.push(...extensionFindings(at));
    });
  }
  return out;
}

/** Where a finding is: the file, which CRL in it, and the truststore's name for commands. */
interface At {
  path: string;
  /** Position in the file when it holds several CRLs. */
  index: number | null;
  crl: Crl;
  now: Date;
  ts: string;
}

function label(at: At): string {
  const which = at.index === null ? '' : ` CRL ${at.index}`;
  return `${at.path}${which} (issuer ${titleText(at.crl.issuer) || 'empty'})`;
}

function evidenceOf(at: At): Finding['evidence'] {
  const c = at.crl;
  return {
    file: at.path,
    ...(at.index === null ? {} : { index: at.index }),
    issuer: c.issuer,
    thisUpdate: c.thisUpdate.toISOString(),
    nextUpdate: c.nextUpdate ? c.nextUpdate.toISOString() : null,
    crlNumber: c.crlNumber === null ? null : c.crlNumber.toString(),
    revoked: c.revoked.size,
  };
}

/** What follows when a CRL cannot be used, as the end of a sentence. */
const NO_ANSWER =
  "the gateway has no revocation answer for certificates of this CA and follows the domain's `onUnavailable` " +
  'setting: with `deny` every such client is refused, with `allow` revoked ones get in.';
const UNAVAILABLE = `Then ${NO_ANSWER}`;

function refreshFix(at: At): string {
  const f = shellQuote(at.path);
  return [
    `openssl ca -config CA.cnf -gencrl -out ${f}   # re-issue it from the CA's database`,
    `mtlsgate pki crl DIR   # for a test PKI made by mtlsgate pki init`,
    `mtlsgate crl lint ${f} --truststore ${at.ts}   # then upload it`,
  ].join('\n');
}

function showFix(at: At): string {
  return `openssl crl -in ${shellQuote(at.path)} -noout -text   # add -inform DER for a binary CRL`;
}

function parseError(path: string, problem: string): Finding {
  const why = problem.startsWith(`${path}: `) ? problem.slice(path.length + 2) : problem;
  return finding({
    id: 'crl.parse-error',
    severity: 'error',
    title: `${path}: cannot be read as a CRL (${why})`,
    detail:
      'This file, or one PEM block in it, is not a readable X.509 CRL (broken base64, a truncated copy, another kind ' +
      'of file). The gateway skips what it cannot read, so ' +
      NO_ANSWER,
    fix: `openssl crl -in ${shellQuote(path)} -noout -text   # add -inform DER for a binary CRL`,
    evidence: { file: path, message: problem },
  });
}

/** Truststore certificates by the hex of their subject's DER, which a CRL's issuer must equal byte for byte. */
function subjectIndex(cas: readonly Cert[]): Map<string, Cert[]> {
  const out = new Map<string, Cert[]>();
  for (const ca of cas) {
    let key: string;
    try {
      const { subject } = splitCertificate(ca.der);
      key = ca.der.subarray(subject.start, subject.end).toString('hex');
    } catch {
      continue;
    }
    const list = out.get(key);
    if (list) list.push(ca);
    else out.set(key, [ca]);
  }
  return out;
}

function issuerFindings(at: At, named: readonly Cert[]): Finding[] {
  const f = shellQuote(at.path);
  if (named.length === 0)
    return [
      finding({
        id: 'crl.issuer-not-in-truststore',
        severity: 'error',
        title: `${label(at)}: no CA of that name in the truststore`,
        detail:
          'The gateway uses a CRL for the certificates of the truststore CA that issued it, found by its exact name. ' +
          'No CA in this truststore has the name this CRL gives, so it would check nobody: the CRL of another CA, ' +
          'or the truststore of another domain. ' +
          UNAVAILABLE,
        fix: [
          `openssl crl -in ${f} -noout -issuer -nameopt RFC2253`,
          `openssl crl2pkcs7 -nocrl -certfile ${at.ts} | openssl pkcs7 -print_certs -noout`,
          'add the issuing CA to the truststore, or give the CRL of a CA that is in it',
        ].join('\n'),
        evidence: evidenceOf(at),
      }),
    ];
  const signers = named.filter((ca) => verifyCrlSignature(at.crl, ca.x509.publicKey));
  if (signers.length === 0)
    return [
      finding({
        id: 'crl.signature-invalid',
        severity: 'error',
        title: `${label(at)}: signed by another key than the truststore CA's`,
        detail:
          `The truststore holds ${named.length === 1 ? 'a CA' : `${named.length} CAs`} of this name, but the CRL's ` +
          'signature does not verify with ' +
          (named.length === 1 ? 'its key' : 'any of their keys') +
          ': the CRL was altered, or it comes from a re-keyed CA (or a CA of the same name) whose certificate is ' +
          'not in the truststore. The gateway refuses such a CRL. ' +
          UNAVAILABLE,
        fix: [
          `openssl crl -in ${f} -CAfile ${at.ts} -noout   # says "verify failure"`,
          're-issue the CRL with the key of the CA in the truststore, or put the CA that signed it in the truststore',
        ].join('\n'),
        evidence: {
          ...evidenceOf(at),
          signatureAlgorithm: at.crl.signatureAlgorithm.name,
          truststoreCas: named.map((ca) => ca.info.fingerprintSha256),
        },
      }),
    ];
  // RFC 5280 §4.2.1.3: without a key usage extension a CA key may sign anything.
  if (signers.some((ca) => ca.info.keyUsage === null || ca.info.keyUsage.includes('cRLSign'))) return [];
  const ca = signers[0]!;
  return [
    finding({
      id: 'crl.issuer-no-crlsign',
      severity: 'error',
      title: `${label(at)}: the issuing CA's key usage lacks cRLSign`,
      detail:
        "The CRL is signed by the CA in the truststore, but that certificate's key usage does not allow signing " +
        'CRLs, so OpenSSL and the gateway refuse it ("key usage does not include CRL signing"). ' +
        UNAVAILABLE,
      fix: 'reissue the CA certificate with keyUsage keyCertSign, cRLSign (same key and name), and put it in the truststore',
      evidence: { ...evidenceOf(at), keyUsage: ca.info.keyUsage ?? [], ca: ca.info.fingerprintSha256 },
    }),
  ];
}

function timeFindings(at: At): Finding[] {
  const { crl, now } = at;
  const t = now.getTime();
  const ev = { ...evidenceOf(at), at: now.toISOString() };
  const out: Finding[] = [];
  if (crl.thisUpdate.getTime() > t)
    out.push(
      finding({
        id: 'crl.not-yet-valid',
        severity: 'error',
        title: `${label(at)} is not valid until ${crl.thisUpdate.toISOString()}`,
        detail:
          "Its thisUpdate is in the future: the CA's clock, or this machine's, is wrong. OpenSSL and the gateway " +
          'refuse it ("CRL is not yet valid") until then. ' +
          UNAVAILABLE,
        fix: ['date -u', showFix(at)].join('\n'),
        evidence: ev,
      }),
    );
  if (crl.nextUpdate === null) {
    out.push(
      finding({
        id: 'crl.no-next-update',
        severity: 'warning',
        title: `${label(at)} has no nextUpdate`,
        detail:
          'RFC 5280 requires a nextUpdate: it says when a newer CRL is due. Without one nothing tells a stale copy ' +
          'from a fresh one, so a certificate revoked after this CRL was made can pass for as long as it is used.',
        fix: `${refreshFix(at)}\n# with openssl ca, set default_crl_days (or -crldays) so the CRL carries nextUpdate`,
        evidence: ev,
      }),
    );
    return out;
  }
  const left = crl.nextUpdate.getTime() - t;
  if (left < 0) {
    out.push(
      finding({
        id: 'crl.expired',
        severity: 'error',
        title: `${label(at)} expired on ${crl.nextUpdate.toISOString()}`,
        detail:
          'Its nextUpdate is past: a newer CRL was due then, so this one may miss revocations. OpenSSL and the gateway ' +
          'treat it as unusable ("CRL has expired"). ' +
          UNAVAILABLE,
        fix: refreshFix(at),
        evidence: ev,
      }),
    );
    return out;
  }
  const lifetime = crl.nextUpdate.getTime() - crl.thisUpdate.getTime();
  const margin = Math.min(CRL_EXPIRY_WARNING_MS, lifetime / 4);
  if (left < margin) {
    const hours = Math.floor(left / 3_600_000);
    out.push(
      finding({
        id: 'crl.expires-soon',
        severity: 'warning',
        title: `${label(at)} expires on ${crl.nextUpdate.toISOString()} (in ${hours === 0 ? 'under an hour' : `${hours} hour${hours === 1 ? '' : 's'}`})`,
        detail:
          'Less than 24 hours, or less than a quarter of its lifetime, is left before its nextUpdate. Once past it, ' +
          NO_ANSWER +
          ' Publish a newer CRL before then.',
        fix: refreshFix(at),
        evidence: { ...ev, hoursLeft: hours },
      }),
    );
  }
  return out;
}

function extensionFindings(at: At): Finding[] {
  const { crl } = at;
  const out: Finding[] = [];
  if (crl.unknownCriticalExtensions.length > 0)
    out.push(
      finding({
        id: 'crl.unknown-critical-extension',
        severity: 'error',
        title: `${label(at)} has an unknown critical extension (${crl.unknownCriticalExtensions.join(', ')})`,
        detail:
          'RFC 5280 §5.2: a CRL with a critical extension the reader does not understand must not be used, and the ' +
          'gateway does not use it (OpenSSL: "unhandled critical CRL extension"). ' +
          UNAVAILABLE,
        fix: [showFix(at), 're-issue the CRL without the extension, or with it marked non-critical'].join('\n'),
        evidence: { ...evidenceOf(at), extensions: crl.unknownCriticalExtensions },
      }),
    );
  if (crl.unsupported.length > 0)
    out.push(
      finding({
        id: 'crl.unsupported',
        severity: 'error',
        title: `${label(at)} uses ${crl.unsupported.join(', ')}, which mtlsgate does not support: it is not used`,
        detail:
          'mtlsgate reads complete CRLs only: a delta CRL, a partitioned CRL (issuing distribution point) or an ' +
          'indirect CRL (entries for another issuer) covers only part of what the gateway would need to know, so it ' +
          'is ignored. ' +
          UNAVAILABLE,
        fix: [showFix(at), "publish the CA's complete CRL (openssl ca -gencrl writes one) and give that instead"].join(
          '\n',
        ),
        evidence: { ...evidenceOf(at), unsupported: crl.unsupported },
      }),
    );
  return out;
}
