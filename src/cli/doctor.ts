/**
 * `mtlsgate doctor`: explain whether the gateway would accept a client certificate, and what to fix; with --url,
 * also probe the real endpoint (DNS, TCP, TLS, HTTP) and tie what the server did to the offline verdict.
 */
import { Command, Option } from 'commander';
import type { CliContext } from './context.js';
import { wantsColor } from './io.js';
import { UserError } from '../errors.js';
import { diagnose, hasErrors } from '../doctor/diagnose.js';
import type { DoctorInput } from '../doctor/known.js';
import { renderReport } from '../doctor/render-report.js';
import { loadFile } from '../pki/load.js';
import { DEFAULT_TIMEOUT_MS, parseTarget } from '../doctor/live/target.js';
import { doctorCurlCommand } from './doctor-curl.js';
import { requireNonEmptyCertPath, requireNonEmptyPath } from './paths.js';
import { parseTimeout } from './timeout.js';
import type { DomainConfig } from '../gateway/config.js';
import { checkRoute } from '../doctor/checks/route.js';
import { sortFindings } from '../report/finding.js';

interface DoctorOptions {
  cert?: string;
  key?: string;
  pass?: string;
  truststore?: string;
  json?: boolean;
  trustClientIntermediates?: boolean;
  at?: string;
  url?: string;
  cacert?: string;
  resolve: string[];
  connectTo: string[];
  insecure?: boolean;
  timeout: string;
  crl: string[];
  truststoreVersion?: string;
  ocsp?: boolean;
  ocspUrl?: string;
  revocationScope?: 'leaf' | 'chain';
  onUnavailable?: 'deny' | 'allow';
  config?: string;
  domain?: string;
  path?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function doctorCommand(ctx: CliContext): Command {
  return (
    new Command('doctor')
      // `doctor curl -- ...` takes curl's own options; the parent's must not swallow them.
      .enablePositionalOptions()
      .addCommand(doctorCurlCommand(ctx))
      .description(
        'explain whether the gateway would accept a client certificate, and what to fix; --url probes a live endpoint too',
      )
      .option('--cert <file[:pass]>', "client certificate (PEM, DER, PKCS#12; curl's file:passphrase works)")
      .option('--key <file>', 'private key (omit when it is in the --cert file)')
      .addOption(new Option('--pass <passphrase>', 'passphrase for the key or PKCS#12 file'))
      .option('--truststore <file>', 'the CA bundle the gateway trusts: a file, or s3://BUCKET/KEY[?versionId=V]')
      .option('--truststore-version <id>', 'with an s3:// truststore: the object version (as truststoreVersion)')
      .option(
        '--trust-client-intermediates',
        'let intermediates sent by the client close the path (API Gateway does not)',
      )
      .option('--at <iso-date>', 'judge validity (and CRL times) at this time instead of now (predicts; no handshake)')
      .option(
        '--crl <file>',
        "judge revocation by this CRL (PEM or DER), as the gateway's revocation.mode: crl (repeatable)",
        collect,
        [],
      )
      .option('--ocsp', "judge revocation by asking each certificate's OCSP responder (its AIA), as mode: ocsp")
      .option('--ocsp-url <url>', 'ask this OCSP responder instead (implies --ocsp; with --crl: prefer-ocsp)')
      .addOption(
        new Option(
          '--revocation-scope <scope>',
          'with --crl or --ocsp: check the client certificate only, or every CA too',
        )
          .choices(['leaf', 'chain'])
          .default(undefined, 'leaf'),
      )
      .addOption(
        new Option('--on-unavailable <what>', 'with --crl or --ocsp: deny or allow a certificate without an answer')
          .choices(['deny', 'allow'])
          .default(undefined, 'deny'),
      )
      .option(
        '--url <https-url>',
        'probe this endpoint as a client would, with --cert/--key, and compare with the offline verdict',
      )
      .option(
        '--cacert <file>',
        'CA certificate(s) to verify the server with (as curl --cacert; default: the system CAs)',
      )
      .option(
        '--resolve <host:port:addr>',
        'connect to addr for host:port, as curl --resolve (repeatable)',
        collect,
        [],
      )
      .option(
        '--connect-to <h1:p1:h2:p2>',
        'connect to h2:p2 instead of h1:p1, as curl --connect-to (repeatable)',
        collect,
        [],
      )
      .option('-k, --insecure', "report problems with the server's certificate as warnings, as curl -k")
      .option('--timeout <seconds>', 'time limit for the whole live probe', String(DEFAULT_TIMEOUT_MS / 1000))
      .option('--config <file>', "the gateway's config: explain --path on --domain (mapping, mode, allow-list)")
      .option('--domain <name>', 'with --config: the domain the client connects to')
      .option('--path <path>', 'with --config: the request path (default /)')
      .option('--json', 'print the report as JSON')
      .addHelpText(
        'after',
        '\nExit status: 0 nothing is wrong, 1 the certificate would be denied or a check failed, 2 usage error.\n\nExamples:\n  mtlsgate doctor --cert client.crt --key client.key --truststore truststore.pem\n  mtlsgate doctor --cert client.crt --key client.key --truststore truststore.pem --crl ca.crl.pem\n  mtlsgate doctor --cert client.crt --key client.key --truststore truststore.pem --ocsp\n  mtlsgate doctor --config gateway.yaml --domain mtls.example.test --path /orders/42 --cert client.crt --key client.key\n  mtlsgate doctor --url https://api.example.com/ping --cert client.crt --key client.key --truststore truststore.pem\n  mtlsgate doctor --url https://mtls.example.test:8443/ --resolve mtls.example.test:8443:127.0.0.1 --cacert root-ca.crt --cert client.crt --key client.key',
      )
      .action(async (o: DoctorOptions) => {
        requireNonEmptyCertPath('--cert', o.cert);
        for (const k of ['key', 'truststore', 'cacert', 'config'] as const) requireNonEmptyPath(`--${k}`, o[k]);
        const route = o.config === undefined ? null : await routeOptions(o);
        if (
          route === null &&
          o.url === undefined &&
          o.cert === undefined &&
          o.key === undefined &&
          o.truststore === undefined
        ) {
          throw new UserError(
            'E_USAGE',
            'doctor: give --cert (with --key and --truststore for a full diagnosis), ' +
              'or --url to probe an endpoint; see mtlsgate doctor --help',
          );
        }
        for (const f of o.crl) requireNonEmptyPath('--crl', f);
        if (o.truststoreVersion !== undefined && !o.truststore?.startsWith('s3://'))
          throw new UserError('E_USAGE', 'doctor: --truststore-version applies to an s3:// --truststore');
        if (o.crl.length > 0 && o.truststore === undefined)
          throw new UserError('E_USAGE', 'doctor: --crl needs --truststore (the CAs that sign the CRLs)');
        if (o.ocspUrl !== undefined && !/^https?:\/\/[^\s/]+/i.test(o.ocspUrl))
          throw new UserError('E_USAGE', `doctor: --ocsp-url: expected an http:// URL, got "${o.ocspUrl}"`);
        const ocsp = o.ocsp === true || o.ocspUrl !== undefined;
        if (ocsp && o.truststore === undefined)
          throw new UserError(
            'E_USAGE',
            'doctor: --ocsp needs --truststore (the path whose certificates are asked about)',
          );
        const revocationOption = o.revocationScope !== undefined ? 'revocation-scope' : 'on-unavailable';
        if (o.crl.length === 0 && !ocsp && (o.revocationScope !== undefined || o.onUnavailable !== undefined))
          throw new UserError(
            'E_USAGE',
            `doctor: --${revocationOption} applies to revocation; add --crl FILE or --ocsp`,
          );
        if (o.url === undefined) {
          const live = ['cacert', 'insecure']
            .filter((k) => o[k as keyof DoctorOptions] !== undefined)
            .concat(o.resolve.length ? ['resolve'] : [], o.connectTo.length ? ['connect-to'] : []);
          if (live.length) {
            throw new UserError(
              'E_USAGE',
              `doctor: --${live[0]} applies to the live probe; add --url https://HOST/PATH`,
            );
          }
        }
        let now: Date | undefined;
        if (o.at !== undefined) {
          now = new Date(o.at);
          if (Number.isNaN(now.getTime())) {
            throw new UserError(
              'E_BAD_DATE',
              `--at: "${o.at}" is not a date (use ISO 8601, e.g. 2027-01-31T00:00:00Z)`,
            );
          }
        }
        const timeoutMs = parseTimeout(o.timeout);
        if (o.url !== undefined) parseTarget(o.url, o.resolve, o.connectTo); // usage errors before any file is read
        const files: DoctorInput = {
          ...(o.cert !== undefined && { cert: o.cert }),
          ...(o.key !== undefined && { key: o.key }),
          ...(o.pass !== undefined && { pass: o.pass }),
          ...(o.truststore !== undefined && { truststore: o.truststore }),
          ...(o.truststoreVersion !== undefined && { truststoreVersion: o.truststoreVersion }),
          ...(now !== undefined && { now }),
          policy: {
            trustClientIntermediates:
              o.trustClientIntermediates === true || route?.domain.mutualTls.trustClientIntermediates === true,
          },
          ...(o.crl.length > 0 && { crls: o.crl }),
          ...(ocsp && { ocsp: { url: o.ocspUrl ?? null, timeoutMs } }),
          ...((o.crl.length > 0 || ocsp) && {
            revocation: { scope: o.revocationScope ?? 'leaf', onUnavailable: o.onUnavailable ?? 'deny' },
          }),
        };
        const cacertPem = o.cacert === undefined ? undefined : await readCacert(o.cacert);
        const live =
          o.url === undefined
            ? undefined
            : {
                url: o.url,
                cacertPem,
                resolve: o.resolve,
                connectTo: o.connectTo,
                insecure: o.insecure === true,
                timeoutMs,
              };
        const report = await diagnose({ files, ...(live && { live }) });
        if (route !== null) {
          const info = report.certificates[0];
          const found = checkRoute({
            domain: route.domain,
            path: route.path,
            leaf: info === undefined ? null : { info },
            verdict: report.verdict,
          });
          const offline = report.findings.filter((f) => f.source === 'offline');
          const rest = report.findings.filter((f) => f.source !== 'offline');
          const all = sortFindings([...offline, ...found.map((f) => ({ ...f, source: 'offline' as const }))]);
          report.findings = [
            ...rest.filter((f) => f.source === 'curl'),
            ...all,
            ...rest.filter((f) => f.source === 'live'),
          ];
        }
        const text = o.json
          ? JSON.stringify(report, null, 2) + '\n'
          : renderReport(report, { color: wantsColor(ctx.io) });
        ctx.io.stdout.write(text);
        ctx.setExitCode(hasErrors(report) ? 1 : 0);
      })
  );
}

/**
 * --config, --domain, --path: the domain's config, and its truststore as --truststore when that is not given and the
 * domain's is a file.
 */
async function routeOptions(o: DoctorOptions): Promise<{ domain: DomainConfig; path: string }> {
  if (o.domain === undefined) throw new UserError('E_USAGE', 'doctor: --config needs --domain NAME');
  // Loaded only for --config: the config schema (zod, yaml) is a quarter of the doctor's start-up otherwise.
  const { loadConfig } = await import('../gateway/config.js');
  const cfg = await loadConfig(o.config!);
  const name = o.domain.toLowerCase().replace(/\.$/, '');
  const dot = name.indexOf('.');
  const domain =
    cfg.domains.find((d) => d.domainName === name) ??
    (dot > 0 ? cfg.domains.find((d) => d.domainName === `*${name.slice(dot)}`) : undefined);
  if (domain === undefined)
    throw new UserError(
      'E_USAGE',
      `doctor: --domain ${o.domain}: not in ${o.config} (its domains: ${cfg.domains.map((d) => d.domainName).join(', ')})`,
    );
  const uri = domain.mutualTls.truststoreUri;
  if (o.truststore === undefined) {
    if (!uri.startsWith('file://'))
      throw new UserError(
        'E_USAGE',
        `doctor: ${domain.domainName}'s truststore is ${uri}: give it as --truststore FILE`,
      );
    o.truststore = uri.slice('file://'.length);
  }
  return { domain, path: o.path ?? '/' };
}

async function readCacert(path: string): Promise<string> {
  const f = await loadFile(path);
  const unusable = ['not-found', 'unreadable', 'empty', 'too-large'];
  const missing = f.problems.find((p) => unusable.includes(p.kind));
  if (missing) throw new UserError('E_CACERT', `--cacert: ${path}: ${missing.message}`);
  if (f.certs.length === 0) {
    throw new UserError('E_CACERT', `--cacert: ${path} holds no certificate (expected PEM or DER CA certificates)`);
  }
  return f.certs.map((c) => c.x509.toString()).join('');
}
