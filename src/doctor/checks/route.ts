/**
 * `doctor --config FILE --domain NAME --path /x`: what the gateway's request path does with that path and the
 * client certificate after verifying it — which base path mapping matches, its clientCertificate mode, which
 * allow-list applies and whether an entry admits the certificate — judged by the gateway's own functions
 * (makeRoutes, matchRoute, admittedBy) on the config's own compiled lists.
 */
import type { DomainConfig } from '../../gateway/config.js';
import { admittedBy, compileAllow, sansByType, type AllowConfig } from '../../gateway/allow.js';
import { makeRoutes, matchRoute } from '../../gateway/routes.js';
import type { Cert } from '../../pki/types.js';
import { finding, type Finding } from '../../report/finding.js';
import type { Verdict } from '../../policy/verdict.js';

/** At most this many entries of each kind in the evidence: a 10,000-entry list is summarised, not printed. */
const SHOWN = 20;

export function checkRoute(o: {
  domain: DomainConfig;
  path: string;
  leaf: Pick<Cert, 'info'> | null;
  /** The chain's verdict (null when none was reached). */
  verdict: Verdict | null;
}): Finding[] {
  const d = o.domain;
  const domainAllow = d.mutualTls.allow ? compileAllow(d.mutualTls.allow) : null;
  const routes = makeRoutes(d.basePathMappings, {
    clientCertificate: d.mutualTls.clientCertificate,
    allow: domainAllow,
  });
  const path = o.path.startsWith('/') ? o.path : `/${o.path}`;
  const match = matchRoute(routes, path);
  const out: Finding[] = [];
  const index = match ? d.basePathMappings.findIndex((m) => m.basePath === match.route.basePath) : -1;
  const mapping = match ? `basePathMappings[${index}] (${match.route.basePath || '(none)'})` : 'none';
  const mode = match?.route.clientCertificate ?? d.mutualTls.clientCertificate;
  const evidence = { domain: d.domainName, path, mapping, clientCertificate: mode };
  if (match) {
    out.push(
      finding({
        id: 'route.matched',
        severity: 'info',
        title: `${path} takes ${mapping} to ${match.route.target.href} (clientCertificate: ${mode})`,
        detail: `The longest matching base path wins; the backend receives ${match.upstreamPath}.`,
        fix: '',
        evidence: { ...evidence, upstreamPath: match.upstreamPath },
      }),
    );
  }
  if (mode === 'none') {
    out.push(
      finding({
        id: 'route.certificate-not-required',
        severity: 'info',
        title: `${mapping} has clientCertificate: none: the certificate is not looked at`,
        detail:
          'The request is forwarded whatever the client presents, without certificate headers, allow-list or ' +
          'revocation check; the verdict above does not decide this path.',
        fix: '',
        evidence,
      }),
    );
    return out;
  }
  if (o.leaf === null) {
    out.push(
      mode === 'optional'
        ? finding({
            id: 'route.certificate-not-required',
            severity: 'info',
            title: `${mapping} has clientCertificate: optional: without a certificate the request is forwarded`,
            detail: 'No certificate headers reach the backend; a certificate that fails verification would get 403.',
            fix: '',
            evidence,
          })
        : finding({
            id: 'route.certificate-required',
            severity: 'error',
            title: `${match ? mapping : d.domainName} requires a client certificate and none was given`,
            detail: 'The gateway refuses the request: "No required SSL certificate was sent".',
            fix: 'Give the client certificate and key (--cert, --key).',
            evidence,
          }),
    );
    return out;
  }
  const list = match ? match.route.allow : domainAllow;
  const verified = o.verdict?.accepted === true;
  if (list !== null && o.verdict !== null) {
    const source =
      match && d.basePathMappings[index]!.allow !== undefined ? `basePathMappings[${index}].allow` : 'mutualTls.allow';
    const config = (source === 'mutualTls.allow' ? d.mutualTls.allow : d.basePathMappings[index]!.allow)!;
    const info = o.leaf.info;
    const by = admittedBy(list, o.leaf);
    const cert = {
      subject: info.subject,
      ...Object.fromEntries(Object.entries(sansByType(o.leaf)).map(([k, v]) => [`SAN ${k}`, v])),
      sha256Fingerprint: info.fingerprintSha256,
      serialNumber: info.serial,
    };
    if (by !== null) {
      out.push(
        finding({
          id: 'route.allowed',
          severity: 'info',
          title: `the allow-list ${source} admits the certificate by ${by}`,
          detail: verified
            ? 'Any one matching entry admits.'
            : 'An entry matches, but the certificate fails verification first (see the verdict).',
          fix: '',
          evidence: { ...evidence, allowList: source, entries: list.size, admittedBy: by, ...cert },
        }),
      );
    } else {
      out.push(
        finding({
          id: 'route.not-allowed',
          severity: 'error',
          title: `no entry of the allow-list ${source} admits the certificate: "client certificate not allowed"`,
          detail:
            `The certificate ${verified ? 'verifies' : 'would be refused anyway'}, but matches none of the ` +
            `${list.size} entries (by subject, subject alternative name, SHA-256 fingerprint or serial number), ` +
            'so the gateway answers 403 (MTLSGATE_NOT_ALLOWED). DNS wildcards stand for exactly one label; ' +
            'URI wildcards for anything under their prefix; IP entries may be networks.',
          fix: `Add an entry for this certificate to ${source} (e.g. its fingerprint ${info.fingerprintSha256}), or use a certificate that carries one of the listed names.`,
          evidence: { ...evidence, allowList: source, entries: list.size, ...cert, ...shownEntries(config) },
        }),
      );
    }
  }
  if (!match) {
    out.push(
      finding({
        id: 'route.no-mapping',
        severity: 'error',
        title: `no base path mapping of ${d.domainName} matches ${path}: 404 {"message":"Not Found"}`,
        detail:
          "The certificate is judged under the domain's settings first (a refused one gets 403 before the 404). " +
          `The base paths are: ${d.basePathMappings.map((m) => m.basePath || '(none)').join(', ')}.`,
        fix: 'Use a path under one of the base paths, or add a mapping for it.',
        evidence,
      }),
    );
  }
  return out;
}

function shownEntries(c: AllowConfig): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const key of ['subjects', 'subjectAltNames', 'sha256Fingerprints', 'serialNumbers'] as const) {
    const v = c[key];
    if (!v || v.length === 0) continue;
    out[`allow.${key}`] = v.length > SHOWN ? [...v.slice(0, SHOWN), `... and ${v.length - SHOWN} more`] : v.slice();
  }
  return out;
}
