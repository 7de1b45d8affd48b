/**
 * `mtlsgate crl lint FILE... --truststore TS`: what is wrong with CRL files before they are uploaded, judged against
 * the domain's truststore. Exit 0 without error findings, 1 with one, 2 when a file cannot be read at all.
 */
import { Command } from 'commander';
import { UserError } from '../errors.js';
import { describeCrl, parseCrls } from '../pki/crl.js';
import type { CrlInfo } from '../pki/crl.js';
import { readCapped, isLoadProblem } from '../pki/read.js';
import type { Finding } from '../report/finding.js';
import { countFindings, renderFindings, renderSummary } from '../doctor/render.js';
import { lintCrls } from '../trust/crl-lint.js';
import type { CrlSource } from '../trust/crl-lint.js';
import { readTruststore } from '../trust/load.js';
import type { CliContext } from './context.js';
import { wantsColor } from './io.js';
import { parseTimeOption } from './options.js';
import { requireNonEmptyPath } from './paths.js';

/** The `--json` output. */
export interface CrlLintResult {
  truststore: string;
  files: Array<{ file: string; crls: CrlInfo[] }>;
  findings: Finding[];
}

export function crlCommand(ctx: CliContext): Command {
  const cmd = new Command('crl').description('check certificate revocation lists (CRLs)');
  cmd.addCommand(lintCommand(ctx));
  return cmd;
}

function lintCommand(ctx: CliContext): Command {
  return new Command('lint')
    .description(
      'list what is wrong with CRL files before uploading them: unknown issuer, bad signature, expired or soon, unusable extensions',
    )
    .argument('<files...>', 'CRL files (PEM, several CRLs each, or DER)')
    .requiredOption('--truststore <file>', 'the PEM truststore of the domain that will use the CRLs')
    .option('--json', 'print { truststore, files: [{ file, crls }], findings } as JSON', false)
    .option('--at <iso-date>', 'check validity at this time instead of now (e.g. 2030-01-01)')
    .action(async (paths: string[], opts: { truststore: string; json: boolean; at?: string }) => {
      for (const p of paths) requireNonEmptyPath('crl lint FILE', p);
      requireNonEmptyPath('crl lint --truststore', opts.truststore);
      const now = opts.at === undefined ? new Date() : parseTimeOption('--at', opts.at);
      const sources: CrlSource[] = [];
      for (const path of paths) {
        const read = await readCapped(path);
        if (isLoadProblem(read)) {
          if (read.kind === 'empty') sources.push({ path, crls: [], problems: [`${path}: empty`] });
          else
            throw new UserError(
              read.kind === 'not-found' ? 'E_FILE_NOT_FOUND' : 'E_FILE_UNREADABLE',
              `${path}: ${read.message}`,
            );
        } else sources.push({ path, ...parseCrls(read.bytes, path) });
      }
      const ts = await readTruststore(opts.truststore);
      const unreadable = ts.findings.find(
        (f) => f.id === 'truststore.file-not-found' || f.id === 'truststore.unreadable',
      );
      if (unreadable)
        throw new UserError(
          unreadable.id === 'truststore.file-not-found' ? 'E_FILE_NOT_FOUND' : 'E_FILE_UNREADABLE',
          unreadable.title,
        );
      // The truststore's own load problems matter here too: a CA that did not load cannot vouch for its CRL.
      const findings = [...ts.findings, ...lintCrls({ crls: sources, truststore: ts.truststore, now })];
      const result: CrlLintResult = {
        truststore: opts.truststore,
        files: sources.map((s) => ({ file: s.path, crls: s.crls.map((c) => describeCrl(c, now)) })),
        findings,
      };
      ctx.io.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : renderLint(result, wantsColor(ctx.io)));
      if (findings.some((f) => f.severity === 'error')) ctx.setExitCode(1);
    });
}

function renderLint(r: CrlLintResult, color: boolean): string {
  const heads = r.files.map((f) => `${f.file}: ${describeFile(f.crls)}`);
  const body = renderFindings(r.findings, { color });
  return [...heads, '', ...(body ? [body] : []), renderSummary(countFindings(r.findings), { color }), ''].join('\n');
}

/** `1 CRL (CN=Example CA, 3 revoked, next update 2026-01-08T00:00:00.000Z)`, one parenthesis per CRL. */
function describeFile(crls: CrlInfo[]): string {
  if (crls.length === 0) return 'no readable CRL';
  const each = crls.map(
    (c) => `(${c.issuer || 'empty issuer'}, ${c.revokedCount} revoked, next update ${c.nextUpdate ?? 'none'})`,
  );
  return `${crls.length} CRL${crls.length === 1 ? '' : 's'} ${each.join(' ')}`;
}
