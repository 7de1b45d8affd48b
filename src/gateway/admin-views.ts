/**
 * The admin's certificate and denial views, as data: /certs (every loaded certificate, server and truststore, with
 * days to expiry and the lint warnings about it) and /denials (the recent denials, each with the doctor's
 * explanation). Built when asked, from the state now serving; every answer is bounded by its limit.
 */
import { threadId } from 'node:worker_threads';
import { explainDenial, type DenialExplanation } from '../doctor/explain-denial.js';
import type { Cert } from '../pki/types.js';
import type { Finding } from '../report/finding.js';
import { cutText } from '../report/text.js';
import { EXPIRY_WARNING_DAYS } from '../trust/lint.js';
import {
  DEFAULT_DENIALS_LIMIT,
  intParam,
  MAX_DENIALS_LIMIT,
  recentDenials,
  type DenialRecord,
  type DenialRing,
} from './denials.js';
import type { DomainState, GatewayState } from './state.js';

const DAY_MS = 86_400_000;
/** Certificate text (subjects, issuers) in admin answers: a client or a CA chose its length. */
const TEXT_MAX = 1024;
/** An explanation's detail and fix (the doctor's), cut so that 1,000 denials stay a few MB at most. */
const EXPLANATION_MAX = 2000;

export type ExpiryStatus = 'valid' | 'expires-soon' | 'expired' | 'not-yet-valid';

/** When a certificate expires, as of `now`. */
export interface Expiry {
  subject: string;
  notAfter: string;
  daysToExpiry: number;
  status: ExpiryStatus;
}

export function expiryOf(c: Cert, now: Date): Expiry {
  const info = c.info;
  const left = Date.parse(info.notAfter) - now.getTime();
  const status: ExpiryStatus =
    left <= 0
      ? 'expired'
      : Date.parse(info.notBefore) > now.getTime()
        ? 'not-yet-valid'
        : left <= EXPIRY_WARNING_DAYS * DAY_MS
          ? 'expires-soon'
          : 'valid';
  return {
    subject: cutText(info.subject, TEXT_MAX),
    notAfter: info.notAfter,
    // Whole days either way: 3 days and an hour ago is -3 (`+ 0` makes -0 plain 0).
    daysToExpiry: Math.trunc(left / DAY_MS) + 0,
    status,
  };
}

/** The truststore certificate that expires first (ISO 8601 UTC strings of one format sort as dates). */
export function earliestExpiring(certs: readonly Cert[]): Cert | null {
  let first: Cert | null = null;
  for (const c of certs) if (first === null || c.info.notAfter < first.info.notAfter) first = c;
  return first;
}

// ---- /certs ----

export interface CertsQuery {
  domain: string | null;
  role: 'server' | 'truststore' | null;
  limit: number;
  offset: number;
}

export const MAX_CERTS_LIMIT = 500;

/** The query of /certs, or one line saying which parameter is wrong. */
export function parseCertsQuery(params: URLSearchParams): CertsQuery | string {
  const limit = intParam(params, 'limit', { min: 1, max: MAX_CERTS_LIMIT, def: 100 });
  if (typeof limit === 'string') return limit;
  const offset = intParam(params, 'offset', { min: 0, max: 1e9, def: 0 });
  if (typeof offset === 'string') return offset;
  const role = params.get('role');
  if (role !== null && role !== 'server' && role !== 'truststore')
    return `role: expected server or truststore, got "${cutText(role, 40)}"`;
  return { domain: params.get('domain'), role, limit, offset };
}

export interface CertView extends Expiry {
  domain: string;
  role: 'server' | 'truststore';
  /** Position in the server's chain (0: the server certificate) or in the truststore bundle. */
  index: number;
  issuer: string;
  serial: string;
  fingerprintSha256: string;
  notBefore: string;
  /** The truststore lint's warnings about this certificate (at its load): id, severity and title. */
  warnings: Array<{ id: string; severity: string; title: string }>;
}

export interface CertsPage {
  /** Certificates that match the query; `certificates` holds `limit` of them from `offset`. */
  total: number;
  offset: number;
  limit: number;
  truncated: boolean;
  /** The offset of the next page, or null on the last. */
  next: number | null;
  /** Certificates expiring within this many days are `expires-soon`. */
  expiresSoonDays: number;
  certificates: CertView[];
}

/**
 * A page of every loaded certificate, soonest expiry first (then domain, server before truststore, position), so
 * the first page of a 10,000-CA truststore shows what needs doing.
 */
export function certsPage(state: GatewayState, q: CertsQuery, now: Date): CertsPage {
  const rows: Array<{ d: DomainState; role: 'server' | 'truststore'; index: number; c: Cert }> = [];
  for (const d of state.domains.values()) {
    if (q.domain !== null && d.name !== q.domain) continue;
    if (q.role !== 'truststore') d.serverChain.forEach((c, index) => rows.push({ d, role: 'server', index, c }));
    if (q.role !== 'server')
      d.verify.truststore.certs.forEach((c, index) => rows.push({ d, role: 'truststore', index, c }));
  }
  rows.sort(
    (a, b) =>
      cmp(a.c.info.notAfter, b.c.info.notAfter) || cmp(a.d.name, b.d.name) || cmp(a.role, b.role) || a.index - b.index,
  );
  const page = rows.slice(q.offset, q.offset + q.limit);
  const warnings = new Map<DomainState, Map<string, Finding[]>>();
  const end = q.offset + page.length;
  return {
    total: rows.length,
    offset: q.offset,
    limit: q.limit,
    truncated: end < rows.length,
    next: end < rows.length ? end : null,
    expiresSoonDays: EXPIRY_WARNING_DAYS,
    certificates: page.map(({ d, role, index, c }) => {
      let byCert = warnings.get(d);
      if (!byCert) warnings.set(d, (byCert = warningsByFingerprint(d.truststoreWarnings)));
      const info = c.info;
      return {
        domain: d.name,
        role,
        index,
        ...expiryOf(c, now),
        issuer: cutText(info.issuer, TEXT_MAX),
        serial: cutText(info.serial, TEXT_MAX),
        fingerprintSha256: info.fingerprintSha256,
        notBefore: info.notBefore,
        warnings:
          role === 'server'
            ? []
            : (byCert.get(info.fingerprintSha256) ?? []).slice(0, 20).map((f) => ({
                id: f.id,
                severity: f.severity,
                title: cutText(f.title, 500),
              })),
      };
    }),
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Lint findings name the certificate they are about by its fingerprint in the evidence. */
function warningsByFingerprint(findings: readonly Finding[]): Map<string, Finding[]> {
  const out = new Map<string, Finding[]>();
  for (const f of findings) {
    const fp = f.evidence.fingerprint;
    if (typeof fp !== 'string') continue;
    const list = out.get(fp);
    if (list) list.push(f);
    else out.set(fp, [f]);
  }
  return out;
}

// ---- /denials ----

export interface DenialView {
  /** ISO 8601. */
  time: string;
  domain: string | null;
  route: string | null;
  status: number | null;
  code: string;
  reason: string;
  requestId: string | null;
  stage: 'handshake' | 'request';
  sourceIp: string | null;
  /** The certificate the client presented; null when none was. */
  client: { subject: string; issuer: string; serial: string; fingerprintSha256: string } | null;
  /** The doctor's explanation and fix; null for a refusal that is not about the certificate (an authorizer's). */
  explanation: DenialExplanation | null;
  /** The domain was reloaded since the denial: the explanation is against the truststore loaded now. */
  reloadedSince: boolean;
  /** The process that refused it. */
  pid: number;
  /** The worker thread that refused it (serve --workers N), 0 for a gateway without worker threads. */
  worker: number;
}

/** The `limit` of /denials, or one line saying what is wrong with it. */
export function parseDenialsLimit(params: URLSearchParams): number | string {
  return intParam(params, 'limit', { min: 1, max: MAX_DENIALS_LIMIT, def: DEFAULT_DENIALS_LIMIT });
}

/**
 * This process's newest `limit` denials, newest first. Each record is explained once (the first read) and the
 * explanation kept with the ring, so a dashboard polling every few seconds costs the doctor nothing more.
 */
export async function denialViews(o: { ring: DenialRing; state: GatewayState; limit: number }): Promise<DenialView[]> {
  return Promise.all(
    recentDenials(o.ring, o.limit).map(async (r) => {
      const d = r.domain === null ? undefined : o.state.domains.get(r.domain);
      let explanation = o.ring.explained.get(r);
      if (explanation === undefined) {
        explanation = explain(r, d);
        o.ring.explained.set(r, explanation);
      }
      const leaf = r.leaf?.info;
      return {
        time: new Date(r.time).toISOString(),
        domain: r.domain,
        route: r.route,
        status: r.status,
        code: r.code,
        reason: cutText(r.reason, TEXT_MAX),
        requestId: r.requestId,
        stage: r.stage,
        sourceIp: r.sourceIp,
        client: leaf
          ? {
              subject: cutText(leaf.subject, TEXT_MAX),
              issuer: cutText(leaf.issuer, TEXT_MAX),
              serial: cutText(leaf.serial, TEXT_MAX),
              fingerprintSha256: leaf.fingerprintSha256,
            }
          : null,
        explanation: await explanation,
        reloadedSince: d !== undefined && r.generation !== null && d.verify.generation !== r.generation,
        pid: process.pid,
        worker: threadId,
      };
    }),
  );
}

async function explain(r: DenialRecord, d: DomainState | undefined): Promise<DenialExplanation | null> {
  if (d === undefined) return null;
  try {
    const e = await explainDenial(
      { code: r.code, reason: r.reason, leaf: r.leaf, sent: r.sent, path: r.path, at: new Date(r.time) },
      {
        config: d.config,
        truststore: d.verify.truststore,
        policy: d.verify.policy,
        revocation: d.revocation ? { crls: d.revocation.crls.inForce, policy: d.revocation.policy } : null,
      },
    );
    if (e === null) return null;
    return {
      findingId: e.findingId,
      title: cutText(e.title, 500),
      detail: cutText(e.detail, EXPLANATION_MAX),
      fix: cutText(e.fix, EXPLANATION_MAX),
    };
  } catch (err) {
    return {
      findingId: null,
      title: r.reason,
      detail: `the doctor could not explain it: ${(err as Error).message}`,
      fix: '',
    };
  }
}

/** Several processes' newest denials as one list: newest first, `limit` of them. */
export function mergeDenials(lists: readonly DenialView[][], limit: number): DenialView[] {
  return lists
    .flat()
    .sort((a, b) => cmp(b.time, a.time))
    .slice(0, limit);
}
