/**
 * Backends for the end-to-end tests, all on 127.0.0.1 port 0 in the test process: the gateway's own echo
 * backend (counts what it receives), one that hashes and returns the body, one that is slow, one that records the
 * raw bytes of each request head (to prove no header was split or added), and a port nothing listens on.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export { startEcho, type EchoBackend } from '../../src/gateway/echo.js';

export interface Backend {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

function closer(server: http.Server | net.Server, sockets?: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((r) => {
      server.close(() => r());
      if (server instanceof http.Server) server.closeAllConnections();
      sockets?.forEach((s) => s.destroy());
    });
}

/** Answers with the request body as received, plus `x-body-sha256` and `x-body-bytes`; records each request path. */
export async function startHashBackend(): Promise<
  Backend & { received: { path: string; sha256: string; bytes: number }[] }
> {
  const received: { path: string; sha256: string; bytes: number }[] = [];
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      chunks.push(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const sha256 = hash.digest('hex');
      received.push({ path: req.url ?? '', sha256, bytes });
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'x-body-sha256': sha256,
        'x-body-bytes': String(bytes),
      });
      // Written in pieces so the answer streams too.
      const all = Buffer.concat(chunks);
      for (let i = 0; i < all.length; i += 64 * 1024) res.write(all.subarray(i, i + 64 * 1024));
      res.end();
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, received, close: closer(server) };
}

/**
 * Waits `delayMs` (or the request's `?delay=MS`) before answering (200, JSON); `started` counts requests that arrived.
 */
export async function startSlowBackend(delayMs: number): Promise<Backend & { started: number }> {
  const timers = new Set<NodeJS.Timeout>();
  const state = { started: 0 };
  const server = http.createServer((req, res) => {
    state.started++;
    req.resume();
    const asked = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay'));
    const t = setTimeout(
      () => {
        timers.delete(t);
        if (!res.destroyed) res.end(JSON.stringify({ slow: true }));
      },
      asked > 0 ? asked : delayMs,
    );
    timers.add(t);
  });
  const port = await listen(server);
  const close = closer(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get started() {
      return state.started;
    },
    close: async () => {
      timers.forEach(clearTimeout);
      await close();
    },
  };
}

/**
 * A raw TCP backend: keeps the bytes of every request head exactly as the gateway sent them and answers 200.
 * Requests carry no body here (GET), so a head ends at the first blank line.
 */
export async function startRawBackend(): Promise<Backend & { heads: string[] }> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        heads.push(buf.subarray(0, end + 2).toString('latin1'));
        buf = buf.subarray(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n');
      }
    });
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, heads, close: closer(server, sockets) };
}

/** A loopback port nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Header lines of a raw request head (after the request line), unparsed. */
export function headLines(head: string): string[] {
  return head
    .split('\r\n')
    .slice(1)
    .filter((l) => l !== '');
}
