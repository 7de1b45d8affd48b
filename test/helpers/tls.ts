/**
 * The one TLS connect helper of the tests: a TLS connection to 127.0.0.1 with SNI, client certificate, key and the
 * CA of the gateway's server certificate, resolved once the handshake is done.
 */
import tls from 'node:tls';

export interface TlsTarget {
  port: number;
  /** SNI; false sends none (connect by IP address; the server's name is then not checked, its CA still is). */
  servername: string | false;
  /** The CA that signed the gateway's server certificate. */
  ca: string;
  /** PEM: the client certificate, then whatever intermediates the client sends. */
  cert?: string;
  key?: string;
}

/**
 * Connect and handshake; resolves with the socket (socket.authorized, getProtocol(), ...), or rejects with the
 * handshake or connection error. `extra` adds or overrides any tls.connect option; `timeoutMs` (default: none)
 * destroys a handshake that has not finished by then, with the code E2E_TIMEOUT.
 */
export function tlsConnect(
  t: TlsTarget,
  extra: tls.ConnectionOptions & { timeoutMs?: number } = {},
): Promise<tls.TLSSocket> {
  const { timeoutMs, ...options } = extra;
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port: t.port,
      ...(t.servername !== false ? { servername: t.servername } : { checkServerIdentity: () => undefined }),
      ca: t.ca,
      ...(t.cert !== undefined ? { cert: t.cert } : {}),
      ...(t.key !== undefined ? { key: t.key } : {}),
      ...options,
    });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => s.destroy(Object.assign(new Error('handshake timed out'), { code: 'E2E_TIMEOUT' })),
            timeoutMs,
          );
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve(s);
    });
    const onError = (e: Error): void => {
      clearTimeout(timer);
      reject(e);
    };
    s.once('error', onError);
  });
}
