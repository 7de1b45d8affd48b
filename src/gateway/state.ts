/**
 * The gateway's state: everything derived from the config (TLS contexts, truststores, routes, response bodies),
 * built in full before it serves, and swapped as one reference on reload. A domain whose new build fails keeps
 * serving with its previous state (Caddy's "build new, swap, keep old on error").
 */
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import type { Finding } from '../report/finding.js';
import { isLoadProblem, readCapped } from '../pki/read.js';
import { parseCert } from '../pki/cert.js';
import { parsePem } from '../pki/pem.js';
import type { Cert } from '../pki/types.js';
import { DEFAULT_POLICY, type PolicyOptions } from '../policy/rules.js';
import { truststoreFromPem } from '../trust/load.js';
import { truststoreOracle, type Truststore } from '../trust/truststore.js';
import { lintTruststore } from '../trust/lint.js';
import { sourceFor } from '../trust/sources/index.js';
import type { DomainConfig, GatewayConfig } from './config.js';
import { loadCrlSources, revocationPolicy, type DomainRevocation } from './revocation.js';
import { makeRoutes, type Route } from './routes.js';
import { NO_ROUTE, requestLabels, type RequestLabels } from './metrics.js';
import { boundedCache, type VerifyContext } from './verify.js';
import { compileAllow, type AllowList } from './allow.js';
import { compileAccessLogFormat, type AccessLogFormat } from './access-format.js';
import { buildLambda, type LambdaState } from './lambda/state.js';
import { domainPaths } from './watch.js';
import type { HandlerHost } from './lambda/pool.js';

export interface DomainState {
  name: string;
  config: DomainConfig;
  secureContext: tls.SecureContext;
  verify: VerifyContext;
  routes: Route[];
  /** The labels of requests no mapping matched, for metrics. */
  unrouted: RequestLabels;
  /** mutualTls.allow, compiled: judges requests no mapping matches (a mapping without its own list gets it too). */
  allow: AllowList | null;
  truststoreVersion: string | null;
  truststoreCertificates: number;
  truststoreWarnings: Finding[];
  /** certificate.cert parsed: the server certificate, then its chain (for expiry metrics and the admin's views). */
  serverChain: Cert[];
  /** Null when mutualTls.revocation is off. */
  revocation: DomainRevocation | null;
  /** CRL sources that failed in this build and kept their previous CRLs (one line each). */
  revocationErrors: string[];
  /** CRLs loaded in this build but not used (of a CA the truststore does not hold). */
  revocationWarnings: string[];
  /** SHA-256 of what this build read: certificate + key (+ passphrase, policy), and the truststore's bytes. */
  digests: { certificate: string; truststore: string };
  /** When the truststore in use was loaded (kept across builds that reused it). */
  loadedAt: Date;
}

export interface GatewayState {
  generation: number;
  config: GatewayConfig;
  domains: Map<string, DomainState>;
  /** logs.accessLogFormat, compiled; null: the JSON request line. */
  accessLog: AccessLogFormat | null;
  /** Authorizers and Lambda integration handlers (lambda/state.ts). */
  lambda: LambdaState;
}

export interface DomainLoadError {
  domain: string;
  message: string;
}

/**
 * API Gateway's TLS_1_2 policy ciphers (apigateway-security-policies), keeping only the forward-secret ECDHE ones;
 * TLS 1.3 suites are OpenSSL's defaults (the same three API Gateway lists).
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
].join(':');

/**
 * A gateway instance's generation numbers: each build of a domain and of the state takes the next one, so a verdict
 * cached under one generation is never taken for another's.
 */
export interface Generations {
  last: number;
}

export async function buildDomain(
  cfg: GatewayConfig,
  d: DomainConfig,
  generations: Generations,
  previous: DomainState | null = null,
  /** Take from `previous` what the same bytes would build again: its parsed truststore, its TLS context. */
  reuseUnchanged = false,
): Promise<DomainState> {
  const name = d.domainName;
  const [certPem, keyPem] = await Promise.all([
    readText(d.certificate.cert, 'certificate.cert'),
    readText(d.certificate.key, 'certificate.key'),
  ]);
  const source = sourceFor(d.mutualTls.truststoreUri, d.mutualTls.truststoreVersion, cfg.s3 ?? {});
  let fetched;
  try {
    fetched = await source.fetch();
  } catch (e) {
    throw new Error(`mutualTls.truststoreUri: ${(e as Error).message}`);
  }
  const digests = {
    certificate: digestOf([certPem, keyPem, d.certificate.passphrase ?? '', d.securityPolicy]),
    truststore: digestOf([fetched.bytes]),
  };
  const policy: PolicyOptions = { ...DEFAULT_POLICY, trustClientIntermediates: d.mutualTls.trustClientIntermediates };
  // The same truststore bytes judged by the same policy: the same verdicts, so the verify context (its generation
  // and verdict cache) carries on, and open connections are not judged again.
  const kept =
    reuseUnchanged &&
    previous !== null &&
    previous.digests.truststore === digests.truststore &&
    previous.verify.policy.trustClientIntermediates === policy.trustClientIntermediates
      ? previous
      : null;
  const { truststore, warnings } = kept
    ? { truststore: kept.verify.truststore, warnings: kept.truststoreWarnings }
    : parseTruststore(d, fetched.bytes);

  // A truststore whose CA names overflow a CertificateRequest cannot be given to OpenSSL (every handshake would
  // fail): the context then names no CA (an empty `ca`, not Node's public roots) and the model judges chains.
  const oracle = kept ? kept.verify.oracle : truststoreOracle(truststore);
  const secureContext =
    kept && kept.digests.certificate === digests.certificate
      ? kept.secureContext
      : serverContext(d, { certPem, keyPem, truststore, oracle });

  const serverChain = kept && kept.digests.certificate === digests.certificate ? kept.serverChain : chainOf(certPem);
  const { revocation, revocationErrors, revocationWarnings } = await buildRevocation(cfg, d, truststore, previous);
  const allow = d.mutualTls.allow ? compileAllow(d.mutualTls.allow) : null;
  return {
    name,
    config: d,
    secureContext,
    verify: kept ? kept.verify : { generation: ++generations.last, truststore, policy, oracle, cache: boundedCache() },
    routes: makeRoutes(d.basePathMappings, { name, clientCertificate: d.mutualTls.clientCertificate, allow }),
    unrouted: requestLabels(name, NO_ROUTE),
    allow,
    truststoreVersion: fetched.version,
    truststoreCertificates: truststore.certs.length,
    truststoreWarnings: warnings,
    serverChain,
    revocation,
    revocationErrors,
    revocationWarnings,
    digests,
    loadedAt: kept ? kept.loadedAt : new Date(),
  };
}

/** The truststore's certificates and lint warnings; a bundle that cannot serve (empty, cut short, not PEM) throws. */
function parseTruststore(d: DomainConfig, bytes: Buffer): { truststore: Truststore; warnings: Finding[] } {
  const text = bytes.toString('latin1');
  const { truststore, file, findings } = truststoreFromPem(text, d.mutualTls.truststoreUri);
  const fatal = findings.find(
    (f) => f.severity === 'error' && (f.id === 'truststore.empty' || f.id === 'truststore.wrong-format'),
  );
  if (!truststore || truststore.certs.length === 0 || fatal) {
    // The finding that says why (a parse error explains "empty" better than "empty" does); titles already name the
    // source.
    const why =
      fatal && fatal.id !== 'truststore.empty' ? fatal : (findings.find((f) => f.severity === 'error') ?? fatal);
    const title = (why?.title ?? 'no usable certificate').replace(`${d.mutualTls.truststoreUri}: `, '');
    throw new Error(`mutualTls.truststoreUri: ${d.mutualTls.truststoreUri}: ${title}`);
  }
  // Cut short (a file read while being written in place, a partial download): the certificates that happened to
  // arrive must not replace the truststore that serves now.
  if (endsMidBlock(text))
    throw new Error(
      `mutualTls.truststoreUri: ${d.mutualTls.truststoreUri}: truncated: the bundle ends inside a PEM block (a partial write or download)`,
    );
  // With the file, lint also sees what is not a certificate (a private key uploaded by mistake).
  const warnings = [...findings, ...lintTruststore(truststore, file)].filter((f) => f.severity !== 'info');
  return { truststore, warnings };
}

/** The domain's TLS context: its certificate and key, and the truststore's CA names when OpenSSL can carry them. */
function serverContext(
  d: DomainConfig,
  o: { certPem: string; keyPem: string; truststore: Truststore; oracle: VerifyContext['oracle'] },
): tls.SecureContext {
  try {
    return tls.createSecureContext({
      cert: o.certPem,
      key: o.keyPem,
      ...(d.certificate.passphrase !== undefined && { passphrase: d.certificate.passphrase }),
      ca: o.oracle === 'handshake' ? [o.truststore.pem] : [],
      minVersion: d.securityPolicy === 'TLS_1_3' ? 'TLSv1.3' : 'TLSv1.2',
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH')
      throw new Error(`certificate.key: ${d.certificate.key}: ${serverCertMessage(e)} ${d.certificate.cert}`);
    if (code === 'ERR_OSSL_BAD_DECRYPT' || code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED')
      throw new Error(`certificate.key: ${d.certificate.key}: ${serverCertMessage(e)}`);
    throw new Error(`certificate.cert: ${d.certificate.cert}: ${serverCertMessage(e)}`);
  }
}

/** SHA-256 over the parts, each length-prefixed so that no two different lists hash alike. */
function digestOf(parts: ReadonlyArray<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${Buffer.byteLength(p)}:`).update(p);
  return h.digest('hex');
}

/**
 * The domain's CRLs. A source that fails keeps the CRLs the previous build had from it; with none to keep (start-up,
 * a new source) the domain does not build, as with a truststore that cannot be loaded.
 */
async function buildRevocation(
  cfg: GatewayConfig,
  d: DomainConfig,
  truststore: Truststore,
  previous: DomainState | null,
): Promise<{ revocation: DomainRevocation | null; revocationErrors: string[]; revocationWarnings: string[] }> {
  const config = d.mutualTls.revocation;
  if (!config || config.mode === 'off') return { revocation: null, revocationErrors: [], revocationWarnings: [] };
  const load = await loadCrlSources({
    config,
    truststore,
    previous: previous?.revocation?.sources ?? null,
    s3: cfg.s3 ?? {},
  });
  const never = load.sources.find((s) => s.loadedAt === null && !s.discovered);
  if (never) throw new Error(`mutualTls.revocation.crl.sources: ${never.error}`);
  const revocation: DomainRevocation = {
    policy: revocationPolicy(config),
    config,
    crls: load.crls,
    sources: load.sources,
    refreshDueAt: Date.now() + config.crl.refreshSeconds * 1000,
    refreshing: false,
    discovering: new Map(),
    ocsp: null,
  };
  return { revocation, revocationErrors: load.errors, revocationWarnings: load.warnings };
}

/** The domain for a TLS server name: exact, else a wildcard one level up (`*.example.com` for `a.example.com`). */
export function lookupDomain(state: GatewayState, servername: string): DomainState | undefined {
  const name = servername.toLowerCase();
  const exact = state.domains.get(name);
  if (exact) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? state.domains.get(`*${name.slice(dot)}`) : undefined;
}

/**
 * Build every domain. At start-up (no previous state) any failure is returned and nothing serves; on reload a
 * failing domain keeps its previous state and the error is returned alongside the new state. Handler modules start
 * their workers in `handlers`, the gateway instance's.
 *
 * With `changedFiles` (a watched file changed) only what changed is built: a domain whose config is the same and
 * that reads none of those files is kept as it is, and a domain that is built takes its unchanged parts from before.
 */
export async function buildState(
  cfg: GatewayConfig,
  previous: GatewayState | null,
  generations: Generations,
  handlers: HandlerHost,
  changedFiles: ReadonlySet<string> | null = null,
): Promise<{ state: GatewayState; errors: DomainLoadError[] }> {
  const errors: DomainLoadError[] = [];
  const lambda = await buildLambda(cfg, previous?.lambda ?? null, handlers);
  errors.push(...lambda.errors);
  const sameS3 = JSON.stringify(cfg.s3) === JSON.stringify(previous?.config.s3);
  const results = await Promise.all(
    cfg.domains.map(async (d, i) => {
      const before = previous?.domains.get(d.domainName) ?? null;
      const incremental = changedFiles !== null && before !== null && sameS3;
      if (incremental && !domainPaths(d).some((p) => changedFiles.has(p)) && sameDomainConfig(before.config, d))
        return before;
      try {
        return await buildDomain(cfg, d, generations, before, incremental);
      } catch (e) {
        errors.push({ domain: d.domainName, message: `domains[${i}].${(e as Error).message}` });
        return previous?.domains.get(d.domainName) ?? null;
      }
    }),
  );
  const domains = new Map<string, DomainState>();
  for (const r of results) if (r) domains.set(r.name, r);
  const format = cfg.logs.accessLogFormat;
  const accessLog = format === undefined ? null : compileAccessLogFormat(format);
  return {
    state: { generation: ++generations.last, config: cfg, domains, accessLog, lambda: lambda.lambda },
    errors,
  };
}

function sameDomainConfig(a: DomainConfig, b: DomainConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The text ends inside a PEM block or in the middle of a BEGIN/END line. (A bundle cut exactly at a block boundary
 * cannot be told from a shorter one: replace truststore files with a rename.)
 */
function endsMidBlock(text: string): boolean {
  const body = text.trimEnd();
  if (body.lastIndexOf('-----BEGIN ') > body.lastIndexOf('-----END ')) return true;
  const lastLine = body.slice(body.lastIndexOf('\n') + 1);
  return lastLine.startsWith('-') && !/^-----END [\x21-\x7e][ \x21-\x7e]*-----$/.test(lastLine);
}

/** The 1 MiB docs/config.md promises: a certificate chain or a key is a few kB. */
const MAX_PEM_BYTES = 1024 * 1024;

/** A server certificate or key file, with the toolkit's capped reader: a FIFO or /dev/zero is refused, not read. */
async function readText(path: string, what: string): Promise<string> {
  const read = await readCapped(path, MAX_PEM_BYTES);
  if (isLoadProblem(read)) throw new Error(`${what}: ${path}: ${read.message}`);
  const text = read.bytes.toString('latin1');
  if (!text.includes('-----BEGIN'))
    throw new Error(`${what}: ${path}: not PEM (run \`mtlsgate inspect\` on it to see what it is)`);
  return text;
}

/** The certificates of certificate.cert, for the expiry metrics and views. */
function chainOf(pem: string): Cert[] {
  return parsePem(pem)
    .blocks.filter((b) => b.label === 'CERTIFICATE')
    .flatMap((b) => {
      try {
        return [parseCert(b.body)];
      } catch {
        return []; // OpenSSL took the file; a block only our parser refuses is left out of the views
      }
    });
}

function serverCertMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') return 'the key does not match the certificate';
  if (err.code === 'ERR_OSSL_BAD_DECRYPT') return 'wrong passphrase for the key';
  if (err.code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED')
    return 'the key is encrypted: set certificate.passphrase';
  return (err.message ?? String(e)).split('\n')[0]!;
}
