/**
 * A small HTTP proxy in front of an S3 server (s3rver in the tests) that injects faults on command, for the
 * truststore-source fault tests: the gateway's S3 endpoint points here, and a test switches the fault in force.
 *
 *   none      forward to the upstream unchanged
 *   500       500 InternalError (S3's XML error body), as S3 answers for an internal failure
 *   503       503 SlowDown, S3's throttling answer
 *   reset     the connection is reset (TCP RST) as soon as the request head arrives
 *   hang      the request is accepted and never answered (the connection stays open until heal or close)
 *   truncate  the upstream's answer with its full Content-Length, but only the first half of the body, then the
 *             connection is closed (a download cut short)
 *   short     the upstream's answer cut to its first half and sent as a complete response (Content-Length, ETag
 *             and checksums dropped): only the bytes can tell that the object is incomplete
 *
 * Every request is recorded with the fault it got. Loopback only.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type S3Fault = 'none' | '500' | '503' | 'reset' | 'hang' | 'truncate' | 'short';

export interface S3FaultProxy {
  endpoint: string;
  port: number;
  /** `METHOD /path fault`, in order. */
  readonly requests: { method: string; url: string; fault: S3Fault }[];
  /** Requests being held open by `hang` right now. */
  readonly hanging: number;
  /** The fault in force. */
  readonly fault: S3Fault;
  /** Switch the fault for the requests that come next. Leaving `hang` releases the held requests (they are reset). */
  set(fault: S3Fault): void;
  close(): Promise<void>;
}

const xmlError = (code: string, message: string, resource: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource><RequestId>FAULTPROXY</RequestId></Error>`;

export async function startS3FaultProxy(upstream: { host?: string; port: number }): Promise<S3FaultProxy> {
  const requests: S3FaultProxy['requests'] = [];
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  const upstreamAgent = new http.Agent({ keepAlive: false });
  let fault: S3Fault = 'none';

  const server = http.createServer((req, res) => {
    const now = fault;
    requests.push({ method: req.method ?? '', url: req.url ?? '', fault: now });
    const path = (req.url ?? '/').split('?')[0]!;
    switch (now) {
      case '500':
      case '503': {
        req.resume();
        const body =
          now === '500'
            ? xmlError('InternalError', 'We encountered an internal error. Please try again.', path)
            : xmlError('SlowDown', 'Please reduce your request rate.', path);
        res.writeHead(Number(now), {
          'content-type': 'application/xml',
          'content-length': Buffer.byteLength(body),
          'x-amz-request-id': 'FAULTPROXY',
        });
        res.end(body);
        return;
      }
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'hang':
        held.add(req.socket);
        req.socket.once('close', () => held.delete(req.socket));
        return;
      default:
        forward(req, res, now);
    }
  });

  function forward(req: http.IncomingMessage, res: http.ServerResponse, now: S3Fault): void {
    const up = http.request(
      {
        host: upstream.host ?? '127.0.0.1',
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: upstreamAgent,
      },
      (ur) => {
        if (now === 'none') {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          const body = Buffer.concat(chunks);
          const half = body.subarray(0, Math.floor(body.length / 2));
          if (now === 'truncate') {
            // The full length is announced, half is sent, then the connection ends.
            res.writeHead(ur.statusCode ?? 502, { ...ur.headers, 'content-length': String(body.length) });
            res.write(half, () => res.socket?.destroy());
            return;
          }
          // short: a well-formed response whose body is the first half; nothing in the headers gives it away.
          const headers: http.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(ur.headers))
            if (!/^(content-length|etag|content-md5|x-amz-checksum-.*)$/i.test(k) && v !== undefined) headers[k] = v;
          res.writeHead(ur.statusCode ?? 502, { ...headers, 'content-length': String(half.length) });
          res.end(half);
        });
      },
    );
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  }

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    get hanging() {
      return held.size;
    },
    get fault() {
      return fault;
    },
    set(f: S3Fault) {
      if (fault === 'hang' && f !== 'hang') for (const s of held) s.resetAndDestroy();
      fault = f;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
        upstreamAgent.destroy();
      }),
  };
}
