/**
 * The TLS listener: its own TLS settings, the SNI callback that picks a domain's context, the end of each
 * handshake (the connection's context is completed there), handshake failures, and session tickets (rotation on
 * reload, resumption on or off as the state allows).
 */
import { constants } from 'node:crypto';
import https from 'node:https';
import type { SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import type { GatewayConfig } from './config.js';
import { connectionContext, type ConnectionContext, type Runtime } from './context.js';
import { connectionDomain, refuseWithoutCertificate } from './pipeline.js';
import { countHandshake, NO_DOMAIN } from './metrics.js';
import { TLS12_CIPHERS, type GatewayState } from './state.js';
import { readTicketKeys, type TicketKeyRing } from './ticket-keys.js';
import { NOT_PRESENTED, tlsPresentation } from './verify.js';
import { unmodelledExtension } from '../policy/rules.js';

const kConn = Symbol('mtlsgate.connection');
type GatewaySocket = TLSSocket & { [kConn]?: ConnectionContext };

/**
 * The connection's context, made by the SNI callback (which is given the name before the socket has it) or, for a
 * session that skipped that callback, on first use.
 */
export function connectionOf(socket: TLSSocket, servername: unknown = socket.servername): ConnectionContext {
  const s = socket as GatewaySocket;
  let conn = s[kConn];
  if (conn === undefined) {
    conn = connectionContext({
      servername: String(servername || ''),
      protocol: socket.getProtocol(),
      remoteAddress: socket.remoteAddress ?? '',
      presented: NOT_PRESENTED,
    });
    s[kConn] = conn;
  }
  return conn;
}

/**
 * Drop what a closed connection holds of the state. A closed socket lives until a full GC, and a reload in
 * between would otherwise keep that generation's domain (its TLS context, its truststore) alive with it.
 */
export function releaseConnection(socket: TLSSocket): void {
  const conn = (socket as GatewaySocket)[kConn];
  if (conn === undefined) return;
  conn.domain = undefined;
  conn.stateGeneration = -1;
  conn.verdict = null;
  conn.requestLog = null;
  conn.requestLogFor = null;
  conn.allowed = null;
}

export interface Listener {
  server: https.Server;
  /** After a reload: the ticket hook on the new domains' contexts, new ticket keys, resumption on or off. */
  refresh(): Promise<void>;
}

export function createListener(cfg: GatewayConfig, rt: Runtime, tickets: TicketKeyRing): Listener {
  let noResumption = resumptionOff(rt.state);
  let lifetimeSec = rt.state.config.tls.sessionLifetimeSec;
  if (noResumption) rt.log.info({ reason: noResumption }, 'TLS session resumption off');

  /**
   * The listener's own TLS settings (the SNI callback switches to a domain's context for its certificate, but
   * OpenSSL keeps these from the listener's). Session tickets are on unless resumptionOff() says otherwise: a
   * resumed session skips the SNI callback, so each one is judged again against its request's domain (verify.ts,
   * decideWithoutHandshake).
   */
  const listenerTls = (resumable: boolean): SecureContextOptions => ({
    // No client-initiated renegotiation (API Gateway refuses it too): a TLS 1.2 client could present another
    // certificate on the open connection, and Node never resets socket.authorized (nor our cached verdict) from it.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | (resumable ? 0 : constants.SSL_OP_NO_TICKET),
    // Used only where the ticket hook is missing (see ticket-keys.ts): then tickets are not renewed on resumption.
    ticketKeys: tickets.current,
    sessionTimeout: rt.state.config.tls.sessionLifetimeSec,
    // The same on every worker and replica (Node's default hashes the command line): TLS 1.2 sessions resume only
    // where the session id context matches.
    sessionIdContext: 'mtlsgate',
    minVersion: 'TLSv1.2',
    // OpenSSL keeps the cipher list of the listener's context when the SNI callback switches contexts, so the
    // domains' TLS 1.2 suites only hold if the listener has them too (else Node's defaults: CBC-SHA1, CCM, ARIA...).
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
  });

  const server = https.createServer({
    ...listenerTls(noResumption === null),
    // A function, not an arrow: Node calls it with the TLSSocket as `this`.
    SNICallback: function (this: TLSSocket, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) {
      const conn = connectionOf(this, servername);
      connectionDomain(rt, conn, conn.servername);
      const d = conn.domain;
      if (!d) return cb(new Error(`unknown server name "${servername}"`));
      // OpenSSL has chosen the protocol version before it asks for the SNI context, so the context's minVersion
      // never applies: enforce the domain's securityPolicy here (the version is known by now).
      const protocol = this.getProtocol();
      if (d.config.securityPolicy === 'TLS_1_3' && protocol !== 'TLSv1.3') {
        return cb(new Error(`${d.name}: securityPolicy TLS_1_3 refuses ${protocol ?? 'an older protocol'}`));
      }
      // noCertificate: handshake: OpenSSL itself ends the handshake when no certificate comes (TLS 1.3 alert 116
      // certificate_required, TLS 1.2 handshake_failure), as API Gateway does. A presented certificate still
      // completes the handshake (Node's verify callback accepts every certificate) and is judged per request.
      if (d.config.mutualTls.noCertificate === 'handshake') requireClientCertificate(this);
      cb(null, d.secureContext);
    },
    requestCert: true,
    // The handshake completes for any presented certificate; the verdict is the policy's, per request (403).
    rejectUnauthorized: false,
    handshakeTimeout: cfg.timeouts.handshakeMs,
    maxHeaderSize: cfg.limits.maxHeaderBytes,
    // Node checks headersTimeout/requestTimeout only this often (default 30 s), so headersMs: 10000 meant 10-40 s.
    connectionsCheckingInterval: Math.min(1000, cfg.timeouts.headersMs, cfg.timeouts.requestMs),
    // No default certificate: a client without SNI cannot complete a handshake.
  });
  server.headersTimeout = cfg.timeouts.headersMs;
  server.requestTimeout = cfg.timeouts.requestMs;
  server.keepAliveTimeout = cfg.timeouts.idleMs;
  server.maxConnections = cfg.limits.maxConnections;

  let ticketHookMissingLogged = false;
  /** The ticket callback on the listener's context and every domain's (Node calls it on the one a connection uses). */
  const installTicketHook = (): void => {
    let ok = tickets.install((server as unknown as { _sharedCreds?: { context?: unknown } })._sharedCreds?.context);
    for (const d of rt.state.domains.values()) ok = tickets.install(d.secureContext.context) && ok;
    if (!ok && !ticketHookMissingLogged) {
      ticketHookMissingLogged = true;
      rt.log.warn(
        'this Node has no TLS ticket-key hook: resumed TLS 1.3 sessions get no fresh ticket, ' +
          'so clients resume every other connection',
      );
    }
  };
  installTicketHook();

  // Prepended: it must run before https' own listener hands the socket to the HTTP parser, or a request already
  // sent on a refused connection is still served (and logged as a denial the client never sees).
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const conn = connectionOf(socket);
    conn.protocol = socket.getProtocol();
    conn.presented = tlsPresentation(socket);
    // A resumed TLS 1.2 session without a server name (OpenSSL 3.0 kept none; 3.5 does): its requests' Host names
    // the domain (counted under none: the Host is the client's choice).
    if (conn.servername === '' && conn.presented.resumed) return countHandshake(rt.metrics, NO_DOMAIN, true, true);
    connectionDomain(rt, conn, conn.servername);
    const d = conn.domain;
    countHandshake(rt.metrics, d?.name ?? NO_DOMAIN, true, conn.presented.resumed);
    if (!d) {
      // Only reachable if a reload removed the domain during this handshake: say so rather than vanish.
      const where = { remote: socket.remoteAddress, servername: socket.servername || null };
      rt.log.info(where, 'connection closed: no domain for this server name');
      return void socket.destroy();
    }
    if (d.config.mutualTls.noCertificate === 'handshake' && conn.presented.peer === null) {
      refuseWithoutCertificate(rt, d.name, socket.remoteAddress);
      socket.destroy();
    }
  });

  server.on('tlsClientError', (err, socket) => {
    rt.metrics.handshakeErrors++;
    // The domain the SNI callback found, if it ran: a configured name, never the one the client sent.
    countHandshake(rt.metrics, (socket as GatewaySocket)[kConn]?.domain?.name ?? NO_DOMAIN, false, false);
    if ((err as NodeJS.ErrnoException).code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') {
      const conn = connectionOf(socket as TLSSocket);
      connectionDomain(rt, conn, conn.servername);
      refuseWithoutCertificate(rt, conn.domain?.name ?? null, socket.remoteAddress);
    } else {
      rt.log.info({ remote: socket.remoteAddress, error: err.message.split('\n')[0] }, 'tls handshake failed');
    }
    releaseConnection(socket as TLSSocket);
  });

  return {
    server,
    async refresh() {
      installTicketHook();
      const config = rt.state.config;
      if (config.tls.ticketKeyFile) {
        try {
          const keys = await readTicketKeys(config.tls.ticketKeyFile);
          if (!keys.equals(tickets.current)) {
            // Tickets sealed with the old keys still resume (and are renewed under the new ones) until the next change.
            tickets.rotate(keys);
            server.setTicketKeys(keys);
            rt.log.info('TLS session ticket keys changed');
          }
        } catch (e) {
          rt.log.error({ error: (e as Error).message }, 'reload: kept the previous TLS session ticket keys');
        }
      }
      const off = resumptionOff(rt.state);
      if (off !== noResumption || config.tls.sessionLifetimeSec !== lifetimeSec) {
        noResumption = off;
        lifetimeSec = config.tls.sessionLifetimeSec;
        server.setSecureContext(listenerTls(off === null));
        installTicketHook();
        rt.log.info(off ? { reason: off } : {}, off ? 'TLS session resumption off' : 'TLS session resumption on');
      }
    },
  };
}

/** SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT on this connection only (Node has no per-socket API for it). */
function requireClientCertificate(socket: TLSSocket): void {
  type Handle = { setVerifyMode?: (requestCert: boolean, rejectUnauthorized: boolean) => void };
  (socket as unknown as { _handle?: Handle })._handle?.setVerifyMode?.(true, true);
}

/**
 * Why TLS session resumption must stay off for this state, or null. A resumed session is judged by the policy's
 * model (it carries neither a fresh OpenSSL verdict nor the client's intermediates), so resumption is on only where
 * the model can judge every client: no domain completing paths with client intermediates, no truststore CA with an
 * extension the model does not evaluate.
 */
function resumptionOff(state: GatewayState): string | null {
  if (!state.config.tls.sessionResumption) return 'tls.sessionResumption is false';
  for (const d of state.domains.values()) {
    if (d.config.mutualTls.trustClientIntermediates) {
      return (
        `${d.name}: mutualTls.trustClientIntermediates is true ` +
        "(a resumed session does not carry the client's intermediates)"
      );
    }
    for (const c of d.verify.truststore.certs) {
      const ext = unmodelledExtension(c);
      if (ext !== null) {
        return `${d.name}: truststore CA ${c.info.subject} has ${ext}, which only a full handshake checks`;
      }
    }
  }
  return null;
}
