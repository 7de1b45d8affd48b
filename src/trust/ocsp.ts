/**
 * The OCSP client: where a certificate's responder is (AIA), one bounded query, and a per-gateway checker with a
 * cache. Every failure is an answer (`status: 'error'`), never a rejection: the caller decides whether an
 * unavailable responder fails open or closed.
 *
 * node:http rather than undici: the two limits we need (one deadline over connect, headers and body; a byte cap that
 * drops the connection at once) are a timer and `destroy()` on one request object, and an Agent per checker keeps
 * connection reuse out of any process-wide dispatcher.
 */
import type { Agent } from 'node:http';
import { http } from '../node-http.js';
import { checkOcspResponse, ocspNonce, ocspRequest } from '../pki/ocsp.js';
import type { OcspAnswer } from '../pki/ocsp.js';
import type { Cert } from '../pki/types.js';

export type { OcspAnswer } from '../pki/ocsp.js';

/** Responses above this are cut off: a real one about one certificate is 1–4 KiB. */
export const MAX_OCSP_RESPONSE_BYTES = 64 * 1024;
export const DEFAULT_CLOCK_SKEW_MS = 30_000;
const HOUR = 3600_000;

/** The first http:// OCSP URL in the Authority Information Access extension, or null. */
export function ocspUrlOf(cert: Cert): string | null {
  let text: string | undefined;
  try {
    text = cert.x509.infoAccess;
  } catch {
    return null;
  }
  for (const line of text?.split('\n') ?? []) {
    if (!line.startsWith('OCSP - URI:')) continue;
    let value = line.slice('OCSP - URI:'.length);
    // Node writes values with special characters as JSON strings.
    if (value.startsWith('"')) {
      try {
        value = String(JSON.parse(value));
      } catch {
        continue;
      }
    }
    if (/^http:\/\//i.test(value)) return value;
  }
  return null;
}

/**
 * true: send a nonce, and refuse a different one echoed; 'required': also refuse an answer without one (see
 * checkOcspResponse for why a missing nonce is otherwise accepted); false: send none.
 */
export type OcspNonceMode = boolean | 'required';

export interface QueryOcspOptions {
  url: string;
  cert: Cert;
  issuer: Cert;
  nonce: OcspNonceMode;
  /** One deadline for connecting, the headers and the body. */
  timeoutMs: number;
  /** The time responses are judged at; default now. */
  now?: Date;
  clockSkewMs?: number;
  /** Connection reuse; default a fresh connection per query. */
  agent?: Agent;
}

/** POSTs one OCSP request and judges the answer. Never rejects: a failure is an error answer naming the URL. */
export function queryOcsp(o: QueryOcspOptions): Promise<OcspAnswer> {
  const fail = (what: string): OcspAnswer => ({ status: 'error', why: `OCSP ${o.url}: ${what}` });
  let url: URL;
  let der: Buffer;
  const nonce = o.nonce ? ocspNonce() : null;
  try {
    url = new URL(o.url);
    der = ocspRequest({ cert: o.cert, issuer: o.issuer, nonce }).der;
  } catch (e) {
    return Promise.resolve(fail(e instanceof TypeError ? 'not a URL' : `cannot build the request: ${message(e)}`));
  }
  if (url.protocol !== 'http:') return Promise.resolve(fail('only http:// responders are supported'));

  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: OcspAnswer, drop: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (drop) req.destroy();
      resolve(answer);
    };
    const req = http.request(url, {
      method: 'POST',
      agent: o.agent ?? false,
      headers: {
        'content-type': 'application/ocsp-request',
        accept: 'application/ocsp-response',
        'content-length': der.length,
      },
    });
    const timer = setTimeout(() => finish(fail(`timed out after ${o.timeoutMs} ms`), true), o.timeoutMs);
    req.on('error', (e) => finish(fail(networkError(e)), true));
    req.on('response', (res) => {
      if (res.statusCode !== 200) return finish(fail(`HTTP ${res.statusCode}`), true);
      const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/ocsp-response')
        return finish(fail(`content type ${type || '(none)'}, not application/ocsp-response`), true);
      const declared = Number(res.headers['content-length']);
      if (declared > MAX_OCSP_RESPONSE_BYTES)
        return finish(fail(`response of ${declared} bytes is over the ${MAX_OCSP_RESPONSE_BYTES} byte limit`), true);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_OCSP_RESPONSE_BYTES)
          return finish(fail(`response cut off: more than ${MAX_OCSP_RESPONSE_BYTES} bytes`), true);
        chunks.push(c);
      });
      res.on('error', (e) => finish(fail(networkError(e)), true));
      res.on('close', () => {
        if (!res.complete) finish(fail('connection closed before the response ended'), true);
      });
      res.on('end', () => {
        const answer = checkOcspResponse({
          response: Buffer.concat(chunks),
          cert: o.cert,
          issuer: o.issuer,
          nonce,
          requireNonce: o.nonce === 'required',
          now: o.now ?? new Date(),
          clockSkewMs: o.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS,
        });
        finish(answer.status === 'error' ? fail(answer.why) : answer, false);
      });
    });
    req.end(der);
  });
}

function networkError(e: Error & { code?: string }): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default:
      return message(e);
  }
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

export interface OcspCheckerOptions {
  timeoutMs: number;
  nonce: OcspNonceMode;
  /** A responder URL used for every certificate, instead of each one's AIA. */
  responder?: string;
  /** Cached certificates at most; the oldest entry goes when full. Default 10,000. */
  maxEntries?: number;
  /** Lifetime of an answer without nextUpdate; default and most 1 hour. */
  defaultTtlMs?: number;
  /** Lifetime of an error, so a dead responder is not asked on every connection. Default 5 s. */
  errorTtlMs?: number;
  clockSkewMs?: number;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

export interface OcspStats {
  /** Answers handed out, by status (cached ones included). */
  good: number;
  revoked: number;
  unknown: number;
  error: number;
  /** Answers served from the cache, and requests sent to responders. */
  cacheHits: number;
  requests: number;
  entries: number;
}

export interface OcspChecker {
  /** A value when a fresh answer is cached (no promise on the hot path), else a promise that never rejects. */
  check(cert: Cert, issuer: Cert): OcspAnswer | Promise<OcspAnswer>;
  stats(): OcspStats;
  /** Closes idle kept-alive connections to responders. */
  close(): void;
}

type Entry = { answer: OcspAnswer; expiresAt: number } | { pending: Promise<OcspAnswer>; waiters: number };

/** A checker owned by one gateway instance: its cache, counters and connections are its own. */
export function ocspChecker(o: OcspCheckerOptions): OcspChecker {
  const now = o.now ?? Date.now;
  const maxEntries = Math.max(1, o.maxEntries ?? 10_000);
  const defaultTtlMs = Math.min(o.defaultTtlMs ?? HOUR, HOUR);
  const errorTtlMs = o.errorTtlMs ?? 5_000;
  const agent = new http.Agent({ keepAlive: true });
  const entries = new Map<string, Entry>();
  const counts = { good: 0, revoked: 0, unknown: 0, error: 0, cacheHits: 0, requests: 0 };

  const store = (key: string, answer: OcspAnswer): void => {
    const t = now();
    const expiresAt =
      answer.status === 'error' ? t + errorTtlMs : answer.nextUpdate ? answer.nextUpdate.getTime() : t + defaultTtlMs;
    entries.delete(key);
    if (expiresAt <= t) return;
    if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
    entries.set(key, { answer, expiresAt });
  };

  const fetch = (key: string, cert: Cert, issuer: Cert): Promise<OcspAnswer> => {
    const url = o.responder ?? ocspUrlOf(cert);
    let query: Promise<OcspAnswer>;
    if (url === null) query = Promise.resolve({ status: 'error', why: 'no OCSP responder URL in the certificate' });
    else {
      counts.requests++;
      const skew = o.clockSkewMs !== undefined ? { clockSkewMs: o.clockSkewMs } : {};
      const { timeoutMs, nonce } = o;
      query = queryOcsp({ url, cert, issuer, nonce, timeoutMs, now: new Date(now()), agent, ...skew });
    }
    const entry = { pending: query, waiters: 1 };
    entry.pending = query.then((answer) => {
      counts[answer.status] += entry.waiters;
      // An entry evicted or replaced meanwhile keeps its place; this answer still goes to its waiters.
      if (entries.get(key) === entry) store(key, answer);
      return answer;
    });
    entries.delete(key); // an expired entry: the new one goes to the back of the eviction order
    if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
    entries.set(key, entry);
    return entry.pending;
  };

  return {
    check(cert, issuer) {
      // The issuer's fingerprint with the serial: serials are unique per issuer only. Node caches both strings.
      const key = `${issuer.x509.fingerprint256}/${cert.x509.serialNumber}`;
      const entry = entries.get(key);
      if (entry) {
        if ('pending' in entry) {
          entry.waiters++;
          return entry.pending;
        }
        if (now() < entry.expiresAt) {
          counts.cacheHits++;
          counts[entry.answer.status]++;
          return entry.answer;
        }
      }
      return fetch(key, cert, issuer);
    },
    stats: () => ({ ...counts, entries: entries.size }),
    close: () => agent.destroy(),
  };
}
