/**
 * Helpers for the gateway lifecycle tests (reload, S3, config, shutdown, leaks): a World (a server identity, a
 * client CA with its client, an unrelated CA with its client, a truststore), a bounded load generator that counts
 * every outcome and tracks keep-alive sockets, and an s3rver on loopback that records the requests it gets.
 */
import { createRequire } from 'node:module';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { keepAliveAgent, request, type Outcome, type Target } from './http.js';
import { serverIdentity, tmpDir, writeClient, writeTruststore, type ClientFiles, type ServerIdentity } from './pki.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// PKI

export interface World {
  dir: string;
  domain: string;
  server: ServerIdentity;
  /** The CA that issued `client`; the truststore holds it. */
  ca: Issued;
  client: Issued;
  clientFiles: ClientFiles;
  /** An unrelated CA and a client it issued: denied by the usual truststore. */
  otherCa: Issued;
  otherClient: Issued;
  /** truststore.pem in `dir`, holding `ca`. */
  truststore: string;
}

/** `alsoNames`: more DNS names on the server certificate (for domains a test adds later). */
export async function makeWorld(domain: string, alsoNames: string[] = []): Promise<World> {
  const dir = tmpDir();
  const [server, ca, otherCa] = await Promise.all([
    serverIdentity(dir, [domain, ...alsoNames]),
    issue({ subject: 'CN=lifecycle Client CA,O=mtlsgate e2e', profile: 'root-ca' }),
    issue({ subject: 'CN=lifecycle Other CA,O=mtlsgate e2e', profile: 'root-ca' }),
  ]);
  const [client, otherClient] = await Promise.all([
    issue({ subject: 'CN=lifecycle client,O=mtlsgate e2e', profile: 'client', issuer: ca }),
    issue({ subject: 'CN=other client,O=mtlsgate e2e', profile: 'client', issuer: otherCa }),
  ]);
  return {
    dir,
    domain,
    server,
    ca,
    client,
    clientFiles: writeClient(dir, 'client', client),
    otherCa,
    otherClient,
    truststore: writeTruststore(dir, 'truststore', [ca]),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Bounded load: a steady rate for a fixed time, on keep-alive connections and (every `freshEvery`th request) on
// new connections. A TLS handshake costs the gateway ~10x a request on an open connection, so the mix sets the load.

export interface LoadResult {
  outcomes: Outcome[];
  /** status or error -> count */
  tally: Record<string, number>;
  failures: Outcome[];
  keepAlive: Outcome[];
  fresh: Outcome[];
  /** Requests not sent because too many were in flight (the gateway did not keep up). */
  skipped: number;
  elapsedMs: number;
}

export interface Load {
  done: Promise<LoadResult>;
  /** Stop early (what is in flight completes). */
  stop(): void;
}

export function startLoad(
  t: Target,
  o: {
    ratePerSec: number;
    durationMs: number;
    freshEvery?: number;
    maxInFlight?: number;
    keepAliveSockets?: number;
    path?: string;
  },
): Load {
  // Idle pooled connections end on the client's side after 1 s, before any gateway's idle timeout in the tests. The
  // free sockets are taken in turn (fifo): with Node's default (lifo) a quick gateway needs one or two of them, the
  // others idle past that 1 s and close, and a burst then opens new ones, which would read as dropped connections.
  const agent = keepAliveAgent(o.keepAliveSockets ?? 4, 1000, 'fifo');
  const outcomes: Outcome[] = [];
  const keepAlive: Outcome[] = [];
  const fresh: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = o.maxInFlight ?? 64;
  const started = Date.now();
  const total = Math.round((o.ratePerSec * o.durationMs) / 1000);
  let sent = 0;
  let skipped = 0;
  let stopped = false;
  const done = (async () => {
    // Paced by the clock: request i leaves at started + i / rate, so the rate stays steady under jitter.
    while (!stopped && sent + skipped < total) {
      const due = started + ((sent + skipped) * 1000) / o.ratePerSec;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (inFlight.size >= maxInFlight) {
        skipped++;
        continue;
      }
      const useKeepAlive = (sent + skipped) % (o.freshEvery ?? 2) !== 0;
      sent++;
      const p = request(t, useKeepAlive ? agent : false, o.path ?? '/load').then((r) => {
        outcomes.push(r);
        (useKeepAlive ? keepAlive : fresh).push(r);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    agent.destroy();
    const tally: Record<string, number> = {};
    for (const r of outcomes) {
      const k = r.error ?? String(r.status);
      tally[k] = (tally[k] ?? 0) + 1;
    }
    return {
      outcomes,
      tally,
      failures: outcomes.filter((r) => r.error !== null || r.status !== 200),
      keepAlive,
      fresh,
      skipped,
      elapsedMs: Date.now() - started,
    };
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/** Keep-alive sockets that carried requests both before and after `at` (so they lived through it). */
export function socketsSpanning(outcomes: Outcome[], at: number): number[] {
  const span = new Map<number, { first: number; last: number }>();
  for (const r of outcomes) {
    if (r.error !== null) continue;
    const s = span.get(r.socketId);
    if (!s) span.set(r.socketId, { first: r.at, last: r.at });
    else {
      s.first = Math.min(s.first, r.at);
      s.last = Math.max(s.last, r.at);
    }
  }
  return [...span].filter(([, s]) => s.first < at && s.last > at).map(([id]) => id);
}

// ---------------------------------------------------------------------------------------------------------------
// s3rver on loopback, recording every request it receives.

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer: http.Server;
}
type S3rverClass = new (o: {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

export interface S3Fake {
  endpoint: string;
  port: number;
  /** `METHOD /path?query` of every request, in order. */
  requests: string[];
  /** Stop listening and drop open connections (so "S3 unreachable" is immediate). */
  stop(): Promise<void>;
}

/**
 * s3rver 3.7.1 on 127.0.0.1 port 0, in its own temp directory, with these buckets. It does not implement versioning.
 */
export async function startS3(buckets: string[]): Promise<S3Fake> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const directory = join(tmpDir(), 's3rver');
  const s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const addr = await s3.run();
  const requests: string[] = [];
  // Observed on the listener itself, before s3rver's Koa app sees the request.
  s3.httpServer.prependListener('request', (req: http.IncomingMessage) => requests.push(`${req.method} ${req.url}`));
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    requests,
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((r) => s3.httpServer.close(() => r()));
      s3.httpServer.closeAllConnections();
      await closed;
    },
  };
}

/** Standard SDK environment for talking to the fake (dummy credentials; nothing from the machine's AWS config). */
export function s3Env(endpoint: string): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}
