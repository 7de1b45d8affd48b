/**
 * PEM splitting (RFC 7468, plus RFC 1421 headers for legacy encrypted keys). Text around blocks is ignored,
 * as OpenSSL does. Every search moves forward, so hostile input (a 10 MB line, 100k blocks) costs linear time.
 */

export interface PemBlock {
  label: string;
  body: Buffer;
  /** RFC 1421 headers such as Proc-Type and DEK-Info; empty for ordinary blocks. */
  headers: Record<string, string>;
  /** Position among all BEGIN lines in the text, counting broken blocks too. */
  index: number;
}

export interface PemProblem {
  message: string;
  index: number;
  /** The BEGIN label of the broken block. */
  label: string;
}

export interface PemParse {
  blocks: PemBlock[];
  problems: PemProblem[];
}

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const MAX_LABEL_LINE = 200;
const LABEL_LINE = /^-----(?:BEGIN|END) ([\x21-\x7e](?:[ \x21-\x7e]{0,80}[\x21-\x7e])?)-----\s*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Splits PEM text into blocks; malformed blocks become problems, never exceptions. */
export function parsePem(input: Buffer | string): PemParse {
  // latin1 maps bytes 1:1 and never fails; PEM itself is ASCII.
  const text = typeof input === 'string' ? input : input.toString('latin1');
  const blocks: PemBlock[] = [];
  const problems: PemProblem[] = [];
  let pos = 0;
  let index = 0;
  // Searches remember their answer, so no region is scanned twice (100k BEGINs without END stay linear).
  const findBegin = cachedSearch(text, BEGIN);
  const findEnd = cachedSearch(text, END);
  const readBeginLabel = labelReader(text);
  const readEndLabel = labelReader(text);
  const decodeBody = bodyDecoder(text);
  for (;;) {
    const begin = findBegin(pos);
    if (begin < 0) break;
    const beginLineEnd = lineEnd(text, begin);
    const label = readBeginLabel(begin, beginLineEnd);
    if (label === null) {
      pos = beginLineEnd; // a BEGIN line we cannot read is just text
      continue;
    }
    const bodyStart = beginLineEnd;
    const end = findEnd(bodyStart);
    const nextBegin = findBegin(bodyStart);
    if (end < 0 || (nextBegin >= 0 && nextBegin < end)) {
      problems.push({ index, label, message: `pem block ${index} (${label}) has no END line` });
      index++;
      if (end < 0 && nextBegin < 0) break;
      pos = nextBegin;
      continue;
    }
    const endLineEnd = lineEnd(text, end);
    const endLabel = readEndLabel(end, endLineEnd);
    if (endLabel !== label) {
      const shown = endLabel === null ? 'an unreadable END line' : `END ${endLabel}`;
      problems.push({ index, label, message: `pem block ${index}: BEGIN ${label} is closed by ${shown}` });
    } else {
      const decoded = decodeBody(bodyStart, end);
      if (typeof decoded === 'string')
        problems.push({ index, label, message: `pem block ${index} (${label}): ${decoded}` });
      else blocks.push({ label, body: decoded.body, headers: decoded.headers, index });
    }
    index++;
    pos = endLineEnd;
  }
  return { blocks, problems };
}

/** Encodes DER as PEM with 64-column lines. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * findAtLineStart with memory: the first match at or after `from` is still the first match for any later
 * `from` up to it, and "none" stays "none".
 */
function cachedSearch(text: string, marker: string): (from: number) => number {
  let searchedFrom = Number.POSITIVE_INFINITY;
  let found = -1;
  return (from) => {
    if (from >= searchedFrom && (found < 0 || found >= from)) return found;
    searchedFrom = from;
    found = findAtLineStart(text, marker, from);
    return found;
  };
}

/** Next `marker` that starts a line (after optional spaces or tabs), or -1. */
function findAtLineStart(text: string, marker: string, from: number): number {
  let at = text.indexOf(marker, from);
  while (at >= 0) {
    let i = at - 1;
    // Walk back over blanks only: stops at the first other character, so this stays linear.
    while (i >= from && (text[i] === ' ' || text[i] === '\t')) i--;
    if (i < 0 || text[i] === '\n' || text[i] === '\r' || i < from) return at;
    at = text.indexOf(marker, at + marker.length);
  }
  return -1;
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl + 1;
}

/**
 * readLabel with memory of the last line: a bundle repeats the same BEGIN and END lines, and comparing a line with
 * the previous one in place is cheaper than slicing and matching it again.
 */
function labelReader(text: string): (start: number, end: number) => string | null {
  let lastLine = '';
  let lastLabel: string | null = null;
  return (start, end) => {
    if (end - start === lastLine.length && lastLine !== '' && text.startsWith(lastLine, start)) return lastLabel;
    lastLine = text.slice(start, end);
    lastLabel = readLabel(lastLine);
    return lastLabel;
  };
}

function readLabel(line: string): string | null {
  if (line.length > MAX_LABEL_LINE) return null;
  const m = LABEL_LINE.exec(line);
  return m ? m[1]! : null;
}

/** atob refusals after which a parse stops trying it: each costs an exception (~10 us), a hostile file 150k. */
const MAX_ATOB_REFUSALS = 16;

function bodyDecoder(
  text: string,
): (start: number, end: number) => { body: Buffer; headers: Record<string, string> } | string {
  let refusals = 0;
  return (start, end) => {
    // RFC 1421 headers: a ':' on the body's first line (searches bounded by that line, so each block costs its length).
    const nl = text.indexOf('\n', start);
    const firstLineEnd = nl < 0 || nl >= end ? end : nl + 1;
    if (text.slice(start, firstLineEnd).includes(':')) return decodeWithHeaders(text.slice(start, end));
    const body = refusals < MAX_ATOB_REFUSALS ? decodePlainBase64(text, start, end) : undefined;
    if (body) return { body, headers: {} };
    if (body === null) refusals++;
    return decodeBase64(text.slice(start, end), {});
  };
}

/**
 * The common body (base64 lines, no headers) through Node's native atob, which checks and decodes in one pass:
 * it strips the same ASCII blanks as the `\s` below and refuses anything else outside the alphabet and the final
 * '='s, so it agrees with decodeBase64 except that it also takes a last group without its '=' padding (a decoded
 * length not a multiple of 3 with no '=' at the end), which is refused here. Null sends the body to decodeBase64.
 */
function decodePlainBase64(text: string, start: number, end: number): Buffer | null {
  let decoded: string;
  try {
    decoded = atob(text.slice(start, end));
  } catch {
    return null;
  }
  if (decoded.length === 0) return null;
  let last = end - 1;
  while (last > start && isAsciiBlank(text.charCodeAt(last))) last--;
  const padded = text.charCodeAt(last) === 0x3d;
  if (padded !== (decoded.length % 3 !== 0)) return null;
  return Buffer.from(decoded, 'latin1');
}

/** WHATWG's ASCII whitespace, which atob strips: tab, line feed, form feed, carriage return, space. */
function isAsciiBlank(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c;
}

function decodeWithHeaders(raw: string): { body: Buffer; headers: Record<string, string> } | string {
  const headers: Record<string, string> = {};
  const lines = raw.split('\n');
  let i = 0;
  let last: string | null = null;
  for (; i < lines.length && i < 64; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') break;
    if (/^[ \t]/.test(line) && last !== null) {
      headers[last] += line.trim(); // RFC 1421 continuation line
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return 'malformed header line';
    last = line.slice(0, colon).trim();
    headers[last] = line.slice(colon + 1).trim();
  }
  return decodeBase64(lines.slice(i + 1).join('\n'), headers);
}

function decodeBase64(
  b64: string,
  headers: Record<string, string>,
): { body: Buffer; headers: Record<string, string> } | string {
  const compact = b64.replace(/\s+/g, '');
  if (compact.length === 0) return 'empty body';
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) return 'invalid base64';
  return { body: Buffer.from(compact, 'base64'), headers };
}
