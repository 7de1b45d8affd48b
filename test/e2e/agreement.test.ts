/**
 * Agreement suite: for every case of helpers/agreement-scenarios.ts (each policy scenario, plus the file forms and a
 * client
 * that sends no certificate), one real `mtlsgate serve` process answers a real client on the case's own SNI
 * domain (its own truststore file, exposeReason: true), and three views must agree with each other and with the
 * case's expectation:
 *   1. offline: the doctor's verdict on the user's files, `diagnose({ files: { cert, key, pass, truststore } })`;
 *   2. live: the doctor's live probe of the domain (`probe()` in process, or `mtlsgate doctor --url --json` as a
 *      child process for a few cases): accepted = HTTP 2xx, denied = the reason of its http.access-denied finding;
 *   3. gateway: the status and reason of the HTTP answer, the deny log line and request log line found by the
 *      answer's x-request-id, and whether the echo backend received the request.
 * A disagreement fails the build; the failure prints the three views side by side.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { diagnose, type DiagnoseReport } from '../../src/doctor/diagnose.js';
import { gather, type DoctorInput } from '../../src/doctor/known.js';
import { clientForProbe } from '../../src/doctor/live/combine.js';
import type { ProbeReport } from '../../src/doctor/live/types.js';
import type { Finding } from '../../src/report/finding.js';
import { verdictFields } from '../../src/policy/verdict.js';
import {
  buildAgreementCases,
  writeUserFiles,
  type AgreementCase,
  type UserFiles,
} from '../helpers/agreement-scenarios.js';
import { startEcho, type EchoBackend } from '../helpers/backends.js';
import { runBin } from '../helpers/cli.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { serverIdentity, tmpDir, writeTruststore, type ServerIdentity } from '../helpers/pki.js';

const execFileAsync = promisify(execFile);
const domainOf = (i: number): string => `ag${i}.agree.test`;
const pathOf = (i: number): string => `/agree/${i}`;
/** Cases worked on at once (one gateway process serves them all). */
const CONCURRENCY = 6;

/** One party's view of a case: accepted, or denied with a reason; accepted null = this party has no verdict. */
interface View {
  accepted: boolean | null;
  reason: string | null;
  code: string | null;
  /** What backs it (verdict source, finding ids, log lines), for the table. */
  note: string;
}

interface Outcome {
  c: AgreementCase;
  index: number;
  files: UserFiles;
  offline: View;
  live: View;
  gateway: View;
  /** Problems inside one view (a body reason unlike the log line's, a denial that reached the backend, ...). */
  problems: string[];
  /** How the live client got files it can send (DER and PKCS#12: the doctor's own fix commands). */
  converted: string[];
  error?: string;
}

let gw: GatewayProcess;
let echo: EchoBackend;
let server: ServerIdentity;
let cases: AgreementCase[] = [];
let outcomes: Outcome[] = [];
let elapsedMs = 0;

before(async () => {
  const started = Date.now();
  const dir = tmpDir();
  cases = await buildAgreementCases();
  [server, echo] = await Promise.all([
    serverIdentity(
      dir,
      cases.map((_, i) => domainOf(i)),
    ),
    startEcho(),
  ]);
  const toEcho = [{ basePath: '', target: echo.url }];
  const domains = cases.map((c, i) =>
    domainConfig(domainOf(i), server, writeTruststore(dir, `truststore-${i}`, c.truststore), toEcho, {
      trustClientIntermediates: c.trustClientIntermediates,
      noCertificate: c.noCertificate,
    }),
  );
  const files = await Promise.all(cases.map((c, i) => writeUserFiles(c, join(dir, `client-${i}`))));
  gw = await startGateway({ config: { domains }, dir });
  outcomes = await pool(
    cases.map((c, index) => ({ c, index, files: files[index]!, truststore: join(dir, `truststore-${index}.pem`) })),
    CONCURRENCY,
    examine,
  );
  elapsedMs = Date.now() - started;
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const NONE: View = { accepted: null, reason: null, code: null, note: '' };

async function examine(x: { c: AgreementCase; index: number; files: UserFiles; truststore: string }): Promise<Outcome> {
  const { c, index, files, truststore } = x;
  const o: Outcome = { c, index, files, offline: NONE, live: NONE, gateway: NONE, problems: [], converted: [] };
  try {
    const input: DoctorInput = {
      ...(files.cert !== undefined && { cert: files.cert }),
      ...(files.key !== undefined && { key: files.key }),
      ...(files.pass !== undefined && { pass: files.pass }),
      truststore,
      policy: { trustClientIntermediates: c.trustClientIntermediates },
    };
    const offline = await diagnose({ files: input });
    o.offline = offlineView(offline);
    const url = `https://${domainOf(index)}:${gw.port}${pathOf(index)}`;
    const resolve = [`${domainOf(index)}:${gw.port}:127.0.0.1`];
    let live: ProbeReport;
    if (c.viaCli) {
      // The CLI path: the user's files as they are (the doctor loads DER, PKCS#12 and encrypted keys itself and
      // hands the probe the PEM it loaded), offline and live in one report.
      const args = [
        'doctor',
        '--url',
        url,
        '--resolve',
        resolve[0]!,
        '--cacert',
        server.caFile,
        '--truststore',
        truststore,
        '--json',
        '--timeout',
        '8',
      ];
      if (files.cert !== undefined) args.push('--cert', files.cert);
      if (files.key !== undefined) args.push('--key', files.key);
      if (files.pass !== undefined) args.push('--pass', files.pass);
      if (c.trustClientIntermediates) args.push('--trust-client-intermediates');
      const r = await runBin(args, { env: { NO_COLOR: '1' }, timeoutMs: 20_000 });
      if (r.code !== 0 && r.code !== 1) throw new Error(`doctor --url exited ${r.code}: ${r.stderr}`);
      const report = JSON.parse(r.stdout.toString('utf8')) as DiagnoseReport;
      if (JSON.stringify(report.verdict) !== JSON.stringify(offline.verdict)) {
        o.problems.push(
          `the CLI's offline verdict ${JSON.stringify(report.verdict)} differs from diagnose's ${JSON.stringify(offline.verdict)}`,
        );
      }
      if (r.code !== (c.reason === null ? 0 : 1)) o.problems.push(`doctor --url exited ${r.code}`);
      live = { ...report.live!, findings: report.findings.filter((f) => f.source === 'live') };
    } else {
      // DER and PKCS#12: the client is given PEM files made with the commands the doctor's own fix prints.
      let liveInput: DoctorInput = input;
      if (c.form === 'der' || c.form === 'pkcs12') {
        const conv = await applyFormatFix(offline.findings, c.form, files);
        o.converted = conv.commands;
        liveInput = { cert: conv.cert, key: conv.key };
      }
      const { client } = clientForProbe(await gather(liveInput));
      const both = await diagnose({
        files: input,
        live: { url, client: client ?? null, cacertPem: server.caPem, resolve, timeoutMs: 8000 },
      });
      live = { ...both.live!, findings: both.findings.filter((f) => f.source === 'live') };
    }
    o.live = liveView(live, c);
    // The doctor's own comparison of its two halves must say they agree whenever the server judged a certificate.
    const tie = live.findings.find((f) => f.id.startsWith('live.'));
    if (c.leaf !== null && tie?.id !== 'live.matches-offline')
      o.problems.push(`the doctor's tie finding: ${tie ? `${tie.id} ${tie.title}` : 'none'}`);
    // The probe sends SHA-1-signed and small-key certificates so the server judges them; the doctor still says
    // that curl (OpenSSL security level 2) refuses to send them.
    const sha1OrSmallKey = /^(SHA-1 signed leaf|RSA-1024 leaf)$/.test(c.name);
    if (sha1OrSmallKey && !offline.findings.some((f) => f.id === 'cert.refused-by-client-tls'))
      o.problems.push('offline: cert.refused-by-client-tls missing');
    o.gateway = await gatewayView(live, index, o.problems);
  } catch (e) {
    o.error = (e as Error).stack ?? String(e);
  }
  return o;
}

function offlineView(r: DiagnoseReport): View {
  // No certificate: the offline doctor has nothing to judge (verdict null), which is not a disagreement.
  if (r.verdict === null)
    return { ...NONE, note: `no verdict: ${r.findings.map((f) => f.id).join(', ') || 'no certificate given'}` };
  return { ...verdictFields(r.verdict), note: r.verdictSource ?? '' };
}

function liveView(live: ProbeReport, c: AgreementCase): View {
  const ids = live.findings.map((f) => f.id);
  const o = live.outcome;
  const note = `${o.kind === 'http' ? `HTTP ${o.status}` : o.kind}; ${ids.join(', ')}`;
  if (o.kind === 'http' && o.status >= 200 && o.status < 300) return { accepted: true, reason: null, code: null, note };
  const denied = live.findings.find((f) => f.id === 'http.access-denied');
  if (denied) {
    const reason = String(denied.evidence['reason']);
    const codes = (denied.evidence['codes'] as string[] | undefined) ?? [];
    // The finding lists every code that gives this reason; report the expected one when it is among them.
    return {
      accepted: false,
      reason,
      code: c.code !== null && codes.includes(c.code) ? c.code : codes.join('|') || null,
      note,
    };
  }
  return { ...NONE, note };
}

async function gatewayView(live: ProbeReport, index: number, problems: string[]): Promise<View> {
  const o = live.outcome;
  if (o.kind !== 'http') return { ...NONE, note: `no HTTP answer (${o.kind})` };
  const rid = o.headers['x-request-id'];
  if (!rid) return { ...NONE, note: `HTTP ${o.status} without x-request-id` };
  const hits = echo.received.filter((r) => r.path === pathOf(index)).length;
  const reqLine = await gw.waitForRequestLog(rid, 'request');
  const logged = reqLine.verdict as { accepted: boolean; reason: string | null; code: string | null } | null;
  let body: string | null = null;
  try {
    const m = (JSON.parse(o.body) as { message?: unknown }).message;
    if (typeof m === 'string') body = /^Access denied\. Reason: (.*)$/s.exec(m)?.[1] ?? null;
  } catch {
    /* not JSON: left null */
  }
  if (reqLine.status !== o.status)
    problems.push(`the request log line says ${String(reqLine.status)}, the client got ${o.status}`);
  if (o.status === 200) {
    if (hits !== 1) problems.push(`accepted, but the echo backend got the request ${hits} times`);
    if (!logged?.accepted) problems.push(`HTTP 200 but the request log line's verdict is ${JSON.stringify(logged)}`);
    return { accepted: true, reason: null, code: null, note: `HTTP 200, echo ${hits}, rid ${rid.slice(0, 8)}` };
  }
  if (o.status !== 403) return { ...NONE, note: `HTTP ${o.status} ${o.body.slice(0, 80)}` };
  const deny = await gw.waitForRequestLog(rid, /^Access denied\. Reason: /);
  const logReason = deny.msg.replace(/^Access denied\. Reason: /, '');
  if (hits !== 0) problems.push(`denied, but the echo backend got the request ${hits} times`);
  if (body !== logReason)
    problems.push(`the 403 body says ${JSON.stringify(body)}, the deny log line ${JSON.stringify(logReason)}`);
  if (logged?.reason !== logReason || logged?.code !== deny.code)
    problems.push(
      `the request log line's verdict ${JSON.stringify(logged)} differs from the deny line (${logReason}, ${String(deny.code)})`,
    );
  if (deny.domain !== domainOf(index)) problems.push(`the deny line names domain ${String(deny.domain)}`);
  return {
    accepted: false,
    reason: logReason,
    code: (deny.code as string | null) ?? null,
    note: `HTTP 403, deny log line, echo ${hits}, rid ${rid.slice(0, 8)}`,
  };
}

/**
 * Run the openssl commands of the doctor's fix for a DER certificate (cert.wrong-format) or a PKCS#12 given as
 * --cert (cert.is-pkcs12), in the files' directory as a user would (the fix writes relative names), adding only
 * the password the PKCS#12 commands would ask for. Returns the PEM certificate and key they produce.
 */
async function applyFormatFix(
  findings: Finding[],
  form: 'der' | 'pkcs12',
  files: UserFiles,
): Promise<{ cert: string; key: string | undefined; commands: string[] }> {
  const id = form === 'der' ? 'cert.wrong-format' : 'cert.is-pkcs12';
  const f = findings.find((x) => x.id === id);
  assert.ok(f, `the doctor reports ${id} for a ${form} certificate file (got ${findings.map((x) => x.id).join(', ')})`);
  const commands = f.fix
    .split('\n')
    .filter((l) => l.startsWith('openssl '))
    .map((l) =>
      l
        .split(' && ')[0]!
        .replace(/\s+#.*$/, '')
        .trim(),
    );
  assert.ok(commands.length > 0, `the fix of ${id} has openssl commands: ${f.fix}`);
  let cert: string | undefined;
  let key: string | undefined = files.key;
  for (const cmd of commands) {
    assert.doesNotMatch(cmd, /['"]/, 'paths in the fix need no quoting here');
    const args = cmd.split(/\s+/).slice(1);
    if (args[0] === 'pkcs12') args.push('-passin', `pass:${files.pass ?? ''}`);
    await execFileAsync('openssl', args, { cwd: files.dir });
    const out = args[args.indexOf('-out') + 1]!;
    const abs = out.startsWith('/') ? out : join(files.dir, out);
    if (args.includes('-nocerts')) key = abs;
    else cert = abs;
  }
  assert.ok(cert, `the fix of ${id} writes a PEM certificate`);
  return { cert, key, commands };
}

const show = (v: View): string =>
  v.accepted === null ? `— ${v.note}` : v.accepted ? 'accepted' : `denied: ${v.reason ?? '?'} (${v.code ?? '-'})`;
const expected = (c: AgreementCase): string =>
  c.reason === null ? 'accepted' : `denied: ${c.reason} (${c.code ?? '-'})`;

function table(rows: Outcome[]): string {
  const head = ['#', 'scenario', 'expected', '1 doctor offline', '2 doctor live', '3 gateway'];
  const body = rows.map((r) => [
    String(r.index),
    `${r.c.name}${r.c.viaCli ? ' (cli)' : ''}`,
    expected(r.c),
    show(r.offline),
    show(r.live),
    show(r.gateway),
  ]);
  const widths = head.map((h, i) => Math.min(i === 1 ? 50 : 80, Math.max(h.length, ...body.map((b) => b[i]!.length))));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => cell.slice(0, widths[i]).padEnd(widths[i]!)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)].join('\n');
}

/** Why this case's views disagree (with each other or with the expectation); empty when they agree. */
function disagreements(r: Outcome): string[] {
  const out: string[] = [];
  if (r.error) return [`error: ${r.error}`];
  const want = { accepted: r.c.reason === null, reason: r.c.reason };
  const views: [string, View][] = [
    ['doctor offline', r.offline],
    ['doctor live', r.live],
    ['gateway', r.gateway],
  ];
  for (const [name, v] of views) {
    // The offline doctor has no verdict without a certificate; every other view must have one.
    if (v.accepted === null && name === 'doctor offline' && r.c.leaf === null) continue;
    if (v.accepted !== want.accepted || v.reason !== want.reason)
      out.push(`${name}: ${show(v)}; expected ${expected(r.c)}`);
    else if (!want.accepted && v.code !== r.c.code)
      out.push(`${name}: code ${String(v.code)}, expected ${String(r.c.code)}`);
  }
  return [...out, ...r.problems];
}

test('doctor offline, doctor live and the gateway agree on every scenario', async (t) => {
  assert.ok(outcomes.length >= 30, `only ${outcomes.length} scenarios`);
  const reasons = new Set(cases.map((c) => c.reason));
  for (const r of [
    null,
    'self-signed certificate',
    'Could not find issuer for certificate',
    'Client cert using an insecure Signature Algorithm',
    'certificate has expired',
    'certificate is not yet valid',
    'certificate chain too long',
    'unsuitable certificate purpose',
    'path length constraint exceeded',
    'certificate signature failure',
    'No required SSL certificate was sent',
  ]) {
    assert.ok(reasons.has(r), `a scenario for ${r ?? 'acceptance'}`);
  }
  for (const form of ['pem', 'der', 'pkcs12', 'pem-with-key', 'encrypted-key', 'none'] as const)
    assert.ok(
      cases.some((c) => c.form === form),
      form,
    );
  assert.ok(cases.filter((c) => c.viaCli).length >= 4, 'a handful through the CLI');

  const failed: Outcome[] = [];
  for (const r of outcomes) {
    await t.test(`${r.index} ${r.c.name}${r.c.viaCli ? ' (doctor --url CLI)' : ''}`, () => {
      const why = disagreements(r);
      if (why.length > 0) failed.push(r);
      assert.deepEqual(
        why,
        [],
        `\n${table([r])}\n${r.converted.length ? `converted with: ${r.converted.join('; ')}\n` : ''}`,
      );
      if (r.c.form === 'der' || r.c.form === 'pkcs12') {
        if (!r.c.viaCli) assert.ok(r.converted.length > 0, "the live client used the files the doctor's fix produced");
      }
    });
  }
  // Nothing reached the backend that the gateway was not meant to accept.
  const acceptedPaths = new Set(outcomes.filter((r) => r.c.reason === null).map((r) => pathOf(r.index)));
  const stray = echo.received.map((x) => x.path).filter((p) => !acceptedPaths.has(p));
  assert.deepEqual(stray, [], 'requests the echo backend got although they were to be denied');
  if (failed.length > 0) t.diagnostic(`disagreements:\n${table(failed)}`);
  t.diagnostic(
    `${outcomes.length} scenarios, ${outcomes.filter((r) => r.c.viaCli).length} through the CLI, ${elapsedMs} ms`,
  );
  assert.equal(
    failed.length,
    0,
    `${failed.length} scenario(s) disagree:\n${table(failed)}\n\nall:\n${table(outcomes)}`,
  );
});
