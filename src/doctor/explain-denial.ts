/**
 * Why the gateway refused a client, in the doctor's own words: the gateway keeps the certificate it refused, and
 * this runs the doctor's offline checks (checks/cert.ts, chain.ts, route.ts, revocation.ts) on it against the
 * domain's truststore, allow-lists and CRLs as loaded, then keeps the finding that explains the deny code
 * (reasons.ts says which findings explain which code). No text is written here: title, detail and fix are the
 * doctor's. Used by the admin's /denials (and so the dashboard); never on the request path.
 */
import type { DomainConfig } from '../gateway/config.js';
import type { Crl } from '../pki/crl.js';
import type { Cert } from '../pki/types.js';
import { analyzeChain } from '../policy/analyze.js';
import type { RevocationPolicy } from '../policy/revocation.js';
import type { PolicyOptions } from '../policy/rules.js';
import { ACCEPTED, isDenyCode } from '../policy/verdict.js';
import type { Finding } from '../report/finding.js';
import type { Truststore } from '../trust/truststore.js';
import { checkLeaf } from './checks/cert.js';
import { checkChain } from './checks/chain.js';
import { judgeRevocation } from './checks/revocation.js';
import { checkRoute } from './checks/route.js';
import type { Known } from './known.js';
import { findingIdsForCode, REVOCATION_CODES } from './live/reasons.js';

export interface DenialExplanation {
  /** The doctor's finding id (docs/findings.md), or null when no offline check explains the code. */
  findingId: string | null;
  title: string;
  detail: string;
  /** The commands or steps that fix it; '' when there are none. */
  fix: string;
}

export interface DenialToExplain {
  code: string;
  reason: string;
  /** The refused certificate and what the client sent after it (null: none was presented). */
  leaf: Cert | null;
  sent: readonly Cert[];
  /** The request target (for allow-list and route findings); null when the refusal came at the handshake. */
  path: string | null;
  /** When it was refused: validity is judged as of then. */
  at: Date;
}

export interface DomainToExplainWith {
  config: DomainConfig;
  truststore: Truststore;
  policy: PolicyOptions;
  /** The CRLs in force and the domain's revocation settings; null when revocation is off. */
  revocation: { crls: ReadonlyArray<{ crl: Crl; source: string }>; policy: RevocationPolicy } | null;
}

/** Codes about the request's route rather than the chain: explained by `doctor --config --path`'s findings. */
const ROUTE_FINDINGS: Readonly<Record<string, readonly string[]>> = {
  MTLSGATE_NO_CERTIFICATE: ['route.certificate-required'],
  MTLSGATE_NOT_ALLOWED: ['route.not-allowed'],
};

/** Stands for the client's certificate file in fix commands: the gateway never had the client's file name. */
const CLIENT_CERT = 'client.crt';

/** Null for a code that is not about the client certificate (a Lambda authorizer's refusal). */
export async function explainDenial(
  d: DenialToExplain,
  domain: DomainToExplainWith,
): Promise<DenialExplanation | null> {
  if (!isDenyCode(d.code)) return null;
  const found = await findings(d, domain);
  const wanted = ROUTE_FINDINGS[d.code] ?? findingIdsForCode(d.code);
  const f =
    found.find((x) => wanted.includes(x.id) && x.severity === 'error') ?? found.find((x) => wanted.includes(x.id));
  if (f) return { findingId: f.id, title: f.title, detail: f.detail, fix: f.fix };
  // Nothing the files show explains it (an OCSP answer, an authorizer, a certificate the domain now accepts):
  // the doctor's command is the next step.
  return {
    findingId: null,
    title: d.reason,
    detail: '',
    fix: d.leaf
      ? `mtlsgate doctor --cert ${CLIENT_CERT} --truststore ${truststoreArg(domain.config)}`
      : 'send the client certificate: curl --cert client.crt --key client.key ...',
  };
}

async function findings(d: DenialToExplain, domain: DomainToExplainWith): Promise<Finding[]> {
  const config = domain.config;
  if (d.leaf === null || d.code === 'MTLSGATE_NOT_ALLOWED') {
    // A refused connection had no request: its domain's own setting applies, as on a path no mapping takes.
    const verdict = d.leaf === null ? null : ACCEPTED;
    return checkRoute({ domain: config, path: d.path ?? '/', leaf: d.leaf, verdict });
  }
  const truststore = { ...domain.truststore, source: truststoreArg(config) };
  const k = known({ leaf: d.leaf, sent: d.sent, truststore, policy: domain.policy, now: d.at, domain });
  const analysis = analyzeChain(d.leaf, d.sent, truststore, domain.policy, d.at);
  const out = [...checkLeaf(k), ...checkChain(k, analysis)];
  if (REVOCATION_CODES.has(d.code) && domain.revocation !== null && analysis.defects.length === 0) {
    // The gateway judges revocation on the path it verified: OpenSSL's, which the model rebuilds.
    const judged = await judgeRevocation({ k, verdict: ACCEPTED, path: analysis.opensslChain.certs });
    out.push(...judged.findings);
  }
  return out;
}

/** The doctor's view of what it was given, filled from the gateway's memory instead of files. */
function known(o: {
  leaf: Cert;
  sent: readonly Cert[];
  truststore: Truststore;
  policy: PolicyOptions;
  now: Date;
  domain: DomainToExplainWith;
}): Known {
  const r = o.domain.revocation;
  return {
    input: {},
    now: o.now,
    policy: o.policy,
    certPath: CLIENT_CERT,
    passphrase: undefined,
    certFile: null,
    keyFile: null,
    leaf: o.leaf,
    intermediates: [...o.sent],
    key: null,
    keySource: null,
    truststore: o.truststore,
    truststoreFile: null,
    truststoreFindings: [],
    // Only CRLs: an OCSP responder is not asked again to explain an answer it gave.
    crlFiles: r === null ? null : r.crls.map((t) => ({ path: t.source, crls: [t.crl] })),
    ocsp: null,
    revocation: { scope: r?.policy.scope ?? 'leaf', onUnavailable: r?.policy.onUnavailable ?? 'deny' },
  };
}

/** The truststore as a fix command names it: the file's path, or the S3 object. */
function truststoreArg(config: DomainConfig): string {
  const uri = config.mutualTls.truststoreUri;
  return uri.startsWith('file://') ? decodeURIComponent(uri.slice('file://'.length)) : uri;
}
