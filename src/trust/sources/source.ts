/** Where a truststore bundle comes from. One small interface, one file per kind (file://, s3://). */
export interface TruststoreBytes {
  bytes: Buffer;
  /** The S3 object version (or null for files and unversioned buckets). */
  version: string | null;
}

export interface TruststoreSource {
  /** The URI as configured, for logs and errors. */
  readonly uri: string;
  /** Fetch the whole bundle; rejects with an Error whose message is one line naming the source and the problem. */
  fetch(): Promise<TruststoreBytes>;
}

/** Bundles are small (API Gateway's are kilobytes); 10,000 CA certificates fit well under this. */
export const MAX_TRUSTSTORE_BYTES = 64 * 1024 * 1024;
