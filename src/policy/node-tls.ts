/** Reading OpenSSL's verdict off a Node TLS server socket (shared by the gateway and the doctor's loopback). */
import type { TLSSocket } from 'node:tls';
import { normalizeNodeCode } from './defect.js';
import type { OpenSslResult } from './verdict.js';

interface VerifyHandle {
  verifyError?: () => (Error & { code?: string }) | null;
}

/**
 * Node 24 appends a hint to some verify errors ("self-signed certificate; if the root CA is installed locally, try
 * running Node.js with --use-system-ca"): it is about Node's own client trust, not a gateway's, so OpenSSL's text is
 * kept alone (docs/node-openssl.md).
 */
const NODE_HINT = /; if the root CA is installed locally, try running Node\.js with --use-system-ca$/;

export function openSslText(message: string): string {
  return message.replace(NODE_HINT, '');
}

/**
 * `socket.authorizationError` holds only Node's code, which is UNSPECIFIED for most of OpenSSL's errors; the
 * handle's verifyError() (what Node itself builds authorizationError from) also carries OpenSSL's text, from
 * which the real code is recovered (CA_MD_TOO_WEAK, EE_KEY_TOO_SMALL, ...).
 */
export function opensslResultOf(socket: TLSSocket): OpenSslResult {
  if (socket.authorized) return { authorized: true, code: null, message: null };
  const handle = (socket as unknown as { _handle?: VerifyHandle })._handle;
  const err = handle?.verifyError?.() ?? null;
  const raw = typeof socket.authorizationError === 'string' ? socket.authorizationError : (err?.code ?? null);
  const message = err?.message ? openSslText(err.message) : null;
  return { authorized: false, code: normalizeNodeCode(raw, message), message };
}

/**
 * The warning for a Node release that hands the server only the client's own certificate, never what it sent after
 * it (nodejs/node#65579: 24.21.x and 26.8.x): such clients are refused and Client-Cert-Chain is empty. Null otherwise.
 */
export function clientChainWarning(nodeVersion: string): string | null {
  if (!/^v?(24\.21|26\.8)\./.test(nodeVersion)) return null;
  return (
    `Node ${nodeVersion} drops the certificates a client sends after its own (nodejs/node#65579): clients that send ` +
    'their intermediates are refused and Client-Cert-Chain is empty; run Node 24.22 or later'
  );
}
