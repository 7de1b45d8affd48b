/**
 * HTTP/1.1 on the listener: each request becomes a RequestContext and runs the pipeline; the answers Node's HTTP
 * parser leaves to its user (unparsable requests, timeouts, CONNECT) are given here.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { requestContext, type Runtime } from './context.js';
import { connectionOf } from './listener.js';
import { runPipeline } from './pipeline.js';

/** The connection's latest response: a client error must not be answered once it has begun. */
const kLastResponse = Symbol('mtlsgate.lastResponse');
type Http1Socket = TLSSocket & { [kLastResponse]?: http.ServerResponse };

export interface Http1 {
  /**
   * From now on every answer says `Connection: close` and its connection ends after it (a draining gateway sends its
   * keep-alive clients elsewhere), and so do the answers not yet begun on these connections.
   */
  closeAfterAnswers(sockets: Iterable<TLSSocket>): void;
}

export function serveHttp1(server: https.Server, rt: Runtime): Http1 {
  let draining = false;
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket as Http1Socket;
    socket[kLastResponse] = res;
    // Once answered and read, it no longer matters to a client error (see 'clientError'): dropped, or an idle
    // keep-alive connection kept its last request and response, with all they reach, for as long as it stayed open.
    res.once('finish', () => {
      if (req.complete) forget(socket, res);
      else req.once('end', () => forget(socket, res));
    });
    if (draining) res.shouldKeepAlive = false;
    const ctx = requestContext({
      conn: connectionOf(socket),
      requestId: randomUUID(),
      method: req.method ?? 'GET',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: req,
      sink: res,
      protocol: `HTTP/${req.httpVersion}`,
    });
    void runPipeline(rt, ctx);
  });

  server.on('clientError', (err, socket) => {
    // As Node's own answers would be (a 'clientError' listener replaces them): 431 for headers over
    // limits.maxHeaderBytes, 408 for timeouts.headersMs/requestMs, 400 for anything unparsable.
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const [status, message] =
      code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large']
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout']
          : [400, 'Bad Request'];
    // Only an HTTP error is answered, and only while no answer to the current request has begun (bytes would land
    // inside or after it). Anything else just closes: https sends a TLS handshake timeout here too, and a TLS socket
    // queues writes until its handshake is done, so end() left a half-open handshake open for good.
    const last = (socket as Http1Socket)[kLastResponse];
    const answered = last !== undefined && last.headersSent && !(last.writableFinished && last.req.complete);
    if (socket.writable && !answered && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT')) {
      socket.end(rawAnswer(status, message, JSON.stringify({ message }), {}));
    } else {
      socket.destroy();
    }
    rt.log.debug({ error: (err as Error).message }, 'client error');
  });

  // CONNECT is not a request this gateway forwards: say so (Node would otherwise close the socket without a word).
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    // Node hands the socket over without its own listeners and timeouts. Bytes after the head were never read, so
    // the client's close or reset went unseen and the socket (a descriptor, a maxConnections slot) stayed for good:
    // read and drop them, and end it at timeouts.idleMs whatever the client does. Its 'error' had no listener left
    // (an unhandled 'error' throws): one that ends the socket.
    socket.on('error', () => socket.destroy());
    socket.resume();
    const deadline = setTimeout(() => socket.destroy(), rt.state.config.timeouts.idleMs);
    socket.once('close', () => clearTimeout(deadline));
    const requestId = randomUUID();
    const body = JSON.stringify({ message: 'Method Not Allowed' });
    socket.end(rawAnswer(405, 'Method Not Allowed', body, { allow: CONNECT_ALLOW, requestId }));
    const domain = String((req.socket as TLSSocket).servername || '-');
    rt.log.info({ requestId, domain, method: 'CONNECT', path: req.url, status: 405 }, 'request');
  });

  return {
    closeAfterAnswers(sockets) {
      draining = true;
      for (const s of sockets) {
        const last = (s as Http1Socket)[kLastResponse];
        // Node writes `Connection: close` (and ends the connection after the answer) when this is false as the head
        // is written; an answer whose head is out already ends its connection when the listener's drain sweeps it.
        if (last !== undefined && !last.headersSent) last.shouldKeepAlive = false;
      }
    },
  };
}

function forget(socket: Http1Socket, res: http.ServerResponse): void {
  if (socket[kLastResponse] === res) socket[kLastResponse] = undefined;
}

const CONNECT_ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * An HTTP/1.1 answer written straight to the socket, where Node has no response object to write it with (a request
 * it could not parse, a CONNECT it handed over). The connection closes after it.
 */
function rawAnswer(status: number, reason: string, body: string, h: { allow?: string; requestId?: string }): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  if (h.allow !== undefined) head += `allow: ${h.allow}\r\n`;
  head += 'connection: close\r\ncontent-type: application/json\r\n';
  if (h.requestId !== undefined) head += `x-request-id: ${h.requestId}\r\n`;
  return `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
