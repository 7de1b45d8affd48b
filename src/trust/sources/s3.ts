/**
 * A truststore in S3 (`s3://bucket/key`, optionally pinned to an object version, as API Gateway's
 * truststoreUri/truststoreVersion). The AWS SDK's standard configuration applies: AWS_REGION, the credentials
 * chain, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; config may set endpoint, region and path style.
 */
import { GetObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { isIP } from 'node:net';
import { MAX_TRUSTSTORE_BYTES, type TruststoreSource } from './source.js';

export interface S3Options {
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  timeoutMs?: number;
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m) throw new Error(`${uri}: expected s3://BUCKET/KEY`);
  return { bucket: m[1]!, key: m[2]! };
}

const clients = new Map<string, S3Client>();

function clientFor(opts: S3Options): S3Client {
  const endpoint = opts.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  // Virtual-hosted style cannot work against an IP address or localhost (no DNS for bucket.127.0.0.1).
  let pathStyle = opts.forcePathStyle;
  if (pathStyle === undefined && endpoint) {
    const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
    pathStyle = isIP(host) !== 0 || host === 'localhost';
  }
  const key = JSON.stringify([endpoint, region, pathStyle, opts.timeoutMs]);
  let c = clients.get(key);
  if (!c) {
    const cfg: S3ClientConfig = { region, maxAttempts: 2 };
    if (endpoint) cfg.endpoint = endpoint;
    if (pathStyle !== undefined) cfg.forcePathStyle = pathStyle;
    c = withoutSdkNodeVersionWarning(() => new S3Client(cfg));
    clients.set(key, c);
  }
  return c;
}

/**
 * The SDK warns on every Node below 22 ("NodeVersionSupportWarning ... will require node >=22"), synchronously
 * while a client is constructed; that is the SDK's support notice, not something a gateway user can act on, so
 * it is dropped there and only there (every other warning passes through).
 */
function withoutSdkNodeVersionWarning<T>(make: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.startsWith('NodeVersionSupportWarning')) return;
    (emit as (...a: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return make();
  } finally {
    process.emitWarning = emit;
  }
}

export function s3Source(uri: string, version: string | undefined, opts: S3Options = {}): TruststoreSource {
  const { bucket, key } = parseS3Uri(uri);
  const where = version ? `${uri} (version ${version})` : uri;
  return {
    uri,
    async fetch() {
      const client = clientFor(opts);
      const abort = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...(version && { VersionId: version }) }),
          { abortSignal: abort },
        );
        if (out.ContentLength !== undefined && out.ContentLength > MAX_TRUSTSTORE_BYTES)
          throw new Error(`${where}: ${out.ContentLength} bytes is over the ${MAX_TRUSTSTORE_BYTES} byte limit`);
        const bytes = Buffer.from(await out.Body!.transformToByteArray());
        return { bytes, version: out.VersionId ?? version ?? null };
      } catch (e) {
        throw new Error(`${where}: ${s3Message(e, bucket)}`);
      }
    },
  };
}

function s3Message(e: unknown, bucket: string): string {
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  // The SDK names socket errors TimeoutError (so that it retries them): a reset is not a timeout.
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE')
    return err.message === 'aborted'
      ? 'the connection closed before the whole object arrived'
      : 'connection reset by the S3 endpoint';
  switch (err.name) {
    case 'NoSuchKey':
      return 'no such object';
    case 'NoSuchBucket':
      return `bucket ${bucket} does not exist`;
    case 'NoSuchVersion':
      return 'no such object version';
    case 'AccessDenied':
      return 'access denied (check the credentials and the bucket policy: s3:GetObject and s3:GetObjectVersion)';
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
      return 'the AWS credentials were refused';
    case 'TimeoutError':
    case 'AbortError':
      return 'timed out';
    case 'CredentialsProviderError':
      return 'no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)';
  }
  const status = err.$metadata?.httpStatusCode;
  if (err.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(err.message ?? ''))
    return 'connection refused (is the S3 endpoint right?)';
  if (err.code === 'ENOTFOUND') return 'endpoint host not found';
  return `${err.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${(err.message ?? String(e)).split('\n')[0]}`;
}
