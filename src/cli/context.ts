import type { Io } from './io.js';

/** Handed to every command builder: where to print, and how to report the exit code. */
export interface CliContext {
  io: Io;
  /** 0 ok, 1 a check failed, 2 usage or input error. The highest value set wins. */
  setExitCode(code: number): void;
}
