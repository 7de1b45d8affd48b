/**
 * The Lambda emulation's part of the config schema: the top-level `arn`, `stageVariables`, `authorizers` and
 * `lambda`, and what a base path mapping adds (`authorizer`, `payloadFormatVersion`, `lambda:` targets). config.ts
 * plugs these in; docs/config.md explains each key.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../../errors.js';
import { LAMBDA_PREFIX, isLambdaTarget, splitHandler } from './target.js';

const handlerSpec = z.string().refine((s) => splitHandler(s) !== null, {
  message: 'expected FILE#EXPORT, e.g. ./authorizer.mjs#handler',
});

/**
 * `$request.header.NAME` / `$request.querystring.NAME` (HTTP API), `method.request.header.NAME` /
 * `method.request.querystring.NAME` (REST), `$stageVariables.NAME` / `stageVariables.NAME`.
 */
const IDENTITY_SOURCE =
  /^(\$request\.(header|querystring)|method\.request\.(header|querystring)|\$?stageVariables)\.[^\s.]+$/;

export const payloadFormatVersion = z.enum(['1.0', '2.0']);

const authorizer = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/, { message: 'letters, digits, _ and - only' }),
    handler: handlerSpec.optional(),
    url: z
      .string()
      .refine((u) => /^https?:\/\/./.test(u) && URL.canParse(u), { message: 'expected an http:// or https:// URL' })
      .optional(),
    payloadFormatVersion: payloadFormatVersion.default('1.0'),
    enableSimpleResponses: z.boolean().default(false),
    identitySource: z
      .array(z.string().regex(IDENTITY_SOURCE, { message: 'expected e.g. $request.header.x-api-key' }))
      .max(10)
      .default([]),
    authorizerResultTtlInSeconds: z.number().int().min(0).max(3600).default(300),
    // API Gateway gives an authorizer at most 30 s; the default answers a hung authorizer sooner.
    timeoutMs: z.number().int().min(1).max(30_000).default(10_000),
  })
  .refine((a) => (a.handler === undefined) !== (a.url === undefined), {
    message: 'set exactly one of handler and url',
    path: ['handler'],
  })
  .refine((a) => !a.enableSimpleResponses || a.payloadFormatVersion === '2.0', {
    message: 'simple responses need payloadFormatVersion "2.0"',
    path: ['enableSimpleResponses'],
  });

export type AuthorizerConfig = z.infer<typeof authorizer>;

export const lambdaTopLevel = {
  /** What methodArn and routeArn are made of. */
  arn: z
    .strictObject({
      region: z
        .string()
        .regex(/^[a-z0-9-]+$/)
        .default('us-east-1'),
      accountId: z
        .string()
        .regex(/^\d{12}$/, { message: 'expected 12 digits' })
        .default('123456789012'),
      apiId: z
        .string()
        .regex(/^[A-Za-z0-9]+$/)
        .default('mtlsgate'),
      stage: z
        .string()
        .regex(/^[$A-Za-z0-9_-]+$/)
        .default('$default'),
    })
    .default({ region: 'us-east-1', accountId: '123456789012', apiId: 'mtlsgate', stage: '$default' }),
  stageVariables: z.record(z.string().regex(/^[A-Za-z0-9_]+$/), z.string()).optional(),
  authorizers: z.array(authorizer).max(100).default([]),
  /** How local handler modules run: worker threads per module, their queue and heap (pool.ts). */
  lambda: z
    .strictObject({
      workersPerHandler: z.number().int().min(1).max(16).default(2),
      queuePerHandler: z.number().int().min(0).max(10_000).default(100),
      // Lambda's default memory size; V8 needs a few MB of heap just to start a worker.
      memoryMb: z.number().int().min(16).max(4096).default(128),
    })
    .default({ workersPerHandler: 2, queuePerHandler: 100, memoryMb: 128 }),
};

/** What a base path mapping adds. */
export const lambdaMappingKeys = {
  authorizer: z.string().min(1).optional(),
  payloadFormatVersion: payloadFormatVersion.optional(),
};

export interface LambdaConfigView {
  authorizers: AuthorizerConfig[];
  domains: { basePathMappings: { target: string; authorizer?: string | undefined; payloadFormatVersion?: string }[] }[];
}

/** Cross-references the schema cannot check: names unique and known, payloadFormatVersion only on lambda targets. */
export function checkLambdaConfig(cfg: LambdaConfigView, file: string): void {
  const names = new Set<string>();
  cfg.authorizers.forEach((a, i) => {
    if (names.has(a.name))
      throw new UserError('E_CONFIG', `${file}: authorizers[${i}].name: ${a.name} is defined twice`);
    names.add(a.name);
  });
  cfg.domains.forEach((d, i) =>
    d.basePathMappings.forEach((m, j) => {
      const at = `${file}: domains[${i}].basePathMappings[${j}]`;
      if (m.authorizer !== undefined && !names.has(m.authorizer)) {
        const known = names.size > 0 ? ` (authorizers: ${[...names].join(', ')})` : ' (no authorizers are defined)';
        throw new UserError('E_CONFIG', `${at}.authorizer: unknown authorizer "${m.authorizer}"${known}`);
      }
      if (m.payloadFormatVersion !== undefined && !isLambdaTarget(m.target))
        throw new UserError('E_CONFIG', `${at}.payloadFormatVersion: only for lambda: targets`);
      if (isLambdaTarget(m.target) && splitHandler(m.target.slice(LAMBDA_PREFIX.length)) === null)
        throw new UserError('E_CONFIG', `${at}.target: expected lambda:FILE#EXPORT, e.g. lambda:./app.mjs#handler`);
    }),
  );
}

/** Handler files resolve against the config file's folder, as certificate paths do. */
export function resolveHandler(spec: string, base: string): string {
  const s = splitHandler(spec)!;
  return `${isAbsolute(s.file) ? s.file : resolve(base, s.file)}#${s.exportName}`;
}

export function resolveLambdaTarget(target: string, base: string): string {
  return isLambdaTarget(target) ? LAMBDA_PREFIX + resolveHandler(target.slice(LAMBDA_PREFIX.length), base) : target;
}
