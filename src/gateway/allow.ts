/**
 * Allow-lists (mutualTls.allow, basePathMappings[].allow): which verified client certificates may pass, by subject,
 * subject alternative name, SHA-256 fingerprint or serial number. Any one matching entry admits. A list is compiled
 * once per config build into Sets and a few per-kind indexes, so judging a certificate costs a handful of lookups
 * whatever the list's length (10,000 entries included), and judging is done once per connection and list.
 */
import { isIP } from 'node:net';
import type { Cert } from '../pki/types.js';

/** The config's shape of a list; every key optional. */
export interface AllowConfig {
  subjects?: string[] | undefined;
  subjectAltNames?: string[] | undefined;
  sha256Fingerprints?: string[] | undefined;
  serialNumbers?: string[] | undefined;
}

export interface AllowList {
  /** Entries in all, for logs and the doctor. */
  readonly size: number;
  readonly subjects: ReadonlySet<string>;
  /** Uppercase colon hex, as CertInfo.fingerprintSha256. */
  readonly fingerprints: ReadonlySet<string>;
  /** Lowercase hex without colons or leading zeros. */
  readonly serials: ReadonlySet<string>;
  /** Lowercase names; `*.example.com` is kept as `.example.com` in `dnsSuffixes` (one label matches the star). */
  readonly dns: ReadonlySet<string>;
  readonly dnsSuffixes: ReadonlySet<string>;
  readonly uris: ReadonlySet<string>;
  /** `spiffe://trust.example/ns/*` as `spiffe://trust.example/ns/`: any URI longer than it under it. */
  readonly uriPrefixes: ReadonlySet<string>;
  /** Lowercase. */
  readonly emails: ReadonlySet<string>;
  /** `*@example.com` as `example.com`. */
  readonly emailDomains: ReadonlySet<string>;
  /** Networks by prefix length: `v4:8` → masked addresses as hex. A /32 (/128) is an exact address. */
  readonly networks: ReadonlyMap<string, ReadonlySet<string>>;
}

export type SanKind = 'DNS' | 'URI' | 'email' | 'IP';

/** A SAN entry parsed; `problem` says why it is not one (a config error). */
type SanEntry =
  | { kind: 'DNS'; exact: string | null; suffix: string | null }
  | { kind: 'URI'; exact: string | null; prefix: string | null }
  | { kind: 'email'; exact: string | null; domain: string | null }
  | { kind: 'IP'; family: 4 | 6; bits: number; key: string };

const LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;
const HEX64 = /^[0-9a-f]{64}$/;
const PRINTABLE = /^[\x21-\x7e]+$/;

function dnsName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split('.');
  return labels.every((l) => l.length <= 63 && LABEL.test(l));
}

/** Why a subjectAltNames entry is malformed, or its parsed form. */
function parseSan(raw: string): SanEntry | string {
  const colon = raw.indexOf(':');
  const type = colon > 0 ? raw.slice(0, colon) : '';
  const value = raw.slice(colon + 1);
  switch (type.toLowerCase()) {
    case 'dns': {
      const v = value.toLowerCase().replace(/\.$/, '');
      if (v === '*') return '"*" alone would admit every name: list the names, or *.domain';
      if (v.startsWith('*.')) {
        const rest = v.slice(2);
        if (!dnsName(rest)) return `expected DNS:*.example.com (a star, then a DNS name), got "${raw}"`;
        if (!rest.includes('.')) return `"${raw}" would admit a whole top-level domain: name at least two labels`;
        return { kind: 'DNS', exact: null, suffix: `.${rest}` };
      }
      if (v.includes('*')) return `a star may only be the whole first label (DNS:*.example.com), got "${raw}"`;
      if (!dnsName(v)) return `expected a DNS name, e.g. DNS:client.example.com, got "${raw}"`;
      return { kind: 'DNS', exact: v, suffix: null };
    }
    case 'uri': {
      if (!PRINTABLE.test(value) || value.includes('\\')) return `expected a URI of visible ASCII, got "${raw}"`;
      if (!/^[a-z][a-z0-9+.-]*:./i.test(value))
        return `expected a URI with a scheme, e.g. URI:spiffe://..., got "${raw}"`;
      const star = value.indexOf('*');
      if (star === -1) return { kind: 'URI', exact: value, prefix: null };
      if (star !== value.length - 1 || !value.endsWith('/*'))
        return `a star may only end a URI, after a slash (URI:spiffe://trust.example/ns/*), got "${raw}"`;
      const prefix = value.slice(0, -1);
      // `spiffe://*` or `spiffe:///*` would admit a whole scheme.
      if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]+\//i.test(prefix))
        return `a URI wildcard needs a scheme and an authority before it (URI:spiffe://trust.example/*), got "${raw}"`;
      return { kind: 'URI', exact: null, prefix };
    }
    case 'email': {
      const v = value.toLowerCase();
      const at = v.indexOf('@');
      if (at === -1 || at !== v.lastIndexOf('@')) return `expected email:user@example.com, got "${raw}"`;
      const local = v.slice(0, at);
      const domain = v.slice(at + 1);
      if (!dnsName(domain)) return `expected a domain after @ in "${raw}"`;
      if (local === '*') return { kind: 'email', exact: null, domain };
      if (local.length === 0 || !PRINTABLE.test(local) || local.includes('*'))
        return `expected email:user@example.com or email:*@example.com, got "${raw}"`;
      return { kind: 'email', exact: v, domain: null };
    }
    case 'ip': {
      const slash = value.indexOf('/');
      const addr = slash === -1 ? value : value.slice(0, slash);
      const family = isIP(addr);
      if (family === 0) return `expected IP:ADDRESS or IP:ADDRESS/BITS, got "${raw}"`;
      const bytes = ipBytes(addr, family as 4 | 6)!;
      const max = bytes.length * 8;
      let bits = max;
      if (slash !== -1) {
        const b = value.slice(slash + 1);
        if (!/^\d{1,3}$/.test(b) || Number(b) > max) return `"${raw}": the prefix length must be 0..${max}`;
        bits = Number(b);
        if (bits === 0) return `"${raw}" would admit every address`;
      }
      const key = maskedKey(bytes, bits);
      if (key !== maskedKey(bytes, max))
        return `"${raw}" has bits set past its /${bits} (did you mean ${networkText(bytes, bits, family as 4 | 6)}?)`;
      return { kind: 'IP', family: family as 4 | 6, bits, key };
    }
    default:
      return `expected DNS:, URI:, email: or IP: before the name, got "${raw}"`;
  }
}

/** Why a list entry is malformed (a config error), or null. Used by the config schema, per entry. */
export function allowEntryProblem(
  key: 'subjects' | 'subjectAltNames' | 'sha256Fingerprints' | 'serialNumbers',
  raw: string,
): string | null {
  if (raw.trim() === '') return 'an empty entry';
  switch (key) {
    case 'subjects':
      if (raw === '*') return '"*" alone would admit every certificate';
      return /[\x00-\x1f\x7f]/.test(raw) ? 'control characters in a subject' : null;
    case 'subjectAltNames': {
      const e = parseSan(raw);
      return typeof e === 'string' ? e : null;
    }
    case 'sha256Fingerprints':
      return HEX64.test(fingerprintHex(raw))
        ? null
        : `expected 64 hex digits (colons allowed), as openssl x509 -fingerprint -sha256 prints, got "${raw}"`;
    case 'serialNumbers':
      return /^[0-9a-f]{1,2}(:[0-9a-f]{2})*$|^[0-9a-f]+$/i.test(raw)
        ? null
        : `expected hex octets (a1:b2:... or A1B2...), got "${raw}"`;
  }
}

const fingerprintHex = (s: string): string => s.replace(/:/g, '').toLowerCase();

function fingerprintKey(s: string): string {
  return fingerprintHex(s)
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/** Hex without colons, lowercase, without leading zeros: `00:a1` and `A1` are the same serial. */
export function serialKey(s: string): string {
  const hex = s.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

/** Compile a list (already validated by the config schema). */
export function compileAllow(c: AllowConfig): AllowList {
  const dns = new Set<string>();
  const dnsSuffixes = new Set<string>();
  const uris = new Set<string>();
  const uriPrefixes = new Set<string>();
  const emails = new Set<string>();
  const emailDomains = new Set<string>();
  const networks = new Map<string, Set<string>>();
  for (const raw of c.subjectAltNames ?? []) {
    const e = parseSan(raw);
    if (typeof e === 'string') throw new Error(`allow.subjectAltNames: ${e}`);
    if (e.kind === 'DNS') (e.exact !== null ? dns : dnsSuffixes).add((e.exact ?? e.suffix)!);
    else if (e.kind === 'URI') (e.exact !== null ? uris : uriPrefixes).add((e.exact ?? e.prefix)!);
    else if (e.kind === 'email') (e.exact !== null ? emails : emailDomains).add((e.exact ?? e.domain)!);
    else {
      const k = `v${e.family}:${e.bits}`;
      let set = networks.get(k);
      if (!set) networks.set(k, (set = new Set()));
      set.add(e.key);
    }
  }
  const subjects = new Set(c.subjects ?? []);
  const fingerprints = new Set((c.sha256Fingerprints ?? []).map(fingerprintKey));
  const serials = new Set((c.serialNumbers ?? []).map(serialKey));
  return {
    size:
      subjects.size +
      fingerprints.size +
      serials.size +
      dns.size +
      dnsSuffixes.size +
      uris.size +
      uriPrefixes.size +
      emails.size +
      emailDomains.size +
      [...networks.values()].reduce((n, s) => n + s.size, 0),
    subjects,
    fingerprints,
    serials,
    dns,
    dnsSuffixes,
    uris,
    uriPrefixes,
    emails,
    emailDomains,
    networks,
  };
}

/** Which entry admitted the certificate (`subjectAltNames: DNS:*.example.com`), or null when none does. */
export function admittedBy(list: AllowList, cert: Pick<Cert, 'info'>): string | null {
  const i = cert.info;
  if (list.fingerprints.has(i.fingerprintSha256)) return `sha256Fingerprints: ${i.fingerprintSha256}`;
  if (list.subjects.has(i.subject)) return `subjects: ${i.subject}`;
  if (list.serials.size > 0 && list.serials.has(serialKey(i.serial))) return `serialNumbers: ${i.serial}`;
  for (const san of i.subjectAltNames) {
    const hit = sanAdmitted(list, san);
    if (hit !== null) return `subjectAltNames: ${hit}`;
  }
  return null;
}

/** The entry one SAN (as CertInfo prints it: `DNS:a.example`) matches, or null. */
export function sanAdmitted(list: AllowList, san: string): string | null {
  const colon = san.indexOf(':');
  const type = san.slice(0, colon);
  const value = san.slice(colon + 1);
  switch (type) {
    case 'DNS':
      return dnsAdmitted(list, value.toLowerCase());
    case 'URI': {
      if (list.uris.has(value)) return san;
      if (list.uriPrefixes.size === 0) return null;
      // Each prefix of the URI ending in a slash, longest first: as many lookups as it has slashes.
      for (let s = value.lastIndexOf('/', value.length - 2); s > 0; s = value.lastIndexOf('/', s - 1)) {
        const p = value.slice(0, s + 1);
        if (list.uriPrefixes.has(p)) return `URI:${p}*`;
      }
      return null;
    }
    case 'email': {
      const v = value.toLowerCase();
      if (list.emails.has(v)) return `email:${v}`;
      const d = v.slice(v.lastIndexOf('@') + 1);
      return list.emailDomains.has(d) ? `email:*@${d}` : null;
    }
    case 'IP':
      return ipAdmitted(list, value);
    default:
      return null;
  }
}

/** `*.example.com` admits exactly one more label, never one that is itself a star. */
export function dnsAdmitted(list: { dns: ReadonlySet<string>; dnsSuffixes: ReadonlySet<string> }, name: string) {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (list.dns.has(n)) return `DNS:${n}`;
  const dot = n.indexOf('.');
  // The label the star stands for must be a real one: not a star, not escaped bytes (`\x0d`) of a hostile SAN.
  if (dot <= 0 || !LABEL.test(n.slice(0, dot))) return null;
  const suffix = n.slice(dot);
  return list.dnsSuffixes.has(suffix) ? `DNS:*${suffix}` : null;
}

/** One lookup per prefix length the list uses (at most 33 for IPv4, 129 for IPv6). */
export function ipAdmitted(list: { networks: ReadonlyMap<string, ReadonlySet<string>> }, addr: string) {
  const family = isIP(addr) as 0 | 4 | 6;
  if (family === 0 || list.networks.size === 0) return null;
  const bytes = ipBytes(addr, family)!;
  const v = `v${family}:`;
  for (const [k, set] of list.networks) {
    if (!k.startsWith(v)) continue;
    const bits = Number(k.slice(v.length));
    if (set.has(maskedKey(bytes, bits))) return `IP:${networkText(bytes, bits, family)}`;
  }
  return null;
}

/** The address's bytes (4 or 16); null when it is none. */
export function ipBytes(addr: string, family: 4 | 6): Uint8Array | null {
  if (family === 4) {
    const parts = addr.split('.').map(Number);
    return parts.length === 4 ? Uint8Array.from(parts) : null;
  }
  let a = addr;
  // An embedded IPv4 tail (::ffff:10.0.0.1): as two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** The first `bits` bits as hex, the rest zeroed. */
export function maskedKey(bytes: Uint8Array, bits: number): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const b = bytes[i]! & ((0xff00 >> keep) & 0xff);
    out += (b < 16 ? '0' : '') + b.toString(16);
  }
  return out;
}

function networkText(bytes: Uint8Array, bits: number, family: 4 | 6): string {
  const masked = Uint8Array.from(bytes, (b, i) => b & ((0xff00 >> Math.max(0, Math.min(8, bits - i * 8))) & 0xff));
  const addr =
    family === 4
      ? Array.from(masked).join('.')
      : Array.from({ length: 8 }, (_, i) => ((masked[i * 2]! << 8) | masked[i * 2 + 1]!).toString(16)).join(':');
  return bits === bytes.length * 8 ? addr : `${addr}/${bits}`;
}

/** The certificate's SANs by type, for the doctor: `{ DNS: [...], URI: [...], ... }`. */
export function sansByType(cert: Pick<Cert, 'info'>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const san of cert.info.subjectAltNames) {
    const colon = san.indexOf(':');
    (out[san.slice(0, colon)] ??= []).push(san.slice(colon + 1));
  }
  return out;
}
