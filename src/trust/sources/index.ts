import { fileSource } from './file.js';
import type { S3Options } from './s3.js';
import { httpSource } from './http.js';
import type { TruststoreSource } from './source.js';

export type { TruststoreSource, TruststoreBytes } from './source.js';

/**
 * The source for a truststoreUri or CRL source: file://, s3:// or http(s):// (the config schema allows http(s) for
 * CRLs only, as API Gateway reads truststores from S3 alone). The AWS SDK is loaded on
 * the first s3:// fetch only: it costs a few hundred milliseconds of start-up that file-only gateways never need.
 */
export function sourceFor(uri: string, version: string | undefined, s3: S3Options = {}): TruststoreSource {
  if (uri.startsWith('http://') || uri.startsWith('https://')) return httpSource(uri, { timeoutMs: s3.timeoutMs });
  if (!uri.startsWith('s3://')) return fileSource(uri);
  // A CRL source pins its object version in the URI (a list has no truststoreVersion beside each entry).
  const pinned = /^(s3:\/\/[^?]+)\?versionId=([^&]+)$/.exec(uri);
  if (pinned) return s3Pinned(uri, pinned[1]!, decodeURIComponent(pinned[2]!), s3);
  return s3Pinned(uri, uri, version, s3);
}

function s3Pinned(uri: string, object: string, version: string | undefined, s3: S3Options): TruststoreSource {
  let real: Promise<TruststoreSource> | null = null;
  return {
    uri,
    async fetch() {
      real ??= import('./s3.js').then((m) => m.s3Source(object, version, s3));
      return (await real).fetch();
    },
  };
}
