/** TLS alerts: names by number (RFC 8446 §6, RFC 5246 §7.2), and the alert inside a Node/OpenSSL error. */

const NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

export function alertName(n: number): string {
  return NAMES[n] ?? `alert_${n}`;
}

/** Alerts a server sends about the client's certificate. */
export const CERT_REJECT_ALERTS: ReadonlySet<number> = new Set([42, 43, 44, 45, 46, 48, 49]);

/**
 * The alert a peer sent, read from a Node TLS error: OpenSSL ends the message with "SSL alert number N", and
 * Node's code names it (ERR_SSL_TLSV1_ALERT_UNKNOWN_CA, ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE, ...).
 */
export function alertFromError(e: { code?: string | undefined; message?: string | undefined }): number | null {
  const m = /SSL alert number (\d+)/.exec(e.message ?? '');
  if (m) return Number(m[1]);
  const code = e.code ?? '';
  if (!/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(code)) return null;
  const name = code.replace(/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/, '').toLowerCase();
  for (const [n, v] of Object.entries(NAMES)) if (v === name) return Number(n);
  return null;
}
