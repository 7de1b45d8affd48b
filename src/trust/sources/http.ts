/**
 * A CRL published over HTTP(S) (`https://pki.example.com/issuing.crl`, as CRL distribution points name them).
 * Node's fetch (undici) with one deadline for the whole exchange and the body read up to the size limit, so a
 * slow or endless answer costs a bounded wait and bounded memory.
 */
import { MAX_TRUSTSTORE_BYTES, type TruststoreSource } from './source.js';

export interface HttpOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

export function httpSource(uri: string, opts: HttpOptions = {}): TruststoreSource {
  const max = opts.maxBytes ?? MAX_TRUSTSTORE_BYTES;
  return {
    uri,
    async fetch() {
      const signal = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
      let res: Response;
      try {
        res = await fetch(uri, { signal, redirect: 'follow', headers: { accept: 'application/pkix-crl, */*' } });
      } catch (e) {
        throw new Error(`${uri}: ${fetchMessage(e)}`);
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`${uri}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      }
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > max) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`${uri}: ${declared} bytes is over the ${max} byte limit`);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for await (const chunk of res.body ?? []) {
          total += chunk.length;
          if (total > max) throw new Error(`over the ${max} byte limit`);
          chunks.push(Buffer.from(chunk));
        }
      } catch (e) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`${uri}: ${fetchMessage(e)}`);
      }
      const version = res.headers.get('etag') ?? res.headers.get('last-modified');
      return { bytes: Buffer.concat(chunks, total), version };
    },
  };
}

function fetchMessage(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS error (${code})`;
  return (err.cause?.message ?? err.message ?? String(e)).split('\n')[0]!;
}
