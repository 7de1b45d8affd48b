/**
 * OpenSSL's verdict on a client certificate, obtained the way the gateway obtains it: a real TLS handshake
 * between a Node server that trusts the truststore (requestCert, rejectUnauthorized false) and a Node client
 * presenting the certificate, its chain and its key, over loopback on an ephemeral port.
 */
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { opensslResultOf } from './node-tls.js';
import type { OpenSslResult } from './verdict.js';
import { loopbackServerIdentity } from './loopback-identity.js';

export interface LoopbackInput {
  /** Leaf first, then whatever the client would send. */
  chainPem: string;
  key: KeyObject;
  /** The truststore as PEM; an empty string trusts nothing (never Node's default roots). */
  truststorePem: string;
  timeoutMs?: number;
}

export type LoopbackResult = OpenSslResult | { error: string };

export async function loopbackVerdict(input: LoopbackInput): Promise<LoopbackResult> {
  const id = await loopbackServerIdentity();
  const timeoutMs = input.timeoutMs ?? 5000;
  return new Promise<LoopbackResult>((resolve) => {
    let settled = false;
    const finish = (r: LoopbackResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      server.close();
      resolve(r);
    };
    const server = tls.createServer(
      {
        key: id.keyPem,
        cert: id.certPem,
        // An empty `ca` array keeps Node from loading its bundled public roots: trust exactly the truststore.
        ca: input.truststorePem ? [input.truststorePem] : [],
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      (socket) => {
        finish(opensslResultOf(socket));
        socket.destroy();
      },
    );
    server.on('tlsClientError', (err) => finish({ error: `loopback handshake failed: ${err.message}` }));
    const timer = setTimeout(() => finish({ error: `loopback handshake timed out after ${timeoutMs} ms` }), timeoutMs);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      let client: tls.TLSSocket;
      try {
        client = tls.connect({
          host: '127.0.0.1',
          port,
          servername: 'mtlsgate-loopback',
          // Security level 0 on the client only, so that SHA-1 or small keys are sent and the server (at Node's
          // default level, like the gateway) is the one that judges them.
          ciphers: 'DEFAULT@SECLEVEL=0',
          cert: input.chainPem,
          // Node's TLS options take PEM, not KeyObject; the export stays in memory.
          key: input.key.export({ type: 'pkcs8', format: 'pem' }),
          rejectUnauthorized: false,
        });
      } catch (err) {
        // The client could not even load the certificate and key (e.g. they do not match).
        finish({ error: `loopback client could not load the certificate and key: ${(err as Error).message}` });
        return;
      }
      client.on('error', (err) => {
        if (!settled) finish({ error: `loopback client failed: ${err.message}` });
      });
      client.on('secureConnect', () => client.end());
    });
  });
}
