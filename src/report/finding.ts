/**
 * A finding: what is wrong, why it matters, the commands that fix it and the evidence. Checks in trust/, doctor/
 * and the gateway's truststore loading return these; renderers print them.
 */
import type { FindingId } from './finding-ids.js';

export type { FindingId } from './finding-ids.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** Stable id (see docs/findings.md); never renamed, never reused. */
  id: FindingId;
  severity: Severity;
  /** One line. */
  title: string;
  /** A few sentences for a newcomer: what it means and why it matters. */
  detail: string;
  /** Concrete commands or steps; empty string when nothing is to be done. */
  fix: string;
  /** Facts that back the finding, e.g. the three modulus digests side by side. */
  evidence: Record<string, string | number | boolean | null | string[]>;
}

/** Which part of the doctor produced a finding: the files, the live probe, or the reading of a curl command. */
export type FindingSource = 'offline' | 'live' | 'curl';

export type SourcedFinding = Finding & { source: FindingSource };

/** A finding; `evidence` defaults to none. */
export function finding(f: Omit<Finding, 'evidence'> & { evidence?: Finding['evidence'] }): Finding {
  return { id: f.id, severity: f.severity, title: f.title, detail: f.detail, fix: f.fix, evidence: f.evidence ?? {} };
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Errors first, then warnings, then infos; findings of one severity keep the order the checks gave them. */
export function sortFindings<F extends Finding>(fs: readonly F[]): F[] {
  // Array.prototype.sort is stable, so equal severities keep their order.
  return [...fs].sort((a, b) => severityRank[a.severity] - severityRank[b.severity]);
}

export function hasErrorFindings(fs: readonly Finding[]): boolean {
  return fs.some((f) => f.severity === 'error');
}
