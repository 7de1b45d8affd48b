/**
 * Where the probe connects: the URL's host and port, curl's --connect-to and --resolve applied the way curl
 * applies them, then DNS. The name in the URL stays the TLS server name (SNI), the name checked against the
 * server's certificate and the Host header, whatever address is dialled.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { UserError } from '../../errors.js';
import { maskUrlPassword } from '../url-mask.js';

/** The live probe's whole time limit unless --timeout says. */
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface Target {
  url: string;
  /** The URL's host, without IPv6 brackets, lower-case. */
  host: string;
  port: number;
  /** Path and query, as sent in the request line. */
  path: string;
  /** Host header value: host[:port] (port only when not 443), IPv6 in brackets. */
  hostHeader: string;
  /** SNI: the host, or '' for an IP literal (RFC 6066 allows names only). */
  servername: string;
  /** Where to connect after --connect-to. */
  connectHost: string;
  connectPort: number;
  /** Addresses from --resolve for (connectHost, connectPort), or null when DNS decides. */
  pinned: string[] | null;
  /** The option entries that changed where we connect, to show in evidence. */
  applied: string[];
}

/** Checks a probe URL: an https URL with a host; anything else is a usage error (the doctor probes HTTPS only). */
export function parseTarget(
  rawUrl: string,
  resolve: readonly string[] = [],
  connectTo: readonly string[] = [],
): Target {
  const url = maskUrlPassword(rawUrl); // what is shown; the probe sends no credentials
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    throw new UserError('E_BAD_URL', `--url: "${url}" is not a URL; give https://host[:port]/path`);
  }
  if (u.protocol === 'http:') {
    throw new UserError(
      'E_BAD_URL',
      `--url: ${url} is plain HTTP; the doctor probes HTTPS (mutual TLS) only. Use https://${u.host}${u.pathname === '/' ? '' : u.pathname}`,
    );
  }
  if (u.protocol !== 'https:')
    throw new UserError('E_BAD_URL', `--url: the doctor probes https:// URLs only, not ${u.protocol}`);
  if (u.hostname === '') throw new UserError('E_BAD_URL', `--url: "${url}" has no host`);
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = u.port === '' ? 443 : Number(u.port);
  const applied: string[] = [];
  let connectHost = host;
  let connectPort = port;
  for (const entry of connectTo) {
    const c = parseConnectTo(entry);
    if ((c.host === '' || c.host === host) && (c.port === null || c.port === port)) {
      if (c.toHost !== '') connectHost = c.toHost;
      if (c.toPort !== null) connectPort = c.toPort;
      applied.push(`--connect-to ${entry}`);
      break; // curl uses the first matching entry
    }
  }
  let pinned: string[] | null = null;
  for (const entry of resolve) {
    const r = parseResolve(entry);
    if (r.remove) continue;
    if ((r.host === '*' || r.host === connectHost) && r.port === connectPort) {
      pinned = r.addresses;
      applied.push(`--resolve ${entry}`);
      break;
    }
  }
  const v6 = isIP(host) === 6;
  const hostPart = v6 ? `[${host}]` : host;
  return {
    url,
    host,
    port,
    path: (u.pathname || '/') + u.search,
    hostHeader: port === 443 ? hostPart : `${hostPart}:${port}`,
    servername: isIP(host) === 0 ? host : '',
    connectHost,
    connectPort,
    pinned,
    applied,
  };
}

/** curl --resolve `[+]host:port:addr[,addr]...` (also `-host:port` to remove, `*` for any host). */
export function parseResolve(entry: string): { host: string; port: number; addresses: string[]; remove: boolean } {
  const bad = (): never => {
    throw new UserError('E_BAD_RESOLVE', `--resolve: "${entry}" is not host:port:address[,address]`);
  };
  let s = entry.trim();
  const remove = s.startsWith('-');
  if (s.startsWith('+') || remove) s = s.slice(1);
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)(?::(.*))?$/.exec(s);
  if (!m) return bad();
  const port = Number(m[2]);
  if (port > 65535) return bad();
  const host = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  if (remove) return { host, port, addresses: [], remove };
  const addresses = (m[3] ?? '')
    .split(',')
    .map((a) => a.trim().replace(/^\[|\]$/g, ''))
    .filter((a) => a !== '');
  if (addresses.length === 0) return bad();
  for (const a of addresses) {
    if (isIP(a) === 0) throw new UserError('E_BAD_RESOLVE', `--resolve: "${a}" in "${entry}" is not an IP address`);
  }
  return { host, port, addresses, remove };
}

/** curl --connect-to `HOST1:PORT1:HOST2:PORT2`; empty parts mean "any" (1) or "unchanged" (2). */
export function parseConnectTo(entry: string): {
  host: string;
  port: number | null;
  toHost: string;
  toPort: number | null;
} {
  const m = /^(\[[^\]]*\]|[^:]*):(\d*):(\[[^\]]*\]|[^:]*):(\d*)$/.exec(entry.trim());
  const num = (s: string): number | null => {
    if (s === '') return null;
    const n = Number(s);
    if (n > 65535) throw new UserError('E_BAD_CONNECT_TO', `--connect-to: port ${s} in "${entry}" is out of range`);
    return n;
  };
  if (!m)
    throw new UserError(
      'E_BAD_CONNECT_TO',
      `--connect-to: "${entry}" is not HOST1:PORT1:HOST2:PORT2 (parts may be empty)`,
    );
  const unbracket = (h: string): string => h.replace(/^\[|\]$/g, '').toLowerCase();
  return { host: unbracket(m[1]!), port: num(m[2]!), toHost: unbracket(m[3]!), toPort: num(m[4]!) };
}

export type Resolved = { ok: true; addresses: string[] } | { ok: false; code: string; error: string; timeout: boolean };

/** The addresses to try, in order: pinned ones, the IP literal itself, or DNS (bounded by `timeoutMs`). */
export async function resolveTarget(t: Target, timeoutMs: number): Promise<Resolved> {
  if (t.pinned) return { ok: true, addresses: t.pinned };
  if (isIP(t.connectHost) !== 0) return { ok: true, addresses: [t.connectHost] };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Resolved>((r) => {
    timer = setTimeout(
      () =>
        r({
          ok: false,
          code: 'ETIMEOUT',
          error: `no DNS answer for ${t.connectHost} within ${timeoutMs} ms`,
          timeout: true,
        }),
      Math.max(1, timeoutMs),
    );
  });
  const query = lookup(t.connectHost, { all: true, verbatim: true }).then(
    (list): Resolved =>
      list.length
        ? { ok: true, addresses: list.map((a) => a.address) }
        : { ok: false, code: 'ENOTFOUND', error: `${t.connectHost} has no address`, timeout: false },
    (e: NodeJS.ErrnoException): Resolved => ({ ok: false, code: e.code ?? 'ERROR', error: e.message, timeout: false }),
  );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
