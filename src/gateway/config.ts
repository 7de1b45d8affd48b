/**
 * The gateway's configuration: plain data, decoded strictly once (unknown keys are errors naming their path),
 * with keys named after API Gateway's DomainName / MutualTlsAuthentication / BasePathMapping so its users feel
 * at home. Relative paths resolve against the config file's folder.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { Parser as YamlParser, parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { isLoadProblem, readCapped } from '../pki/read.js';
import { allowEntryProblem } from './allow.js';
import { accessLogProblem } from './access-format.js';
import { isLambdaTarget } from './lambda/target.js';
import {
  checkLambdaConfig,
  lambdaMappingKeys,
  lambdaTopLevel,
  resolveHandler,
  resolveLambdaTarget,
} from './lambda/config.js';

const port = z.number().int().min(0).max(65535);
const hostPort = z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port });

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;

/** The admin listener can reload the gateway: off loopback, only with a token. */
const admin = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port,
    // A bearer token for every endpoint but /healthz and /readyz (probes).
    token: z.string().min(16, 'at least 16 characters').max(512).optional(),
    // Recent denials kept for /denials and the dashboard (per process); 0 keeps none.
    denialsBuffer: z.number().int().min(0).max(10_000).default(200),
  })
  .refine((a) => a.token !== undefined || LOOPBACK.test(a.host), {
    message: 'required when admin.host is not a loopback address (the admin listener can reload the gateway)',
    path: ['token'],
  });
const ms = (def: number) => z.number().int().min(1).max(3_600_000).default(def);

const truststoreUri = z
  .string()
  .refine((u) => /^(file|s3):\/\/./.test(u), { message: 'expected file://PATH or s3://BUCKET/KEY' });

const crlSource = z.string().refine((u) => /^(file|s3|https?):\/\/./.test(u), {
  message: 'expected file://PATH, s3://BUCKET/KEY or an http(s):// URL',
});

const httpUrl = z.string().refine(
  (u) => {
    try {
      const url = new URL(u);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL' },
);

/** mutualTls.revocation; docs/config.md explains each key. */
const revocation = z
  .strictObject({
    mode: z.enum(['off', 'crl', 'ocsp', 'prefer-ocsp', 'prefer-crl']).default('off'),
    crl: z
      .strictObject({
        sources: z.array(crlSource).max(100).default([]),
        fromDistributionPoints: z.boolean().default(false),
        refreshSeconds: z.number().int().min(1).max(86_400).default(300),
        // One fetch of one source, start to last byte; a slow source never holds up requests, only its refresh.
        timeoutMs: z.number().int().min(100).max(300_000).default(15_000),
      })
      .default({ sources: [], fromDistributionPoints: false, refreshSeconds: 300, timeoutMs: 15_000 }),
    ocsp: z
      .strictObject({
        responder: httpUrl.optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(2000),
        nonce: z.boolean().default(true),
      })
      .default({ timeoutMs: 2000, nonce: true }),
    onUnavailable: z.enum(['deny', 'allow']).default('deny'),
    scope: z.enum(['leaf', 'chain']).default('leaf'),
  })
  .refine((r) => r.mode === 'off' || r.mode === 'ocsp' || r.crl.sources.length > 0 || r.crl.fromDistributionPoints, {
    message: 'crl.sources is empty: list the CRLs (or set crl.fromDistributionPoints: true)',
    path: ['crl', 'sources'],
  });

export type RevocationConfig = z.infer<typeof revocation>;

const target = z.string().refine(
  (u) => {
    if (isLambdaTarget(u)) return true;
    try {
      const url = new URL(u);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
    } catch {
      return false;
    }
  },
  {
    message:
      'expected an http:// or https:// URL without query or fragment, e.g. http://127.0.0.1:9000, or lambda:FILE#EXPORT',
  },
);

const basePath = z
  .string()
  .transform((p) => (p === '(none)' ? '' : p.replace(/^\/+|\/+$/g, '')))
  .refine((p) => !p.split('/').some((s) => s === '..' || s === '.'), {
    message: 'a base path may not contain . or .. segments',
  })
  .refine((p) => /^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(p), {
    message: 'a base path may contain only URL path characters',
  });

/** A list of allow-list entries of one kind, each checked on its own so an error names its index. */
const allowEntries = (key: Parameters<typeof allowEntryProblem>[0]) =>
  z
    .array(
      z.string().superRefine((v, ctx) => {
        const problem = allowEntryProblem(key, v);
        if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .optional();

/** mutualTls.allow and basePathMappings[].allow: any one entry admits a verified certificate. */
const allow = z.strictObject({
  subjects: allowEntries('subjects'),
  subjectAltNames: allowEntries('subjectAltNames'),
  sha256Fingerprints: allowEntries('sha256Fingerprints'),
  serialNumbers: allowEntries('serialNumbers'),
});

const clientCertificate = z.enum(['required', 'optional', 'none']);

const mapping = z.strictObject({
  basePath: basePath.default(''),
  target,
  clientCertificate: clientCertificate.optional(),
  allow: allow.optional(),
  ...lambdaMappingKeys,
});

const domain = z.strictObject({
  domainName: z
    .string()
    .min(1)
    .transform((s) => s.toLowerCase())
    .refine((s) => /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(s), {
      message: 'expected a DNS name, e.g. mtls.example.com or *.example.com',
    }),
  certificate: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), passphrase: z.string().optional() }),
  securityPolicy: z.enum(['TLS_1_2', 'TLS_1_3']).default('TLS_1_2'),
  mutualTls: z
    .strictObject({
      truststoreUri,
      truststoreVersion: z.string().min(1).optional(),
      exposeReason: z.boolean().default(false),
      clientCertificate: z.enum(['required', 'optional']).default('required'),
      noCertificate: z.enum(['handshake', 'http403']).optional(),
      trustClientIntermediates: z.boolean().default(false),
      revocation: revocation.optional(),
      allow: allow.optional(),
    })
    .refine((m) => !(m.clientCertificate === 'optional' && m.noCertificate === 'handshake'), {
      message:
        'handshake contradicts clientCertificate: optional (its handshake completes without a certificate and ' +
        'each route decides): remove noCertificate',
      path: ['noCertificate'],
    })
    // An optional domain answers a missing certificate per route, so over HTTP.
    .transform((m) => ({
      ...m,
      noCertificate: m.noCertificate ?? (m.clientCertificate === 'optional' ? 'http403' : 'handshake'),
    })),
  basePathMappings: z.array(mapping).min(1),
});

export const configSchema = z.strictObject({
  listen: hostPort.default({ host: '127.0.0.1', port: 8443 }),
  admin: admin.optional(),
  domains: z.array(domain).min(1),
  disableDefaultEndpoint: z
    .literal(true, { message: 'mtlsgate never serves these APIs without mutual TLS; only true is accepted' })
    .default(true),
  s3: z
    .strictObject({
      endpoint: z.string().url().optional(),
      region: z.string().optional(),
      forcePathStyle: z.boolean().optional(),
      // A hanging S3 holds up the whole reload (every domain is built before the swap): keep this short.
      timeoutMs: z.number().int().min(100).max(300_000).optional(),
    })
    .optional(),
  timeouts: z
    .strictObject({
      handshakeMs: ms(10_000),
      headersMs: ms(10_000),
      requestMs: ms(60_000),
      idleMs: ms(60_000),
      backendMs: ms(30_000),
      // SIGTERM/SIGINT: how long requests in flight may take to finish before their connections are closed.
      shutdownMs: ms(10_000),
    })
    .default({
      handshakeMs: 10_000,
      headersMs: 10_000,
      requestMs: 60_000,
      idleMs: 60_000,
      backendMs: 30_000,
      shutdownMs: 10_000,
    }),
  limits: z
    .strictObject({
      maxConnections: z.number().int().min(1).default(10_000),
      // Unset: no per-address limit (behind a load balancer every client has its address).
      maxConnectionsPerAddress: z.number().int().min(1).optional(),
      maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
    })
    .default({ maxConnections: 10_000, maxHeaderBytes: 16_384 }),
  tls: z
    .strictObject({
      sessionResumption: z.boolean().default(true),
      ticketKeyFile: z.string().min(1).optional(),
      sessionLifetimeSec: z.number().int().min(1).max(86_400).default(300),
    })
    .default({ sessionResumption: true, sessionLifetimeSec: 300 }),
  // Mounted Secrets and ConfigMaps change by a symlink swap in their directory: watch.ts watches the directories.
  watch: z
    .strictObject({
      enabled: z.boolean().default(false),
      debounceMs: z.number().int().min(0).max(60_000).default(200),
    })
    .default({ enabled: false, debounceMs: 200 }),
  shutdown: z
    .strictObject({
      // SIGTERM: /readyz fails at once and the listener still accepts this long, while load balancers let go of it.
      drainDelayMs: z.number().int().min(0).max(3_600_000).default(0),
    })
    .default({ drainDelayMs: 0 }),
  logs: z
    .strictObject({
      format: z.enum(['json', 'pretty']).default('json'),
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
      accessLogFormat: z
        .string()
        .min(1)
        .superRefine((v, ctx) => {
          const problem = accessLogProblem(v);
          if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
    })
    .default({ format: 'json', level: 'info' }),
  ...lambdaTopLevel,
});

export type GatewayConfig = z.infer<typeof configSchema>;
export type DomainConfig = GatewayConfig['domains'][number];

/** Parse and validate config text; errors name the file, the key path and what is wrong. */
export function parseConfig(text: string, file: string): GatewayConfig {
  let data: unknown;
  try {
    // yaml composes nested collections recursively: ~1,000 nested [ or { overflow the stack, and the next such parse
    // aborts the process (V8: "FATAL ERROR: RegExpCompiler Allocation failed"), so a second reload would kill the
    // gateway.
    // Its duplicate-key check is quadratic (100,000 keys in one mapping: minutes). Neither shape can be a valid config.
    const shape = file.endsWith('.json') ? null : yamlTooComplex(text);
    if (shape) throw new Error(shape);
    // prettyErrors off: yaml would work out a line/column context for every error, quadratic in the text (400 kB
    // of bad aliases took 15 s); the first error's position is found once below. logLevel: no stray warnings on stderr.
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: false, logLevel: 'error' });
  } catch (e) {
    // The parsers quote the offending token, which can be most of the file: at most 200 characters of it.
    const why = printable(firstLine((e as Error).message).replace(/:$/, ''));
    throw new UserError(
      'E_CONFIG',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${why.length > 200 ? `${why.slice(0, 200)}...` : why}${yamlPosition(text, e)}`,
    );
  }
  if (data === null || data === undefined) throw new UserError('E_CONFIG', `${file}: the file is empty`);
  const r = configSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues;
    // An unknown key is usually a typo, and the "missing" key it causes is then no news: report the unknown key first.
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
    // A key is the user's text: control characters (a newline in a quoted key) are shown as \xNN, so the error stays
    // one
    // line, and a key longer than 100 characters (a YAML complex key can be most of the file) is cut.
    const keyPath = (p: readonly PropertyKey[]): string =>
      p.length
        ? p
            .map((s) =>
              typeof s === 'number'
                ? `[${s}]`
                : `.${printable(String(s).length > 100 ? `${String(s).slice(0, 100)}...` : String(s))}`,
            )
            .join('')
            .replace(/^\./, '')
        : '(top level)';
    let path = keyPath(issue.path);
    let what = issue.message.replace(/^Invalid (input|option): /, '');
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      path = keyPath([...issue.path, key]);
      const missing = issues.find(
        (i) =>
          i.code === 'invalid_type' &&
          /received undefined$/.test(i.message) &&
          i.path.length === issue.path.length + 1 &&
          keyPath(i.path.slice(0, -1)) === keyPath(issue.path),
      );
      what = `unknown key${missing ? ` (did you mean ${String(missing.path[missing.path.length - 1])}?)` : ''}`;
    } else if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
      what = `required (${issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`})`;
    }
    throw new UserError(
      'E_CONFIG',
      `${file}: ${path}: ${what}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
    );
  }
  const cfg = r.data;
  const names = new Set<string>();
  cfg.domains.forEach((d, i) => {
    if (names.has(d.domainName))
      throw new UserError('E_CONFIG', `${file}: domains[${i}].domainName: ${d.domainName} is configured twice`);
    names.add(d.domainName);
    const seen = new Set<string>();
    d.basePathMappings.forEach((m, j) => {
      if (seen.has(m.basePath))
        throw new UserError(
          'E_CONFIG',
          `${file}: domains[${i}].basePathMappings[${j}].basePath: "${m.basePath || '(none)'}" is mapped twice`,
        );
      seen.add(m.basePath);
      const at = `${file}: domains[${i}].basePathMappings[${j}]`;
      // A required domain refuses a missing or unverified certificate on every path: a looser route could not be.
      if (d.mutualTls.clientCertificate === 'required' && (m.clientCertificate ?? 'required') !== 'required')
        throw new UserError(
          'E_CONFIG',
          `${at}.clientCertificate: ${m.clientCertificate} needs mutualTls.clientCertificate: optional on the domain`,
        );
      if (m.clientCertificate === 'none' && m.allow !== undefined)
        throw new UserError('E_CONFIG', `${at}.allow: no effect where clientCertificate is none (remove one)`);
    });
  });
  checkLambdaConfig(cfg, file);
  return resolvePaths(cfg, dirname(resolve(file)));
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Read and parse the config file with the toolkit's capped reader: a FIFO or /dev/zero given as the config is
 * refused, not read (it hung start-up and reload).
 */
export async function loadConfig(file: string): Promise<GatewayConfig> {
  const read = await readCapped(file, MAX_CONFIG_BYTES);
  if (isLoadProblem(read)) {
    // The reader's own size message asks whether this is a certificate or key file.
    throw new UserError(
      'E_CONFIG',
      `${file}: ${read.kind === 'too-large' ? 'larger than 1 MiB; is this the config file?' : read.message}`,
    );
  }
  return parseConfig(read.bytes.toString('utf8'), file);
}

function resolvePaths(cfg: GatewayConfig, base: string): GatewayConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const fileUri = (u: string): string =>
    u.startsWith('file://') ? `file://${abs(decodeURIComponent(u.slice(7)))}` : u;
  return {
    ...cfg,
    tls: cfg.tls.ticketKeyFile === undefined ? cfg.tls : { ...cfg.tls, ticketKeyFile: abs(cfg.tls.ticketKeyFile) },
    authorizers: cfg.authorizers.map((a) => (a.handler ? { ...a, handler: resolveHandler(a.handler, base) } : a)),
    domains: cfg.domains.map((d) => ({
      ...d,
      certificate: { ...d.certificate, cert: abs(d.certificate.cert), key: abs(d.certificate.key) },
      mutualTls: {
        ...d.mutualTls,
        truststoreUri: fileUri(d.mutualTls.truststoreUri),
        ...(d.mutualTls.revocation && {
          revocation: {
            ...d.mutualTls.revocation,
            crl: { ...d.mutualTls.revocation.crl, sources: d.mutualTls.revocation.crl.sources.map(fileUri) },
          },
        }),
      },
      basePathMappings: d.basePathMappings.map((m) => ({ ...m, target: resolveLambdaTarget(m.target, base) })),
    })),
  };
}

const MAX_YAML_DEPTH = 64;
const MAX_YAML_KEYS = 1000;

/**
 * Why yaml should not compose this text, from its concrete syntax tree (yaml's lexer and parser are iterative):
 * collections nested too deep, or a mapping with too many keys. Null when neither.
 */
function yamlTooComplex(text: string): string | null {
  type Node =
    | { type?: string; value?: unknown; start?: { source?: string }; items?: Array<{ key?: unknown; value?: unknown }> }
    | null
    | undefined;
  for (const token of new YamlParser().parse(text)) {
    const stack: Array<[Node, number]> = [[token as Node, 0]];
    while (stack.length > 0) {
      const [node, depth] = stack.pop()!;
      if (!node || typeof node !== 'object') continue;
      if (depth > MAX_YAML_DEPTH) return `collections nested more than ${MAX_YAML_DEPTH} levels deep`;
      const isMap = node.type === 'block-map' || (node.type === 'flow-collection' && node.start?.source === '{');
      if (isMap && (node.items?.length ?? 0) > MAX_YAML_KEYS) return `a mapping with more than ${MAX_YAML_KEYS} keys`;
      if (node.type === 'document') stack.push([node.value as Node, depth]);
      for (const item of node.items ?? []) stack.push([item.key as Node, depth + 1], [item.value as Node, depth + 1]);
    }
  }
  return null;
}

/** ` at line L, column C` (1-based, as yaml's prettyErrors wrote it) for a yaml error's offset; '' for others. */
function yamlPosition(text: string, e: unknown): string {
  const at = (e as { pos?: unknown } | null)?.pos;
  if (!Array.isArray(at) || typeof at[0] !== 'number') return '';
  const pos = Math.min(at[0], text.length);
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) line++;
  const lineStart = pos > 0 ? text.lastIndexOf('\n', pos - 1) + 1 : 0;
  return ` at line ${line}, column ${pos - lineStart + 1}`;
}

/** The user's text in a one-line message: control characters (CR, ESC, ...) as \xNN. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
