/**
 * `doctor curl`: read a curl command (arguments, or a pasted line), say what curl will do with it and each file it
 * names, explain curl's error when one is given, run the offline doctor on the files (the gateway's verdict when a
 * truststore is given), then probe the endpoint as curl would (its --resolve, --connect-to, -k and --cacert), and
 * tie the live answer to the offline verdict.
 */
import { resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import { UserError } from '../../errors.js';
import { loadBytes } from '../../pki/load.js';
import { isLoadProblem, readCapped } from '../../pki/read.js';
import { finding, type Finding, type SourcedFinding } from '../../report/finding.js';
import { diagnose, type DiagnoseReport, type LiveOptions } from '../diagnose.js';
import type { DoctorInput } from '../known.js';
import type { Verdict } from '../../policy/verdict.js';
import type { LiveReport, ProbeInput, ProbeReport } from '../live/types.js';
import { checkCommand } from './command.js';
import { mapCurlError } from './errors.js';
import { checkCurlFiles, fromCwd, isEngineRef, loadCurlFiles, type CurlFiles } from './files.js';
import { effectiveUrl, parseCurlArgs, redactCurlCommand, type CurlCommand } from './parse.js';
import { tokenize } from './tokenize.js';

export interface CurlDoctorInput {
  /** curl's arguments (what follows `--`). */
  args?: readonly string[];
  /** A whole pasted command line (`curl ...`, possibly with curl's output pasted after it). */
  line?: string;
  /** curl's error line or stderr. */
  error?: string;
  exitCode?: number;
  /** The gateway's truststore: gives the offline verdict. */
  truststore?: string;
  /** Probe the endpoint (default true). */
  live?: boolean;
  timeoutMs?: number;
  /** The directory curl runs in (default: this process's). */
  cwd?: string;
  /** Home directory for `~` in a pasted line. */
  home?: string;
  /** The live probe (tests may pass their own). */
  probe?: (input: ProbeInput) => Promise<ProbeReport>;
}

export interface CurlDoctorReport {
  /** The command as curl reads it. Holds the passphrase: print only through toJson / the renderer. */
  curl: CurlCommand;
  error: { exitCode: number | null; text: string | null } | null;
  /** The gateway's offline verdict on the client certificate; null without a truststore (or a certificate). */
  verdict: (Verdict & { source: 'handshake' | 'prediction' }) | null;
  /** curl findings (the error, the command, curl's reading of the files), then the offline doctor's, then the live. */
  findings: SourcedFinding[];
  /** The live probe; null when it did not run. */
  live: LiveReport | null;
  /** Why no probe ran; null when it did. */
  liveSkipped: string | null;
  /** The whole diagnosis, for the text renderer. */
  report: DiagnoseReport;
}

// [ \t]*, not \s*: \s also matches newlines, and text of many blank lines then took quadratic time.
const CURL_LINE = /(?:^|\n)[ \t]*c?url(?:\.exe)?:[ \t]*\(\d+\).*/i;
/** The longest live probe: --timeout's maximum, 600 s. */
const MAX_LIVE_MS = 600_000;
/** curl findings after which curl stops before connecting although mtlsgate could read the files. */
const CURL_STOPS = new Set([
  'curl.cert-type-mismatch',
  'curl.p12-without-cert-type',
  'curl.cert-type-p12-on-pem',
  'curl.key-type-mismatch',
  'curl.cert-type-invalid',
  'curl.key-type-invalid',
  'curl.unknown-option',
  'curl.missing-value',
  'curl.cacert-not-pem',
  'curl.cacert-not-found',
]);

export async function runCurlDoctor(input: CurlDoctorInput): Promise<CurlDoctorReport> {
  const cwd = input.cwd ?? process.cwd();
  const { command: c, pastedError } = readCommand(input);
  const errorText = input.error ?? pastedError;
  const first = c.urls[0] === undefined ? null : effectiveUrl(c.urls[0]);

  const files = await loadCurlFiles(c, cwd);
  const fileCheck = checkCurlFiles(c, files);
  const mapped =
    errorText !== undefined || input.exitCode !== undefined
      ? mapCurlError(
          { exitCode: input.exitCode, message: errorText },
          { cert: c.cert, key: c.key, host: first?.host ?? null, port: first?.port ?? null },
        )
      : null;
  const curlFindings = [...(mapped?.findings ?? []), ...checkCommand(c), ...fileCheck.findings];
  if (pastedError !== undefined && input.error === undefined)
    c.notes.push('the curl error pasted after the command was read as --error');

  const named = offlineFiles(c, input, cwd);
  const report = await diagnose({
    files: named,
    // curl read the certificate and key already, with the same passphrase: the offline doctor reuses them
    ...(Object.keys(named).length > 0 && { preloaded: { certFile: files.cert, keyFile: files.key } }),
    curl: {
      findings: curlFindings,
      reconcile: (offline) => {
        const kept = offline.filter((f) => !fileCheck.supersedes.includes(f.id));
        linkCauses(mapped?.findings ?? [], [...fileCheck.findings, ...kept]);
        return kept;
      },
    },
    live: await liveOptions(c, files, input, curlFindings),
  });
  return {
    curl: c,
    error: mapped ? { exitCode: mapped.exitCode, text: mapped.text } : null,
    verdict: report.verdict && report.verdictSource ? { ...report.verdict, source: report.verdictSource } : null,
    findings: report.findings,
    live: report.live,
    liveSkipped: report.liveSkipped,
    report,
  };
}

/** curl's error says "the key could not be loaded"; the file checks say why. Name them in the error's evidence. */
const LOCAL_ERRORS = new Set([
  'curl.cert-file-not-found',
  'curl.cert-not-loaded',
  'curl.key-not-loaded',
  'curl.p12-not-loaded',
  'curl.local-cert-problem',
  'curl.client-cert-refused-locally',
]);

const CAUSES =
  /^(curl\.|key\.|pkcs12\.|cert\.(file-not-found|parse-error|wrong-format|is-private-key|is-pkcs12|refused-by-client-tls)$)/;

function linkCauses(errors: Finding[], checks: Finding[]): void {
  const causes = checks.filter((f) => f.severity === 'error' && CAUSES.test(f.id)).map((f) => f.id);
  for (const e of errors) if (LOCAL_ERRORS.has(e.id) && causes.length > 0) e.evidence.explainedBy = causes;
}

function readCommand(input: CurlDoctorInput): { command: CurlCommand; pastedError: string | undefined } {
  if (input.line !== undefined && input.args !== undefined && input.args.length > 0) {
    throw new UserError('E_USAGE', 'doctor curl: give the curl command either after -- or with --line, not both');
  }
  if (input.line !== undefined) {
    if (input.line.trim() === '')
      throw new UserError('E_CURL_LINE', 'doctor curl: --line is empty; paste the whole curl command');
    return fromLine(input.line, input.home);
  }
  if (input.args === undefined || input.args.length === 0) {
    throw new UserError(
      'E_USAGE',
      "doctor curl: give curl's arguments after -- (mtlsgate doctor curl -- --cert client.crt https://HOST/) or the whole command with --line",
    );
  }
  // A whole command pasted in quotes arrives as one argument: read it as --line would, and say so.
  if (input.args.length === 1 && looksLikeCommandLine(input.args[0]!)) {
    const read = fromLine(input.args[0]!, input.home);
    read.command.notes.unshift(
      'the one argument after -- is a whole command line (it has spaces and options in it): read as --line reads it',
    );
    return read;
  }
  const args = /^curl(\.exe)?$/i.test(input.args[0]!.split(/[\\/]/).pop() ?? '') ? input.args.slice(1) : input.args;
  return {
    command: parseCurlArgs(args, { program: args === input.args ? null : input.args[0]! }),
    pastedError: undefined,
  };
}

function fromLine(line: string, home: string | undefined): { command: CurlCommand; pastedError: string | undefined } {
  const t = tokenize(line, home !== undefined ? { home } : {});
  const c = parseCurlArgs(t.args, { dialect: t.dialect, program: t.program });
  c.notes.unshift(...t.notes);
  const pasted = CURL_LINE.exec(t.rest)?.[0].trim();
  return { command: c, pastedError: pasted };
}

/**
 * One argument that is a command line rather than a URL or an option: it starts with the curl program, or has an
 * option after a space (` --cert`, ` -E`). A URL has no spaces, and a file name with spaces has no ` -x` in it.
 */
export function looksLikeCommandLine(arg: string): boolean {
  const s = arg.trim();
  return /^(?:\S*[\\/])?curl(?:\.exe)?\s/i.test(s) || (/\s/.test(s) && /\s--?[A-Za-z]/.test(s));
}

/** curl's `--cert` file name written back in curl's syntax, so the offline doctor splits it the same way. */
function certArg(file: string): string {
  return /[:\\]/.test(file) && !/^[A-Za-z]:[\\/]/.test(file) ? file.replace(/\\/g, '\\\\').replace(/:/g, '\\:') : file;
}

/** The files for the offline doctor, as curl names them; a file curl reads through an engine is left out. */
function offlineFiles(c: CurlCommand, input: CurlDoctorInput, cwd: string): DoctorInput {
  const at = (p: string): string => fromCwd(cwd, p);
  const cert = c.cert !== null && c.certType !== 'ENG' && !isEngineRef(c.cert) ? c.cert : null;
  const key = c.key !== null && c.keyType !== 'ENG' && !isEngineRef(c.key) ? c.key : null;
  return {
    ...(cert !== null && { cert: certArg(at(cert)) }),
    ...(key !== null && { key: at(key) }),
    ...(c.passphrase !== null && { pass: c.passphrase.value }),
    ...(input.truststore !== undefined && { truststore: input.truststore }),
  };
}

/** The probe as curl would connect, or why there is none. */
async function liveOptions(
  c: CurlCommand,
  files: CurlFiles,
  input: CurlDoctorInput,
  curlFindings: Finding[],
): Promise<LiveOptions | { skipped: string }> {
  if (input.live === false) return { skipped: '--no-live' };
  const raw = c.urls[0];
  if (raw === undefined) return { skipped: 'the command has no URL' };
  const u = effectiveUrl(raw);
  if (u.scheme !== 'https') return { skipped: `the URL is ${u.scheme}://, not https://` };
  const client = clientOf(c, files);
  // curl's -m, at most --timeout's own limit: a longer one would overflow Node's 32-bit timers (firing at once).
  const timeoutMs =
    input.timeoutMs ?? (c.maxTime !== null ? Math.min(Math.round(c.maxTime * 1000), MAX_LIVE_MS) : undefined);
  const notes: Finding[] = [];
  const stops = curlFindings.filter((f) => CURL_STOPS.has(f.id));
  if (stops.length > 0) {
    notes.push(
      finding({
        id: 'curl.live-not-as-curl',
        severity: 'info',
        title: 'curl itself would stop before connecting; the probe went ahead',
        detail:
          `Because of ${stops.map((f) => f.id).join(', ')} curl ends before the handshake. The live probe used the ` +
          `files as mtlsgate read them${client ? ', client certificate included,' : ''} to show what the server does ` +
          'once that is fixed.',
        fix: '',
        evidence: { curlStops: stops.map((f) => f.id) },
      }),
    );
  }
  return {
    url: u.url,
    client: client ?? null,
    cacertPem: await caPem(files, c, files.cwd),
    resolve: c.resolve,
    connectTo: c.connectTo,
    insecure: c.insecure,
    notes,
    ...(timeoutMs !== undefined && { timeoutMs }),
    ...(input.probe !== undefined && { probe: input.probe }),
  };
}

/**
 * The chain and key curl would present (the key from --key, else from the --cert file); undefined when there is none.
 */
function clientOf(c: CurlCommand, files: CurlFiles): ProbeInput['client'] {
  const cert = files.cert;
  if (cert === null || cert.certs.length === 0) return undefined;
  const key = c.key !== null ? files.key?.keys[0] : cert.keys[0];
  if (key === undefined) return undefined;
  return {
    chainPem: cert.certs.map((x) => x.x509.toString()).join(''),
    keyPem: key.keyObject.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** --cacert's certificates, plus those in --capath; undefined = the system CAs (as curl without either). */
async function caPem(files: CurlFiles, c: CurlCommand, cwd: string): Promise<string | undefined> {
  const pems: string[] = [];
  if (files.cacert !== null) pems.push(...files.cacert.certs.map((x) => x.x509.toString()));
  if (c.capath !== null && files.capath?.isDir && files.capath.hashed > 0)
    pems.push(...(await capathPems(resolve(cwd, c.capath))));
  return pems.length > 0 ? pems.join('') : undefined;
}

async function capathPems(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => /^[0-9a-f]{8}\.\d+$/.test(n))
    .slice(0, 500)) {
    // readCapped, not readFileSync: a FIFO or /dev/zero under a hash name would hang or fill memory.
    const read = await readCapped(resolve(dir, name), 1 << 20);
    if (isLoadProblem(read)) continue; // an unreadable entry is skipped, as OpenSSL skips it
    try {
      out.push(...loadBytes(read.bytes, name, { maxBytes: 1 << 20 }).certs.map((x) => x.x509.toString()));
    } catch {
      // as above
    }
  }
  return out;
}

/** The JSON document: `{ curl, error, verdict, findings, live }`, passphrases as "***". */
export function toJson(r: CurlDoctorReport): Record<string, unknown> {
  return {
    curl: redactCurlCommand(r.curl),
    error: r.error,
    verdict: r.verdict,
    findings: r.findings,
    live: r.live,
    liveSkipped: r.liveSkipped,
  };
}
