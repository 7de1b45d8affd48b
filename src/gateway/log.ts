/**
 * Logs: JSON lines (pino) by default, one per request and one per denial, each saying why; `pretty` renders the
 * same records as one readable line for a terminal. Private keys and passphrases are never logged.
 */
import cluster from 'node:cluster';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type { Logger };

export function makeLogger(format: 'json' | 'pretty', level: string, out: NodeJS.WritableStream = process.stdout): Logger {
  const dest = format === 'pretty' ? prettyStream(out) : out === process.stdout ? stdoutDestination() : out;
  // Workers share stdout: each line says which worker wrote it.
  const base = cluster.isWorker ? { worker: cluster.worker!.id } : undefined;
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, dest as pino.DestinationStream);
}

const SKIP = new Set(['level', 'time', 'msg']);

function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          const fields = Object.entries(rec)
            .filter(([k, v]) => !SKIP.has(k) && v !== undefined && v !== null)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${String(rec.time ?? '').slice(11, 23)} ${String(rec.level ?? '').toUpperCase().padEnd(5)} ${String(rec.msg ?? '')}${fields ? '  ' + fields : ''}\n`);
        } catch {
          out.write(line + '\n');
        }
      }
      cb();
    },
  });
}

/**
 * JSON lines to stdout through pino's own writer (sonic-boom), batched: a write per ~8 KiB of lines or every
 * FLUSH_MS, whichever comes first, instead of a write (a thread-pool round trip) per line, which under load cost
 * about a sixth of the gateway's CPU. A reader tailing the log sees a line within FLUSH_MS; pino flushes what is
 * pending when the process exits.
 */
const FLUSH_MS = 100;

function stdoutDestination(): pino.DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 8192 });
  // As for process.stdout (bin/mtlsgate.js): a reader that went away (EPIPE) ends the process quietly.
  dest.on('error', (err: Error) => process.stdout.emit('error', err));
  setInterval(() => {
    try {
      dest.flush();
    } catch {
      // Not ready yet (the fd opens asynchronously) or already closed at exit: the next tick or exit flushes.
    }
  }, FLUSH_MS).unref();
  return dest;
}
