/**
 * Text a client or a certificate chose, made fit to print on one line: cut at `max` characters (code points, so a
 * pair of UTF-16 halves is never split), ending in `... (N characters)`. Used for finding titles and log lines.
 */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max).join('')}... (${chars.length} characters)`;
}
