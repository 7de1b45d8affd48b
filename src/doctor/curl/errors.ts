/**
 * curl's error line (`curl: (58) could not load PEM client certificate ...`) and/or exit code -> findings. Each rule
 * is pinned to the text real curl prints (curl 7.88 / OpenSSL 3 here, OpenSSL 1.1 and schannel wordings from
 * user reports); test/e2e/doctor-curl.test.ts feeds real curl output through them.
 */
import { finding, type Finding } from '../../report/finding.js';
import { shellQuote } from '../../report/shell.js';

export interface CurlErrorInput {
  exitCode?: number | undefined;
  /** The pasted error: one line, or curl's whole stderr (the `curl: (N)` line is picked out). */
  message?: string | undefined;
}

/** Names from the command that make the fixes concrete. */
export interface CurlErrorContext {
  cert?: string | null;
  key?: string | null;
  host?: string | null;
  port?: number | null;
}

export interface MappedCurlError {
  exitCode: number | null;
  /** The error text curl printed, without the `curl: (N)` prefix. */
  text: string | null;
  findings: Finding[];
}

interface Rule {
  /** Exit codes this rule applies to; empty = any (and a message without a code). */
  codes: number[];
  re: RegExp;
  make: (m: RegExpExecArray, x: Ctx) => Finding;
}

interface Ctx {
  code: number | null;
  text: string;
  cert: string;
  key: string;
  host: string;
  port: number;
}

const LINE = /(?:^|\s)c?url(?:\.exe)?:\s*\((\d+)\)\s*(.*)$/im;
const MAX_TEXT = 1024;

export function mapCurlError(input: CurlErrorInput, ctx: CurlErrorContext = {}): MappedCurlError {
  let code = input.exitCode ?? null;
  let text: string | null = null;
  const findings: Finding[] = [];
  if (input.message !== undefined && input.message.trim() !== '') {
    const m = LINE.exec(input.message);
    if (m) {
      const said = Number(m[1]);
      if (code !== null && code !== said) {
        findings.push(
          finding({
            id: 'curl.exit-code-differs',
            severity: 'info',
            title: `the exit code given (${code}) differs from the one in the message (${said})`,
            detail: `The message's code (${said}) is used: curl prints its own exit code in "curl: (N)".`,
            fix: '',
            evidence: { exitCode: code, messageCode: said },
          }),
        );
      }
      code = said;
      text = m[2]!.trim();
    } else {
      text = input.message
        .trim()
        .split('\n')
        .find((l) => l.trim() !== '')!
        .trim();
    }
    // curl's messages fit its 256-byte error buffer; on a megabyte of text some rules below take minutes.
    if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT);
  }
  const x: Ctx = {
    code,
    text: text ?? '',
    cert: ctx.cert ?? 'client.crt',
    key: ctx.key ?? ctx.cert ?? 'client.key',
    host: ctx.host ?? 'HOST',
    port: ctx.port ?? 443,
  };
  if (text !== null && text !== '') {
    for (const rule of RULES) {
      if (code !== null && rule.codes.length > 0 && !rule.codes.includes(code)) continue;
      const m = rule.re.exec(text);
      if (m) {
        findings.push(withSaid(rule.make(m, x), code, text));
        return { exitCode: code, text, findings };
      }
    }
  }
  if (code !== null) {
    const byCode = BY_CODE[code];
    const f = byCode
      ? byCode(x)
      : finding({
          id: `curl.exit-${code}`,
          severity: 'error',
          title: `curl exited with code ${code}`,
          detail:
            `See "man curl" (EXIT CODES) for code ${code}. mtlsgate has no specific advice for it; the file and ` +
            `live checks below may still show the cause.`,
          fix: '',
        });
    if (text) f.evidence.unrecognized = true;
    findings.push(withSaid(f, code, text));
  } else if (text) {
    findings.push(
      finding({
        id: 'curl.error-unrecognized',
        severity: 'warning',
        title: 'the pasted error is not one mtlsgate recognizes',
        detail:
          'Paste the whole line that starts with "curl: (" (and give --exit-code N if you have it). The file and ' +
          'live checks below may still show the cause.',
        fix: '',
        evidence: { said: text },
      }),
    );
  }
  return { exitCode: code, text, findings };
}

function withSaid(f: Finding, code: number | null, text: string | null): Finding {
  return { ...f, evidence: { exitCode: code, ...(text ? { said: text } : {}), ...f.evidence } };
}

const KEY_CHECKS = (x: Ctx): string =>
  [
    `ls -l ${shellQuote(x.key)}`,
    `openssl pkey -in ${shellQuote(x.key)} -noout   # is it a key? asks for the passphrase if encrypted`,
    `openssl pkey -in ${shellQuote(x.key)} -pubout | openssl sha256`,
    `openssl x509 -in ${shellQuote(x.cert)} -noout -pubkey | openssl sha256   # must print the same digest`,
  ].join('\n');

const ALERT_NOTE =
  'The alert came from the server: the TLS connection reached the server, which refused the client certificate.';

const RULES: Rule[] = [
  // --- the client certificate and key, before connecting (58)
  {
    codes: [58],
    re: /could not (?:load|open) (?:PEM |ASN1 |PKCS12 )?(?:client certificate|PKCS12 file)(?: from (.+?))?[,'].*?(No such file or directory|fopen)/i,
    make: (m, x) =>
      finding({
        id: 'curl.cert-file-not-found',
        severity: 'error',
        title: `curl cannot find the client certificate file${m[1] ? ` ${m[1]}` : ''}`,
        detail:
          'curl looked for the --cert file and it is not there: a typo, a path relative to another directory, or ' +
          'a `:` in the name that curl read as the start of a passphrase (escape it as `\\:`).',
        fix: `ls -l ${shellQuote(m[1] ?? x.cert)}   # relative paths are relative to the directory you run curl in`,
        evidence: { file: m[1] ?? null },
      }),
  },
  {
    codes: [58],
    re: /could not open PKCS12 file '([^']*)'/i,
    make: (m) =>
      finding({
        id: 'curl.cert-file-not-found',
        severity: 'error',
        title: `curl cannot open the PKCS#12 file ${m[1]}`,
        detail: 'The --cert file given with --cert-type P12 does not exist or cannot be read.',
        fix: `ls -l ${shellQuote(m[1]!)}`,
        evidence: { file: m[1]! },
      }),
  },
  {
    codes: [58],
    re: /could not load .*client certificate.*?((?:ca|ee) (?:md|key) too (?:weak|small))/i,
    make: (m, x) =>
      finding({
        id: 'curl.client-cert-refused-locally',
        severity: 'error',
        title: `curl's own OpenSSL refuses the client certificate: ${m[1]}`,
        detail: `Before connecting, OpenSSL checks the certificate against its security level (level 2 on Debian, Ubuntu and RHEL 9): ${/md/i.test(m[1]!) ? 'a certificate signed with SHA-1 or MD5 ("ca md too weak")' : 'an RSA key under 2048 bits or an EC key under 224 bits ("ee/ca key too small")'} is not used at all. API Gateway would refuse it too ("Client cert using an insecure Signature Algorithm"). Reissue the certificate with SHA-256 and a 2048-bit RSA or P-256 key.`,
        fix:
          `openssl x509 -in ${shellQuote(x.cert)} -noout -text | grep -E 'Signature Algorithm|Public-Key'   # see ` +
          `what it uses\n# test only: OPENSSL_CONF with "CipherString = DEFAULT@SECLEVEL=0" in system_default makes ` +
          `curl send it`,
        evidence: { reason: m[1]! },
      }),
  },
  {
    codes: [58],
    re: /(?:could not load (?:PEM |ASN1 )?client certificate(?: from (.+?))?,|unable to set client certificate|unable to use client certificate)(.*)/i,
    make: (m, x) =>
      finding({
        id: 'curl.cert-not-loaded',
        severity: 'error',
        title: `curl cannot read the client certificate${m[1] ? ` ${m[1]}` : ''} in the format it was told`,
        detail: `OpenSSL could not parse the --cert file as ${/ASN1/i.test(x.text) ? 'DER (--cert-type DER)' : 'PEM (the default)'}${/no start line/i.test(m[2] ?? '') ? ': there is no "-----BEGIN CERTIFICATE-----" line' : ''}. Usual causes: a DER (binary) certificate without --cert-type DER, a PKCS#12 file without --cert-type P12, --cert and --key swapped, or a corrupted file. The file checks below say which.`,
        fix:
          `openssl x509 -in ${shellQuote(m[1] ?? x.cert)} -noout -subject   # works for PEM\nopenssl x509 -inform ` +
          `DER -in ${shellQuote(m[1] ?? x.cert)} -noout -subject   # works for DER`,
        evidence: { file: m[1] ?? null },
      }),
  },
  {
    codes: [58],
    re: /could not parse PKCS12 file, check password|PKCS12 routines::mac verify failure/i,
    make: (_m, x) =>
      finding({
        id: 'curl.p12-not-loaded',
        severity: 'error',
        title: 'the PKCS#12 password is missing or wrong',
        detail:
          'curl could not open the PKCS#12 file with the password given (after the colon in --cert, or --pass): ' +
          'the integrity check (MAC) fails.',
        fix:
          `openssl pkcs12 -in ${shellQuote(x.cert)} -noout   # asks for the password and says whether it is ` +
          `right\n# then: --cert-type P12 --cert ${shellQuote(x.cert)}:PASSWORD`,
      }),
  },
  {
    codes: [58],
    re: /error reading PKCS12 file '([^']*)'|could not load PKCS12 client certificate(.*)|PKCS12/i,
    make: (m, x) =>
      finding({
        id: 'curl.p12-not-loaded',
        severity: 'error',
        title: `curl cannot use ${m[1] ?? x.cert} as a PKCS#12 client certificate`,
        detail: m[1]
          ? `--cert-type P12 was given but the file is not PKCS#12 (a PEM or DER certificate?). Drop --cert-type P12 for PEM, or make a .p12 with openssl pkcs12 -export.`
          : 'The PKCS#12 file was opened but holds no usable certificate and key pair (a PKCS#12 made with -nokeys, or a key that does not match).',
        fix: `openssl pkcs12 -in ${shellQuote(m[1] ?? x.cert)} -info -noout   # what is inside`,
        evidence: { file: m[1] ?? null },
      }),
  },
  {
    codes: [58],
    re: /unable to set private key file(?::\s*'([^']*)'\s*type\s*(\w+))?|Private key does not match the certificate public key|no key found or wrong pass phrase/i,
    make: (m, x) =>
      finding({
        id: 'curl.key-not-loaded',
        severity: 'error',
        title: `curl cannot load the private key${m[1] ? ` ${m[1]} (as ${m[2]})` : ''}`,
        detail: `One of: the key file does not exist; it is not a key (a certificate, or --cert and --key swapped); it is DER without --key-type DER; it is encrypted and the passphrase is missing or wrong (with no terminal curl cannot ask); or it is not the key of the certificate. ${m[1] && m[1] === x.cert ? 'No --key was given, so curl looked for the key in the --cert file itself. ' : ''}The file checks below say which.`,
        fix: KEY_CHECKS({ ...x, key: m[1] ?? x.key }),
        evidence: { file: m[1] ?? null, type: m[2] ?? null },
      }),
  },
  {
    codes: [],
    re: /not supported file type '?([^' ]*)'? for (certificate|private key)|not supported file type for private key/i,
    make: (m) =>
      finding({
        id: 'curl.cert-type-invalid',
        severity: 'error',
        title: `curl does not know the ${m[2] ?? 'private key'} type ${m[1] ?? ''}`.trim(),
        detail: 'curl with OpenSSL takes PEM, DER, ENG or P12 for --cert-type and PEM, DER or ENG for --key-type.',
        fix: '# use --cert-type PEM|DER|P12 and --key-type PEM|DER',
        evidence: { type: m[1] ?? null },
      }),
  },
  // --- Windows schannel
  {
    codes: [],
    re: /schannel: Failed to import cert file (.+?), last error is (0x[0-9a-f]+)/i,
    make: (m) =>
      finding({
        id: 'curl.schannel-import-failed',
        severity: 'error',
        title: `Windows' schannel cannot import ${m[1]} (${m[2]})`,
        detail: `${/0x80092002/i.test(m[2]!) ? '0x80092002 (CRYPT_E_BAD_ENCODE) means the file is not PKCS#12: the curl.exe that ships with Windows uses schannel, which reads a client certificate only from PKCS#12 or the certificate store, never PEM.' : /0x80070056/i.test(m[2]!) ? '0x80070056 is a wrong PKCS#12 password.' : 'schannel (the TLS library of the curl.exe that ships with Windows) could not import the client certificate; it reads PKCS#12 files or the certificate store only.'}`,
        fix:
          `openssl pkcs12 -export -in client.crt -inkey client.key -out client.p12\n# then: curl.exe --cert-type ` +
          `P12 --cert client.p12:PASSWORD ...`,
        evidence: { file: m[1]!, code: m[2]! },
      }),
  },
  {
    codes: [],
    re: /schannel: .*(SEC_E_UNTRUSTED_ROOT|CERT_E_UNTRUSTEDROOT)/i,
    make: () => serverUntrusted("schannel: the server's root CA is not trusted by Windows"),
  },
  {
    codes: [],
    re: /schannel: .*(SEC_E_WRONG_PRINCIPAL|CERT_E_CN_NO_MATCH)/i,
    make: (_m, x) => nameMismatch(x, null),
  },
  {
    codes: [],
    re: /schannel: .*(CRYPT_E_NO_REVOCATION_CHECK|CRYPT_E_REVOCATION_OFFLINE)/i,
    make: (m) =>
      finding({
        id: 'curl.schannel-revocation',
        severity: 'error',
        title: 'schannel could not check whether the server certificate is revoked',
        detail:
          `${m[1]}: Windows tried to reach the CA's revocation list (CRL/OCSP) and could not, which is common ` +
          `for private CAs and offline networks. This is about the SERVER's certificate, not yours.`,
        fix: 'curl.exe --ssl-no-revoke ...   # or --ssl-revoke-best-effort',
        evidence: { code: m[1]! },
      }),
  },
  {
    codes: [],
    re: /schannel: .*(SEC_E_ILLEGAL_MESSAGE|SEC_E_CERT_UNKNOWN|SEC_E_NO_CREDENTIALS)/i,
    make: (m) =>
      finding({
        id: 'curl.tls-alert',
        severity: 'error',
        title: `schannel reports ${m[1]}: the server ended the handshake`,
        detail:
          'With mutual TLS this usually means the server asked for a client certificate and none was sent ' +
          '(schannel could not use the file) or it refused the one sent.',
        fix: 'curl.exe -v ...   # and see the live diagnosis below',
        evidence: { code: m[1]! },
      }),
  },
  // --- CA for the server (77)
  {
    codes: [77],
    re: /error setting certificate (?:file|verify locations)[: ]*(?:CAfile:\s*)?(\S+)?/i,
    make: (m) =>
      finding({
        id: 'curl.cacert-not-loaded',
        severity: 'error',
        title: `curl cannot load the CA file${m[1] ? ` ${m[1]}` : ''} given with --cacert`,
        detail:
          "--cacert must be an existing PEM file with the certificate(s) of the CA that signed the server's " +
          'certificate. curl stops before connecting.',
        fix: `openssl x509 -in ${shellQuote(m[1] ?? 'ca.pem')} -noout -subject   # must print a subject`,
        evidence: { file: m[1] ?? null },
      }),
  },
  // --- TLS alerts from the server: the client certificate
  {
    codes: [],
    re: /alert certificate required|certificate[_ ]required|alert number 116/i,
    make: () =>
      finding({
        id: 'curl.client-cert-required',
        severity: 'error',
        title: 'the server requires a client certificate and curl sent none',
        detail:
          `The server asked for a client certificate and closed with alert 116 "certificate required" (TLS 1.3). ` +
          `Either the command has no --cert, or curl had none to ` +
          `send. ${ALERT_NOTE.replace('which refused the client certificate', 'which wants one')}`,
        fix: 'curl --cert client.crt --key client.key ...',
        evidence: { alert: 'certificate_required' },
      }),
  },
  {
    codes: [],
    re: /alert unknown ca|unknown_ca|alert number 48/i,
    make: () =>
      finding({
        id: 'curl.client-cert-unknown-ca',
        severity: 'error',
        title: 'the server does not know the CA of the client certificate (alert unknown ca)',
        detail:
          `${ALERT_NOTE} It could not build a path from the certificate to a CA in its truststore: the issuer ` +
          `(or an intermediate) is missing there, or this is a self-signed certificate it does not hold. Run the ` +
          `offline doctor with the server's truststore (--truststore) to see which.`,
        fix: 'mtlsgate doctor --cert client.crt --key client.key --truststore truststore.pem',
        evidence: { alert: 'unknown_ca' },
      }),
  },
  {
    codes: [],
    re: /alert (bad certificate|certificate unknown|certificate expired|certificate revoked|unsupported certificate|access denied|decrypt error)|alert number (42|43|44|45|46|49|51)/i,
    make: (m) =>
      finding({
        id: 'curl.client-cert-rejected',
        severity: 'error',
        title: `the server refused the client certificate (alert ${m[1] ?? m[2]})`,
        detail: `${ALERT_NOTE} ${/expired/i.test(m[1] ?? '') ? 'It says the certificate is expired (or a CA on its path is).' : /decrypt/i.test(m[1] ?? '') ? '"decrypt error" is sent when the client\'s signature does not verify: the key is not the certificate\'s.' : "The offline doctor with the server's truststore shows why."}`,
        fix: 'mtlsgate doctor --cert client.crt --key client.key --truststore truststore.pem',
        evidence: { alert: (m[1] ?? m[2])! },
      }),
  },
  {
    codes: [],
    re: /alert handshake failure|alert number 40/i,
    make: () =>
      finding({
        id: 'curl.handshake-failure',
        severity: 'error',
        title: 'the server ended the handshake (alert handshake failure)',
        detail:
          'A generic refusal. With TLS 1.2 servers (Node, older nginx, many load balancers) it is what a missing ' +
          'or refused client certificate looks like; it is also sent when client and server share no cipher or TLS ' +
          'version.',
        fix: 'curl -v ...   # look for "TLS handshake, CERT request" and whether a certificate was sent',
        evidence: { alert: 'handshake_failure' },
      }),
  },
  {
    codes: [],
    re: /alert protocol version|unsupported protocol|no protocols available|tlsv1 alert protocol/i,
    make: () =>
      finding({
        id: 'curl.tls-version-mismatch',
        severity: 'error',
        title: 'client and server share no TLS version',
        detail:
          'The server refused the TLS versions curl offered (see --tlsv1.x / --tls-max), or curl refused the ' +
          "server's. API Gateway accepts TLS 1.2 and 1.3.",
        fix: 'curl --tlsv1.2 ...   # and drop --tls-max if it caps below 1.2',
      }),
  },
  {
    codes: [],
    re: /wrong version number|packet length too long|http request|record layer failure/i,
    make: (_m, x) =>
      finding({
        id: 'curl.not-tls',
        severity: 'error',
        title: `the server at ${x.host}:${x.port} did not answer with TLS`,
        detail:
          'curl sent a TLS ClientHello and got something else back: usually a plain-HTTP port (use http:// or ' +
          'the HTTPS port), or a proxy in the way.',
        fix: `curl -v http://${x.host}:${x.port}/   # does it answer plain HTTP?`,
      }),
  },
  {
    codes: [],
    re: /alert ([a-z ]+)/i,
    make: (m) =>
      finding({
        id: 'curl.tls-alert',
        severity: 'error',
        title: `the server ended the handshake with alert "${m[1]!.trim()}"`,
        detail: `${ALERT_NOTE.replace(', which refused the client certificate', '')}`,
        fix: 'curl -v ...   # shows the handshake step that failed',
        evidence: { alert: m[1]!.trim() },
      }),
  },
  // --- the server's certificate (60, 51)
  {
    codes: [],
    re: /no alternative certificate subject name matches target host name '([^']+)'|certificate subject name '([^']*)' does not match target host name '([^']+)'/i,
    make: (m, x) => nameMismatch(x, m[1] ?? m[3] ?? null),
  },
  {
    codes: [],
    re: /SSL certificate problem: (certificate has expired|certificate is not yet valid)/i,
    make: (m) =>
      finding({
        id: 'curl.server-cert-expired',
        severity: 'error',
        title: `the SERVER's certificate ${/expired/i.test(m[1]!) ? 'has expired' : 'is not yet valid'}`,
        detail:
          "This is about the server's certificate (or a CA above it), not yours: curl refuses to talk to the " +
          'server. -k would hide it, but the server has to renew its certificate (or the clock here is wrong).',
        fix: 'date -u   # is the clock right?',
        evidence: { problem: m[1]! },
      }),
  },
  {
    codes: [],
    re: /SSL certificate problem: (.+)/i,
    make: (m) => serverUntrusted(m[1]!),
  },
  // --- network
  {
    codes: [],
    re: /Could not resolve host:?\s*(\S+)?/i,
    make: (m, x) => {
      const host = m[1] ?? x.host;
      return finding({
        id: 'curl.cannot-resolve',
        severity: 'error',
        title: `the name ${host} does not resolve`,
        detail:
          'curl could not turn the host name into an address: a typo, a DNS record that does not exist (yet), ' +
          'or private DNS this machine cannot reach. For an API Gateway custom domain the record must point at the ' +
          "domain's regional or distribution name, not at the execute-api URL.",
        fix:
          `dig +short ${host}   # or nslookup ${host}\n# to test against a known address without DNS: curl ` +
          `--resolve ${host}:${x.port}:IP ...`,
        evidence: { host },
      });
    },
  },
  {
    codes: [],
    re: /Failed to connect to (\S+) port (\d+)(?: after \d+ ms)?: (.*)/i,
    make: (m) =>
      finding({
        id: 'curl.connect-failed',
        severity: 'error',
        title: `no TCP connection to ${m[1]} port ${m[2]}: ${m[3]}`,
        detail: /refused|Couldn't connect/i.test(m[3]!)
          ? 'Nothing listens on that port at that address (the service is down, or the port is wrong), or a firewall rejects it.'
          : 'The address cannot be reached from here (routing, firewall, security group).',
        fix: `nc -vz ${m[1]} ${m[2]}   # does anything answer?`,
        evidence: { host: m[1]!, port: Number(m[2]), reason: m[3]! },
      }),
  },
  {
    codes: [],
    re: /(Connection|Operation|Resolving|SSL connection) time(?:d)? ?out(?: after (\d+) milliseconds)?/i,
    make: (m) =>
      finding({
        id: 'curl.timeout',
        severity: 'error',
        title: `curl timed out (${m[1]!.toLowerCase()}${m[2] ? ` after ${m[2]} ms` : ''})`,
        detail: /Connection/i.test(m[1]!)
          ? 'The TCP connection was never answered: a firewall or security group silently drops the packets, or the address is wrong.'
          : /Resolving/i.test(m[1]!)
            ? 'The DNS lookup did not finish.'
            : 'The connection was made but the server did not finish the TLS handshake or the response in time.',
        fix: 'curl -v --connect-timeout 5 ...   # shows the step it waits at',
        evidence: { stage: m[1]!.toLowerCase() },
      }),
  },
  {
    codes: [],
    re: /SSL_ERROR_SYSCALL|Connection reset by peer|Recv failure|Send failure|unexpected eof while reading|SSL_ERROR_ZERO_RETURN/i,
    make: () =>
      finding({
        id: 'curl.connection-reset',
        severity: 'error',
        title: 'the server dropped the connection during the TLS handshake, without an alert',
        detail:
          'No TLS alert, just a closed or reset connection. With mutual TLS this is how API Gateway, and Node ' +
          'servers on TLS 1.3, refuse a missing or unacceptable client certificate: it looks like a network fault but ' +
          'is a certificate refusal. It can also be a load balancer or firewall cutting TLS. The live diagnosis below ' +
          'tells them apart.',
        fix: 'curl -v ...   # a "CERT request" from the server, then the reset, points at the client certificate',
      }),
  },
  {
    codes: [52],
    re: /Empty reply from server/i,
    make: () =>
      finding({
        id: 'curl.empty-reply',
        severity: 'error',
        title: 'the server closed the connection without answering',
        detail:
          'The TLS handshake finished and the server closed the connection without an HTTP response: how some ' +
          'servers (Node with rejectUnauthorized on TLS 1.2, some proxies) refuse a client certificate after the ' +
          'handshake, or a server that crashed on the request.',
        fix: 'curl -v ...',
      }),
  },
  // --- HTTP and usage
  {
    codes: [22],
    re: /The requested URL returned error:\s*(\d+)/i,
    make: (m) =>
      finding({
        id: 'curl.http-error',
        severity: m[1] === '403' ? 'error' : 'warning',
        title: `the server answered HTTP ${m[1]} (and -f/--fail made curl fail)`,
        detail:
          m[1] === '403'
            ? 'TLS worked; the server refused the request. An mTLS gateway (API Gateway, mtlsgate) answers 403 when the certificate was sent but not accepted, and says why in its body or logs ("Access denied. Reason: ..."). -f hides that body.'
            : 'TLS worked; the HTTP request failed. Run without -f to see the body.',
        fix: 'curl ... (the same command without -f, to see the body)',
        evidence: { status: Number(m[1]) },
      }),
  },
  {
    codes: [],
    re: /Protocol "?([^" ]+)"? not supported/i,
    make: (m) =>
      finding({
        id: 'curl.unsupported-protocol',
        severity: 'error',
        title: `curl does not know the scheme "${m[1]}"`,
        detail: 'A typo in the URL scheme (htps://, https:/), or a scheme this curl was built without.',
        fix: '# use https://HOST/...',
        evidence: { scheme: m[1]! },
      }),
  },
  {
    codes: [3],
    re: /URL using bad\/illegal format|bad range in URL|Port number|malformed|URL rejected|bad hostname/i,
    make: () =>
      finding({
        id: 'curl.bad-url',
        severity: 'error',
        title: 'curl cannot parse the URL',
        detail:
          'The URL is malformed (a stray bracket, a space, an unencoded character). Quote it, and percent-encode ' +
          'odd characters.',
        fix: "curl 'https://HOST/PATH' ...",
      }),
  },
  {
    codes: [],
    re: /option (\S+): (is unknown|is ambiguous|requires parameter|used '--no-' for option that isn't a boolean|expected a proper numerical parameter)|no URL specified/i,
    make: (m) =>
      finding({
        id: 'curl.usage-error',
        severity: 'error',
        title: m[1] ? `curl rejected the option ${m[1]} (${m[2]})` : 'curl got no URL',
        detail:
          m[1] && /=/.test(m[1])
            ? 'curl before 2025 does not take --option=value: write --option value.'
            : 'curl stopped before doing anything (exit 2). The parsed command above shows how mtlsgate read it.',
        fix: 'curl --help all | grep -- OPTION',
        evidence: { option: m[1] ?? null },
      }),
  },
];

function serverUntrusted(problem: string): Finding {
  return finding({
    id: 'curl.server-cert-untrusted',
    severity: 'error',
    title: `curl does not trust the SERVER's certificate: ${problem}`,
    detail:
      "This is about the server's certificate, not your client certificate: curl could not verify the server " +
      'with its CA bundle. For a server with a private CA, give that CA with --cacert. -k (--insecure) skips the ' +
      'check; it does not fix or affect the client certificate.',
    fix:
      'openssl s_client -connect HOST:443 -servername HOST -showcerts </dev/null   # see the server chain\ncurl ' +
      '--cacert server-ca.pem ...',
    evidence: { problem },
  });
}

function nameMismatch(x: Ctx, target: string | null): Finding {
  return finding({
    id: 'curl.server-name-mismatch',
    severity: 'error',
    title: `the server's certificate is not for the name ${target ?? x.host}`,
    detail:
      'curl checks that the server certificate names the host in the URL. Connecting by IP address, or by ' +
      'another name, fails this check; a Host: header does not change it. Use the name the certificate is for in the ' +
      'URL and point it at the address with --resolve (or --connect-to).',
    fix:
      `curl --resolve NAME:${x.port}:${target && /^[\d.:]+$/.test(target) ? target : 'IP'} ` +
      `https://NAME:${x.port}/ ...`,
    evidence: { target: target ?? x.host },
  });
}

const BY_CODE: Record<number, (x: Ctx) => Finding> = {
  1: () =>
    finding({
      id: 'curl.unsupported-protocol',
      severity: 'error',
      title: "curl does not support the URL's scheme (exit 1)",
      detail: 'A typo in the scheme, or a curl built without it.',
      fix: '# use https://HOST/...',
    }),
  2: () =>
    finding({
      id: 'curl.usage-error',
      severity: 'error',
      title: 'curl stopped at its command line (exit 2)',
      detail: 'An unknown or incomplete option, or no URL. The parsed command above shows how mtlsgate read it.',
      fix: '',
    }),
  3: () =>
    finding({
      id: 'curl.bad-url',
      severity: 'error',
      title: 'curl cannot parse the URL (exit 3)',
      detail: 'The URL is malformed. Quote it.',
      fix: '',
    }),
  6: (x) =>
    finding({
      id: 'curl.cannot-resolve',
      severity: 'error',
      title: `the host name does not resolve (exit 6)`,
      detail: 'curl could not resolve the host name in the URL.',
      fix: `dig +short ${x.host}\n# or test with: curl --resolve ${x.host}:${x.port}:IP ...`,
    }),
  7: (x) =>
    finding({
      id: 'curl.connect-failed',
      severity: 'error',
      title: 'no TCP connection (exit 7)',
      detail: 'Nothing accepted the connection: wrong port, service down, or a firewall rejecting it.',
      fix: `nc -vz ${x.host} ${x.port}`,
    }),
  22: () =>
    finding({
      id: 'curl.http-error',
      severity: 'warning',
      title: 'the server answered with an HTTP error and -f made curl fail (exit 22)',
      detail: 'TLS worked. Run without -f to see the body; an mTLS gateway says why it refused there.',
      fix: '',
    }),
  28: () =>
    finding({
      id: 'curl.timeout',
      severity: 'error',
      title: 'curl timed out (exit 28)',
      detail: 'A firewall silently dropping packets, a wrong address, or a server that never finishes the handshake.',
      fix: 'curl -v --connect-timeout 5 ...',
    }),
  35: () =>
    finding({
      id: 'curl.tls-handshake-failed',
      severity: 'error',
      title: 'the TLS handshake failed (exit 35)',
      detail:
        'Without the message it cannot be told which side ended it: a missing or refused client certificate, no ' +
        'common TLS version, or a plain-HTTP port. Paste the "curl: (35) ..." line with --error; the live diagnosis ' +
        'below shows what the server does.',
      fix: 'curl -v ...',
    }),
  52: () =>
    finding({
      id: 'curl.empty-reply',
      severity: 'error',
      title: 'the server closed the connection without answering (exit 52)',
      detail: 'The server closed after the handshake: a silent refusal of the client certificate, or a crash.',
      fix: 'curl -v ...',
    }),
  56: () =>
    finding({
      id: 'curl.receive-failed',
      severity: 'error',
      title: 'the connection failed while receiving (exit 56)',
      detail:
        "With TLS 1.3 the server's verdict on the client certificate arrives after the handshake, so a refusal " +
        '("alert certificate required", a reset) shows up as exit 56. Paste the message with --error to tell which.',
      fix: 'curl -v ...',
    }),
  58: (x) =>
    finding({
      id: 'curl.local-cert-problem',
      severity: 'error',
      title: 'curl could not use the client certificate or key (exit 58)',
      detail:
        'curl stopped before connecting: the certificate or key file is missing, in another format than curl was ' +
        'told, encrypted without a passphrase, or the key does not match. The file checks below say which.',
      fix: KEY_CHECKS(x),
    }),
  60: () => serverUntrusted('(exit 60)'),
  77: () =>
    finding({
      id: 'curl.cacert-not-loaded',
      severity: 'error',
      title: 'curl cannot load the --cacert file (exit 77)',
      detail: '--cacert must be an existing PEM file of CA certificates.',
      fix: '',
    }),
};
