/**
 * The doctor's one pipeline, for `doctor`, `doctor --url` and `doctor curl`: the files are gathered once (a PKCS#12
 * is decrypted once), then feed the offline checks, the client certificate the live probe presents, and the finding
 * that ties what the server did to the offline verdict. Every finding lands in one list, each with its source.
 */
import { isUserError } from '../errors.js';
import { hasErrorFindings, sortFindings } from '../report/finding.js';
import type { Finding, FindingSource, SourcedFinding } from '../report/finding.js';
import { gather, type DoctorInput, type Known, type Preloaded } from './known.js';
import type { LiveReport, ProbeInput, ProbeReport } from './live/types.js';
import { checkOffline, type OfflineReport } from './offline.js';

export interface LiveOptions extends Omit<ProbeInput, 'client'> {
  /** The chain and key to present; absent: the files' (with a finding when there is no usable key); null: none. */
  client?: ProbeInput['client'] | null;
  /** Findings about how the probe was run, reported with the live ones. */
  notes?: Finding[];
  /** The live probe (tests may pass their own). */
  probe?: (input: ProbeInput) => Promise<ProbeReport>;
}

/** What `doctor curl` brings: its findings on the command, and how they restate the offline ones. */
export interface CurlPart {
  findings: Finding[];
  /** Given the offline findings, returns those to keep (curl's reading of the files may restate some). */
  reconcile(offline: readonly Finding[]): Finding[];
}

export interface DiagnoseInput {
  /** The files the user named; with none (and nothing preloaded) there is no offline part. */
  files: DoctorInput;
  /** The certificate and key files as another reader already loaded them (doctor curl). */
  preloaded?: Preloaded;
  /** Probe this endpoint too; or why a probe that was asked for does not run. */
  live?: LiveOptions | { skipped: string };
  curl?: CurlPart;
}

/** The offline report's fields, with every finding (curl's, the files', the live probe's) in one list. */
export interface DiagnoseReport extends Omit<OfflineReport, 'findings'> {
  /** Errors first within each source. */
  findings: SourcedFinding[];
  /** The live probe; null when none ran. */
  live: LiveReport | null;
  /** Why the probe asked for could not run (a URL or option it cannot use); null otherwise. */
  liveSkipped: string | null;
}

const NO_OFFLINE: OfflineReport = {
  verdict: null,
  verdictSource: null,
  findings: [],
  certificates: [],
  key: null,
  chain: null,
  openssl: null,
  revocation: null,
};

export async function diagnose(input: DiagnoseInput): Promise<DiagnoseReport> {
  const f = input.files;
  const named = f.cert !== undefined || f.key !== undefined || f.truststore !== undefined;
  const known = named || input.preloaded !== undefined ? await gather(f, input.preloaded) : null;
  const checked = known ? await checkOffline(known) : NO_OFFLINE;
  const offline = input.curl ? { ...checked, findings: input.curl.reconcile(checked.findings) } : checked;

  let live: LiveReport | null = null;
  let liveSkipped: string | null = null;
  let liveFindings: Finding[] = [];
  if (input.live && 'skipped' in input.live) liveSkipped = input.live.skipped;
  else if (input.live) {
    const ran = await runProbe(input.live, known);
    if ('skipped' in ran) liveSkipped = ran.skipped;
    else {
      const { compareWithOffline } = await import('./live/combine.js');
      const { findings, ...report } = ran.report;
      const tie = compareWithOffline(offline, ran.report);
      live = report;
      liveFindings = sortFindings([...findings, ...ran.extra, ...(tie ? [tie] : [])]);
    }
  }
  return {
    verdict: offline.verdict,
    verdictSource: offline.verdictSource,
    findings: [
      ...from('curl', sortFindings(input.curl?.findings ?? [])),
      ...from('offline', offline.findings),
      ...from('live', liveFindings),
    ],
    certificates: offline.certificates,
    key: offline.key,
    chain: offline.chain,
    openssl: offline.openssl,
    revocation: offline.revocation,
    live,
    liveSkipped,
  };
}

type ProbeRun = { report: ProbeReport; extra: Finding[] } | { skipped: string };

/** The live probe's modules load only when a probe runs: an offline doctor does not pay for them. */
async function runProbe(o: LiveOptions, known: Known | null): Promise<ProbeRun> {
  const [{ clientForProbe }, { probe: liveProbe }] = await Promise.all([
    import('./live/combine.js'),
    import('./live/probe.js'),
  ]);
  const { client: given, notes = [], probe = liveProbe, ...rest } = o;
  const fromFiles = given === undefined && known ? clientForProbe(known) : { client: undefined, finding: null };
  const client = given === undefined ? fromFiles.client : (given ?? undefined);
  try {
    const report = await probe({ ...rest, client });
    return { report, extra: [...notes, ...(fromFiles.finding ? [fromFiles.finding] : [])] };
  } catch (e) {
    // a URL or option the probe cannot use; the CLI checks doctor --url's before any file is read
    if (!isUserError(e)) throw e;
    return { skipped: e.message };
  }
}

function from(source: FindingSource, fs: readonly Finding[]): SourcedFinding[] {
  return fs.map((f) => ({ ...f, source }));
}

/** Exit status 1: a finding of severity error, or a denied verdict. */
export function hasErrors(r: DiagnoseReport): boolean {
  return hasErrorFindings(r.findings) || (r.verdict !== null && !r.verdict.accepted);
}
