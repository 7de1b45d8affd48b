/**
 * `mtlsgate pki init|issue|revoke|crl`: a throwaway test PKI, deliberately broken client certificates and
 * revocation data (CRLs, an OpenSSL CA database for `openssl ocsp`), made in-process (no openssl binary needed), for
 * trying the doctor and for tests.
 */
import { basename, join } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { shellQuote } from '../report/shell.js';
import type { KeySpec, PkiFiles } from '../pki/generate.js';
import { parseVariant, VARIANTS } from '../pki/variant-names.js';
import type { CliContext } from './context.js';
import { crlCommand, ocspOneLiner } from './pki-crl.js';
import { revokeCommand } from './pki-revoke.js';

const KEYS: Record<string, KeySpec> = { ec: { type: 'ec', curve: 'P-256' }, rsa: { type: 'rsa', bits: 2048 } };

export function pkiCommand(ctx: CliContext): Command {
  const pki = new Command('pki').description(
    'create a test PKI and broken client certificates to try the doctor on (test use only)',
  );
  pki.addCommand(initCommand(ctx));
  pki.addCommand(issueCommand(ctx));
  pki.addCommand(revokeCommand(ctx));
  pki.addCommand(crlCommand(ctx));
  return pki;
}

function initCommand(ctx: CliContext): Command {
  return new Command('init')
    .description('write a root CA, an intermediate CA, server and client certificates and a truststore into DIR')
    .argument('<dir>', 'directory to write into (created if missing)')
    .requiredOption('--domain <name>', 'DNS name (SAN) of the server certificate, e.g. api.example.test')
    .addOption(
      new Option('--key <type>', 'key type of every certificate: ec (P-256) or rsa (2048-bit)')
        .choices(Object.keys(KEYS))
        .default('ec'),
    )
    .option('--force', 'overwrite an existing PKI in DIR', false)
    .action(async (dir: string, opts: { domain: string; key: string; force: boolean }) => {
      // The generator (and its ASN.1 libraries) is loaded only by the commands that make certificates.
      const { initPki } = await import('../pki/generate.js');
      const files = await initPki(dir, { domain: opts.domain, key: KEYS[opts.key], force: opts.force });
      ctx.io.stdout.write(renderInit(dir, opts.domain, files));
    });
}

function issueCommand(ctx: CliContext): Command {
  const width = Math.max(...Object.keys(VARIANTS).map((v) => v.length));
  const variantHelp = Object.entries(VARIANTS)
    .map(([name, what]) => `  ${name.padEnd(width)}  ${what}`)
    .join('\n');
  return new Command('issue')
    .description("issue a client certificate variant from DIR's root and intermediate CA")
    .argument('<dir>', 'a PKI made by `mtlsgate pki init`')
    .requiredOption('--variant <variant>', 'what is special about the certificate (listed below)')
    .option('--name <name>', 'file name stem: writes NAME.crt, NAME.key and NAME-cas.pem (default: the variant)')
    .option('--depth <n>', 'deep-chain only: CAs below the root (default 5)')
    .option('--cn <cn>', 'subject common name, taken verbatim (default: NAME)')
    .addHelpText(
      'after',
      `\nVariants (client certificates unless noted, EC P-256 unless the variant is about the key):\n${variantHelp}\n`,
    )
    .action(async (dir: string, opts: { variant: string; name?: string; depth?: string; cn?: string }) => {
      const variant = parseVariant(opts.variant);
      const depth = opts.depth === undefined ? undefined : parseDepth(opts.depth);
      const { issueVariant, loadPki } = await import('../pki/generate.js');
      const { recordIssued } = await import('../pki/generate-revocation.js');
      const loaded = await loadPki(dir);
      const name = opts.name ?? variant;
      const v = await issueVariant(loaded, variant, { name, depth, cn: opts.cn });
      // Only what DIR's own CAs signed goes in their databases; a variant's own CAs keep none.
      const recorded = await recordIssued(loaded, [v.leaf, ...v.issuers]);
      const show = (file: string): string => join(dir, file);
      const written = [show(`${name}.crt`), show(`${name}.key`), ...(v.cas ? [show(`${name}-cas.pem`)] : [])];
      const verify = [
        'openssl verify -CAfile',
        shellQuote(show('truststore.pem')),
        ...(v.cas ? ['-untrusted', shellQuote(show(`${name}-cas.pem`))] : []),
        '-purpose sslclient',
        shellQuote(show(`${name}.crt`)),
      ];
      ctx.io.stdout.write(
        [
          `Wrote variant ${variant} (${VARIANTS[variant]}):`,
          ...written.map((f) => `  ${f}`),
          v.cas ? `The client must send ${name}.crt followed by ${name}-cas.pem (its CAs, issuer first).` : null,
          ...(['intermediate', 'root'] as const)
            .filter((ca) => recorded[ca] > 0)
            .map(
              (ca) =>
                `Added ${recorded[ca]} valid (V) line(s) to ${show(ca === 'root' ? 'root-index.txt' : 'index.txt')}.`,
            ),
          '',
          'Next:',
          `  mtlsgate inspect ${shellQuote(show(`${name}.crt`))}`,
          `  ${verify.join(' ')}`,
          '',
        ]
          .filter((line) => line !== null)
          .join('\n'),
      );
    });
}

function parseDepth(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 20)
    throw new UserError('E_BAD_DEPTH', `bad --depth ${JSON.stringify(text)}: give a whole number from 1 to 20`);
  return n;
}

function renderInit(dir: string, domain: string, files: PkiFiles): string {
  const show = (path: string): string => join(dir, basename(path));
  const rows: Array<[string, string]> = [
    [files.rootCert, 'root CA certificate (self-signed)'],
    [files.rootKey, 'root CA key'],
    [files.intermediateCert, 'intermediate CA certificate (pathLen 0)'],
    [files.intermediateKey, 'intermediate CA key'],
    [files.serverCert, `server certificate for ${domain}, followed by the intermediate`],
    [files.serverKey, 'server key'],
    [files.clientCert, 'client certificate (CN=client, clientAuth)'],
    [files.clientKey, 'client key'],
    [files.selfSignedCert, 'self-signed client certificate (not trusted: for a failing case)'],
    [files.selfSignedKey, 'self-signed client key'],
    [files.truststore, 'truststore: root + intermediate, as a gateway would load it'],
    [files.ocspResponderCert, 'OCSP responder certificate (issued by the intermediate, OCSPSigning)'],
    [files.ocspResponderKey, 'OCSP responder key'],
    [files.index, "intermediate CA's OpenSSL database (openssl ca, openssl ocsp -index)"],
    [files.rootIndex, "root CA's OpenSSL database"],
    [files.crlNumber, 'the next CRL number (hex)'],
    [files.intermediateCrl, "intermediate CA's CRL (PEM, valid 7 days; nothing revoked yet)"],
    [files.rootCrl, "root CA's CRL (PEM, valid 7 days; nothing revoked yet)"],
  ];
  const width = Math.max(...rows.map(([p]) => show(p).length));
  return [
    `Wrote a test PKI for ${domain} (keys are unencrypted, for testing only):`,
    ...rows.map(([p, what]) => `  ${show(p).padEnd(width)}  ${what}`),
    '',
    'Next:',
    `  mtlsgate inspect ${shellQuote(show(files.clientCert))}`,
    `  mtlsgate doctor --cert ${shellQuote(show(files.clientCert))} --key ${shellQuote(show(files.clientKey))} --truststore ${shellQuote(show(files.truststore))}`,
    `  mtlsgate pki issue ${shellQuote(dir)} --variant expired   (see mtlsgate pki issue --help for the variants)`,
    `  mtlsgate pki revoke ${shellQuote(dir)} --cert ${shellQuote(show(files.clientCert))} --reason keyCompromise`,
    `  ${ocspOneLiner(dir)}`,
    '',
  ].join('\n');
}
