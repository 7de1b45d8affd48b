/**
 * Headers the gateway owns. Whatever a client sends under these names is removed before forwarding, then the
 * gateway sets its own from the verified connection. Names are lowercase (Node gives lowercase header keys).
 */
import type { Cert } from '../pki/types.js';

/** Hop-by-hop (RFC 9110 §7.6.1) plus headers only the gateway may set (a client could otherwise spoof them). */
const DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node's server answers `Expect: 100-continue` itself; forwarded, undici refuses the request (a 502).
  'expect',
  'host',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  'client-cert',
  'client-cert-chain',
  'x-amzn-requestid',
  // httpoxy (CVE-2016-5385 and kin): CGI-style backends turn `Proxy` into HTTP_PROXY, which their HTTP clients use
  // as their outbound proxy. No standard header has this name.
  'proxy',
]);

export function isGatewayOwned(name: string): boolean {
  // `Client_Cert` is `Client-Cert` to CGI-style backends (PHP, WSGI, Rack: both are HTTP_CLIENT_CERT).
  const n = name.includes('_') ? name.replace(/_/g, '-') : name;
  // All of X-Forwarded-*, not only the For/Proto/Host the gateway sets: backends read others too (Prefix, Port,
  // Ssl, Scheme, Server, Client-Cert, Tls-Client-Cert), and only the gateway speaks for the connection.
  // x-authorizer-*: a Lambda authorizer's context, set only by the gateway.
  return DROP.has(n) || n.startsWith('x-client-cert') || n.startsWith('x-forwarded-') || n.startsWith('x-authorizer-');
}

/** Identity headers for a verified client certificate, computed once per connection. */
export function clientCertHeaders(leaf: Cert, sentChain: readonly Cert[]): Record<string, string> {
  const i = leaf.info;
  const h: Record<string, string> = {
    // RFC 9440: the DER certificate as a structured-field byte sequence.
    'client-cert': `:${leaf.der.toString('base64')}:`,
    'x-client-cert-subject-dn': headerSafe(i.subject),
    'x-client-cert-issuer-dn': headerSafe(i.issuer),
    'x-client-cert-serial': i.serial,
    'x-client-cert-not-before': asn1TimePrint(i.notBefore),
    'x-client-cert-not-after': asn1TimePrint(i.notAfter),
    'x-client-cert-sha256': i.fingerprintSha256.replace(/:/g, '').toLowerCase(),
  };
  if (sentChain.length > 0) h['client-cert-chain'] = sentChain.map((c) => `:${c.der.toString('base64')}:`).join(', ');
  return h;
}

/**
 * DNs are RFC 4514 strings in which the parser already escaped control characters; this is the last line of
 * defence: anything outside visible ASCII and space is percent-encoded so no value can split a header.
 */
export function headerSafe(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : s.replace(/[^\x20-\x7e]/gu, (ch) => encodeURIComponent(ch));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * OpenSSL's ASN1_TIME_print, as API Gateway's clientCert.validity fields: `May 28 12:30:02 2019 GMT`, day space-padded.
 */
export function asn1TimePrint(iso: string): string {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}
