/**
 * What the doctor knows before it checks anything: the files the user named, loaded once, and what could be
 * pulled out of them (the client certificate, the chain it would send, the key, the truststore). Checks read
 * this; none of them reads a file again.
 */
import { existsSync } from 'node:fs';
import type { Cert, LoadedFile, PrivateKey } from '../pki/types.js';
import { loadFile } from '../pki/load.js';
import { splitCurlCertArg } from '../pki/curl-arg.js';
import type { Truststore } from '../trust/truststore.js';
import { readTruststore } from '../trust/load.js';
import type { Finding } from '../report/finding.js';
import { DEFAULT_POLICY, type PolicyOptions } from '../policy/rules.js';
import type { RevocationPolicy } from '../policy/revocation.js';
import { parseCrls, type Crl } from '../pki/crl.js';
import { isLoadProblem, readCapped } from '../pki/read.js';
import { UserError } from '../errors.js';

export interface DoctorInput {
  /** `--cert`, possibly curl's `file:passphrase`. */
  cert?: string;
  key?: string;
  pass?: string;
  truststore?: string;
  now?: Date;
  policy?: Partial<PolicyOptions>;
  /** With an s3:// truststore: the object version to read (as the gateway's truststoreVersion). */
  truststoreVersion?: string;
  /** `--crl` files: the verdict then includes revocation by them, as the gateway's `revocation.mode: crl`. */
  crls?: string[];
  /**
   * `--ocsp` / `--ocsp-url`: ask OCSP responders (url: instead of each certificate's AIA), as `mode: ocsp`, or
   * `prefer-ocsp` with `crls`.
   */
  ocsp?: { url: string | null; timeoutMs?: number };
  /** The gateway's `mutualTls.revocation` scope and onUnavailable (defaults leaf, deny). */
  revocation?: Partial<Pick<RevocationPolicy, 'scope' | 'onUnavailable'>>;
}

/** One `--crl` file and the CRLs in it. */
export interface CrlFile {
  path: string;
  crls: Crl[];
}

export interface Known {
  input: DoctorInput;
  now: Date;
  policy: PolicyOptions;
  certPath: string | null;
  /** Passphrase from --pass, or from `--cert file:pass`. */
  passphrase: string | undefined;
  certFile: LoadedFile | null;
  /** The key file when --key names one; null when the key came with the certificate file or is absent. */
  keyFile: LoadedFile | null;
  leaf: Cert | null;
  /** Certificates after the first in the certificate file: what curl sends as the client's chain. */
  intermediates: Cert[];
  key: PrivateKey | null;
  /** Where the key came from: the --key file, or the certificate file itself (PEM with both, PKCS#12). */
  keySource: 'key-file' | 'cert-file' | null;
  truststore: Truststore | null;
  truststoreFile: LoadedFile | null;
  /** Findings produced while reading the truststore (not found, parse errors, wrong format). */
  truststoreFindings: Finding[];
  /** The `--crl` files, read; null when none was given (revocation is not judged). */
  crlFiles: CrlFile[] | null;
  /** `--ocsp`: null when OCSP is not asked. */
  ocsp: { url: string | null; timeoutMs: number } | null;
  revocation: Pick<RevocationPolicy, 'scope' | 'onUnavailable'>;
}

/** Files another reader already loaded with the same passphrase (doctor curl reads them as curl would). */
export interface Preloaded {
  certFile: LoadedFile | null;
  keyFile: LoadedFile | null;
}

export async function gather(input: DoctorInput, preloaded?: Preloaded): Promise<Known> {
  const now = input.now ?? new Date();
  const policy = { ...DEFAULT_POLICY, ...input.policy };
  let certPath: string | null = null;
  let passphrase = input.pass;
  if (input.cert !== undefined) {
    // curl reads `--cert file:pass`; a file that exists under the whole name wins, as a colon may be in a path.
    if (existsSync(input.cert)) certPath = input.cert;
    else {
      const split = splitCurlCertArg(input.cert);
      certPath = split.file;
      if (split.passphrase !== null && passphrase === undefined) passphrase = split.passphrase;
    }
  }
  const loadOpts = passphrase === undefined ? {} : { passphrase };
  const [certFile, keyFile, trust, crlFiles] = await Promise.all([
    preloaded ? preloaded.certFile : certPath === null ? null : loadFile(certPath, loadOpts),
    preloaded ? preloaded.keyFile : input.key === undefined ? null : loadFile(input.key, loadOpts),
    input.truststore === undefined
      ? null
      : readTruststore(input.truststore, input.truststoreVersion ? { version: input.truststoreVersion } : {}),
    input.crls === undefined || input.crls.length === 0 ? null : Promise.all(input.crls.map(readCrlFile)),
  ]);

  const leaf = certFile?.certs[0] ?? null;
  const intermediates = certFile?.certs.slice(1) ?? [];
  let key: PrivateKey | null = null;
  let keySource: Known['keySource'] = null;
  if (keyFile?.keys[0]) {
    key = keyFile.keys[0];
    keySource = 'key-file';
  } else if (keyFile === null && certFile?.keys[0]) {
    key = certFile.keys[0];
    keySource = 'cert-file';
  }
  return {
    input,
    now,
    policy,
    certPath,
    passphrase,
    certFile,
    keyFile,
    leaf,
    intermediates,
    key,
    keySource,
    truststore: trust?.truststore ?? null,
    truststoreFile: trust?.file ?? null,
    truststoreFindings: trust?.findings ?? [],
    crlFiles,
    ocsp: input.ocsp ? { url: input.ocsp.url, timeoutMs: input.ocsp.timeoutMs ?? 10_000 } : null,
    revocation: { scope: input.revocation?.scope ?? 'leaf', onUnavailable: input.revocation?.onUnavailable ?? 'deny' },
  };
}

/**
 * A `--crl` file: every block must be a CRL. Anything else is a usage error (one line, exit 2), as a CRL source the
 * gateway cannot read is a start-up error: judging revocation without the CRL the user meant would mislead.
 */
async function readCrlFile(path: string): Promise<CrlFile> {
  const read = await readCapped(path);
  if (isLoadProblem(read)) throw new UserError('E_CRL', `--crl: ${path}: ${read.message}`);
  const { crls, problems } = parseCrls(read.bytes, path);
  if (problems.length > 0) throw new UserError('E_CRL', `--crl: ${problems[0]!} (expected a PEM or DER CRL)`);
  return { path, crls };
}
