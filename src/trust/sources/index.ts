import { fileSource } from './file.js';
import { s3Source, type S3Options } from './s3.js';
import type { TruststoreSource } from './source.js';

export type { TruststoreSource, TruststoreBytes } from './source.js';

/** The source for a truststoreUri: file:// or s3:// (the config schema allows no others). */
export function sourceFor(uri: string, version: string | undefined, s3: S3Options = {}): TruststoreSource {
  if (uri.startsWith('s3://')) return s3Source(uri, version, s3);
  return fileSource(uri);
}
