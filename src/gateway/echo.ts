/**
 * A built-in echo backend for the demo and the tests: answers every request with JSON describing what it received
 * (method, path, headers, body size), so the forwarded client-certificate headers can be seen. Counts requests.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { http } from '../node-http.js';
import type { AddressInfo } from 'node:net';

export interface EchoBackend {
  url: string;
  /** Requests received so far (tests assert that nothing unverified ever arrived). */
  received: { method: string; path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startEcho(
  host = '127.0.0.1',
  port = 0,
  opts: { keepAliveTimeoutMs?: number } = {},
): Promise<EchoBackend> {
  const received: EchoBackend['received'] = [];
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      const body =
        JSON.stringify({ method: req.method, path: req.url, headers: req.headers, bodyBytes: bytes }, null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  // Longer than the gateway's pool keeps idle connections, so the pool, not the backend, closes them.
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 65_000;
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
