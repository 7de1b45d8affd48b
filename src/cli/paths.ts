/**
 * Usage checks shared by the commands that take file names (doctor, doctor curl, inspect, truststore lint): an
 * empty name (`--cert ''`, `--cert=`, `--cert :PASS`) is a usage error naming the option, not a "file  does not
 * exist" with nothing between the spaces.
 */
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { splitCurlCertArg } from '../pki/curl-arg.js';

/** Throws `NAME: empty path` (E_EMPTY_PATH, exit 2) when a file option or argument was given as ''. */
export function requireNonEmptyPath(name: string, value: string | undefined): void {
  if (value === '') throw new UserError('E_EMPTY_PATH', `${name}: empty path`);
}

/**
 * The same for a curl-style FILE[:PASS] (doctor --cert, inspect's arguments): FILE empty, as in `:PASS`, is an
 * empty path too (unless a file is named that, as a whole name wins). The password is not echoed.
 */
export function requireNonEmptyCertPath(name: string, value: string | undefined): void {
  requireNonEmptyPath(name, value);
  if (value !== undefined && !existsSync(value) && splitCurlCertArg(value).file === '') {
    throw new UserError('E_EMPTY_PATH', `${name}: empty path`);
  }
}
