/**
 * undici's Pool and errors, imported from their own files. The package's index loads every client, fetch, the cache
 * and WebSocket: about 30 MiB of resident memory in each gateway thread, against about 16 MiB for these two
 * (BENCHMARKS.md, performance round 2). The package has no "exports" map, its version is pinned in package.json, and
 * the types are the package's own.
 */
import type { Pool as UndiciPool, errors as UndiciErrors } from 'undici';
// @ts-expect-error -- undici ships declarations for its index only; typed below with the index's own types
import PoolModule from 'undici/lib/dispatcher/pool.js';
// @ts-expect-error -- as above
import errorsModule from 'undici/lib/core/errors.js';

export const Pool = PoolModule as typeof UndiciPool;
export type Pool = UndiciPool;
export const errors = errorsModule as typeof UndiciErrors;
export type { Dispatcher } from 'undici';
