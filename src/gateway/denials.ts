/**
 * Recent denials, for the admin's /denials and the dashboard: a fixed-size ring per gateway instance
 * (admin.denialsBuffer entries), written only when a request or a connection is refused. Recording keeps a
 * reference to the parsed client certificate and copies nothing; the answer is built, and the doctor's explanation
 * computed, only when someone reads /denials.
 */
import type { DenialExplanation } from '../doctor/explain-denial.js';
import type { Cert } from '../pki/types.js';
import { cutText } from '../report/text.js';
import type { RequestContext } from './context.js';

export interface DenialRecord {
  /** Date.now() at the denial. */
  time: number;
  /** null when the handshake failed before a domain was known. */
  domain: string | null;
  /** The matched base path ('' maps everything), or null when the request reached no mapping (or had no request). */
  route: string | null;
  /** The HTTP status answered, or null when the connection was closed at its handshake. */
  status: number | null;
  code: string;
  reason: string;
  requestId: string | null;
  stage: 'handshake' | 'request';
  sourceIp: string | null;
  /** The client certificate and what the client sent after it; null and [] when none was presented. */
  leaf: Cert | null;
  sent: readonly Cert[];
  /** The request target (an allow-list explanation depends on the route); null at the handshake. */
  path: string | null;
  /**
   * The truststore generation that judged it (the domain's verify.generation), or null. A generation, not the
   * domain's state: a ring that held states would keep every truststore replaced by a reload alive.
   */
  generation: number | null;
}

export interface DenialRing {
  readonly capacity: number;
  readonly entries: (DenialRecord | undefined)[];
  /** Where the next record goes. */
  next: number;
  /** Denials recorded since start (the ring keeps the last `capacity`). */
  total: number;
  /** The doctor's explanation of each record, computed on its first read (admin-views.ts). */
  readonly explained: WeakMap<DenialRecord, Promise<DenialExplanation | null>>;
}

export function denialRing(capacity: number): DenialRing {
  return {
    capacity,
    entries: new Array<DenialRecord | undefined>(capacity),
    next: 0,
    total: 0,
    explained: new WeakMap(),
  };
}

/** O(1): overwrites the oldest record once the ring is full. */
export function recordDenial(ring: DenialRing, r: DenialRecord): void {
  if (ring.capacity === 0) return;
  ring.entries[ring.next] = r;
  ring.next = (ring.next + 1) % ring.capacity;
  ring.total++;
}

/** A request refused with `status`: what the request context knows of it. */
export function recordRequestDenial(
  ring: DenialRing,
  ctx: RequestContext,
  d: { status: number; code: string; reason: string },
): void {
  if (ring.capacity === 0) return;
  const client = ctx.verdict?.client ?? null;
  recordDenial(ring, {
    time: Date.now(),
    domain: ctx.domain?.name ?? null,
    route: ctx.match?.route.basePath ?? null,
    status: d.status,
    code: d.code,
    reason: d.reason,
    requestId: ctx.requestId,
    stage: 'request',
    sourceIp: ctx.conn.remoteAddress,
    leaf: client?.leaf ?? null,
    sent: client?.sent ?? NONE,
    path: ctx.url,
    generation: ctx.domain?.verify.generation ?? null,
  });
}

const NONE: readonly Cert[] = Object.freeze([]);

/** The newest `limit` records, newest first. */
export function recentDenials(ring: DenialRing, limit: number): DenialRecord[] {
  const out: DenialRecord[] = [];
  const n = Math.min(limit, ring.capacity, ring.total);
  for (let i = 1; i <= n; i++) out.push(ring.entries[(ring.next - i + ring.capacity) % ring.capacity]!);
  return out;
}

/** The largest `limit` /denials takes: answers stay bounded whatever admin.denialsBuffer is. */
export const MAX_DENIALS_LIMIT = 1000;
export const DEFAULT_DENIALS_LIMIT = 50;

/**
 * A query parameter that must be an integer in [min, max] when present: the value, or one line saying what is
 * wrong with it (the admin answers 400 with it).
 */
export function intParam(
  params: URLSearchParams,
  name: string,
  o: { min: number; max: number; def: number },
): number | string {
  const raw = params.get(name);
  if (raw === null) return o.def;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(n) && n >= o.min && n <= o.max) return n;
  return `${name}: expected an integer from ${o.min} to ${o.max}, got "${cutText(raw, 40)}"`;
}
