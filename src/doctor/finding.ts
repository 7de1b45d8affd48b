/** A doctor finding: what is wrong, the evidence, and the commands that fix it. Checks return these; renderers print them. */
import { cutText } from '../text.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** Stable id (see docs/findings.md); never renamed, never reused. */
  id: string;
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

export function finding(
  id: string,
  severity: Severity,
  title: string,
  detail: string,
  fix: string,
  evidence: Finding['evidence'] = {},
): Finding {
  return { id, severity, title, detail, fix, evidence };
}

export const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** The most characters of certificate-derived text (a subject, an issuer, a list of key usages) in a finding's title. */
export const TITLE_TEXT_MAX = 300;

/**
 * Certificate-derived text as placed in a finding's one-line title: at most TITLE_TEXT_MAX characters (code points),
 * then `... (N characters)`. A hostile server's certificate (doctor --url) or a user's odd one can carry a
 * 100 KB subject; the evidence keeps the whole value.
 */
export function titleText(s: string): string {
  return cutText(s, TITLE_TEXT_MAX);
}

/**
 * At most `max` items of a list a client or server chose the length of, then one `... and N more<tail>` item: for
 * evidence and report lines (the JSON fields that hold the whole list stay whole).
 */
export function firstItems(items: string[], max: number, tail = ''): string[] {
  return items.length > max ? [...items.slice(0, max), `... and ${items.length - max} more${tail}`] : items;
}
