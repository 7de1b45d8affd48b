/**
 * Types for report.mjs (plain JavaScript), so TypeScript callers (test/bench/report.test.ts) typecheck. Loose where
 * the code is: the raw results are whatever the load generator printed, and targets() reads everything through
 * optional chaining.
 */

export interface Stats {
  min: number;
  med: number;
  max: number;
  n: number;
}

/** Numbers that are finite are kept; anything else is dropped. null when none is left. */
export function stats(values: readonly unknown[]): Stats | null;

export function fmt(x: number | null | undefined): string;

export function cell(s: Stats | null | undefined): string;

export interface Metric {
  id: string;
  label: string;
  test: string;
  /** May throw on a result that lacks the field (summarize turns that into no value). */
  get: (result: Record<string, unknown>) => number;
  better: 'higher' | 'lower';
  percent?: boolean;
}

export const METRICS: readonly Metric[];

export interface Run {
  test: string;
  server: string;
  key: string;
  round: number;
  /** The load generator's JSON; runs without one (failed) are skipped. */
  result: unknown;
}

export interface Row {
  servers: Record<string, Stats | null>;
  ratios: Record<string, Stats | null>;
}

/** metric id -> key -> row */
export type Summary = Record<string, Record<string, Row>>;

export function summarize(runs: readonly Run[], servers: readonly string[], keys: readonly string[]): Summary;

export function mainTable(
  summary: Summary,
  servers: readonly string[],
  keys: readonly string[],
  o: { idleConns: number },
): string;

export interface Target {
  target: string;
  value: number | null;
  status: 'met' | 'not met' | 'not measured';
  unit: string;
  note?: string;
}

export interface PartialRow {
  servers?: Record<string, { med?: number } | null | undefined>;
  ratios?: Record<string, { med?: number } | null | undefined>;
}

export function targets(
  summary: Record<string, Record<string, PartialRow | undefined> | undefined>,
  scale?: {
    hsRatio?: Record<string, Record<string, { med?: number } | null | undefined> | undefined>;
    /** serve --check by truststore size. */
    check?: ReadonlyArray<{ size: number; wall?: { med?: number } | null }>;
  } | null,
  doctor?: ReadonlyArray<{ size: number; key: string; wall?: { med?: number } | null }> | null,
  /** ratios: 'mtlsgate/crl' and 'mtlsgate/ocsp' -> key -> with ÷ without; load.check.added: seconds. */
  revocation?: {
    ratios?: Record<string, Record<string, { med?: number } | null | undefined> | undefined>;
    load?: { check?: { added?: number } | null } | null;
  } | null,
  /** ratios: 'allow' and 'authorizer' -> key -> with ÷ without (keep-alive requests per core). */
  authz?: { ratios?: Record<string, Record<string, { med?: number } | null | undefined> | undefined> } | null,
): Target[];

export function targetsTable(list: readonly Target[]): string;
