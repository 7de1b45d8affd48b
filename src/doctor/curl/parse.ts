/**
 * Read curl's arguments the way curl's own parser does (src/tool_getparam.c) and keep what matters for a
 * client-certificate diagnosis. Every value-taking option consumes its value, so the URL is found wherever it is;
 * options that do not matter are listed by name (never with their values: -u, -d and -H may hold secrets).
 */
import { splitCurlCertArg } from '../../pki/curl-arg.js';
import { lookupLong, SHORT, LONG } from './options.js';
import type { Dialect } from './tokenize.js';
import { maskUrlPassword } from '../url-mask.js';

export interface CurlCommand {
  /** `curl` / `curl.exe` as written in a pasted line; null for arguments given after `--`. */
  program: string | null;
  dialect: Dialect;
  /** Every URL, in order; curl fetches each. */
  urls: string[];
  /** --cert / -E, split as curl splits `file:passphrase`. */
  cert: string | null;
  key: string | null;
  /** --cert-type / --key-type as given, upper-cased (curl compares them case-insensitively). */
  certType: string | null;
  keyType: string | null;
  /** The passphrase curl will use: the last of `--cert file:PASS` and `--pass PASS`. Redacted in output. */
  passphrase: { value: string; from: '--cert' | '--pass' } | null;
  cacert: string | null;
  capath: string | null;
  resolve: string[];
  connectTo: string[];
  insecure: boolean;
  verbose: boolean;
  /** Value of a `-H 'Host: ...'` header. */
  hostHeader: string | null;
  /** --tlsv1.x (the minimum) and --tls-max. */
  tlsMin: string | null;
  tlsMax: string | null;
  /** -X, or what -I / -d / --json imply. */
  method: string | null;
  /** A request body was given (-d, --data-*, --json, -F); its content is not kept. */
  data: boolean;
  proxy: string | null;
  /** -m / --max-time in seconds. */
  maxTime: number | null;
  /** -K / --config files: curl reads more options from them; mtlsgate does not. */
  configFiles: string[];
  /** curl options that do not matter here, by name. */
  ignored: string[];
  /** Words that are not curl options: curl stops with "option X: is unknown" (exit 2). */
  unknown: string[];
  /** Options missing their value: curl stops with "option X: requires parameter" (exit 2). */
  missingValue: string[];
  notes: string[];
}

export function emptyCommand(dialect: Dialect = 'posix', program: string | null = null): CurlCommand {
  return {
    program,
    dialect,
    urls: [],
    cert: null,
    key: null,
    certType: null,
    keyType: null,
    passphrase: null,
    cacert: null,
    capath: null,
    resolve: [],
    connectTo: [],
    insecure: false,
    verbose: false,
    hostHeader: null,
    tlsMin: null,
    tlsMax: null,
    method: null,
    data: false,
    proxy: null,
    maxTime: null,
    configFiles: [],
    ignored: [],
    unknown: [],
    missingValue: [],
    notes: [],
  };
}

export function parseCurlArgs(
  args: readonly string[],
  opts: { dialect?: Dialect; program?: string | null } = {},
): CurlCommand {
  const c = emptyCommand(opts.dialect ?? 'posix', opts.program ?? null);
  let options = true;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = (): string | undefined => args[++i];
    const peek = (): string | undefined => args[i + 1];
    if (!options || arg === '-' || !arg.startsWith('-')) {
      c.urls.push(maskCurlUrl(c, arg));
    } else if (arg === '--') {
      options = false;
    } else if (arg.startsWith('--')) {
      if (!longOption(c, arg, next, peek)) break;
    } else if (!shortOptions(c, arg, next)) break;
  }
  return c;
}

/** Option names whose value may be a secret (--pass, --user, --proxy-user, --oauth2-bearer, ...), misspelt too. */
const SECRET_OPTION = /pass|pwd|secret|token|user|usr|bearer|auth/i;

/** Returns false when parsing must stop (--next). */
function longOption(
  c: CurlCommand,
  arg: string,
  next: () => string | undefined,
  peek: () => string | undefined,
): boolean {
  let word = arg.slice(2);
  let attached: string | undefined;
  const eq = word.indexOf('=');
  if (eq > 0 && !LONG.has(word)) {
    attached = word.slice(eq + 1);
    word = word.slice(0, eq);
  }
  if (word.startsWith('expand-') && lookupLong(word.slice(7)).kind === 'found') {
    note(c, `--${word}: {{variables}} in its value are not expanded by mtlsgate`);
    word = word.slice(7);
  }
  const found = lookupLong(word);
  // A misspelt or ambiguous --pass/--user would otherwise put the secret after it among the URLs, and on screen.
  const hideSecret = (secretLike: boolean): void => {
    const v = peek();
    if (
      secretLike &&
      attached === undefined &&
      v !== undefined &&
      !v.startsWith('-') &&
      !/^[a-z][a-z0-9+.-]*:\/\//i.test(v)
    ) {
      next();
      note(c, `the word after --${word} was taken as its value and is not shown`);
    }
  };
  if (found.kind === 'ambiguous') {
    c.unknown.push(`--${word}`);
    note(
      c,
      `--${word} is ambiguous to curl (it could be ${found.candidates
        .slice(0, 4)
        .map((n) => '--' + n)
        .join(', ')}${found.candidates.length > 4 ? ', ...' : ''}): curl stops with "option --${word}: is ambiguous"`,
    );
    hideSecret(found.candidates.some((n) => SECRET_OPTION.test(n) && LONG.get(n) === 'value'));
    return true;
  }
  if (found.kind === 'unknown') {
    c.unknown.push(`--${word}`);
    hideSecret(SECRET_OPTION.test(word));
    return true;
  }
  if (found.abbreviatedFrom !== null)
    note(
      c,
      `--${found.abbreviatedFrom} is read as --${found.name}: curl 7.88 takes unambiguous abbreviations, but spell it out`,
    );
  if (attached !== undefined) {
    if (found.arg !== 'value') {
      c.unknown.push(`--${word}=`);
      return true;
    }
    note(
      c,
      `--${found.name}=VALUE: only recent curl (2025 and later) accepts this form; curl 7.88 stops with "option --${found.name}=...: is unknown". Write --${found.name} VALUE`,
    );
  }
  let value: string | undefined;
  if (found.arg === 'value') {
    value = attached ?? next();
    if (value === undefined) {
      c.missingValue.push(`--${found.name}`);
      return true;
    }
  }
  return apply(c, found.name, value, found.negated, `--${found.negated ? 'no-' : ''}${found.name}`);
}

function shortOptions(c: CurlCommand, arg: string, next: () => string | undefined): boolean {
  for (let j = 1; j < arg.length; j++) {
    const letter = arg[j]!;
    const name = SHORT[letter];
    if (name === undefined) {
      c.unknown.push(`-${letter}`);
      continue;
    }
    const kind = LONG.get(name)!;
    if (kind !== 'value') {
      if (!apply(c, name, undefined, false, `-${letter}`)) return false;
      continue;
    }
    const value = j + 1 < arg.length ? arg.slice(j + 1) : next();
    if (value === undefined) c.missingValue.push(`-${letter}`);
    else return apply(c, name, value, false, `-${letter}`);
    return true;
  }
  return true;
}

const TLS_MIN: Record<string, string> = {
  tlsv1: '1.0',
  'tlsv1.0': '1.0',
  'tlsv1.1': '1.1',
  'tlsv1.2': '1.2',
  'tlsv1.3': '1.3',
};

/** Apply one option; `shown` is how it was written (for the ignored list). Returns false to stop parsing. */
function apply(c: CurlCommand, name: string, value: string | undefined, negated: boolean, shown: string): boolean {
  const v = value ?? '';
  switch (name) {
    case 'cert': {
      const split = splitCurlCertArg(v);
      c.cert = maskPin(split.file);
      if (split.passphrase !== null) c.passphrase = { value: split.passphrase, from: '--cert' };
      return true;
    }
    case 'key':
      c.key = maskPin(v);
      return true;
    case 'cert-type':
      c.certType = v.toUpperCase();
      return true;
    case 'key-type':
      c.keyType = v.toUpperCase();
      return true;
    case 'pass':
      c.passphrase = { value: v, from: '--pass' };
      return true;
    case 'cacert':
      c.cacert = v;
      return true;
    case 'capath':
      c.capath = v;
      return true;
    case 'resolve':
      c.resolve.push(v);
      return true;
    case 'connect-to':
      c.connectTo.push(v);
      return true;
    case 'insecure':
      c.insecure = !negated;
      return true;
    case 'verbose':
      c.verbose = !negated;
      return true;
    case 'header': {
      const host = /^\s*host\s*:(.*)$/i.exec(v);
      if (host) c.hostHeader = host[1]!.trim() || null;
      else ignore(c, shown);
      return true;
    }
    case 'tls-max':
      c.tlsMax = v;
      return true;
    case 'request':
      c.method = v;
      return true;
    case 'head':
      c.method ??= 'HEAD';
      return true;
    case 'data':
    case 'data-ascii':
    case 'data-binary':
    case 'data-raw':
    case 'data-urlencode':
    case 'json':
    case 'form':
    case 'form-string':
      c.data = true;
      c.method ??= 'POST';
      note(
        c,
        `${shown}: curl sends a request body (POST); the live probe sends a plain GET, as the client certificate is judged before any request`,
      );
      return true;
    case 'url':
      c.urls.push(maskCurlUrl(c, v));
      return true;
    case 'proxy':
    case 'preproxy':
    case 'socks4':
    case 'socks4a':
    case 'socks5':
    case 'socks5-hostname':
    case 'proxy1.0':
      c.proxy = maskCurlUrl(c, v);
      note(c, `${shown}: curl goes through a proxy; the live probe connects directly`);
      return true;
    case 'max-time': {
      const n = Number(v);
      if (Number.isFinite(n) && n > 0) c.maxTime = n;
      return true;
    }
    case 'config':
      c.configFiles.push(v);
      note(
        c,
        `${shown} ${v}: curl reads more options from that file; mtlsgate does not, so options in it are not diagnosed`,
      );
      return true;
    case 'proxy-cert':
    case 'proxy-key':
    case 'proxy-cert-type':
    case 'proxy-key-type':
    case 'proxy-pass':
    case 'proxy-cacert':
      note(c, `${shown} is for an HTTPS proxy, not for the server: the server never sees it (use --${name.slice(6)})`);
      ignore(c, shown);
      return true;
    case 'engine':
      note(c, `${shown}: an OpenSSL engine (hardware key) is used; mtlsgate cannot check keys held in it`);
      ignore(c, shown);
      return true;
    case 'next':
      note(c, `${shown}: only the options and URLs before it are diagnosed`);
      return false;
    case 'sslv2':
    case 'sslv3':
      note(c, `${shown}: SSLv2/SSLv3 are not supported by curl any more`);
      ignore(c, shown);
      return true;
    default:
      if (TLS_MIN[name] !== undefined) {
        c.tlsMin = TLS_MIN[name]!;
        return true;
      }
      ignore(c, shown);
      return true;
  }
}

function ignore(c: CurlCommand, shown: string): void {
  if (!c.ignored.includes(shown)) c.ignored.push(shown);
}

function note(c: CurlCommand, text: string): void {
  if (!c.notes.includes(text)) c.notes.push(text);
}

/** A PKCS#11 URI's pin-value (RFC 7512) as "***": the token is never opened here, and the URI is printed. */
function maskPin(ref: string): string {
  return /^pkcs11:/i.test(ref) ? ref.replace(/([?&;]pin-value=)[^&;]*/gi, '$1***') : ref;
}

/**
 * The URL with its password as "***" (see maskUrlPassword). URLs are printed and go into JSON, and the probe sends
 * no credentials, so the password is not kept at all (like -u's value).
 */
function maskCurlUrl(c: CurlCommand, url: string): string {
  const masked = maskUrlPassword(url);
  if (masked !== url) note(c, 'the password in a URL is not shown (user:***@)');
  return masked;
}

/** The command as it may be printed: passphrases become "***". */
export function redactCurlCommand(c: CurlCommand): CurlCommand {
  return { ...c, passphrase: c.passphrase ? { ...c.passphrase, value: '***' } : null };
}

export interface EffectiveUrl {
  url: string;
  /** Lower-case scheme curl will use. */
  scheme: string;
  /** The URL had no scheme and curl guessed it. */
  guessed: boolean;
  host: string | null;
  port: number | null;
}

const GUESSES: ReadonlyArray<[RegExp, string]> = [
  [/^ftp\./i, 'ftp'],
  [/^dict\./i, 'dict'],
  [/^ldap\./i, 'ldap'],
  [/^imap\./i, 'imap'],
  [/^smtp\./i, 'smtp'],
  [/^pop3\./i, 'pop3'],
];
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21 };

/** What curl makes of a URL argument: a URL without a scheme is http:// (or ftp:// for ftp.host, ...). */
export function effectiveUrl(raw: string): EffectiveUrl {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
  const scheme = m ? m[1]!.toLowerCase() : (GUESSES.find(([re]) => re.test(raw))?.[1] ?? 'http');
  const url = m ? raw : `${scheme}://${raw}`;
  let host: string | null = null;
  let port: number | null = null;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '') || null;
    port = u.port ? Number(u.port) : (DEFAULT_PORTS[scheme] ?? null);
  } catch {
    // left null: curl says "URL using bad/illegal format" (3)
  }
  return { url, scheme, guessed: !m, host, port };
}
