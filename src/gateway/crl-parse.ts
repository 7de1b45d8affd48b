/**
 * CRLs of a megabyte or more are parsed in a worker thread: a million entries take half a second or more to index,
 * and on the event loop that is half a second in which the gateway serves nothing and other fetches' deadlines fire
 * late. The worker runs pki/crl.ts's reader and hands the DER and the index's arrays back without a copy; the Crl is
 * rebuilt around them here. A worker that crashes or runs out of heap is one problem line naming the source, as an
 * unreadable CRL is.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { crlFromTransfer, parseCrls, type Crl, type CrlParse, type CrlTransfer } from '../pki/crl.js';
import type { ParseWorkerData } from './crl-parse-worker.js';
import { workerEntry } from './worker-entry.js';

/**
 * From this size a CRL is parsed off the event loop. A MiB of PEM takes ~10 ms to parse on a quiet machine (25-70 ms
 * under load); a worker costs 30-50 ms of CPU on another core to start (95-150 ms round trip under load) and only a
 * few ms of the event loop. Below a MiB the block is short enough not to pay for a thread at every refresh.
 */
export const CRL_WORKER_MIN_BYTES = 1 << 20;

/**
 * The worker's heap. The bytes, the DER and the index are ArrayBuffers outside it; what it holds is the PEM text (a
 * string as long as the bytes). 256 MB reads a 77 MB PEM (128 MB did too, 64 MB did not); the fetch limit is 64 MiB.
 */
const WORKER_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 256 };

/** parseCrls, in a worker thread when `bytes` are CRL_WORKER_MIN_BYTES or more. */
export async function parseCrlsOffLoop(o: { bytes: Buffer; source: string }): Promise<CrlParse> {
  if (o.bytes.length < CRL_WORKER_MIN_BYTES) return parseCrls(o.bytes, o.source);
  return parseCrlsInWorker(o);
}

/**
 * parseCrls in a worker thread of its own, ended when it has answered. `bytes` are moved to it when they are the
 * whole of their ArrayBuffer (the caller must not use them after), else copied. Never rejects.
 */
export function parseCrlsInWorker(o: {
  bytes: Buffer;
  source: string;
  resourceLimits?: ResourceLimits;
}): Promise<CrlParse> {
  const own = o.bytes.byteOffset === 0 && o.bytes.byteLength === o.bytes.buffer.byteLength;
  const bytes = own ? o.bytes : new Uint8Array(o.bytes);
  const data: ParseWorkerData = { bytes, source: o.source };
  const entry = workerEntry(import.meta.url, 'crl-parse-worker');
  let worker: Worker;
  try {
    worker = new Worker(entry.url, {
      workerData: data,
      transferList: [bytes.buffer as ArrayBuffer],
      resourceLimits: o.resourceLimits ?? WORKER_LIMITS,
      ...(entry.execArgv && { execArgv: entry.execArgv }),
    });
  } catch (e) {
    return Promise.resolve(failed(o.source, `could not start its parse thread: ${(e as Error).message}`));
  }
  return new Promise<CrlParse>((resolve) => {
    let crash: Error | null = null;
    let done = false;
    worker.on('message', (m: { crls: CrlTransfer[]; problems: string[] }) => {
      done = true;
      const crls: Crl[] = [];
      const problems = [...m.problems];
      for (const t of m.crls) {
        const crl = crlFromTransfer(t);
        if (typeof crl === 'string') problems.push(`${o.source}: ${crl}`);
        else crls.push(crl);
      }
      resolve({ crls, problems });
      void worker.terminate();
    });
    worker.on('error', (e: Error) => (crash = e));
    worker.on('exit', (code: number) => {
      if (done) return;
      const why =
        crash === null
          ? `exited with code ${code}`
          : (crash as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? 'out of memory'
            : `${crash.name}: ${crash.message.split('\n')[0]}`;
      resolve(failed(o.source, `its parse thread stopped: ${why}`));
    });
  });
}

function failed(source: string, why: string): CrlParse {
  return { crls: [], problems: [`${source}: ${why}`] };
}
