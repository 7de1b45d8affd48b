#!/usr/bin/env node
/**
 * How long Node's OpenSSL takes to read certificates: `new X509Certificate(der)` per certificate of a bundle, on one
 * thread and split over worker threads. It is the floor under `doctor` and `serve --check` on a large truststore
 * (every certificate is read by OpenSSL once), and shows whether more threads would lower it.
 *
 *   node bench/x509-parse.mjs [BUNDLE.pem] [--threads N]
 *
 * BUNDLE defaults to the 10,000-CA truststore `npm run bench -- --only doctor` caches in bench/.build/truststores.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (!isMainThread) {
  // A worker reads its share when told to and reports when done; X509Certificate objects are not sent back.
  parentPort.once('message', () => {
    for (const der of workerData) new X509Certificate(der);
    parentPort.postMessage('done');
  });
} else {
  await main();
}

async function main() {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--threads');
  const maxThreads = ti >= 0 ? Number(args.splice(ti, 2)[1]) : os.availableParallelism();
  const file =
    args[0] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '.build/truststores/ts-10000-ec.pem');
  if (!fs.existsSync(file)) {
    console.error(
      `x509-parse: ${file}: no such file (run \`npm run bench -- --only doctor\` once to make it, or name a PEM bundle)`,
    );
    process.exit(2);
  }
  const ders = (
    fs.readFileSync(file, 'latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
  ).map((b) => Buffer.from(b.slice(27, -25).replace(/\s+/g, ''), 'base64'));
  if (ders.length === 0) {
    console.error(`x509-parse: ${file}: no CERTIFICATE block`);
    process.exit(2);
  }
  console.log(`${ders.length} certificates from ${file}; Node ${process.version}, OpenSSL ${process.versions.openssl}`);
  for (let i = 0; i < Math.min(500, ders.length); i++) new X509Certificate(ders[i]); // warm-up
  for (let threads = 1; threads <= maxThreads; threads++) {
    const wall = [];
    for (let rep = 0; rep < 3; rep++) wall.push(await timed(ders, threads));
    wall.sort((a, b) => a - b);
    const med = wall[1];
    console.log(
      `${threads} thread(s): ${med.toFixed(0)} ms wall (min ${wall[0].toFixed(0)}, max ${wall[2].toFixed(0)}), ${((med * 1000) / ders.length).toFixed(1)} µs per certificate`,
    );
  }
}

/**
 * Wall time to read every certificate, the main thread taking one share and workers the others (their start-up
 * excluded).
 */
async function timed(ders, threads) {
  const share = Math.ceil(ders.length / threads);
  const workers = [];
  for (let k = 1; k < threads; k++) {
    const w = new Worker(new URL(import.meta.url), { workerData: ders.slice(k * share, (k + 1) * share) });
    workers.push(w);
  }
  // Let the workers start before the clock does.
  await new Promise((r) => setTimeout(r, 200));
  const t = performance.now();
  const done = workers.map((w) => new Promise((res, rej) => (w.once('message', res), w.once('error', rej))));
  for (const w of workers) w.postMessage('go');
  for (const der of ders.slice(0, share)) new X509Certificate(der);
  await Promise.all(done);
  const ms = performance.now() - t;
  await Promise.all(workers.map((w) => w.terminate()));
  return ms;
}
