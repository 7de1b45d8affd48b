/**
 * logs.accessLogFormat: an access log line in API Gateway's way, a string with `$context.*` variables
 * (`$context.requestId $context.status`, or JSON such as `{"requestId":"$context.requestId"}`). The format is split
 * once into literal parts and one getter per variable, so a request costs a getter call and a concatenation per
 * variable. Values are escaped so no client-chosen text (a certificate's subject, a path) can end the line or, in
 * a JSON format, the string it sits in.
 */
import type { RequestContext } from './context.js';
import { asn1TimePrint } from './headers.js';

type Value = string | number | null;
type Getter = (ctx: RequestContext, latencyMs: number) => Value;

const leaf = (ctx: RequestContext) => ctx.verdict?.client?.leaf.info;
const arrival = (ctx: RequestContext): number => performance.timeOrigin + ctx.started;

/** The variables; a numeric one is printed bare (always a number), any other may be `-` when unknown. */
const VARIABLES: Record<string, { get: Getter; numeric?: true }> = {
  requestId: { get: (c) => c.requestId },
  'identity.sourceIp': { get: (c) => c.conn.remoteAddress || null },
  httpMethod: { get: (c) => c.method },
  path: {
    get: (c) => {
      const q = c.url.indexOf('?');
      return q === -1 ? c.url : c.url.slice(0, q);
    },
  },
  resourcePath: { get: (c) => c.match?.route.resourcePath ?? null },
  status: { get: (c) => c.status, numeric: true },
  responseLength: { get: (c) => c.responseLength, numeric: true },
  requestTime: { get: (c) => clfTime(arrival(c)) },
  requestTimeEpoch: { get: (c) => Math.round(arrival(c)), numeric: true },
  responseLatency: { get: (_c, ms) => Math.round(ms), numeric: true },
  domainName: { get: (c) => c.conn.domainName || null },
  protocol: { get: (c) => c.protocol },
  'error.message': { get: (c) => c.denied?.reason ?? c.refusal },
  'identity.clientCert.subjectDN': { get: (c) => leaf(c)?.subject ?? null },
  'identity.clientCert.issuerDN': { get: (c) => leaf(c)?.issuer ?? null },
  'identity.clientCert.serialNumber': { get: (c) => leaf(c)?.serial ?? null },
  'identity.clientCert.validity.notBefore': { get: (c) => notBefore(c) },
  'identity.clientCert.validity.notAfter': { get: (c) => notAfter(c) },
  'authorizer.principalId': { get: (c) => c.authorizer?.principalId ?? null },
  'authorizer.error': { get: (c) => c.authorizer?.error ?? null },
  'authorizer.latency': { get: (c) => c.authorizer?.latencyMs ?? null },
};

export const ACCESS_LOG_VARIABLES: readonly string[] = Object.keys(VARIABLES);

function notBefore(c: RequestContext): string | null {
  const i = leaf(c);
  return i ? asn1TimePrint(i.notBefore) : null;
}
function notAfter(c: RequestContext): string | null {
  const i = leaf(c);
  return i ? asn1TimePrint(i.notAfter) : null;
}

const VAR = /\$context\.([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)/g;

export interface AccessLogFormat {
  /** The line for a request, without its newline. */
  render(ctx: RequestContext, latencyMs: number): string;
}

interface Parsed {
  literals: string[];
  names: string[];
  json: boolean;
}

function parse(format: string): Parsed | string {
  const literals: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of format.matchAll(VAR)) {
    const name = m[1]!;
    if (!(name in VARIABLES)) return `unknown variable $context.${name}`;
    literals.push(format.slice(last, m.index));
    names.push(name);
    last = m.index + m[0].length;
  }
  literals.push(format.slice(last));
  if (/[\r\n]/.test(format)) return 'a line break in the format (each request writes one line)';
  return { literals, names, json: format.trimStart().startsWith('{') };
}

/** Why a format cannot be used (a config error), or null. */
export function accessLogProblem(format: string): string | null {
  const p = parse(format);
  if (typeof p === 'string') return p;
  if (!p.json) return null;
  // A JSON format must stay JSON whatever the values: try it with a number or a text in each place.
  let sample = p.literals[0]!;
  p.names.forEach((n, i) => (sample += (VARIABLES[n]!.numeric ? '0' : 'x') + p.literals[i + 1]!));
  try {
    JSON.parse(sample);
    return null;
  } catch (e) {
    return `starts with { but is not valid JSON (put each non-numeric $context variable in quotes): ${(e as Error).message}`;
  }
}

export function compileAccessLogFormat(format: string): AccessLogFormat {
  const p = parse(format);
  if (typeof p === 'string') throw new Error(`logs.accessLogFormat: ${p}`);
  const { literals, json } = p;
  const getters = p.names.map((n) => VARIABLES[n]!.get);
  const escape = json ? jsonEscape : textEscape;
  return {
    render(ctx, latencyMs) {
      let out = literals[0]!;
      for (let i = 0; i < getters.length; i++) {
        const v = getters[i]!(ctx, latencyMs);
        out += (v === null ? '-' : typeof v === 'number' ? String(v) : escape(v)) + literals[i + 1]!;
      }
      return out;
    },
  };
}

/** Visible ASCII and space, without `"` and `\`: nothing to escape (the common case, no allocation). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonEscape(s: string): string {
  if (PLAIN.test(s)) return s;
  // JSON.stringify leaves U+2028/2029 raw (valid JSON), which some line readers take as line ends.
  return JSON.stringify(s)
    .slice(1, -1)
    .replace(/[\u2028\u2029\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** As nginx's access log: `"`, `\`, control characters and line separators as \xHH (\uHHHH above 0xff). */
function textEscape(s: string): string {
  if (PLAIN.test(s)) return s;
  return s.replace(/["\\\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (ch) => {
    const c = ch.charCodeAt(0);
    return c > 0xff ? `\\u${c.toString(16)}` : `\\x${c.toString(16).padStart(2, '0')}`;
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's $context.requestTime, the common log format's time: `04/Mar/2026:12:00:00 +0000`. */
export function clfTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => (n < 10 ? `0${n}` : String(n));
  return (
    `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}
