/**
 * The serving core: one TLS listener, a server certificate per domain chosen by SNI, the shared verification
 * policy per connection, base-path routing to backends, and an admin listener. State is built before serving and
 * swapped whole on reload (see state.ts); open connections are never dropped by a reload.
 */
import { constants, randomUUID } from 'node:crypto';
import https from 'node:https';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, SecureContextOptions, Server as TlsServer, TLSSocket } from 'node:tls';
import { loadConfig, type GatewayConfig } from './config.js';
import { TLS12_CIPHERS, buildState, lookupDomain, type DomainLoadError, type DomainState, type GatewayState } from './state.js';
import { peerCertificate, verifyConnection, type ConnectionVerdict } from './verify.js';
import { matchRoute, unsafeTarget } from './routes.js';
import { closePools, forward, retainPools } from './proxy.js';
import { sendJson } from './respond.js';
import { countRequest, inc, newMetrics, NO_DOMAIN, renderMetrics, type Metrics } from './metrics.js';
import type { Logger } from './log.js';
import { handleAdmin, type AdminDeps } from './admin.js';
import { randomTicketKeys, readTicketKeys, ticketKeyRing } from './ticket-keys.js';
import { unmodelledExtension } from '../policy/rules.js';
import { verdictFields } from '../policy/verdict.js';
import type { CliErrorCode } from '../errors.js';
import { MAX_CA_NAMES_BYTES } from '../trust/truststore.js';
import { cutText } from '../report/text.js';

export interface ReloadResult {
  ok: boolean;
  errors: DomainLoadError[];
  warnings: string[];
}

export interface Gateway {
  address(): AddressInfo;
  adminAddress(): AddressInfo | null;
  reload(): Promise<ReloadResult>;
  close(deadlineMs?: number): Promise<void>;
  state(): GatewayState;
  metrics: Metrics;
  /** What the admin endpoints answer from (a worker answers its primary with it). */
  admin: AdminDeps;
}

const kVerdict = Symbol('mtlsgate.verdict');
/** The connection's latest response: a client error must not be answered once it has begun. */
const kLastResponse = Symbol('mtlsgate.lastResponse');
/** Backoff for retrying a failed truststore load: 1 s, 2 s, 4 s, ... at most 60 s. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
const kLog = Symbol('mtlsgate.requestLog');
type LoggedVerdict = ConnectionVerdict & { [kLog]?: Logger };
type VerifiedSocket = TLSSocket & { [kVerdict]?: ConnectionVerdict };

export class GatewayStartError extends Error {
  readonly code: CliErrorCode = 'E_START';
}

export interface StartOptions {
  /** Session ticket keys shared with sibling workers (the primary's); else tls.ticketKeyFile, else random. */
  ticketKeys?: Buffer;
}

export async function startGateway(cfg: GatewayConfig, log: Logger, configPath: string | null = null, opts: StartOptions = {}): Promise<Gateway> {
  const built = await buildState(cfg, null);
  if (built.errors.length > 0) {
    // Each message starts with the key path (domains[i]....), so the user finds the line to fix.
    throw new GatewayStartError(built.errors.map((e) => e.message).join('; '));
  }
  let state = built.state;
  let lastErrors: DomainLoadError[] = [];
  const metrics = newMetrics();
  logTruststores(log, state, null);
  let initialKeys: Buffer;
  try {
    initialKeys = cfg.tls.ticketKeyFile ? await readTicketKeys(cfg.tls.ticketKeyFile) : (opts.ticketKeys ?? randomTicketKeys());
  } catch (e) {
    throw new GatewayStartError((e as Error).message);
  }
  const tickets = ticketKeyRing(initialKeys);
  let noResumption = resumptionOff(state);
  let lifetimeSec = state.config.tls.sessionLifetimeSec;
  if (noResumption) log.info({ reason: noResumption }, 'TLS session resumption off');

  /**
   * The listener's own TLS settings (the SNI callback switches to a domain's context for its certificate, but OpenSSL
   * keeps these from the listener's). Session tickets are on unless resumptionOff() says otherwise: a resumed session
   * skips the SNI callback, so each one is judged again against its request's domain (verify.ts, decideWithoutHandshake).
   */
  function listenerTls(resumable: boolean): SecureContextOptions {
    return {
      // No client-initiated renegotiation (API Gateway refuses it too): a TLS 1.2 client could present another
      // certificate on the open connection, and Node never resets socket.authorized (nor our cached verdict) from it.
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION | (resumable ? 0 : constants.SSL_OP_NO_TICKET),
      // Used only where the ticket hook is missing (see ticket-keys.ts): then tickets are not renewed on resumption.
      ticketKeys: tickets.current,
      sessionTimeout: state.config.tls.sessionLifetimeSec,
      // The same on every worker and replica (Node's default hashes the command line): TLS 1.2 sessions resume only
      // where the session id context matches.
      sessionIdContext: 'mtlsgate',
      minVersion: 'TLSv1.2',
      // OpenSSL keeps the cipher list of the listener's context when the SNI callback switches contexts, so the
      // domains' TLS 1.2 suites only hold if the listener has them too (else Node's defaults: CBC-SHA1, CCM, ARIA, ...).
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
    };
  }

  const server = https.createServer({
    ...listenerTls(noResumption === null),
    // A function, not an arrow: Node calls it with the TLSSocket as `this`.
    SNICallback: function (this: TLSSocket, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) {
      const d = lookupDomain(state, servername);
      if (!d) return cb(new Error(`unknown server name "${servername}"`));
      // OpenSSL has chosen the protocol version before it asks for the SNI context, so the context's minVersion
      // never applies: enforce the domain's securityPolicy here (the version is known by now).
      const protocol = this.getProtocol();
      if (d.config.securityPolicy === 'TLS_1_3' && protocol !== 'TLSv1.3') {
        return cb(new Error(`${d.name}: securityPolicy TLS_1_3 refuses ${protocol ?? 'an older protocol'}`));
      }
      // noCertificate: handshake: OpenSSL itself ends the handshake when no certificate comes (TLS 1.3 alert 116
      // certificate_required, TLS 1.2 handshake_failure), as API Gateway does. A presented certificate still completes
      // the handshake (Node's verify callback accepts every certificate) and is judged per request.
      if (d.config.mutualTls.noCertificate === 'handshake') requireClientCertificate(this);
      cb(null, d.secureContext);
    },
    requestCert: true,
    // The handshake completes for any presented certificate; the verdict is the policy's, per request (403 with a reason).
    rejectUnauthorized: false,
    handshakeTimeout: cfg.timeouts.handshakeMs,
    maxHeaderSize: cfg.limits.maxHeaderBytes,
    // Node checks headersTimeout/requestTimeout only this often (default 30 s), so headersMs: 10000 meant 10-40 s.
    connectionsCheckingInterval: Math.min(1000, cfg.timeouts.headersMs, cfg.timeouts.requestMs),
    // No default certificate: a client without SNI cannot complete a handshake.
  });
  /** The ticket callback on the listener's context and every domain's (Node calls it on the one a connection uses). */
  function installTicketHook(): void {
    let ok = tickets.install((server as unknown as { _sharedCreds?: { context?: unknown } })._sharedCreds?.context);
    for (const d of state.domains.values()) ok = tickets.install(d.secureContext.context) && ok;
    if (!ok && !ticketHookMissingLogged) {
      ticketHookMissingLogged = true;
      log.warn('this Node has no TLS ticket-key hook: resumed TLS 1.3 sessions get no fresh ticket, so clients resume every other connection');
    }
  }
  let ticketHookMissingLogged = false;
  installTicketHook();
  server.headersTimeout = cfg.timeouts.headersMs;
  server.requestTimeout = cfg.timeouts.requestMs;
  server.keepAliveTimeout = cfg.timeouts.idleMs;
  server.maxConnections = cfg.limits.maxConnections;

  // Prepended: it must run before https' own listener hands the socket to the HTTP parser, or a request already
  // sent on a refused connection is still served (and logged as a denial the client never sees).
  server.prependListener('secureConnection', (socket: VerifiedSocket) => {
    // A resumed TLS 1.2 session has no server name (OpenSSL keeps none for it): its requests' Host names the domain.
    if (!socket.servername && socket.isSessionReused()) return;
    const d = lookupDomain(state, String(socket.servername || ''));
    if (!d) {
      // Only reachable if a reload removed the domain during this handshake: say so rather than vanish.
      log.info({ remote: socket.remoteAddress, servername: socket.servername || null }, 'connection closed: no domain for this server name');
      return void socket.destroy();
    }
    if (d.config.mutualTls.noCertificate === 'handshake' && !peerCertificate(socket)) {
      // API Gateway ends the connection when no certificate is sent; say why in our log at least.
      log.info({ domain: d.name, remote: socket.remoteAddress, reason: 'No required SSL certificate was sent' }, 'connection refused: no client certificate');
      inc(metrics.denials, `${d.name} MTLSGATE_NO_CERTIFICATE`);
      socket.destroy();
    }
  });
  // limits.maxConnectionsPerAddress: one client address cannot hold every connection of maxConnections. Closed at
  // once, before a TLS byte, as over maxConnections; counted, not logged (a flood would flood the log).
  const perAddressMax = cfg.limits.maxConnectionsPerAddress;
  if (perAddressMax !== undefined) {
    const open = new Map<string, number>();
    const gated = gateConnections(server, (raw) => {
      const addr = raw.remoteAddress ?? '';
      const n = (open.get(addr) ?? 0) + 1;
      if (n > perAddressMax) {
        metrics.connectionsDroppedPerAddress++;
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
    if (!gated) log.warn('limits.maxConnectionsPerAddress: this Node version wires TLS connections differently; refused connections are logged as failed handshakes');
  }
  // Every client connection until it closes, by remote address and port (unique on one listener): its TCP socket,
  // and its TLS socket once the handshake is done. Only close() reads it: see closeUnused().
  const connections = new Map<string, { raw: Socket; tls: TLSSocket | null }>();
  server.on('connection', (raw: Socket) => {
    const key = `${raw.remoteAddress} ${raw.remotePort}`;
    const c = { raw, tls: null as TLSSocket | null };
    connections.set(key, c);
    raw.once('close', () => {
      if (connections.get(key) === c) connections.delete(key);
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
  function closeUnused(): void {
    for (const c of connections.values()) {
      if (c.tls === null) c.raw.destroy();
      else if (c.tls.bytesRead === 0) c.tls.destroy();
    }
  }

  server.on('tlsClientError', (err, socket) => {
    metrics.handshakeErrors++;
    if ((err as NodeJS.ErrnoException).code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') {
      const domain = lookupDomain(state, String((socket as TLSSocket).servername || ''))?.name ?? null;
      log.info({ domain, remote: socket.remoteAddress, reason: 'No required SSL certificate was sent' }, 'connection refused: no client certificate');
      if (domain) inc(metrics.denials, `${domain} MTLSGATE_NO_CERTIFICATE`);
      return;
    }
    log.info({ remote: socket.remoteAddress, error: err.message.split('\n')[0] }, 'tls handshake failed');
  });
  server.on('clientError', (err, socket) => {
    // As Node's own answers would be (a 'clientError' listener replaces them): 431 for headers over
    // limits.maxHeaderBytes, 408 for timeouts.headersMs/requestMs, 400 for anything unparsable.
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const [status, message] = code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request'];
    const body = JSON.stringify({ message });
    // Only an HTTP error is answered, and only while no answer to the current request has begun (bytes would land
    // inside or after it). Anything else just closes: https sends a TLS handshake timeout here too, and a TLS socket
    // queues writes until its handshake is done, so end() left a half-open handshake open for good.
    const last = (socket as { [kLastResponse]?: http.ServerResponse })[kLastResponse];
    const answered = last !== undefined && last.headersSent && !(last.writableFinished && last.req.complete);
    if (socket.writable && !answered && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT')) socket.end(`HTTP/1.1 ${status} ${message}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    else socket.destroy();
    log.debug({ error: (err as Error).message }, 'client error');
  });
  server.on('request', (req, res) => void onRequest(req, res));
  // CONNECT is not a request this gateway forwards: say so (Node would otherwise close the socket without a word).
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    // Node hands the socket over without its own listeners and timeouts. Bytes after the head were never read, so
    // the client's close or reset went unseen and the socket (a descriptor, a maxConnections slot) stayed for good:
    // read and drop them, and end it at timeouts.idleMs whatever the client does. Its 'error' had no listener left
    // (an unhandled 'error' throws): one that ends the socket.
    socket.on('error', () => socket.destroy());
    socket.resume();
    const deadline = setTimeout(() => socket.destroy(), state.config.timeouts.idleMs);
    socket.once('close', () => clearTimeout(deadline));
    const requestId = randomUUID();
    const body = JSON.stringify({ message: 'Method Not Allowed' });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\nconnection: close\r\ncontent-type: application/json\r\nx-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    log.info({ requestId, domain: String((req.socket as TLSSocket).servername || '-'), method: 'CONNECT', path: req.url, status: 405 }, 'request');
  });
  server.on('drop', () => {
    metrics.connectionsDropped++;
  });

  async function onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const socket = req.socket as VerifiedSocket & { [kLastResponse]?: http.ServerResponse };
    socket[kLastResponse] = res;
    const host = hostOf(req.headers.host);
    // A resumed TLS 1.2 session has no server name: the request's Host names the domain (its verdict is the model's).
    const servername = socket.servername ? String(socket.servername).toLowerCase() : socket.isSessionReused() ? (host ?? '') : '';
    const d: DomainState | undefined = lookupDomain(state, servername);
    let status = 0;
    let cv: ConnectionVerdict | undefined;
    try {
      // Host names another domain than the SNI: never let one domain's truststore admit traffic for another. A
      // resumed session skipped the SNI callback's securityPolicy check: a TLS_1_3 domain refuses it here. 421 tells
      // the client to retry on a new connection.
      if (!d || (host !== null && host !== servername) || (d.config.securityPolicy === 'TLS_1_3' && socket.getProtocol() !== 'TLSv1.3')) {
        sendJson(res, 421, { message: 'Misdirected Request' }, requestId);
        status = 421;
        return;
      }
      // Node keeps the first of several Host headers and drops the rest: a backend or proxy that reads another one
      // would route by a name the SNI check never saw.
      if (hasSecondHost(req.rawHeaders)) {
        status = 400;
        sendJson(res, 400, { message: 'Bad Request' }, requestId);
        log.info({ requestId, domain: d.name, reason: 'more than one Host header' }, 'request refused');
        return;
      }
      cv = socket[kVerdict];
      if (!cv || cv.generation !== d.verify.generation) {
        cv = verifyConnection(socket, d.verify);
        socket[kVerdict] = cv;
      }
      if (!cv.verdict.accepted) {
        status = 403;
        deny(d, cv, requestId, res);
        return;
      }
      const bad = unsafeTarget(req.url ?? '');
      if (bad) {
        status = 400;
        sendJson(res, 400, { message: 'Bad Request' }, requestId);
        log.info({ requestId, domain: d.name, reason: bad }, 'request refused');
        return;
      }
      const match = matchRoute(d.routes, req.url!);
      if (!match) {
        status = 404;
        sendJson(res, 404, { message: 'Not Found' }, requestId);
        return;
      }
      status = await forward(req, res, match, {
        requestId,
        clientIp: socket.remoteAddress ?? '',
        host: req.headers.host ?? d.name,
        identity: cv.client!.headers,
        timeoutMs: state.config.timeouts.backendMs,
      });
    } catch (e) {
      status = 500;
      log.error({ requestId, error: (e as Error).stack }, 'internal error');
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' }, requestId);
      else res.destroy();
    } finally {
      countRequest(metrics, d?.name ?? NO_DOMAIN, status);
      const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (cv && d) requestLog(cv, d.name).info({ requestId, method: req.method, path: req.url, status, latencyMs }, 'request');
      else log.info({ requestId, domain: d?.name ?? (servername || '-'), method: req.method, path: req.url, status, latencyMs, client: null, verdict: null }, 'request');
    }
  }

  /**
   * The request log for a judged connection: a pino child whose fields (domain, client certificate, verdict) are
   * serialized once per connection and truststore generation, not on every request of a keep-alive connection.
   */
  function requestLog(cv: LoggedVerdict, domain: string): Logger {
    let l = cv[kLog];
    if (!l) {
      const leaf = cv.client?.leaf.info;
      l = log.child({
        domain,
        client: leaf ? { subject: logField(leaf.subject), serial: logField(leaf.serial), fingerprint: leaf.fingerprintSha256 } : null,
        verdict: verdictFields(cv.verdict),
      });
      cv[kLog] = l;
    }
    return l;
  }

  function deny(d: DomainState, cv: ConnectionVerdict, requestId: string, res: http.ServerResponse): void {
    const v = verdictFields(cv.verdict);
    const reason = v.reason ?? 'unknown';
    inc(metrics.denials, `${d.name} ${v.code ?? 'UNKNOWN'}`);
    const leaf = cv.client?.leaf.info;
    log.warn(
      {
        requestId,
        domain: d.name,
        code: v.code,
        subject: leaf ? logField(leaf.subject) : null,
        issuer: leaf ? logField(leaf.issuer) : null,
        serial: leaf ? logField(leaf.serial) : null,
        fingerprint: leaf?.fingerprintSha256 ?? null,
      },
      `Access denied. Reason: ${reason}`,
    );
    sendJson(res, 403, d.config.mutualTls.exposeReason ? { message: `Access denied. Reason: ${reason}` } : { message: 'Forbidden' }, requestId);
  }

  await listen(server, cfg.listen.host, cfg.listen.port);
  log.info({ address: server.address(), domains: [...state.domains.keys()] }, 'listening');

  // One reload at a time: SIGHUP and POST /reload can overlap, and a slow one (an S3 fetch) finishing last would
  // swap in files older than those of the reload that started after it.
  let reloading: Promise<unknown> = Promise.resolve();
  function reload(): Promise<ReloadResult> {
    const run = reloading.then(reloadOnce, reloadOnce);
    reloading = run.catch(() => undefined);
    return run;
  }

  async function reloadOnce(): Promise<ReloadResult> {
    const warnings: string[] = [];
    let next: GatewayConfig;
    try {
      next = configPath ? await loadConfig(configPath) : state.config;
    } catch (e) {
      metrics.reloads.failed++;
      const err = { domain: '(config)', message: (e as Error).message };
      log.error({ error: err.message }, 'reload failed: config not changed');
      return { ok: false, errors: [err], warnings };
    }
    if (next.listen.host !== state.config.listen.host || next.listen.port !== state.config.listen.port) {
      warnings.push('listen address changes need a restart; still listening on the old address');
      next = { ...next, listen: state.config.listen };
    }
    const { state: fresh, errors } = await buildState(next, state);
    for (const e of errors) {
      inc(metrics.truststoreErrors, e.domain);
      log.error({ domain: e.domain, error: e.message }, 'reload: domain kept its previous state');
    }
    const before = state;
    state = fresh;
    lastErrors = errors;
    retainPools(new Set([...state.domains.values()].flatMap((d) => d.routes.map((r) => r.origin))));
    installTicketHook();
    await refreshListenerTls();
    errors.length ? metrics.reloads.failed++ : metrics.reloads.ok++;
    logTruststores(log, state, before);
    for (const w of warnings) log.warn(w);
    scheduleRetry(errors.length > 0);
    return { ok: errors.length === 0, errors, warnings };
  }

  /** After a reload: a new ticket key file takes effect, and resumption follows what the new state allows. */
  async function refreshListenerTls(): Promise<void> {
    if (state.config.tls.ticketKeyFile) {
      try {
        const keys = await readTicketKeys(state.config.tls.ticketKeyFile);
        if (!keys.equals(tickets.current)) {
          // Tickets sealed with the old keys still resume (and are renewed under the new ones) until the next change.
          tickets.rotate(keys);
          server.setTicketKeys(keys);
          log.info('TLS session ticket keys changed');
        }
      } catch (e) {
        log.error({ error: (e as Error).message }, 'reload: kept the previous TLS session ticket keys');
      }
    }
    const off = resumptionOff(state);
    if (off !== noResumption || state.config.tls.sessionLifetimeSec !== lifetimeSec) {
      noResumption = off;
      lifetimeSec = state.config.tls.sessionLifetimeSec;
      server.setSecureContext(listenerTls(off === null));
      installTicketHook();
      log.info(off ? { reason: off } : {}, off ? 'TLS session resumption off' : 'TLS session resumption on');
    }
  }

  // A domain whose source failed (S3 down, file mid-replace) keeps its previous state; retry with backoff so it
  // recovers by itself once the source is back, without waiting for someone to signal a reload.
  let retryTimer: NodeJS.Timeout | null = null;
  let retryDelayMs = RETRY_MIN_MS;
  function scheduleRetry(failed: boolean): void {
    if (!failed) {
      // A retry still pending from an earlier failure would otherwise stand in, at its longer delay, for the one
      // the next failure schedules.
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      retryDelayMs = RETRY_MIN_MS;
      return;
    }
    if (retryTimer) return;
    log.info({ inMs: retryDelayMs, domains: lastErrors.map((e) => e.domain) }, 'will retry the failed truststore load');
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void reload();
    }, retryDelayMs);
    retryTimer.unref();
    retryDelayMs = Math.min(retryDelayMs * 2, RETRY_MAX_MS);
  }

  const adminDeps: AdminDeps = {
    state: () => state,
    lastErrors: () => lastErrors,
    reload,
    metrics: () => renderMetrics(metrics, state.config.domains.every((d) => state.domains.has(d.domainName)), lastErrors.length > 0),
  };
  let admin: http.Server | null = null;
  if (cfg.admin) {
    admin = http.createServer((req, res) => void handleAdmin(req, res, adminDeps));
    await listen(admin, cfg.admin.host, cfg.admin.port);
    log.info({ address: admin.address() }, 'admin listening');
  }

  return {
    address: () => server.address() as AddressInfo,
    adminAddress: () => (admin ? (admin.address() as AddressInfo) : null),
    reload,
    state: () => state,
    metrics,
    admin: adminDeps,
    async close(deadlineMs = 10_000) {
      if (retryTimer) clearTimeout(retryTimer);
      const closed = new Promise<void>((r) => server.close(() => r()));
      closeUnused();
      server.closeIdleConnections();
      admin?.close();
      admin?.closeAllConnections();
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
      await closePools();
    },
  };
}

/** SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT on this connection only (Node has no public per-socket API for it). */
function requireClientCertificate(socket: TLSSocket): void {
  (socket as unknown as { _handle?: { setVerifyMode?: (requestCert: boolean, rejectUnauthorized: boolean) => void } })._handle?.setVerifyMode?.(true, true);
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
    if (d.config.mutualTls.trustClientIntermediates) return `${d.name}: mutualTls.trustClientIntermediates is true (a resumed session does not carry the client's intermediates)`;
    for (const c of d.verify.truststore.certs) {
      const ext = unmodelledExtension(c);
      if (ext !== null) return `${d.name}: truststore CA ${c.info.subject} has ${ext}, which only a full handshake checks`;
    }
  }
  return null;
}

/**
 * A certificate field (subject, issuer, serial) as a log line carries it. Any client picks these, up to the tens of
 * kB a certificate may take, and they go into the lines of every request on its connection: longer ones are cut.
 */
const LOG_FIELD_MAX = 1024;
function logField(s: string): string {
  return cutText(s, LOG_FIELD_MAX);
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

/** More than one Host header, in any case: a scan of the raw header names (even indexes) that allocates nothing. */
function hasSecondHost(raw: string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    // | 0x20 lowers an ASCII letter and maps nothing else onto h, o, s or t.
    if (n.length === 4 && (n.charCodeAt(0) | 0x20) === 0x68 && (n.charCodeAt(1) | 0x20) === 0x6f && (n.charCodeAt(2) | 0x20) === 0x73 && (n.charCodeAt(3) | 0x20) === 0x74) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

function hostOf(h: string | undefined): string | null {
  if (!h) return null;
  const host = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return host.toLowerCase().replace(/\.$/, '');
}

function listen(s: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => reject(new GatewayStartError(`cannot listen on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'address in use' : e.code === 'EACCES' ? 'permission denied' : e.message}`));
    s.once('error', onError);
    s.listen(port, host, () => {
      s.off('error', onError);
      resolve();
    });
  });
}

function logTruststores(log: Logger, state: GatewayState, before: GatewayState | null): void {
  for (const d of state.domains.values()) {
    if (before?.domains.get(d.name) === d) continue; // kept from before: already logged
    log.info({ domain: d.name, truststore: d.config.mutualTls.truststoreUri, version: d.truststoreVersion, certificates: d.truststoreCertificates }, 'truststore loaded');
    if (d.verify.oracle === 'model') {
      log.warn(
        { domain: d.name, certificates: d.truststoreCertificates, caNamesBytes: d.verify.truststore.caNamesBytes },
        `truststore too large to name in the TLS handshake (CA names over ${MAX_CA_NAMES_BYTES} bytes): clients are not told which CAs are trusted, and mtlsgate's policy verifies their chains itself`,
      );
    }
    for (const w of d.truststoreWarnings) log.warn({ domain: d.name, id: w.id }, `truststore warning: ${w.title}`);
  }
}
