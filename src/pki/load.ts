/**
 * One entry point for "what is in this file": reads it with a cap, sniffs the format from the bytes and pulls
 * out certificates and private keys. Bad content never throws; every problem becomes a LoadProblem.
 */
import type { FileFormat, LoadedFile, LoadOptions, LoadProblem, LoadProblemKind, PrivateKey } from './types.js';
import { parseCert } from './cert.js';
import { isPrivateKeyLabel, loadDerKey, loadPemKey } from './key.js';
import { parsePem } from './pem.js';
import type { PemBlock } from './pem.js';
import { certsFromPkcs7 } from './pkcs7.js';
import { parsePkcs12 } from './pkcs12.js';
import { readCrl } from './crl.js';
import { DEFAULT_MAX_BYTES, MAX_PROBLEMS, isLoadProblem, readCapped } from './read.js';
import { sniffDer, sniffFormat } from './sniff.js';

const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const PKCS7_LABELS = new Set(['PKCS7', 'PKCS #7 SIGNED DATA', 'CMS']);
const CRL_LABEL = 'X509 CRL';

export async function loadFile(path: string, opts: LoadOptions = {}): Promise<LoadedFile> {
  const read = await readCapped(path, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  if (isLoadProblem(read)) {
    return { ...emptyFile(path, read.kind === 'empty' ? 'empty' : 'unknown'), problems: [read] };
  }
  return { ...loadBytes(read.bytes, path, opts), mode: read.mode };
}

/** Loads content already in memory; `label` names it in the result (usually the path). */
export function loadBytes(bytes: Buffer, label: string, opts: LoadOptions = {}): LoadedFile {
  const cap = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const file = emptyFile(label, 'unknown');
  file.size = bytes.length;
  if (bytes.length > cap) return withProblem(file, 'too-large', `larger than the ${cap} byte read cap`);
  try {
    file.format = sniffFormat(bytes);
    loadByFormat(file, bytes, opts.passphrase);
    capProblems(file);
  } catch (e) {
    // Defence in depth: a parser bug must not take the CLI down with a stack trace.
    withProblem(
      file,
      'unknown-format',
      `could not be read (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
    );
  }
  return file;
}

function loadByFormat(file: LoadedFile, bytes: Buffer, passphrase: string | undefined): void {
  switch (file.format) {
    case 'empty':
      withProblem(file, 'empty', 'the file is empty');
      return;
    case 'pem':
      loadPem(file, bytes, passphrase);
      return;
    case 'der-certificate':
      addCert(file, bytes, 0);
      return;
    case 'der-private-key':
    case 'der-encrypted-private-key': {
      file.keyBlocks = 1;
      addKey(file, loadDerKey(bytes, sniffDer(bytes) ?? 'pkcs8', passphrase));
      return;
    }
    case 'pkcs12': {
      const p12 = parsePkcs12(bytes, passphrase);
      file.certs.push(...p12.certs);
      file.keys.push(...p12.keys);
      file.keyBlocks = p12.keyBlocks;
      file.problems.push(...p12.problems);
      file.pkcs12 = p12.info;
      return;
    }
    case 'pkcs7': {
      const p7 = certsFromPkcs7(bytes);
      file.certs.push(...p7.certs);
      file.problems.push(...p7.problems);
      return;
    }
    case 'der-crl': {
      const crl = readCrl(bytes);
      if (typeof crl === 'string') withProblem(file, 'crl-parse-error', `not a readable CRL: ${crl}`);
      else file.crls.push(crl);
      return;
    }
    case 'unknown':
      withProblem(file, 'unknown-format', describeUnknown(bytes));
      return;
  }
}

function loadPem(file: LoadedFile, bytes: Buffer, passphrase: string | undefined): void {
  const pem = parsePem(bytes);
  for (const p of pem.problems) {
    const kind: LoadProblemKind = isPrivateKeyLabel(p.label)
      ? 'key-parse-error'
      : CERT_LABELS.has(p.label)
        ? 'cert-parse-error'
        : p.label === CRL_LABEL
          ? 'crl-parse-error'
          : 'unknown-format';
    if (isPrivateKeyLabel(p.label)) file.keyBlocks++;
    file.problems.push({ kind, index: p.index, message: p.message });
  }
  for (const block of pem.blocks) {
    file.pemLabels.push(block.label);
    loadPemBlock(file, block, passphrase);
  }
  if (file.certs.length === 0 && file.keyBlocks === 0 && file.crls.length === 0 && file.problems.length === 0) {
    const labels = [...new Set(file.pemLabels)].join(', ');
    withProblem(
      file,
      'unknown-format',
      labels ? `no certificate, private key or CRL in the PEM (holds ${labels})` : 'no PEM blocks found',
    );
  }
}

function loadPemBlock(file: LoadedFile, block: PemBlock, passphrase: string | undefined): void {
  if (CERT_LABELS.has(block.label)) {
    addCert(file, block.body, block.index);
  } else if (isPrivateKeyLabel(block.label)) {
    file.keyBlocks++;
    addKey(file, loadPemKey(block, passphrase), block.index);
  } else if (PKCS7_LABELS.has(block.label)) {
    const p7 = certsFromPkcs7(block.body);
    file.certs.push(...p7.certs);
    file.problems.push(...p7.problems.map((p) => ({ ...p, index: block.index })));
  } else if (block.label === CRL_LABEL) {
    const crl = readCrl(block.body);
    if (typeof crl !== 'string') file.crls.push(crl);
    else {
      const message = `pem block ${block.index} (${CRL_LABEL}): ${crl}`;
      file.problems.push({ kind: 'crl-parse-error', index: block.index, message });
    }
  }
  // Other blocks (CSRs, public keys, EC PARAMETERS) are listed in pemLabels and otherwise ignored.
}

function addCert(file: LoadedFile, der: Buffer, index: number): void {
  try {
    file.certs.push(parseCert(der));
  } catch (e) {
    file.problems.push({ kind: 'cert-parse-error', index, message: `certificate ${index}: ${(e as Error).message}` });
  }
}

function addKey(file: LoadedFile, key: PrivateKey | LoadProblem, index?: number): void {
  if (isLoadProblem(key)) file.problems.push(index === undefined ? key : { ...key, index });
  else file.keys.push(key);
}

/** Names what unknown bytes probably are, so the message helps more than "unknown format". */
function describeUnknown(bytes: Buffer): string {
  switch (sniffDer(bytes)) {
    case 'spki':
      return 'a DER public key, not a certificate or private key';
    case 'csr':
      return 'a DER certificate signing request (CSR), not a certificate';
    default:
      break;
  }
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0xfeedfeed) {
    return 'a Java KeyStore (JKS); convert it with keytool -importkeystore -deststoretype pkcs12';
  }
  const head = bytes.subarray(0, 64).toString('latin1');
  if (/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-)/.test(head)) return 'an OpenSSH public key, not an X.509 certificate';
  if (bytes[0] === 0x30)
    return 'DER data that is not a certificate, private key, CRL, PKCS#12 or PKCS#7 (or it is truncated)';
  return 'not PEM, DER, PKCS#12 or PKCS#7 data';
}

export { MAX_PROBLEMS } from './read.js';

/**
 * A hostile file holds as many broken blocks as fit in the read cap (350,000 BEGIN lines in 10 MB); one problem,
 * finding and stderr line for each took 2 GB and seconds per command, so only the first MAX_PROBLEMS are kept.
 */
function capProblems(file: LoadedFile): void {
  const more = file.problems.length - MAX_PROBLEMS;
  if (more <= 0) return;
  const kind = file.problems[MAX_PROBLEMS]!.kind;
  file.problems.length = MAX_PROBLEMS;
  file.problems.push({ kind, message: `${more} more unreadable blocks, not listed one by one` });
}

function emptyFile(path: string, format: FileFormat): LoadedFile {
  return {
    path,
    format,
    pemLabels: [],
    certs: [],
    keys: [],
    keyBlocks: 0,
    crls: [],
    problems: [],
    mode: null,
    size: 0,
  };
}

function withProblem(file: LoadedFile, kind: LoadProblemKind, message: string): LoadedFile {
  file.problems.push({ kind, message });
  return file;
}
