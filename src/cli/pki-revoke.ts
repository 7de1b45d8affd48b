/**
 * `mtlsgate pki revoke DIR --cert FILE [--reason R] [--at TIME] [--days N]`: records a certificate of a test PKI as
 * revoked in its CA's OpenSSL database and re-writes both CRLs, so revocation can be tried with openssl and the
 * gateway.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { UserError } from '../errors.js';
import { shellQuote } from '../report/shell.js';
import { INDEX_REASONS } from '../pki/ca-database.js';
import type { CliContext } from './context.js';
import { parseDays, parseTimeOption } from './options.js';
import { requireNonEmptyPath } from './paths.js';
import { ocspOneLiner, renderCrlsWritten } from './pki-crl.js';

interface RevokeOptions {
  cert: string;
  reason?: string;
  at?: string;
  days?: string;
}

export function revokeCommand(ctx: CliContext): Command {
  return new Command('revoke')
    .description(
      "revoke a certificate issued by DIR's intermediate (or an intermediate by its root), re-write the CRLs",
    )
    .argument('<dir>', 'a PKI made by `mtlsgate pki init`')
    .requiredOption('--cert <file>', 'the certificate to revoke (PEM or DER; the first certificate of the file)')
    .option('--reason <reason>', `why: ${INDEX_REASONS.join(', ')} (default: none recorded)`)
    .option('--at <iso-time>', 'revocation time (default now), e.g. 2030-01-01T12:00:00Z')
    .option('--days <n>', 'the CRLs are valid for N days (default 7)')
    .action(async (dir: string, opts: RevokeOptions) => {
      requireNonEmptyPath('pki revoke --cert', opts.cert);
      const at = opts.at === undefined ? undefined : parseTimeOption('--at', opts.at);
      const days = opts.days === undefined ? undefined : parseDays(opts.days);
      const { loadPki } = await import('../pki/generate.js');
      const { revokeInPki } = await import('../pki/generate-revocation.js');
      const pki = await loadPki(dir);
      const cert = await readFile(opts.cert).catch((e: NodeJS.ErrnoException) => {
        throw new UserError(
          e.code === 'ENOENT' ? 'E_FILE_NOT_FOUND' : 'E_FILE_UNREADABLE',
          `${opts.cert}: ${e.code === 'ENOENT' ? 'no such file' : `cannot be read (${e.code ?? e.message})`}`,
        );
      });
      const r = await revokeInPki(pki, { cert, certPath: opts.cert, reason: opts.reason, at, days });
      const show = (name: string): string => shellQuote(join(dir, name));
      const who = r.ca === 'root' ? 'the root CA' : 'the intermediate CA';
      const check =
        r.ca === 'intermediate'
          ? `openssl verify -crl_check -CAfile ${show('truststore.pem')} -CRLfile ${show('intermediate-ca.crl')} ${shellQuote(opts.cert)}`
          : `openssl crl -in ${show('root-ca.crl')} -noout -text`;
      ctx.io.stdout.write(
        [
          `Revoked ${r.subject} (serial ${r.serial}, issued by ${who}) as of ${r.revokedAt.toISOString()}` +
            (r.reason ? `, reason ${r.reason}:` : ':'),
          `  ${join(dir, r.ca === 'root' ? 'root-index.txt' : 'index.txt')}  recorded as revoked`,
          ...renderCrlsWritten(dir, r.crls),
          '',
          'Check:',
          `  ${check}`,
          `  mtlsgate crl lint ${show('intermediate-ca.crl')} ${show('root-ca.crl')} --truststore ${show('truststore.pem')}`,
          ...(r.ca === 'intermediate' ? [`  ${ocspOneLiner(dir)}`] : []),
          '',
        ].join('\n'),
      );
    });
}
