/**
 * The listener's connections: admission per client address (limits.maxConnectionsPerAddress), tracking from the
 * first TCP byte to the close, and the drain at shutdown.
 */
import type https from 'node:https';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Runtime } from './context.js';
import { releaseConnection } from './listener.js';

export interface Connections {
  /** The connections past their TLS handshake. */
  tlsSockets(): Iterable<TLSSocket>;
  /**
   * Stop accepting, end what is unused, let requests in progress finish until `deadlineMs`, then end the rest.
   * Resolves once the listener is closed.
   */
  drain(deadlineMs: number): Promise<void>;
}

export function trackConnections(server: https.Server, rt: Runtime, perAddressMax: number | undefined): Connections {
  // limits.maxConnectionsPerAddress: one client address cannot hold every connection of maxConnections. Closed at
  // once, before a TLS byte, as over maxConnections; counted, not logged (a flood would flood the log).
  if (perAddressMax !== undefined) {
    const open = new Map<string, number>();
    const gated = gateConnections(server, (raw) => {
      const addr = raw.remoteAddress ?? '';
      const n = (open.get(addr) ?? 0) + 1;
      if (n > perAddressMax) {
        rt.metrics.connectionsDroppedPerAddress++;
        return false;
      }
      open.set(addr, n);
      raw.once('close', () => {
        const left = open.get(addr)! - 1;
        if (left === 0) open.delete(addr);
        else open.set(addr, left);
      });
      return true;
    });
    if (!gated) {
      rt.log.warn(
        'limits.maxConnectionsPerAddress: this Node version wires TLS connections differently; ' +
          'refused connections are logged as failed handshakes',
      );
    }
  }
  server.on('drop', () => {
    rt.metrics.connectionsDropped++;
  });

  // Every client connection until it closes, by remote address and port (unique on one listener): its TCP socket,
  // and its TLS socket once the handshake is done. Only drain() reads it: see closeUnused().
  const connections = new Map<string, { raw: Socket; tls: TLSSocket | null }>();
  server.on('connection', (raw: Socket) => {
    const key = `${raw.remoteAddress} ${raw.remotePort}`;
    const c = { raw, tls: null as TLSSocket | null };
    connections.set(key, c);
    raw.once('close', () => {
      if (connections.get(key) === c) connections.delete(key);
      if (c.tls !== null) releaseConnection(c.tls);
    });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const c = connections.get(`${socket.remoteAddress} ${socket.remotePort}`);
    if (c) c.tls = socket;
  });

  /**
   * At shutdown, end the connections that have not sent a byte of a request: those still in their TLS handshake
   * (Node's closeIdleConnections() and closeAllConnections() only know connections past it, so a silent TCP client
   * held the process past the drain deadline, until timeouts.handshakeMs), and those past it that have sent nothing
   * (Node counts a connection busy until its first request is complete, so they waited for the deadline). A
   * connection with any request bytes in (bytesRead counts the decrypted bytes the HTTP parser got) is left to
   * finish its request; idle keep-alive connections are Node's closeIdleConnections()'.
   */
  const closeUnused = (): void => {
    for (const c of connections.values()) {
      if (c.tls === null) c.raw.destroy();
      else if (c.tls.bytesRead === 0) c.tls.destroy();
    }
  };

  return {
    *tlsSockets() {
      for (const c of connections.values()) if (c.tls !== null) yield c.tls;
    },
    async drain(deadlineMs) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      closeUnused();
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        server.closeAllConnections();
        // And whatever Node's list does not hold (a connection still in its handshake holds the process too).
        for (const c of connections.values()) (c.tls ?? c.raw).destroy();
      }, deadlineMs);
      // A keep-alive connection busy at close() turns idle once answered: close it then, not at the deadline.
      const sweep = setInterval(() => server.closeIdleConnections(), 200);
      await closed;
      clearTimeout(timer);
      clearInterval(sweep);
    },
  };
}

/**
 * Puts `admit` in front of the TLS server's own connection listener, so a refused TCP connection is closed before
 * Node wraps it in a TLSSocket: no TLS state is made for it, and no 'tlsClientError' (a failed-handshake log line)
 * follows. A tls.Server has exactly that one 'connection' listener when made; if not (another Node), the refused
 * connection is still closed, only after the wrap. Returns whether the gate sits in front.
 */
function gateConnections(server: TlsServer, admit: (raw: Socket) => boolean): boolean {
  const listeners = server.listeners('connection') as ((this: TlsServer, raw: Socket) => void)[];
  if (listeners.length !== 1) {
    server.prependListener('connection', (raw: Socket) => void (admit(raw) || raw.destroy()));
    return false;
  }
  const tlsListener = listeners[0]!;
  server.removeListener('connection', tlsListener);
  server.on('connection', function (this: TlsServer, raw: Socket) {
    if (admit(raw)) tlsListener.call(this, raw);
    else raw.destroy();
  });
  return true;
}
