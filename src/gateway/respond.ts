/** The gateway's own answers: small JSON bodies, as API Gateway's (`{"message":"Forbidden"}`). */
import type { OutgoingHttpHeaders } from 'node:http';

/**
 * Where a request's answer goes: what the gateway uses of Node's http.ServerResponse, which HTTP/2's compatibility
 * response has too, and which an in-process test can record.
 */
export interface ResponseSink {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers: OutgoingHttpHeaders | string[]): unknown;
  write(chunk: Buffer): boolean;
  end(cb?: () => void): unknown;
  end(chunk: string): unknown;
  destroy(): unknown;
  setTimeout(ms: number): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** Returns the body's length in bytes. */
export function sendJson(res: ResponseSink, status: number, body: unknown, requestId: string): number {
  const text = JSON.stringify(body);
  const length = Buffer.byteLength(text);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': length,
    'x-request-id': requestId,
  });
  res.end(text);
  return length;
}
