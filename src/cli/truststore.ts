/**
 * `mtlsgate truststore lint FILE`: what is wrong with a PEM bundle before it goes to S3.
 * Exit 0 without error findings, 1 with one, 2 when the file cannot be read at all.
 */
import { Command } from 'commander';
import { UserError } from '../errors.js';
import type { CertInfo } from '../pki/types.js';
import type { Finding } from '../report/finding.js';
import { countFindings, renderFindings, renderSummary } from '../doctor/render.js';
import { readTruststore } from '../trust/load.js';
import { certRole, lintTruststore } from '../trust/lint.js';
import type { CertRole } from '../trust/lint.js';
import type { Truststore } from '../trust/truststore.js';
import type { CliContext } from './context.js';
import { wantsColor } from './io.js';
import { requireNonEmptyPath } from './paths.js';

/** The `--json` output. */
export interface TruststoreLintResult {
  file: string;
  certificates: CertInfo[];
  findings: Finding[];
}

export function truststoreCommand(ctx: CliContext): Command {
  const cmd = new Command('truststore').description(
    'check an API Gateway-style truststore (a PEM bundle of CA certificates)',
  );
  cmd.addCommand(lintCommand(ctx));
  return cmd;
}

function lintCommand(ctx: CliContext): Command {
  return new Command('lint')
    .description(
      'list what is wrong with a truststore bundle before uploading it: expired, non-CA, weak or duplicate certificates, missing issuers, private keys',
    )
    .argument('<file>', 'the PEM bundle: a file, or s3://BUCKET/KEY[?versionId=V] (the standard AWS settings apply)')
    .option('--truststore-version <id>', 'with s3://: the object version to read')
    .option('--json', 'print { file, certificates, findings } as JSON', false)
    .option('--at <iso-date>', 'check validity at this time instead of now (e.g. 2030-01-01)')
    .action(async (path: string, opts: { json: boolean; at?: string; truststoreVersion?: string }) => {
      requireNonEmptyPath('truststore lint FILE', path);
      if (opts.truststoreVersion !== undefined && !path.startsWith('s3://'))
        throw new UserError('E_USAGE', 'truststore lint: --truststore-version applies to an s3:// truststore');
      const now = opts.at === undefined ? new Date() : parseAt(opts.at);
      const read = await readTruststore(path, opts.truststoreVersion ? { version: opts.truststoreVersion } : {});
      const unreadable = read.findings.find(
        (f) => f.id === 'truststore.file-not-found' || f.id === 'truststore.unreadable',
      );
      if (unreadable)
        throw new UserError(
          unreadable.id === 'truststore.file-not-found' ? 'E_FILE_NOT_FOUND' : 'E_FILE_UNREADABLE',
          unreadable.title,
        );
      const findings = [...read.findings, ...(read.truststore ? lintTruststore(read.truststore, read.file, now) : [])];
      const result: TruststoreLintResult = {
        file: path,
        certificates: read.truststore?.certs.map((c) => c.info) ?? [],
        findings,
      };
      ctx.io.stdout.write(
        opts.json ? JSON.stringify(result, null, 2) + '\n' : renderLint(result, read.truststore, wantsColor(ctx.io)),
      );
      if (findings.some((f) => f.severity === 'error')) ctx.setExitCode(1);
    });
}

function parseAt(text: string): Date {
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UserError(
      'E_BAD_DATE',
      `bad --at ${JSON.stringify(text)}: give an ISO 8601 date such as 2030-01-01 or 2030-01-01T12:00:00Z`,
    );
  return new Date(t);
}

function renderLint(r: TruststoreLintResult, ts: Truststore | null, color: boolean): string {
  const head = `${r.file}: ${describeBundle(ts)}`;
  const body = renderFindings(r.findings, { color });
  return [head, '', ...(body ? [body] : []), renderSummary(countFindings(r.findings), { color }), ''].join('\n');
}

const ROLE_WORDS: Record<CertRole, [string, string]> = {
  root: ['root', 'roots'],
  intermediate: ['intermediate', 'intermediates'],
  'pinned-leaf': ['pinned self-signed leaf', 'pinned self-signed leaves'],
  other: ['non-CA certificate', 'non-CA certificates'],
};

/** `3 certificates (1 root, 1 intermediate, 1 pinned self-signed leaf)`. */
function describeBundle(ts: Truststore | null): string {
  const n = ts?.certs.length ?? 0;
  if (!ts || n === 0) return 'no certificates';
  const counts = new Map<CertRole, number>();
  for (const c of ts.certs) {
    const role = certRole(c);
    counts.set(role, (counts.get(role) ?? 0) + 1);
  }
  const parts = (Object.keys(ROLE_WORDS) as CertRole[])
    .filter((role) => counts.has(role))
    .map((role) => {
      const k = counts.get(role)!;
      return `${k} ${ROLE_WORDS[role][k === 1 ? 0 : 1]}`;
    });
  return `${n} certificate${n === 1 ? '' : 's'} (${parts.join(', ')})`;
}
