/**
 * The revoked entries of a CRL as a hash index over the DER itself: the serial's bytes hashed into an Int32Array of
 * entry offsets, each entry read in full only when a lookup hits it. A CRL with a million entries then costs its
 * DER plus 8 bytes an entry and one pass that allocates next to nothing per entry, instead of a Map of parsed
 * entries (4 s and 400 MB of heap for 10^6 entries, during which a gateway serves nothing).
 *
 * The pass still checks what makes a CRL unusable, as RFC 5280 §5.3 asks: each entry's shape, and critical entry
 * extensions we do not know. The read side of a Map keeps callers (inspect, lint, tests) plain.
 */
import { formatSerial } from './cert.js';
import {
  TAG_BOOLEAN,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
  isUniversal,
  readTlv,
  type Tlv,
} from './der.js';

export interface RevokedEntry {
  revokedAt: Date;
  /** The reasonCode name (`keyCompromise`), or null when the entry has none. */
  reason: string | null;
}

/** Reads one entry at an offset in full (serial in CertInfo.serial's form); a string says why it is malformed. */
export type EntryReader = (offset: number) => { serial: string; entry: RevokedEntry } | string;

/** A CRL's revoked entries by serial (CertInfo.serial's form): the read side of a Map, entries read on demand. */
export interface RevokedIndex extends Iterable<[string, RevokedEntry]> {
  readonly size: number;
  get(serial: string): RevokedEntry | undefined;
  has(serial: string): boolean;
  /** In CRL order. */
  entries(): IterableIterator<[string, RevokedEntry]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<RevokedEntry>;
}

export const NO_ENTRIES: RevokedIndex = {
  size: 0,
  get: () => undefined,
  has: () => false,
  entries: () => [][Symbol.iterator](),
  keys: () => [][Symbol.iterator](),
  values: () => [][Symbol.iterator](),
  [Symbol.iterator]: () => [][Symbol.iterator](),
};

export interface IndexResult {
  index: RevokedIndex;
  parts: IndexParts;
  unknownCritical: string[];
  unsupported: string[];
}

/**
 * What an index is built from, in transferable form: a worker thread indexes a big CRL and hands these over (the
 * arrays' buffers moved, not copied), and indexFromParts wraps them around the same DER without a pass over it.
 */
export interface IndexParts {
  /** Entry offsets in CRL order. */
  offsets: Int32Array<ArrayBuffer>;
  /** The hash table: offset + 1 per used slot; its length a power of two. */
  table: Int32Array<ArrayBuffer>;
  /** Negative serials (formatted) and their entry offsets. */
  negative: Array<[string, number]>;
}

// OID contents (after the 06 tag and length) of the entry extensions RFC 5280 §5.3 defines.
const OID_REASON_CODE = Buffer.from([0x55, 0x1d, 0x15]);
const OID_INVALIDITY_DATE = Buffer.from([0x55, 0x1d, 0x18]);
const OID_CERTIFICATE_ISSUER = Buffer.from([0x55, 0x1d, 0x1d]);

/**
 * Index the entries of a revokedCertificates SEQUENCE. Returns a string (why) when an entry is malformed: such a
 * CRL is refused whole, as OpenSSL refuses to decode it.
 */
export function indexRevoked(der: Buffer, list: Tlv, read: EntryReader): IndexResult | string {
  // Entry offsets, and where each positive serial's magnitude lies (for the hash, without reading it twice).
  let offsets: Int32Array<ArrayBuffer> = new Int32Array(1024);
  let spans: Int32Array<ArrayBuffer> = new Int32Array(2048);
  let n = 0;
  const unknownCritical = new Set<string>();
  const unsupported = new Set<string>();
  // Serials that are negative INTEGERs (invalid, but seen): looked up by their formatted text instead.
  const negative = new Map<string, number>();
  let pos = list.valueStart;
  while (pos < list.end) {
    const entry = readTlv(der, pos, list.end);
    if (!isUniversal(entry, TAG_SEQUENCE)) return `revoked entry ${n}: malformed`;
    const serial = readTlv(der, entry.valueStart, entry.end);
    if (!isUniversal(serial, TAG_INTEGER) || serial.end === serial.valueStart)
      return `revoked entry ${n}: malformed serial`;
    const date = readTlv(der, serial.end, entry.end);
    if (!date || !timeShapeOk(der, date)) return `revoked entry ${n}: malformed revocationDate`;
    if (date.end < entry.end) {
      const why = scanExtensions(der, date.end, entry.end, unknownCritical, unsupported);
      if (why !== null) return `revoked entry ${n}: ${why}`;
    }
    if (n === offsets.length) {
      offsets = grow(offsets);
      spans = grow(spans);
    }
    offsets[n] = pos;
    if ((der[serial.valueStart]! & 0x80) !== 0) {
      negative.set(formatSerial(der.subarray(serial.valueStart, serial.end)), pos);
      spans[2 * n] = -1;
    } else {
      const [s, e] = magnitude(der, serial.valueStart, serial.end);
      spans[2 * n] = s;
      spans[2 * n + 1] = e;
    }
    n++;
    pos = entry.end;
  }
  const used = offsets.slice(0, n);
  const parts = { offsets: used, table: hashTable(der, used, spans), negative: [...negative] };
  return {
    index: indexFromParts(der, parts, read),
    parts,
    unknownCritical: [...unknownCritical],
    unsupported: [...unsupported],
  };
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ: checked by shape here, parsed on a hit. */
function timeShapeOk(der: Buffer, t: Tlv): boolean {
  const len = t.end - t.valueStart;
  if (!(isUniversal(t, TAG_UTC_TIME) && len === 13) && !(isUniversal(t, TAG_GENERALIZED_TIME) && len === 15))
    return false;
  for (let i = t.valueStart; i < t.end - 1; i++) if (der[i]! < 0x30 || der[i]! > 0x39) return false;
  return der[t.end - 1] === 0x5a;
}

/** crlEntryExtensions: notes a certificate issuer (an indirect CRL) and critical extensions we do not know. */
function scanExtensions(
  der: Buffer,
  start: number,
  end: number,
  unknownCritical: Set<string>,
  unsupported: Set<string>,
): string | null {
  const seq = readTlv(der, start, end);
  if (!isUniversal(seq, TAG_SEQUENCE) || seq.end !== end) return 'malformed crlEntryExtensions';
  let pos = seq.valueStart;
  while (pos < seq.end) {
    const ext = readTlv(der, pos, seq.end);
    const oid = ext && isUniversal(ext, TAG_SEQUENCE) ? readTlv(der, ext.valueStart, ext.end) : null;
    if (!ext || !oid || !isUniversal(oid, TAG_OID)) return 'malformed crlEntryExtensions';
    let next = readTlv(der, oid.end, ext.end);
    let critical = false;
    if (isUniversal(next, TAG_BOOLEAN)) {
      critical = der[next.valueStart] !== 0;
      next = readTlv(der, next.end, ext.end);
    }
    if (!isUniversal(next, TAG_OCTET_STRING) || next.end !== ext.end) return 'malformed crlEntryExtensions';
    const id = der.subarray(oid.valueStart, oid.end);
    if (id.equals(OID_CERTIFICATE_ISSUER)) unsupported.add('certificate issuer entries (an indirect CRL)');
    else if (critical && !id.equals(OID_REASON_CODE) && !id.equals(OID_INVALIDITY_DATE))
      unknownCritical.add(oidText(id));
    pos = ext.end;
  }
  return null;
}

function oidText(bytes: Buffer): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of bytes) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** The magnitude of a non-negative DER INTEGER: its value without leading zero octets (at least one octet). */
function magnitude(der: Buffer, start: number, end: number): [number, number] {
  while (start < end - 1 && der[start] === 0) start++;
  return [start, end];
}

function fnv(der: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ der[i]!, 0x01000193);
  return h >>> 0;
}

/** Open addressing, linear probing; slots hold offset + 1 (0: empty). Negative serials (span -1) are left out. */
function hashTable(der: Buffer, offsets: Int32Array, spans: Int32Array): Int32Array<ArrayBuffer> {
  let size = 16;
  while (size < offsets.length * 2) size *= 2;
  const mask = size - 1;
  const table = new Int32Array(size);
  for (let i = 0; i < offsets.length; i++) {
    const s = spans[2 * i]!;
    if (s === -1) continue;
    let slot = fnv(der, s, spans[2 * i + 1]!) & mask;
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = offsets[i]! + 1;
  }
  return table;
}

/** The index over `der` from its parts (see IndexParts): no pass over the entries. */
export function indexFromParts(der: Buffer, parts: IndexParts, read: EntryReader): RevokedIndex {
  const { offsets, table } = parts;
  const negative = new Map(parts.negative);
  const mask = table.length - 1;
  const serialSpan = (off: number): [number, number] => {
    const entry = readTlv(der, off)!;
    const serial = readTlv(der, entry.valueStart, entry.end)!;
    if ((der[serial.valueStart]! & 0x80) !== 0) return [-1, -1];
    return magnitude(der, serial.valueStart, serial.end);
  };
  const find = (serial: string): number => {
    if (serial.startsWith('-')) return negative.get(serial) ?? -1;
    const hex = serial.replaceAll(':', '');
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/.test(hex)) return -1;
    const want = Buffer.from(hex, 'hex');
    const [ws, we] = magnitude(want, 0, want.length);
    const key = want.subarray(ws, we);
    for (let slot = fnv(key, 0, key.length) & mask; table[slot] !== 0; slot = (slot + 1) & mask) {
      const off = table[slot]! - 1;
      const [s, e] = serialSpan(off);
      if (s !== -1 && der.subarray(s, e).equals(key)) return off;
    }
    return -1;
  };
  const entryAt = (off: number): [string, RevokedEntry] | null => {
    const r = read(off);
    return typeof r === 'string' ? null : [r.serial, r.entry];
  };
  function* entries(): IterableIterator<[string, RevokedEntry]> {
    for (const off of offsets) {
      const e = entryAt(off);
      if (e) yield e;
    }
  }
  return {
    size: offsets.length,
    get: (serial) => {
      const off = find(serial);
      return off < 0 ? undefined : (entryAt(off)?.[1] ?? undefined);
    },
    has: (serial) => find(serial) >= 0,
    entries,
    *keys() {
      for (const [k] of entries()) yield k;
    },
    *values() {
      for (const [, v] of entries()) yield v;
    },
    [Symbol.iterator]: entries,
  };
}
