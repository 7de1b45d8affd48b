/**
 * What curl will do with each file the command names. The files themselves (format, expiry, key match, ...) are
 * the offline doctor's business; these findings are only about curl's reading of them: --cert-type/--key-type
 * against the real format, where curl looks for the key, whether it has the passphrase, --cacert/--capath, the
 * directory relative paths are resolved from, and Windows' schannel build.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { LoadedFile } from '../../pki/types.js';
import { loadFile } from '../../pki/load.js';
import { finding, type Finding } from '../../report/finding.js';
import { shellQuote } from '../../report/shell.js';
import type { CurlCommand } from './parse.js';

export interface CapathInfo {
  exists: boolean;
  isDir: boolean;
  /** Entries named like OpenSSL's hash links (`9d66eef0.0`). */
  hashed: number;
  /** Entries that look like certificates (.pem, .crt, .cer). */
  certFiles: number;
}

export interface CurlFiles {
  /** The directory curl runs in: relative paths are resolved from it. */
  cwd: string;
  cert: LoadedFile | null;
  key: LoadedFile | null;
  cacert: LoadedFile | null;
  capath: CapathInfo | null;
}

export interface CurlFileCheck {
  findings: Finding[];
  /** Offline doctor finding ids made moot or restated by these findings (the caller drops them). */
  supersedes: string[];
}

const CERT_TYPES = ['PEM', 'DER', 'ENG', 'P12'];
const KEY_TYPES = ['PEM', 'DER', 'ENG'];

export function isEngineRef(path: string): boolean {
  return /^pkcs11:/i.test(path);
}

/** A file name of the command as read from `cwd`; kept as given when that is this process's directory. */
export function fromCwd(cwd: string, p: string): string {
  return isAbsolute(p) || cwd === process.cwd() ? p : resolve(cwd, p);
}

export async function loadCurlFiles(c: CurlCommand, cwd: string): Promise<CurlFiles> {
  const opts = c.passphrase ? { passphrase: c.passphrase.value } : {};
  const at = (p: string): string => fromCwd(cwd, p);
  const certUsable = c.cert !== null && c.certType !== 'ENG' && !isEngineRef(c.cert);
  const keyUsable = c.key !== null && c.keyType !== 'ENG' && !isEngineRef(c.key);
  const [cert, key, cacert] = await Promise.all([
    certUsable ? loadFile(at(c.cert!), opts) : null,
    keyUsable ? loadFile(at(c.key!), opts) : null,
    c.cacert !== null ? loadFile(at(c.cacert)) : null,
  ]);
  return { cwd, cert, key, cacert, capath: c.capath === null ? null : readCapath(at(c.capath)) };
}

function readCapath(dir: string): CapathInfo {
  try {
    if (!statSync(dir).isDirectory()) return { exists: true, isDir: false, hashed: 0, certFiles: 0 };
    const names = readdirSync(dir);
    return {
      exists: true,
      isDir: true,
      hashed: names.filter((n) => /^[0-9a-f]{8}\.r?\d+$/.test(n)).length,
      certFiles: names.filter((n) => /\.(pem|crt|cer)$/i.test(n)).length,
    };
  } catch {
    return { exists: false, isDir: false, hashed: 0, certFiles: 0 };
  }
}

export function checkCurlFiles(c: CurlCommand, files: CurlFiles): CurlFileCheck {
  const out: CurlFileCheck = { findings: [], supersedes: [] };
  checkCert(c, files, out);
  checkKey(c, files, out);
  checkCa(c, files, out);
  out.findings.push(...relativePaths(c, files));
  const win = windowsNote(c, files);
  if (win) out.findings.push(win);
  return out;
}

function certCommand(c: CurlCommand): string {
  const pass = c.passphrase?.from === '--cert' ? ':PASSPHRASE' : '';
  return `--cert ${shellQuote(c.cert ?? 'client.crt')}${pass}`;
}

function checkCert(c: CurlCommand, files: CurlFiles, out: CurlFileCheck): void {
  if (c.cert === null) return;
  const path = c.cert;
  const type = c.certType ?? 'PEM';
  if (!CERT_TYPES.includes(type)) {
    out.findings.push(
      finding({
        id: 'curl.cert-type-invalid',
        severity: 'error',
        title: `--cert-type ${type} is not a type curl knows`,
        detail:
          `curl (with OpenSSL) takes PEM, DER, ENG or P12 and stops with "not supported file type '${type}' for ` +
          `certificate" (exit 58).`,
        fix: `# use --cert-type PEM, DER or P12 (the type of ${path}'s content)`,
        evidence: { certType: type },
      }),
    );
    return;
  }
  if (type === 'ENG' || isEngineRef(path)) {
    out.findings.push(
      finding({
        id: 'curl.cert-engine',
        severity: 'info',
        title: `the client certificate comes from an OpenSSL engine or PKCS#11 token (${path})`,
        detail:
          "curl loads it through OpenSSL's engine; mtlsgate cannot read it, so the certificate itself is not " +
          'checked.',
        fix: '',
        evidence: { cert: path },
      }),
    );
    return;
  }
  const f = files.cert;
  if (
    f?.problems.some((p) => p.kind === 'not-found') &&
    c.passphrase?.from === '--cert' &&
    existsSync(resolve(files.cwd, `${path}:${c.passphrase.value}`))
  ) {
    out.findings.push(
      finding({
        id: 'curl.cert-colon-in-name',
        severity: 'error',
        title: `the --cert file name has a colon: curl cuts it there and looks for ${path}`,
        detail:
          `curl reads everything after the first ":" in --cert as the passphrase, so it opens ${path}, which ` +
          `does not exist, although a file with the whole name does. Escape the colon as "\\:" (in single quotes, so ` +
          `the shell keeps the backslash), or rename the file.`,
        fix:
          `curl --cert '${path.replace(/'/g, `'\\''`)}\\:REST-OF-THE-NAME' ...   # or: mv the file to a name ` +
          `without ":"`,
        evidence: { cut: path },
      }),
    );
    return;
  }
  if (f === null || f.problems.some((p) => p.kind === 'not-found' || p.kind === 'unreadable' || p.kind === 'empty'))
    return;
  const shown = { path, format: describe(f), certType: c.certType ?? '(none: PEM)' };
  if (f.format === 'pkcs12') {
    if (type !== 'P12') {
      out.findings.push(
        finding({
          id: 'curl.p12-without-cert-type',
          severity: 'error',
          title: `${path} is PKCS#12 but curl will read it as ${type}`,
          detail:
            `curl reads --cert as PEM unless --cert-type says otherwise, and fails with "could not load PEM ` +
            `client certificate from ${path}, OpenSSL error ...:no start line" (exit 58).`,
          fix: `curl --cert-type P12 ${certCommand(c)} ...   # the password goes after the colon, or in --pass`,
          evidence: shown,
        }),
      );
    }
    out.supersedes.push('cert.is-pkcs12');
    return;
  }
  if (f.format === 'der-certificate') {
    if (type === 'PEM') {
      out.findings.push(
        finding({
          id: 'curl.cert-type-mismatch',
          severity: 'error',
          title: `${path} is a DER (binary) certificate but curl will read it as PEM`,
          detail:
            `Without --cert-type DER curl expects PEM and fails with "could not load PEM client certificate ` +
            `from ${path}, OpenSSL error error:0480006C:PEM routines::no start line" (exit 58). A DER file named .crt ` +
            `or .pem is the usual cause.`,
          fix:
            `openssl x509 -inform DER -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')}   # then ` +
            `--cert ${shellQuote(stem(path) + '.pem')}\n# or keep the file and tell curl: --cert-type DER --key KEYFILE`,
          evidence: shown,
        }),
      );
    } else if (type === 'P12') {
      out.findings.push(
        finding({
          id: 'curl.cert-type-mismatch',
          severity: 'error',
          title: `--cert-type P12 but ${path} is a DER certificate`,
          detail: `curl fails with "error reading PKCS12 file '${path}'" (exit 58).`,
          fix: `curl --cert-type DER --cert ${shellQuote(path)} --key KEYFILE ...`,
          evidence: shown,
        }),
      );
    }
    out.supersedes.push('cert.wrong-format');
    return;
  }
  if (f.format === 'pem' && f.certs.length > 0) {
    if (type === 'P12') {
      out.findings.push(
        finding({
          id: 'curl.cert-type-p12-on-pem',
          severity: 'error',
          title: `--cert-type P12 but ${path} is a PEM file`,
          detail:
            `curl fails with "error reading PKCS12 file '${path}'" (exit 58). Drop --cert-type P12 (PEM is the ` +
            `default), or make a PKCS#12 file.`,
          fix:
            `curl --cert ${shellQuote(path)} --key KEYFILE ...\n# or: openssl pkcs12 -export ` +
            `-in ${shellQuote(path)} -inkey KEYFILE -out ${shellQuote(stem(path) + '.p12')}`,
          evidence: shown,
        }),
      );
    } else if (type === 'DER') {
      out.findings.push(
        finding({
          id: 'curl.cert-type-mismatch',
          severity: 'error',
          title: `--cert-type DER but ${path} is PEM`,
          detail:
            `curl fails with "could not load ASN1 client certificate from ${path}" (exit 58). Drop --cert-type ` +
            `DER: PEM is the default.`,
          fix: `curl --cert ${shellQuote(path)} ...`,
          evidence: shown,
        }),
      );
    }
  }
}

function checkKey(c: CurlCommand, files: CurlFiles, out: CurlFileCheck): void {
  if (c.cert === null || c.certType === 'ENG' || isEngineRef(c.cert)) return;
  if (c.key === null) {
    keyFromCertFile(c, files.cert, out);
    return;
  }
  const path = c.key;
  const type = c.keyType ?? 'PEM';
  if (!KEY_TYPES.includes(type)) {
    out.findings.push(
      finding({
        id: 'curl.key-type-invalid',
        severity: 'error',
        title: `--key-type ${type} is not a type curl knows`,
        detail:
          `curl (with OpenSSL) takes PEM, DER or ENG for the key and stops with "not supported file type for ` +
          `private key" (exit 58).`,
        fix: '# use --key-type PEM or DER',
        evidence: { keyType: type },
      }),
    );
    return;
  }
  if (type === 'ENG' || isEngineRef(path)) return;
  const f = files.key;
  if (f === null || f.problems.some((p) => p.kind === 'not-found' || p.kind === 'unreadable' || p.kind === 'empty'))
    return;
  const shown = { path, format: describe(f), keyType: c.keyType ?? '(none: PEM)' };
  const der = f.format === 'der-private-key' || f.format === 'der-encrypted-private-key';
  if (der && type !== 'DER') {
    out.findings.push(
      finding({
        id: 'curl.key-type-mismatch',
        severity: 'error',
        title: `${path} is a DER (binary) key but curl will read it as PEM`,
        detail: `curl fails with "unable to set private key file: '${path}' type PEM" (exit 58).`,
        fix:
          `openssl pkey -inform DER -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')}\n# or tell ` +
          `curl: --key-type DER`,
        evidence: shown,
      }),
    );
  } else if (f.format === 'pem' && f.keyBlocks > 0 && type === 'DER') {
    out.findings.push(
      finding({
        id: 'curl.key-type-mismatch',
        severity: 'error',
        title: `--key-type DER but ${path} is PEM`,
        detail: `curl fails with "unable to set private key file: '${path}' type DER" (exit 58). Drop --key-type DER.`,
        fix: `curl --key ${shellQuote(path)} ...`,
        evidence: shown,
      }),
    );
  } else if (f.format === 'pkcs12') {
    out.findings.push(
      finding({
        id: 'curl.key-type-mismatch',
        severity: 'error',
        title: `--key names a PKCS#12 file (${path})`,
        detail:
          `curl cannot read a key from PKCS#12 through --key ("unable to set private key file: '${path}' type ` +
          `PEM", exit 58). Give the PKCS#12 file as the certificate: it holds the key too.`,
        fix: `curl --cert-type P12 --cert ${shellQuote(path)}:PASSWORD ...   # and no --key`,
        evidence: shown,
      }),
    );
    return; // nothing more to say about a file curl cannot use as a key
  }
  if (der && type === 'DER') out.supersedes.push('key.wrong-format');
  passMissing(c, f, path, out);
}

/** No --key: curl takes the key from the --cert file (with the certificate's type). */
function keyFromCertFile(c: CurlCommand, f: LoadedFile | null, out: CurlFileCheck): void {
  if (f === null || f.problems.some((p) => p.kind === 'not-found' || p.kind === 'unreadable' || p.kind === 'empty'))
    return;
  const path = c.cert!;
  if (f.format === 'pkcs12') {
    if (passMissing(c, f, path, out)) return;
    if (f.keyBlocks === 0 && !f.problems.some((p) => p.kind === 'pkcs12-wrong-passphrase')) {
      out.findings.push(
        finding({
          id: 'curl.key-missing',
          severity: 'error',
          title: `${path} holds no private key and no --key is given`,
          detail:
            'The PKCS#12 file has certificates only; curl has no key to prove it owns the certificate and fails ' +
            'with "could not load PKCS12 client certificate, OpenSSL error ...passed a null parameter" (exit 58).',
          fix: `openssl pkcs12 -export -in client.crt -inkey client.key -out ${shellQuote(path)}   # a PKCS#12 with both`,
          evidence: { path },
        }),
      );
      out.supersedes.push('key.missing');
    }
    return;
  }
  if (f.certs.length === 0) return; // not a certificate at all: the offline doctor says what it is
  if (f.keyBlocks === 0) {
    out.findings.push(
      finding({
        id: 'curl.key-missing',
        severity: 'error',
        title: `no --key, and ${path} holds no private key`,
        detail:
          `Without --key curl reads the key from the --cert file, finds none and fails with "unable to set ` +
          `private key file: '${path}' type ${c.keyType ?? 'PEM'}" (exit 58).`,
        fix: `curl --cert ${shellQuote(path)} --key client.key ...   # name the key file`,
        evidence: { cert: path, keyInCertFile: false },
      }),
    );
    out.supersedes.push('key.missing');
    return;
  }
  passMissing(c, f, path, out);
}

function passMissing(c: CurlCommand, f: LoadedFile, path: string, out: CurlFileCheck): boolean {
  if (c.passphrase !== null || !f.problems.some((p) => p.kind === 'passphrase-required')) return false;
  const p12 = f.format === 'pkcs12';
  out.findings.push(
    finding({
      id: 'curl.pass-missing',
      severity: 'error',
      title: `${path} is ${p12 ? 'password protected' : 'an encrypted key'} and the command gives no passphrase`,
      detail: p12
        ? `curl needs the PKCS#12 password after the colon in --cert (or in --pass); without it curl fails with "could not parse PKCS12 file, check password" (exit 58).`
        : `On a terminal curl stops to ask "Enter PEM pass phrase:"; in a script, a pipeline or CI there is no terminal and it fails with "unable to set private key file: '${path}' type PEM" (exit 58).`,
      fix: p12
        ? `curl --cert-type P12 --cert ${shellQuote(path)}:PASSWORD ...`
        : `curl ... --pass PASSPHRASE ...   # or decrypt it once:\nopenssl pkey -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '-decrypted.key')} && chmod 600 ${shellQuote(stem(path) + '-decrypted.key')}`,
      evidence: { path, encrypted: true },
    }),
  );
  out.supersedes.push(p12 ? 'pkcs12.wrong-passphrase' : 'key.passphrase-required');
  return true;
}

function checkCa(c: CurlCommand, files: CurlFiles, out: CurlFileCheck): void {
  const f = files.cacert;
  if (c.cacert !== null && f !== null) {
    const path = c.cacert;
    if (f.problems.some((p) => p.kind === 'not-found')) {
      out.findings.push(
        finding({
          id: 'curl.cacert-not-found',
          severity: 'error',
          title: `--cacert ${path} does not exist`,
          detail: `curl stops with "error setting certificate file: ${path}" (exit 77) before connecting.`,
          fix: `ls -l ${shellQuote(path)}`,
          evidence: { path, resolvedFrom: files.cwd },
        }),
      );
    } else if (f.format !== 'pem' || f.certs.length === 0) {
      // A FIFO, a device, an empty or oversized file: say that, not "not PEM" (curl's exit 77 is the same).
      const unusable = f.problems.find((p) => p.kind === 'unreadable' || p.kind === 'empty' || p.kind === 'too-large');
      const why = unusable
        ? `unusable: ${unusable.message}`
        : f.format === 'der-certificate'
          ? 'a DER certificate'
          : f.format === 'pkcs12'
            ? 'a PKCS#12 file'
            : f.format === 'pkcs7'
              ? 'a PKCS#7 bundle'
              : f.keyBlocks > 0
                ? 'a private key'
                : 'not a PEM certificate bundle';
      const fix =
        f.format === 'der-certificate'
          ? `openssl x509 -inform DER -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')}`
          : f.format === 'pkcs7'
            ? `openssl pkcs7 -print_certs -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')}`
            : `# --cacert takes the PEM certificate(s) of the CA that signed the SERVER's certificate`;
      out.findings.push(
        finding({
          id: 'curl.cacert-not-pem',
          severity: 'error',
          title: `--cacert ${path} is ${why}`,
          detail:
            `curl (OpenSSL) reads --cacert as PEM certificates only and stops with "error setting certificate ` +
            `file: ${path}" (exit 77).`,
          fix,
          evidence: { path, format: describe(f) },
        }),
      );
    }
  }
  const d = files.capath;
  if (c.capath !== null && d !== null) {
    const path = c.capath;
    if (!d.isDir) {
      out.findings.push(
        finding({
          id: 'curl.capath-not-found',
          severity: 'warning',
          title: `--capath ${path} is ${d.exists ? 'not a directory' : 'missing'}`,
          detail:
            "curl ignores a --capath it cannot use without a word, and the server's certificate is then checked " +
            'against --cacert or the system CAs only: expect "(60) SSL certificate problem: unable to get local issuer ' +
            'certificate".',
          fix: `# give a directory of CA certificates, hashed: openssl rehash DIR`,
          evidence: { path, resolvedFrom: files.cwd },
        }),
      );
    } else if (d.hashed === 0) {
      out.findings.push(
        finding({
          id: 'curl.capath-not-hashed',
          severity: 'warning',
          title: `--capath ${path} has no hash links (${d.certFiles} certificate file(s), no NNNNNNNN.0 names)`,
          detail:
            'OpenSSL finds CAs in a --capath directory only by subject-hash file names; a directory of plain ' +
            '.pem/.crt files is never searched, and the server check fails with "(60) unable to get local issuer ' +
            'certificate".',
          fix: `openssl rehash ${shellQuote(path)}   # or: c_rehash ${shellQuote(path)}`,
          evidence: { path, certificateFiles: d.certFiles },
        }),
      );
    }
  }
}

function relativePaths(c: CurlCommand, files: CurlFiles): Finding[] {
  const named: Array<[string, string, LoadedFile | null]> = [];
  if (c.cert !== null && !isEngineRef(c.cert)) named.push(['--cert', c.cert, files.cert]);
  if (c.key !== null && !isEngineRef(c.key)) named.push(['--key', c.key, files.key]);
  if (c.cacert !== null) named.push(['--cacert', c.cacert, files.cacert]);
  if (c.capath !== null) named.push(['--capath', c.capath, null]);
  const relative = named.filter(([, p]) => !isAbsolute(p) && !/^[A-Za-z]:[\\/]/.test(p));
  if (relative.length === 0) return [];
  const missing = relative.filter(([, , f]) => f?.problems.some((p) => p.kind === 'not-found'));
  const list = relative.map(([flag, p]) => `${flag} ${p} -> ${resolve(files.cwd, p)}`);
  if (missing.length > 0) {
    return [
      finding({
        id: 'curl.relative-path',
        severity: 'warning',
        title: `relative path${missing.length > 1 ? 's' : ''} not found from ${files.cwd}`,
        detail:
          `curl opens relative paths from the directory it is run in, ` +
          `here ${files.cwd}. ${missing.map(([flag, p]) => `${flag} ${p}`).join(', ')} is not there: run curl from the ` +
          `directory that holds the files, or give absolute paths.`,
        fix: `cd DIRECTORY-WITH-THE-FILES   # or use absolute paths, e.g. --cert "$PWD/client.crt"`,
        evidence: { cwd: files.cwd, files: list },
      }),
    ];
  }
  return [
    finding({
      id: 'curl.relative-path',
      severity: 'info',
      title: `relative paths are opened from ${files.cwd}`,
      detail:
        'curl opens relative paths from the directory it is run in; the same command run from another directory ' +
        '(a cron job, CI, a service) will not find the files.',
      fix: '',
      evidence: { cwd: files.cwd, files: list },
    }),
  ];
}

function windowsNote(c: CurlCommand, files: CurlFiles): Finding | null {
  const looksWindows =
    c.dialect === 'windows' ||
    /\.exe$/i.test(c.program ?? '') ||
    [c.cert, c.key, c.cacert].some((p) => p !== null && /^[A-Za-z]:[\\/]/.test(p));
  if (!looksWindows) return null;
  const pem = c.cert !== null && (c.certType ?? 'PEM') !== 'P12' && files.cert?.format !== 'pkcs12';
  return finding({
    id: 'curl.windows-schannel',
    severity: pem ? 'warning' : 'info',
    title: 'on Windows, the built-in curl.exe uses schannel, which wants a PKCS#12 client certificate',
    detail:
      `Windows ships curl.exe built with schannel (check: curl.exe -V shows "Schannel"). It does not read PEM ` +
      `client certificates: --cert client.pem fails with "schannel: Failed to import cert file client.pem, last ` +
      `error is 0x80092002" (exit 58). Give it a PKCS#12 file, or use a curl built with OpenSSL (it prints "OpenSSL" ` +
      `in -V).`,
    fix:
      `openssl pkcs12 -export -in client.crt -inkey client.key -out client.p12\n# then: curl.exe --cert-type P12 ` +
      `--cert client.p12:PASSWORD ...`,
    evidence: { cert: c.cert, certType: c.certType },
  });
}

function describe(f: LoadedFile): string {
  switch (f.format) {
    case 'pem':
      return f.pemLabels.length > 0 ? `PEM (${[...new Set(f.pemLabels)].join(', ')})` : 'PEM';
    case 'der-certificate':
      return 'DER certificate';
    case 'der-private-key':
      return 'DER private key';
    case 'der-encrypted-private-key':
      return 'DER encrypted private key';
    case 'pkcs12':
      return 'PKCS#12';
    case 'pkcs7':
      return 'PKCS#7';
    case 'der-crl':
      return 'DER CRL';
    default:
      return f.format;
  }
}

function stem(path: string): string {
  return path.replace(/\.[^./\\]+$/, '');
}
