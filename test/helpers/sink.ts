/** A ResponseSink that records what the pipeline answered, for in-process pipeline tests. */
import { EventEmitter } from 'node:events';
import type { ResponseSink } from '../../src/gateway/respond.js';

export class RecordingSink extends EventEmitter implements ResponseSink {
  headersSent = false;
  writableFinished = false;
  destroyed = false;
  status = 0;
  headers: Record<string, string> = {};
  body = '';
  writeHead(status: number, headers: Record<string, string | number> | string[]): this {
    this.status = status;
    const list = Array.isArray(headers) ? headers : Object.entries(headers).flat().map(String);
    for (let i = 0; i < list.length; i += 2) this.headers[list[i]!] = list[i + 1]!;
    this.headersSent = true;
    return this;
  }
  write(chunk: Buffer): boolean {
    this.body += chunk.toString('utf8');
    return true;
  }
  end(arg?: string | (() => void)): this {
    if (typeof arg === 'string') this.body += arg;
    this.writableFinished = true;
    if (typeof arg === 'function') process.nextTick(arg);
    process.nextTick(() => this.emit('close'));
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    process.nextTick(() => this.emit('close'));
    return this;
  }
  setTimeout(): this {
    return this;
  }
}
