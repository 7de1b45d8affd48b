/**
 * Mutation arbitraries for the fuzz targets. A mutated input is a seed (a real file) plus a short list of edits,
 * all drawn by fast-check, so a failure shrinks to the fewest and smallest edits that still break the parser.
 *
 * Byte edits: bit flips, byte sets (0x00, 0x7f, 0x80, 0xff, random), truncation, insertion, deletion, splicing a
 * range elsewhere, and DER-aware edits at real TLV headers found by walking the seed: the length field rewritten
 * (0, indefinite 0x80, long forms up to 0x84ffffffff, off by one, larger than the file), the tag changed, a TLV
 * wrapped in up to 2,000 extra SEQUENCE headers. Text edits work on lines: drop, repeat, swap, cut, insert a
 * hostile fragment, blow a line up to tens of thousands of characters.
 */
import fc from 'fast-check';

// ---- DER structure of a seed: where the TLV headers are ----

export interface TlvPos {
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first length octet. */
  lenAt: number;
  /** Number of length octets (1 for the short form). */
  lenSize: number;
  valueStart: number;
  end: number;
  constructed: boolean;
}

/** Every TLV header in a DER blob (depth-first, bounded), including those inside OCTET/BIT STRINGs that parse. */
export function tlvPositions(buf: Uint8Array, max = 4000): TlvPos[] {
  const out: TlvPos[] = [];
  const stack: Array<[number, number]> = [[0, buf.length]];
  while (stack.length > 0 && out.length < max) {
    const [from, to] = stack.pop()!;
    let pos = from;
    while (pos < to && out.length < max) {
      const t = header(buf, pos, to);
      if (!t) break;
      out.push(t);
      const tag = buf[t.start]! & 0x1f;
      // Constructed values, and primitive OCTET/BIT STRINGs that happen to wrap DER (extensions, keys).
      if (t.constructed) stack.push([t.valueStart, t.end]);
      else if (tag === 4 && t.end > t.valueStart) stack.push([t.valueStart, t.end]);
      else if (tag === 3 && t.end > t.valueStart + 1) stack.push([t.valueStart + 1, t.end]);
      pos = t.end;
    }
  }
  return out;
}

function header(buf: Uint8Array, pos: number, limit: number): TlvPos | null {
  if (pos + 2 > limit) return null;
  const id = buf[pos]!;
  if ((id & 0x1f) === 0x1f) return null; // high tag numbers: rare in seeds, skipped
  const lenAt = pos + 1;
  let len = buf[lenAt]!;
  let lenSize = 1;
  if (len === 0x80) return null;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || lenAt + 1 + n > limit) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[lenAt + 1 + i]!;
    lenSize = 1 + n;
  }
  const valueStart = lenAt + lenSize;
  if (valueStart + len > limit) return null;
  return { start: pos, lenAt, lenSize, valueStart, end: valueStart + len, constructed: (id & 0x20) !== 0 };
}

/** DER length octets for n. */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

// ---- byte mutations ----

export type ByteEdit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'splice'; from: number; len: number; to: number }
  | { op: 'length'; tlv: number; kind: LengthEdit }
  | { op: 'tag'; tlv: number; value: number }
  | { op: 'nest'; tlv: number; depth: number; indefinite: boolean };

export type LengthEdit =
  'zero' | 'indefinite' | 'plus1' | 'minus1' | 'huge' | 'max4' | 'long-form-small' | 'past-end' | 'five-octets';

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff, 0x30, 0xa0, 0x05, 0x06, 0x02, 0x04, 0x03];

/** One edit. Positions are fractions (0..1) of the current length so that shrinking keeps them meaningful. */
export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('splice' as const),
      from: fc.nat(),
      len: fc.integer({ min: 1, max: 256 }),
      to: fc.nat(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('length' as const),
      tlv: fc.nat(),
      kind: fc.constantFrom<LengthEdit>(
        'zero',
        'indefinite',
        'plus1',
        'minus1',
        'huge',
        'max4',
        'long-form-small',
        'past-end',
        'five-octets',
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('tag' as const),
      tlv: fc.nat(),
      value: fc.oneof(
        fc.constantFrom(0x30, 0x31, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x18, 0xa0, 0xa3, 0x80, 0x1f, 0x00),
        fc.integer({ min: 0, max: 255 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('nest' as const),
      tlv: fc.nat(),
      depth: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 100, max: 2000 })),
      indefinite: fc.boolean(),
    }),
  },
);

export function applyByteEdits(seed: Uint8Array, edits: readonly ByteEdit[]): Buffer {
  let buf: Buffer = Buffer.from(seed);
  for (const e of edits) buf = applyByteEdit(buf, e);
  return buf;
}

function applyByteEdit(buf: Buffer, e: ByteEdit): Buffer {
  const n = buf.length;
  const at = (x: number): number => (n === 0 ? 0 : x % n);
  switch (e.op) {
    case 'flip': {
      if (n === 0) return buf;
      const out = Buffer.from(buf);
      const p = at(e.at);
      out[p] = out[p]! ^ (1 << e.bit);
      return out;
    }
    case 'set': {
      if (n === 0) return buf;
      const out = Buffer.from(buf);
      out[at(e.at)] = e.value;
      return out;
    }
    case 'truncate':
      return buf.subarray(0, at(e.at));
    case 'insert': {
      const p = n === 0 ? 0 : e.at % (n + 1);
      return Buffer.concat([buf.subarray(0, p), e.bytes, buf.subarray(p)]);
    }
    case 'delete': {
      const p = at(e.at);
      return Buffer.concat([buf.subarray(0, p), buf.subarray(p + e.len)]);
    }
    case 'splice': {
      if (n === 0) return buf;
      const from = at(e.from);
      const piece = buf.subarray(from, from + e.len);
      const to = e.to % (n + 1);
      return Buffer.concat([buf.subarray(0, to), piece, buf.subarray(to)]);
    }
    case 'length':
    case 'tag':
    case 'nest': {
      const tlvs = tlvPositions(buf);
      if (tlvs.length === 0) return buf;
      const t = tlvs[e.tlv % tlvs.length]!;
      if (e.op === 'tag') {
        const out = Buffer.from(buf);
        out[t.start] = e.value;
        return out;
      }
      if (e.op === 'nest') return nest(buf, t, e.depth, e.indefinite);
      return Buffer.concat([buf.subarray(0, t.lenAt), newLength(t, e.kind, n), buf.subarray(t.lenAt + t.lenSize)]);
    }
  }
}

function newLength(t: TlvPos, kind: LengthEdit, total: number): Buffer {
  const len = t.end - t.valueStart;
  switch (kind) {
    case 'zero':
      return Buffer.from([0]);
    case 'indefinite':
      return Buffer.from([0x80]);
    case 'plus1':
      return derLength(len + 1);
    case 'minus1':
      return derLength(Math.max(0, len - 1));
    case 'huge':
      return Buffer.from([0x84, 0x7f, 0xff, 0xff, 0xff]);
    case 'max4':
      return Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]);
    case 'long-form-small': // non-minimal: 0x82 0x00 0x05 (BER, not DER)
      return Buffer.from([0x82, (len >> 8) & 0xff, len & 0xff]);
    case 'past-end':
      return derLength(total + 1);
    case 'five-octets':
      return Buffer.from([0x85, 0, 0, 0, (len >> 8) & 0xff, len & 0xff]);
  }
}

/** Wraps one TLV in `depth` SEQUENCE headers (definite lengths fixed up outwards only as far as they fit). */
function nest(buf: Buffer, t: TlvPos, depth: number, indefinite: boolean): Buffer {
  let inner = buf.subarray(t.start, t.end);
  if (indefinite) {
    const head = Buffer.alloc(depth * 2, 0);
    for (let i = 0; i < depth; i++) {
      head[i * 2] = 0x30;
      head[i * 2 + 1] = 0x80;
    }
    inner = Buffer.concat([head, inner, Buffer.alloc(depth * 2, 0)]);
  } else {
    for (let i = 0; i < depth; i++) inner = Buffer.concat([Buffer.from([0x30]), derLength(inner.length), inner]);
  }
  return Buffer.concat([buf.subarray(0, t.start), inner, buf.subarray(t.end)]);
}

/** A seed with 1..maxEdits byte edits. */
export function mutatedBytes(seeds: readonly Uint8Array[], maxEdits = 4): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(byteEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => applyByteEdits(seed, edits));
}

/** Random bytes, with a DER-looking start half the time. */
export const randomBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  fc
    .tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0x02, 0x04), fc.uint8Array({ maxLength: 512 }))
    .map(([tag, rest]) => Buffer.concat([Buffer.from([tag]), Buffer.from(rest)])),
);

// ---- text mutations ----

export type TextEdit =
  | { op: 'drop-line'; line: number }
  | { op: 'repeat-line'; line: number; times: number }
  | { op: 'swap-lines'; a: number; b: number }
  | { op: 'cut'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'blow-up'; line: number; times: number }
  | { op: 'char'; at: number; char: string };

export function textEdit(fragments: readonly string[]): fc.Arbitrary<TextEdit> {
  const fragment = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...fragments) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  );
  return fc.oneof(
    fc.record({ op: fc.constant('drop-line' as const), line: fc.nat() }),
    fc.record({ op: fc.constant('repeat-line' as const), line: fc.nat(), times: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ op: fc.constant('swap-lines' as const), a: fc.nat(), b: fc.nat() }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
    { weight: 4, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fragment }) },
    fc.record({ op: fc.constant('blow-up' as const), line: fc.nat(), times: fc.integer({ min: 100, max: 20_000 }) }),
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('char' as const),
        at: fc.nat(),
        char: fc.oneof(
          fc.constantFrom('\n', '\r', '\t', ' ', '\0', '-', ':', '=', '"', "'", '\\', '#', '\u2028', '\ufeff', 'é'),
          fc.string({ minLength: 1, maxLength: 1 }),
        ),
      }),
    },
  );
}

export function applyTextEdits(seed: string, edits: readonly TextEdit[]): string {
  let s = seed;
  for (const e of edits) s = applyTextEdit(s, e);
  return s;
}

function applyTextEdit(s: string, e: TextEdit): string {
  const lines = s.split('\n');
  const li = (x: number): number => x % lines.length;
  switch (e.op) {
    case 'drop-line':
      lines.splice(li(e.line), 1);
      return lines.join('\n');
    case 'repeat-line': {
      const l = lines[li(e.line)]!;
      lines.splice(li(e.line), 0, ...Array<string>(e.times).fill(l));
      return lines.join('\n');
    }
    case 'swap-lines': {
      const a = li(e.a);
      const b = li(e.b);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    }
    case 'cut':
      return s.slice(0, s.length === 0 ? 0 : e.at % s.length);
    case 'insert': {
      const p = e.at % (s.length + 1);
      return s.slice(0, p) + e.text + s.slice(p);
    }
    case 'blow-up': {
      const i = li(e.line);
      const l = lines[i]!;
      lines[i] = (l.length > 0 ? l : 'A').repeat(Math.max(1, Math.floor(e.times / Math.max(1, l.length / 8))));
      return lines.join('\n');
    }
    case 'char': {
      if (s.length === 0) return e.char;
      const p = e.at % s.length;
      return s.slice(0, p) + e.char + s.slice(p + 1);
    }
  }
}

export function mutatedText(
  seeds: readonly string[],
  fragments: readonly string[],
  maxEdits = 4,
): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(textEdit(fragments), { minLength: 1, maxLength: maxEdits }))
    .map(([seed, edits]) => applyTextEdits(seed, edits).slice(0, MAX_TEXT));
}

/** Mutated text stays under 1 MiB: the size of the largest inputs mtlsgate takes (a config, a pasted curl line). */
export const MAX_TEXT = 1 << 20;

/**
 * Text made of grammar fragments and noise, sometimes one piece repeated thousands of times (superlinear costs show).
 */
export function fragmentText(fragments: readonly string[], maxPieces = 40): fc.Arbitrary<string> {
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fragments) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(piece, { maxLength: maxPieces }).map((p) => p.join('')) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(piece, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1000, max: 50_000 }))
        .map(([p, n]) => p.join('').repeat(n).slice(0, 400_000)),
    },
  );
}
