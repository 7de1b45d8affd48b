/**
 * UserError is for mistakes in what the user gave us (a file, a flag, a config key): the CLI prints its
 * message as one line and exits 2, never a stack trace. Anything else reaching the top is a bug.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  /** Stable code, never reused for another condition (e.g. `E_FILE_NOT_FOUND`). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
