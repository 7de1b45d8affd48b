/**
 * The CRL parse's worker thread (the entry crl-parse.ts starts): reads the bytes it is given with the one CRL reader
 * (pki/crl.ts) and posts the CRLs back as CrlTransfers, their buffers moved rather than copied. Then it ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseCrlsForTransfer } from '../pki/crl.js';

export interface ParseWorkerData {
  bytes: Uint8Array;
  source: string;
}

const data = workerData as ParseWorkerData;
const out = parseCrlsForTransfer(
  Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength),
  data.source,
);
const transfer = new Set<ArrayBuffer>();
for (const c of out.crls) {
  transfer.add(c.der.buffer);
  if (c.revoked) transfer.add(c.revoked.parts.offsets.buffer).add(c.revoked.parts.table.buffer);
}
parentPort!.postMessage(out, [...transfer]);
