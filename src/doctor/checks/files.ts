/**
 * Checks on the files themselves: can they be read, are they what curl and the gateway expect (PEM), does each
 * hold what its flag says (a certificate in --cert, a key in --key), and can the key be unlocked.
 */
import type { LoadedFile, LoadProblem } from '../../pki/types.js';
import { finding, type Finding } from '../../report/finding.js';
import type { Known } from '../known.js';
import { shellQuote } from '../../report/shell.js';

const CURL_PEM_NOTE =
  'curl and most clients read --cert and --key as PEM unless told otherwise (--cert-type, --key-type).';

export function checkCertFile(k: Known): Finding[] {
  const f = k.certFile;
  const path = k.certPath;
  if (f === null || path === null) return [];
  const out: Finding[] = [];
  const notFound = problem(f, 'not-found');
  if (notFound) {
    out.push(
      finding({
        id: 'cert.file-not-found',
        severity: 'error',
        title: `certificate file ${path} does not exist`,
        detail:
          `curl fails with "could not load PEM client certificate ... fopen: No such file or ` +
          `directory". ${notFound.message}.`,
        fix:
          `ls -l ${shellQuote(path)}   # check the path; relative paths are relative to the directory you run the ` +
          `command in`,
        evidence: { path },
      }),
    );
    return out;
  }
  const unusable = problem(f, 'unreadable') ?? problem(f, 'too-large') ?? problem(f, 'empty');
  if (unusable) {
    out.push(
      finding({
        id: 'cert.parse-error',
        severity: 'error',
        title: `certificate file ${path} cannot be used: ${unusable.message}`,
        detail: 'The file could not be read as a certificate at all.',
        fix: `ls -l ${shellQuote(path)}`,
        evidence: { path, problem: unusable.kind },
      }),
    );
    return out;
  }
  if (f.format === 'pkcs12') out.push(pkcs12AsCert(path, f));
  else if (f.format === 'der-certificate') {
    out.push(
      finding({
        id: 'cert.wrong-format',
        severity: 'error',
        title: `${path} is a DER (binary) certificate, not PEM`,
        detail:
          `${CURL_PEM_NOTE} A DER file named .crt or .pem is the usual cause of "could not load PEM client ` +
          `certificate".`,
        fix:
          `openssl x509 -inform DER -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')}\n# or tell ` +
          `curl: --cert-type DER`,
        evidence: { path, format: 'DER certificate' },
      }),
    );
  } else if (f.format === 'pkcs7' || f.pemLabels.includes('PKCS7')) {
    out.push(
      finding({
        id: 'cert.wrong-format',
        severity: 'error',
        title: `${path} is a PKCS#7 bundle, not a PEM certificate`,
        detail:
          `${CURL_PEM_NOTE} A PKCS#7 (.p7b) file holds certificates in a container that clients do not read as ` +
          `a client certificate.`,
        fix:
          `openssl pkcs7 -print_certs -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')}   # add ` +
          `-inform DER for a binary .p7b`,
        evidence: { path, format: 'PKCS#7' },
      }),
    );
  } else if (f.format === 'der-crl' || (f.certs.length === 0 && f.crls.length > 0)) {
    out.push(
      finding({
        id: 'cert.wrong-format',
        severity: 'error',
        title: `${path} is a certificate revocation list (CRL), not a certificate`,
        detail: `A CRL lists revoked serial numbers; it cannot identify a client. ${CURL_PEM_NOTE}`,
        fix: `mtlsgate inspect ${shellQuote(path)}   # shows the CRL; give the client certificate file instead`,
        evidence: { path, format: 'CRL' },
      }),
    );
    return out;
  } else if (f.format === 'unknown') {
    out.push(
      finding({
        id: 'cert.wrong-format',
        severity: 'error',
        title: `${path} is not a certificate in any format mtlsgate knows`,
        detail: `It is neither PEM, DER, PKCS#7 nor PKCS#12. ${CURL_PEM_NOTE}`,
        fix: `file ${shellQuote(path)}; head -c 200 ${shellQuote(path)} | od -c | head`,
        evidence: { path },
      }),
    );
  }
  if (f.certs.length === 0 && f.format !== 'unknown' && f.format !== 'pkcs12') {
    if (f.keyBlocks > 0) {
      out.push(
        finding({
          id: 'cert.is-private-key',
          severity: 'error',
          title: `${path} holds a private key, not a certificate`,
          detail:
            'The file given as the certificate contains only a private key: --cert and --key are probably ' +
            'swapped.',
          fix: `# swap them: --cert CLIENT.crt --key ${shellQuote(path)}`,
          evidence: { path, labels: someLabels(f) },
        }),
      );
    } else {
      const parse = problem(f, 'cert-parse-error');
      out.push(
        finding({
          id: 'cert.parse-error',
          severity: 'error',
          title: `${path} holds no readable certificate`,
          detail: parse ? parse.message : 'No CERTIFICATE block was found.',
          fix: `openssl x509 -in ${shellQuote(path)} -noout -text   # shows what OpenSSL makes of it`,
          evidence: { path, labels: someLabels(f) },
        }),
      );
    }
  } else {
    const parse = problem(f, 'cert-parse-error');
    if (parse)
      out.push(
        finding({
          id: 'cert.parse-error',
          severity: 'warning',
          title: `${path}: a certificate block cannot be parsed`,
          detail: parse.message,
          fix: `openssl crl2pkcs7 -nocrl -certfile ${shellQuote(path)} | openssl pkcs7 -print_certs -noout`,
          evidence: { path, index: parse.index ?? null },
        }),
      );
  }
  return out;
}

function pkcs12AsCert(path: string, f: LoadedFile): Finding {
  return finding({
    id: 'cert.is-pkcs12',
    severity: 'warning',
    title: `${path} is a PKCS#12 (.p12/.pfx) file`,
    detail:
      'It holds the certificate and key together, which is fine for the gateway test, but curl reads --cert as ' +
      'PEM unless told it is PKCS#12. Either tell curl, or extract PEM files.',
    fix:
      `curl --cert-type P12 --cert ${shellQuote(path)}:PASSWORD ...\n# or extract PEM files:\nopenssl pkcs12 ` +
      `-in ${shellQuote(path)} -clcerts -nokeys -out client.crt\nopenssl pkcs12 -in ${shellQuote(path)} -nocerts ` +
      `-nodes -out client.key && chmod 600 client.key`,
    evidence: { path, certificates: f.certs.length, keys: f.keys.length },
  });
}

/** PKCS#12 problems are about the container, whichever flag named it. */
export function checkPkcs12(k: Known): Finding[] {
  const out: Finding[] = [];
  for (const f of [k.certFile, k.keyFile]) {
    if (f === null || f.format !== 'pkcs12') continue;
    if (problem(f, 'pkcs12-wrong-passphrase')) {
      out.push(
        finding({
          id: 'pkcs12.wrong-passphrase',
          severity: 'error',
          title: `the PKCS#12 password for ${f.path} is missing or wrong`,
          detail:
            'The file\'s integrity check (MAC) fails with the password given. curl says "could not parse PKCS12 ' +
            'file, check password".',
          fix:
            `openssl pkcs12 -in ${shellQuote(f.path)} -noout   # asks for the password and says whether it is ` +
            `right\n# then: --cert ${shellQuote(f.path)}:PASSWORD or --pass PASSWORD`,
          evidence: { path: f.path, passwordGiven: k.passphrase !== undefined },
        }),
      );
    }
    if (problem(f, 'pkcs12-legacy-encryption')) {
      out.push(
        finding({
          id: 'pkcs12.legacy-encryption',
          severity: 'error',
          title: `${f.path} uses legacy PKCS#12 encryption (RC2/3DES) that OpenSSL 3 refuses`,
          detail:
            'OpenSSL 3 (and so Node, curl on current distributions and mtlsgate) does not load RC2 or 3DES ' +
            'encrypted PKCS#12 files without the legacy provider: "Unsupported PKCS12 PFX data" or "unsupported ' +
            'algorithm". Re-export it with AES.',
          fix:
            `openssl pkcs12 -legacy -in ${shellQuote(f.path)} -nodes -out tmp.pem && openssl pkcs12 -export -in ` +
            `tmp.pem -out ${shellQuote(stem(f.path) + '-aes.p12')} && rm tmp.pem`,
          evidence: { path: f.path },
        }),
      );
    }
  }
  return out;
}

export function checkKeyFile(k: Known): Finding[] {
  const out: Finding[] = [];
  const f = k.keyFile;
  if (f === null) {
    if (k.certFile !== null && k.key === null && k.certFile.keyBlocks === 0 && k.leaf !== null) {
      out.push(
        finding({
          id: 'key.missing',
          severity: 'warning',
          title: 'no private key given',
          detail:
            'Without the key a client cannot prove it owns the certificate: curl needs --key (unless the key is ' +
            "in the --cert file). The doctor predicts the gateway's verdict from the certificates alone.",
          fix: `mtlsgate doctor --cert ${shellQuote(k.certPath ?? 'client.crt')} --key client.key ...`,
        }),
      );
    } else if (k.certFile !== null && k.key === null && k.certFile.keyBlocks > 0)
      out.push(...keyUnlockFindings(k, k.certFile));
    return out;
  }
  const path = f.path;
  if (problem(f, 'not-found')) {
    out.push(
      finding({
        id: 'key.file-not-found',
        severity: 'error',
        title: `key file ${path} does not exist`,
        detail: 'curl fails with "unable to set private key file".',
        fix: `ls -l ${shellQuote(path)}`,
        evidence: { path },
      }),
    );
    return out;
  }
  const unusable = problem(f, 'unreadable') ?? problem(f, 'too-large') ?? problem(f, 'empty');
  if (unusable) {
    out.push(
      finding({
        id: 'key.parse-error',
        severity: 'error',
        title: `key file ${path} cannot be used: ${unusable.message}`,
        detail: 'curl fails with "unable to set private key file".',
        fix: `ls -l ${shellQuote(path)}`,
        evidence: { path, problem: unusable.kind },
      }),
    );
    return out;
  }
  if (f.keyBlocks === 0) {
    if (f.certs.length > 0) {
      out.push(
        finding({
          id: 'key.is-certificate',
          severity: 'error',
          title: `${path} holds a certificate, not a private key`,
          detail:
            'The file given as the key contains only certificates: --cert and --key are probably swapped, or the ' +
            'wrong file was picked. curl says "unable to set private key file".',
          fix: `grep -l "PRIVATE KEY" *.key *.pem 2>/dev/null   # find the file that holds the key`,
          evidence: { path, labels: someLabels(f) },
        }),
      );
    } else if (f.format === 'unknown' || f.format === 'pem' || f.format === 'der-crl') {
      const parse = problem(f, 'key-parse-error');
      out.push(
        finding({
          id: f.format === 'pem' ? 'key.parse-error' : 'key.wrong-format',
          severity: 'error',
          title: `${path} holds no readable private key`,
          detail: parse ? parse.message : 'No PRIVATE KEY block was found.',
          fix: `openssl pkey -in ${shellQuote(path)} -noout   # shows what OpenSSL makes of it`,
          evidence: { path, labels: someLabels(f) },
        }),
      );
    }
    return out;
  }
  if (f.format === 'der-private-key' || f.format === 'der-encrypted-private-key') {
    out.push(
      finding({
        id: 'key.wrong-format',
        severity: 'error',
        title: `${path} is a DER (binary) key, not PEM`,
        detail: `${CURL_PEM_NOTE}`,
        fix:
          `openssl pkey -inform DER -in ${shellQuote(path)} -out ${shellQuote(stem(path) + '.pem')} && chmod ` +
          `600 ${shellQuote(stem(path) + '.pem')}\n# or tell curl: --key-type DER`,
        evidence: { path },
      }),
    );
  }
  out.push(...keyUnlockFindings(k, f));
  if (f.mode !== null && (f.mode & 0o077) !== 0) {
    const mode = (f.mode & 0o777).toString(8).padStart(3, '0');
    out.push(
      finding({
        id: 'key.permissions',
        severity: 'warning',
        title: `private key ${path} is readable by other users (mode ${mode})`,
        detail: 'Anyone who can read the key can pose as this client. ssh refuses such keys; mtlsgate only warns.',
        fix: `chmod 600 ${shellQuote(path)}`,
        evidence: { path, mode },
      }),
    );
  }
  const parse = problem(f, 'key-parse-error');
  if (parse && k.key === null)
    out.push(
      finding({
        id: 'key.parse-error',
        severity: 'error',
        title: `${path}: the private key cannot be parsed`,
        detail: parse.message,
        fix: `openssl pkey -in ${shellQuote(path)} -noout`,
        evidence: { path },
      }),
    );
  return out;
}

function keyUnlockFindings(k: Known, f: LoadedFile): Finding[] {
  if (problem(f, 'passphrase-required')) {
    return [
      finding({
        id: 'key.passphrase-required',
        severity: 'error',
        title: `the private key in ${f.path} is encrypted and no passphrase was given`,
        detail:
          'curl asks for it on a terminal, and fails in scripts with "unable to set private key file". Give the ' +
          'passphrase, or store the key decrypted with tight permissions.',
        fix:
          `curl --key ${shellQuote(f.path)} --pass PASSPHRASE ...\n# or decrypt once: openssl pkey ` +
          `-in ${shellQuote(f.path)} -out client-decrypted.key && chmod 600 client-decrypted.key`,
        evidence: { path: f.path },
      }),
    ];
  }
  if (problem(f, 'wrong-passphrase')) {
    return [
      finding({
        id: 'key.wrong-passphrase',
        severity: 'error',
        title: `the passphrase does not decrypt the private key in ${f.path}`,
        detail: 'OpenSSL reports "bad decrypt". curl says "unable to set private key file".',
        fix: `openssl pkey -in ${shellQuote(f.path)} -noout   # asks for the passphrase and says whether it is right`,
        evidence: { path: f.path, passphraseGiven: k.passphrase !== undefined },
      }),
    ];
  }
  return [];
}

/** The file's PEM labels for evidence, at most 20 (a hostile file can hold hundreds of thousands of blocks). */
function someLabels(f: LoadedFile): string[] {
  return f.pemLabels.length <= 20
    ? f.pemLabels
    : [...f.pemLabels.slice(0, 20), `... and ${f.pemLabels.length - 20} more`];
}

function problem(f: LoadedFile, kind: LoadProblem['kind']): LoadProblem | undefined {
  return f.problems.find((p) => p.kind === kind);
}

/** Quote a path for a shell command shown to the user. */
function stem(path: string): string {
  return path.replace(/\.[^./]+$/, '');
}
