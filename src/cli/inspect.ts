/**
 * `mtlsgate inspect FILE... [--json] [--pass PASS]`: what is really in certificate, key, CRL, PKCS#12 and PKCS#7
 * files, read from the bytes (not the file name). Problems go to stderr as `mtlsgate: FILE: message`; the exit
 * code is 2 when some file gave no certificate, key or CRL.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { Command } from 'commander';
import type { CliContext } from './context.js';
import { wantsColor } from './io.js';
import { colors, renderCertInfo, renderKeyInfo } from './render-cert.js';
import { renderCrlInfo } from './render-crl.js';
import { CRL_INFO_ENTRIES, describeCrl } from '../pki/crl.js';
import type { Colors } from './render-cert.js';
import { loadFile } from '../pki/load.js';
import { splitCurlCertArg } from '../pki/curl-arg.js';
import type { FileFormat, LoadedFile } from '../pki/types.js';
import { requireNonEmptyCertPath } from './paths.js';

interface InspectOptions {
  json?: boolean;
  pass?: string;
}

export function inspectCommand(ctx: CliContext): Command {
  return new Command('inspect')
    .description('show what is in certificate, private key, CRL, PKCS#12 and PKCS#7 files')
    .argument('<files...>', 'files to read (PEM, DER, PKCS#12, PKCS#7, CRLs; bundles too)')
    .option(
      '--json',
      `print JSON: { files: [{ path, format, certificates, keys, problems, crls? }] } (crls: when the file has any, each with its first ${CRL_INFO_ENTRIES} entries)`,
    )
    .option('--pass <passphrase>', 'passphrase for encrypted private keys and PKCS#12 files')
    .addHelpText(
      'after',
      [
        '',
        "FILE:PASS works as in curl's --cert (\\: escapes a colon), but only when FILE:PASS is not itself an",
        'existing file; a per-file password wins over --pass. The format is sniffed from the bytes;',
        'a note says when the extension suggests otherwise.',
        '',
      ].join('\n'),
    )
    .action(async (args: string[], opts: InspectOptions) => {
      for (const arg of args) requireNonEmptyCertPath('inspect FILE', arg);
      const loaded: LoadedFile[] = [];
      for (const arg of args) {
        const { path, passphrase } = resolveArg(arg, opts.pass);
        loaded.push(await loadFile(path, passphrase === undefined ? {} : { passphrase }));
      }
      const c = colors(wantsColor(ctx.io) && !opts.json);
      ctx.io.stdout.write(opts.json ? renderJson(loaded) : renderText(loaded, c));
      for (const file of loaded) {
        for (const p of file.problems) ctx.io.stderr.write(`mtlsgate: ${file.path}: ${p.message}\n`);
        if (file.certs.length === 0 && file.keys.length === 0 && file.crls.length === 0) ctx.setExitCode(2);
      }
    });
}

/**
 * curl-style FILE:PASS when the argument itself is not a file. FILE need not exist: its "no such file" then names
 * FILE only, never what may be a password.
 */
export function resolveArg(arg: string, pass: string | undefined): { path: string; passphrase: string | undefined } {
  if (!existsSync(arg)) {
    const split = splitCurlCertArg(arg);
    if (split.passphrase !== null) return { path: split.file, passphrase: split.passphrase };
  }
  return { path: arg, passphrase: pass };
}

function renderJson(files: LoadedFile[]): string {
  const out = files.map((f) => ({
    path: f.path,
    format: f.format,
    certificates: f.certs.map((cert) => cert.info),
    keys: f.keys.map((k) => k.info),
    problems: f.problems,
    ...(f.crls.length > 0 ? { crls: f.crls.map((crl) => describeCrl(crl)) } : {}),
    ...(f.pkcs12 ? { pkcs12: f.pkcs12 } : {}),
  }));
  return JSON.stringify({ files: out }, null, 2) + '\n';
}

function renderText(files: LoadedFile[], c: Colors): string {
  const sections = files
    .filter((f) => f.certs.length > 0 || f.keys.length > 0 || f.crls.length > 0)
    .map((f) => renderFile(f, c).join('\n'));
  return sections.length ? sections.join('\n\n') + '\n' : '';
}

function renderFile(file: LoadedFile, c: Colors): string[] {
  const note = extensionNote(file);
  const lines = [c.bold(`${file.path}: ${describeFormat(file)}`) + (note ? ` ${c.yellow(`(${note})`)}` : '')];
  if (file.pkcs12) {
    const p = file.pkcs12;
    lines.push(
      `  MAC ${p.macAlgorithm ?? 'none'}; encryption ${p.encryptionAlgorithms.join(', ') || 'none'}; ` +
        (p.nodeLoads
          ? c.green("Node's TLS loads it")
          : c.red(`Node's TLS cannot load it: ${p.nodeError ?? 'unknown error'}`)),
    );
  }
  file.certs.forEach((cert, i) => {
    lines.push(`  ${c.bold(`Certificate ${i}`)}`, ...renderCertInfo(cert.info, c).map((l) => `    ${l}`));
  });
  file.keys.forEach((key, i) => {
    lines.push(`  ${c.bold(`Private key ${i}`)}`, ...renderKeyInfo(key.info, c).map((l) => `    ${l}`));
    if (file.certs.length > 0) {
      const match = file.certs.findIndex((cert) => cert.info.spkiSha256 === key.info.spkiSha256);
      lines.push(
        `    ${match >= 0 ? c.green(`matches certificate ${match}`) : c.yellow('matches no certificate in this file')}`,
      );
    }
  });
  file.crls.forEach((crl, i) => {
    lines.push(`  ${c.bold(`CRL ${i}`)}`, ...renderCrlInfo(describeCrl(crl), c).map((l) => `    ${l}`));
  });
  return lines;
}

const FORMAT_NAMES: Record<FileFormat, string> = {
  pem: 'PEM',
  'der-certificate': 'DER certificate',
  'der-private-key': 'DER private key',
  'der-encrypted-private-key': 'DER encrypted private key',
  pkcs12: 'PKCS#12',
  pkcs7: 'PKCS#7 (DER)',
  'der-crl': 'DER CRL',
  empty: 'empty',
  unknown: 'unknown format',
};

function describeFormat(file: LoadedFile): string {
  if (file.format !== 'pem') return FORMAT_NAMES[file.format];
  const counts = new Map<string, number>();
  for (const label of file.pemLabels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return `PEM, ${[...counts].map(([label, n]) => `${n} ${label}`).join(', ')}`;
}

/** When the name promises something the bytes are not, e.g. "the .pem extension suggests PEM". */
export function extensionNote(file: Pick<LoadedFile, 'path' | 'format' | 'pemLabels' | 'certs'>): string | null {
  const ext = extname(file.path).toLowerCase();
  const pemHas = (label: string): boolean => file.pemLabels.some((l) => l.includes(label));
  const expect: Record<string, [string, boolean]> = {
    '.pem': ['PEM', file.format === 'pem'],
    '.der': ['DER', file.format !== 'pem'],
    '.p12': ['PKCS#12', file.format === 'pkcs12'],
    '.pfx': ['PKCS#12', file.format === 'pkcs12'],
    '.p7b': ['PKCS#7', file.format === 'pkcs7' || pemHas('PKCS7')],
    '.p7c': ['PKCS#7', file.format === 'pkcs7' || pemHas('PKCS7')],
    '.crt': ['a certificate', file.certs.length > 0 || pemHas('CERTIFICATE')],
    '.cer': ['a certificate', file.certs.length > 0 || pemHas('CERTIFICATE')],
    '.key': ['a private key', file.format.includes('private-key') || pemHas('PRIVATE KEY')],
    '.crl': ['a CRL', file.format === 'der-crl' || pemHas('X509 CRL')],
  };
  const rule = expect[ext];
  return rule && !rule[1] ? `the ${ext} extension suggests ${rule[0]}` : null;
}
