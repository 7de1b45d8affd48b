/** `mtlsgate pki crl DIR [--days N]`: re-issues a test PKI's two CRLs from its CA databases, with a new number. */
import { join } from 'node:path';
import { Command } from 'commander';
import { shellQuote } from '../report/shell.js';
import type { CrlsWritten } from '../pki/generate-revocation.js';
import type { CliContext } from './context.js';
import { parseDays } from './options.js';

export function crlCommand(ctx: CliContext): Command {
  return new Command('crl')
    .description("re-issue DIR's CRLs (intermediate-ca.crl, root-ca.crl) from its CA databases")
    .argument('<dir>', 'a PKI made by `mtlsgate pki init`')
    .option('--days <n>', 'the CRLs are valid for N days (default 7)')
    .action(async (dir: string, opts: { days?: string }) => {
      const days = opts.days === undefined ? undefined : parseDays(opts.days);
      const { loadPki } = await import('../pki/generate.js');
      const { writeCrls } = await import('../pki/generate-revocation.js');
      const written = await writeCrls(await loadPki(dir), { days });
      const show = (name: string): string => shellQuote(join(dir, name));
      ctx.io.stdout.write(
        [
          ...renderCrlsWritten(dir, written),
          '',
          'Next:',
          `  mtlsgate crl lint ${show('intermediate-ca.crl')} ${show('root-ca.crl')} --truststore ${show('truststore.pem')}`,
          '',
        ].join('\n'),
      );
    });
}

/** `Wrote the CRLs (CRL number N, valid until T):` and one line per CRL with its entry count. */
export function renderCrlsWritten(dir: string, w: CrlsWritten): string[] {
  const rows: Array<[string, number]> = [
    [join(dir, 'intermediate-ca.crl'), w.counts.intermediate],
    [join(dir, 'root-ca.crl'), w.counts.root],
  ];
  const width = Math.max(...rows.map(([p]) => p.length));
  return [
    `Wrote the CRLs (CRL number ${w.crlNumber}, next update ${w.nextUpdate.toISOString()}):`,
    ...rows.map(([p, n]) => `  ${p.padEnd(width)}  ${n} revoked certificate${n === 1 ? '' : 's'}`),
  ];
}

/** The OCSP responder over the intermediate's database, as `openssl ocsp` runs it. */
export function ocspOneLiner(dir: string): string {
  const show = (name: string): string => shellQuote(join(dir, name));
  return (
    `openssl ocsp -index ${show('index.txt')} -CA ${show('intermediate-ca.crt')} ` +
    `-rsigner ${show('ocsp-responder.crt')} -rkey ${show('ocsp-responder.key')} -port 8888`
  );
}
