/**
 * UserError is for mistakes in what the user gave us (a file, a flag, a config key): the CLI prints its
 * message as one line and exits 2, never a stack trace. Anything else reaching the top is a bug.
 */

/** Every code a UserError or GatewayStartError carries; docs/errors.md explains each one. */
export const CLI_ERROR_CODES = {
  E_USAGE: 'the command line is incomplete or contradictory (a required option missing, two that exclude each other)',
  E_EMPTY_PATH: 'a file option or argument was given as an empty string',
  E_BAD_DATE: 'a date option (--at) is not an ISO 8601 date',
  E_BAD_TIMEOUT: '--timeout is not a number of seconds between 0 and 600',
  E_BAD_PORT: 'a port option is not a port number',
  E_BAD_WORKERS: '--workers is not a number from 1 to 64 or auto, or --worker-heap-mb not a number of MiB',
  E_BAD_LOG_FORMAT: '--log-format is neither json nor pretty',
  E_BAD_EXIT_CODE: '--exit-code is not a plain decimal from 0 to 255',
  E_BAD_URL: '--url is not an https:// URL with a host',
  E_HEALTH_URL: 'health: --url is not an http:// or https:// URL',
  E_BAD_TIMEOUT_MS: 'health: --timeout-ms is not a whole number of milliseconds from 1 to 600000',
  E_BAD_RESOLVE: 'a --resolve entry is not host:port:address[,address]',
  E_BAD_CONNECT_TO: 'a --connect-to entry is not HOST1:PORT1:HOST2:PORT2',
  E_CACERT: 'the --cacert file cannot be read or holds no certificate',
  E_CRL: 'a doctor --crl file cannot be read or is not a CRL (PEM or DER)',
  E_STDIN: '--line - found nothing, or more than 1 MiB, on stdin',
  E_CURL_LINE: 'the pasted curl command cannot be read (it does not start with curl, or a quote is not closed)',
  E_CONFIG: 'the gateway configuration file is missing, unreadable, not JSON/YAML, or breaks the schema',
  E_START: 'the gateway could not start: a domain could not be loaded, or the address is in use',
  E_FILE_NOT_FOUND: 'a file named on the command line does not exist',
  E_FILE_UNREADABLE: 'a file named on the command line cannot be read',
  E_TRUSTSTORE_S3: 'an s3:// truststore cannot be fetched (no credentials, no such bucket, key or version, denied)',
  E_BAD_NAME: 'pki: a certificate name has characters other than letters, digits, ".", "_" and "-"',
  E_BAD_DEPTH: 'pki: --depth is not a whole number from 1 to 20, or is given to a variant other than deep-chain',
  E_UNKNOWN_VARIANT: 'pki issue: no such certificate variant',
  E_BAD_DOMAIN: 'pki init: --domain is not a DNS name',
  E_PKI_EXISTS: 'pki init: the directory already holds a PKI (use --force to replace it)',
  E_PKI_NOT_FOUND: 'pki issue, revoke, crl: the PKI directory does not exist',
  E_PKI_BAD_FILE: 'pki issue, revoke, crl: a CA certificate or key of the PKI cannot be read',
  E_PKI_KEY_MISMATCH: 'pki issue, revoke, crl: a CA key does not belong to its certificate',
  E_PKI_FILE_MISSING: 'pki issue, revoke, crl: a file of the PKI is missing',
  E_NOT_A_DIRECTORY: 'pki: the path exists and is not a directory',
  E_BAD_REASON: "pki revoke: --reason is not a revocation reason OpenSSL's CA database records",
  E_BAD_DAYS: 'pki crl, pki revoke: --days is not a whole number from 1 to 3650',
  E_NOT_A_CERTIFICATE: 'pki revoke: the --cert file holds no certificate',
  E_PKI_NOT_ISSUER: "pki revoke: the certificate was not issued by the PKI's root or intermediate CA (or is the root)",
  E_ALREADY_REVOKED: "pki revoke: the certificate is already revoked in the PKI's CA database",
  E_PKI_BAD_INDEX: 'pki: a CA database (index.txt, root-index.txt) or the crlnumber file cannot be read',
} as const;

export type CliErrorCode = keyof typeof CLI_ERROR_CODES;

export class UserError extends Error {
  override readonly name = 'UserError';
  /** Stable code, never reused for another condition. */
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
