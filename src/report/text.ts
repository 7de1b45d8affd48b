/** Text a client, a server or a certificate chose, made fit for one line of a report or a log. */

/**
 * Cut at `max` characters (code points, so a pair of UTF-16 halves is never split), ending in
 * `... (N characters)`.
 */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max).join('')}... (${chars.length} characters)`;
}

/** The most characters of certificate-derived text (a subject, an issuer, a list of key usages) in a title. */
export const TITLE_TEXT_MAX = 300;

/**
 * Certificate-derived text as placed in a finding's one-line title. A hostile server's certificate (doctor --url)
 * or a user's odd one can carry a 100 KB subject; the evidence keeps the whole value.
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
