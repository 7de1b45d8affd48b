/**
 * Reading a truststore bundle: the file's load problems become truststore findings, and whatever certificates
 * could be read still make a truststore, as API Gateway keeps going past invalid certificates with warnings
 * ("Invalid certificates produce warnings. Mutual TLS is still enabled").
 */
import { loadBytes, loadFile } from '../pki/load.js';
import type { LoadedFile, LoadProblem } from '../pki/types.js';
import { finding } from '../report/finding.js';
import type { Finding } from '../report/finding.js';
import { makeTruststore } from './truststore.js';
import type { Truststore } from './truststore.js';
import { localName } from './commands.js';
import { shellQuote } from '../report/shell.js';
import { UserError } from '../errors.js';
import { sourceFor } from './sources/index.js';

export interface TruststoreRead {
  /** Null when not a single certificate could be read. */
  truststore: Truststore | null;
  file: LoadedFile;
  findings: Finding[];
}

/**
 * Reads a PEM bundle from disk, or from S3 (`s3://BUCKET/KEY`, `?versionId=V` or `version`) through the source the
 * gateway reads truststores with. A file's problems are findings (a missing file is `truststore.file-not-found`);
 * an S3 object that cannot be fetched is a UserError naming the URI and why, in one line.
 */
export async function readTruststore(path: string, opts: { version?: string } = {}): Promise<TruststoreRead> {
  if (!path.startsWith('s3://')) return fromLoaded(await loadFile(path), path);
  let fetched;
  try {
    fetched = await sourceFor(path, opts.version).fetch();
  } catch (e) {
    throw new UserError('E_TRUSTSTORE_S3', `--truststore: ${(e as Error).message}`);
  }
  const where = fetched.version ? `${path} (version ${fetched.version})` : path;
  return truststoreFromPem(fetched.bytes.toString('latin1'), where);
}

/**
 * The same for a bundle already in memory (an S3 object). Pass binary content as a latin1 string so a DER or
 * PKCS#12 upload is still recognised as one.
 */
export function truststoreFromPem(pem: string, source: string): TruststoreRead {
  return fromLoaded(loadBytes(Buffer.from(pem, 'latin1'), source), source);
}

function fromLoaded(file: LoadedFile, source: string): TruststoreRead {
  // In block order: the loader lists broken PEM blocks before certificates that failed to parse.
  const problems = [...file.problems].sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity));
  const findings = [...formatFindings(file), ...problems.flatMap((p) => problemFindings(p, file))];
  if (file.certs.length === 0 && !findings.some((f) => f.severity === 'error' && BLOCKING.has(f.id))) {
    findings.push(emptyFinding(file));
  }
  const truststore = file.certs.length === 0 ? null : makeTruststore(source, file.certs);
  return { truststore, file, findings };
}

/** Findings that already explain why there is no certificate; `truststore.empty` would only repeat them. */
const BLOCKING = new Set([
  'truststore.file-not-found',
  'truststore.unreadable',
  'truststore.wrong-format',
  'truststore.empty',
]);

/** API Gateway takes "text files with a .pem file extension" of concatenated CERTIFICATE blocks, nothing else. */
function formatFindings(file: LoadedFile): Finding[] {
  const f = shellQuote(localName(file.path));
  const evidence = { file: file.path, format: file.format };
  switch (file.format) {
    case 'der-certificate':
      return [
        wrongFormat(
          file,
          'a single DER (binary) certificate',
          `openssl x509 -inform DER -in ${f} -out truststore.pem`,
          evidence,
        ),
      ];
    case 'pkcs7':
      return [
        wrongFormat(
          file,
          'a PKCS#7 (.p7b) bundle',
          `openssl pkcs7 -inform DER -print_certs -in ${f} -out truststore.pem`,
          evidence,
        ),
      ];
    case 'pkcs12':
      return [
        wrongFormat(
          file,
          'a PKCS#12 (.p12/.pfx) keystore',
          `openssl pkcs12 -in ${f} -nokeys -cacerts -out truststore.pem\n# add -legacy for old RC2/3DES-encrypted files; drop -cacerts to get every certificate`,
          evidence,
        ),
      ];
    case 'der-private-key':
    case 'der-encrypted-private-key':
      return [wrongFormat(file, 'a DER private key, not certificates', '', evidence)];
    case 'der-crl':
      return [wrongFormat(file, 'a DER certificate revocation list (CRL), not certificates', '', evidence)];
    case 'pem':
      if (file.pemLabels.some((l) => l === 'PKCS7' || l === 'PKCS #7 SIGNED DATA' || l === 'CMS')) {
        return [
          wrongFormat(
            file,
            'a PEM-armoured PKCS#7 bundle',
            `openssl pkcs7 -print_certs -in ${f} -out truststore.pem`,
            evidence,
          ),
        ];
      }
      return crlBlockFindings(file);
    default:
      return [];
  }
}

/**
 * CRL blocks among the certificates: API Gateway reads a truststore's certificates only, and mtlsgate takes CRLs
 * from a domain's revocation settings, so these are ignored where they are.
 */
function crlBlockFindings(file: LoadedFile): Finding[] {
  const blocks = file.pemLabels.flatMap((label, i) => (label === 'X509 CRL' ? [i] : []));
  if (blocks.length === 0) return [];
  const f = shellQuote(localName(file.path));
  return [
    finding({
      id: 'truststore.contains-crl',
      severity: 'warning',
      title: `${file.path}: PEM block${blocks.length === 1 ? '' : 's'} ${blocks.slice(0, 10).join(', ')}${blocks.length > 10 ? ', ...' : ''} ${blocks.length === 1 ? 'is a CRL' : 'are CRLs'}, which a truststore does not use`,
      detail:
        'A truststore holds CA certificates only: API Gateway and mtlsgate read nothing else from it, so revocation ' +
        "is not checked because of these blocks. Keep CRLs in their own files, named in the domain's revocation " +
        'settings, and check them with `mtlsgate crl lint`.',
      fix:
        `awk '/^[ \\t]*-----BEGIN X509 CRL-----/{s=1} !s; /^[ \\t]*-----END X509 CRL-----/{s=0}' ${f} > ${f}.nocrl\n` +
        `mtlsgate crl lint CRL-FILE --truststore ${f}.nocrl`,
      evidence: { file: file.path, blocks: blocks.map(String) },
    }),
  ];
}

function wrongFormat(file: LoadedFile, what: string, convert: string, evidence: Finding['evidence']): Finding {
  const usable =
    file.certs.length > 0 ? ` The ${file.certs.length} certificate(s) it holds are still checked below.` : '';
  return finding({
    id: 'truststore.wrong-format',
    severity: 'error',
    title: `${file.path}: ${what}; API Gateway needs a PEM bundle`,
    detail:
      'API Gateway reads a truststore only as a text file of concatenated PEM blocks, each `-----BEGIN CERTIFICATE-----` ... ' +
      `\`-----END CERTIFICATE-----\`; any other encoding is rejected when the domain is updated.${usable}`,
    fix: convert
      ? `${convert}\nthen upload truststore.pem and update the domain to use the new version`
      : 'give the CA certificates as a PEM bundle instead',
    evidence,
  });
}

function problemFindings(p: LoadProblem, file: LoadedFile): Finding[] {
  const path = file.path;
  const f = shellQuote(localName(path));
  switch (p.kind) {
    case 'not-found':
      return [
        finding({
          id: 'truststore.file-not-found',
          severity: 'error',
          title: `${path}: ${p.message}`,
          detail: 'The truststore file does not exist at this path.',
          fix: `ls -l ${f}`,
          evidence: { file: path },
        }),
      ];
    case 'unreadable':
    case 'too-large':
      return [
        finding({
          id: 'truststore.unreadable',
          severity: 'error',
          title: `${path}: ${p.message}`,
          detail: 'The truststore file exists but could not be read.',
          fix: `ls -l ${f}`,
          evidence: { file: path },
        }),
      ];
    case 'empty':
      return [emptyFinding(file, p.message)];
    case 'unknown-format':
      // Text without PEM blocks, JKS, a CSR...: nothing API Gateway can read. A PEM holding only other blocks is empty.
      return file.format === 'pem'
        ? [emptyFinding(file, p.message)]
        : [wrongFormat(file, p.message, '', { file: path, format: file.format })];
    case 'cert-parse-error':
    case 'pkcs7-parse-error':
      return [parseError(p, file)];
    case 'pkcs12-parse-error':
    case 'pkcs12-wrong-passphrase':
    case 'pkcs12-legacy-encryption':
      return []; // the file is a PKCS#12, already reported as truststore.wrong-format
    default:
      // Private-key problems (encrypted, unreadable): the key should not be in the bundle at all, which
      // lintTruststore reports as truststore.contains-private-key; its decryption state does not matter.
      return [];
  }
}

function parseError(p: LoadProblem, file: LoadedFile): Finding {
  const f = shellQuote(localName(file.path));
  // The loader's messages start with their own "pem block N (LABEL):" or "certificate N:"; the title says it once.
  const why = p.message.replace(/^(?:pem block \d+|certificate \d+)\s*(?:\([^)]*\))?\s*:?\s*/i, '');
  const where = p.index === undefined ? 'a certificate' : `PEM block ${p.index}`;
  const evidence: Finding['evidence'] = { file: file.path, message: p.message };
  if (p.index !== undefined) evidence.block = p.index;
  const fix = [
    p.index === undefined
      ? ''
      : `grep -n -- '-----BEGIN' ${f} | sed -n '${p.index + 1}p'\n# prints the line where that block starts (blocks count from 0)`,
    'replace the block with an intact copy of the certificate, or delete it',
  ];
  return finding({
    id: 'truststore.parse-error',
    severity: 'error',
    title: `${file.path}: ${where} cannot be read (${why})`,
    detail:
      'This block could not be read as an X.509 certificate (broken base64, a missing END line, a truncated copy-paste). ' +
      'The other certificates in the bundle still load, as API Gateway keeps going with a warning, but clients ' +
      'issued under the certificate this block was meant to hold will be denied.',
    fix: fix.filter(Boolean).join('\n'),
    evidence,
  });
}

function emptyFinding(file: LoadedFile, why?: string): Finding {
  const labels = [...new Set(file.pemLabels)];
  const evidence: Finding['evidence'] = { file: file.path, format: file.format };
  if (labels.length > 0) evidence.pemBlocks = labels;
  return finding({
    id: 'truststore.empty',
    severity: 'error',
    title: `${file.path}: no certificate in the truststore${why ? ` (${why})` : ''}`,
    detail:
      'A truststore must hold at least one certificate: the CA certificates (root and intermediates) that issue your ' +
      'client certificates, or a pinned self-signed client certificate. With none, every client is denied.',
    fix:
      'openssl x509 -in root-ca.pem -out truststore.pem\nappend each intermediate: cat intermediate-ca.pem >> ' +
      'truststore.pem',
    evidence,
  });
}
