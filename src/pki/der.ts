/**
 * A small, iterative DER reader: no recursion, so hostile nesting cannot blow the stack. The format sniffer and the
 * certificate, PKCS#7, PKCS#12 and key modules read their ASN.1 through it.
 */

export interface Tlv {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  cls: number;
  constructed: boolean;
  tag: number;
  start: number;
  valueStart: number;
  /** Exclusive. For a BER indefinite length (only when allowed) this is the enclosing limit. */
  end: number;
  indefinite: boolean;
}

export const TAG_BOOLEAN = 1;
export const TAG_INTEGER = 2;
export const TAG_BIT_STRING = 3;
export const TAG_OCTET_STRING = 4;
export const TAG_OID = 6;
export const TAG_BMP_STRING = 30;
export const TAG_SEQUENCE = 16;
export const TAG_UTC_TIME = 23;
export const TAG_GENERALIZED_TIME = 24;

/** Reads one TLV header at `pos`; null when it is malformed or runs past `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit: number = buf.length, allowIndefinite = false): Tlv | null {
  if (pos < 0 || pos >= limit) return null;
  const id = buf[pos]!;
  let p = pos + 1;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let i = 0; ; i++) {
      if (p >= limit || i >= 4) return null;
      const b = buf[p++]!;
      tag = tag * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= limit) return null;
  let len = buf[p++]!;
  const constructed = (id & 0x20) !== 0;
  if (len === 0x80) {
    if (!allowIndefinite || !constructed) return null;
    return { cls: id >> 6, constructed, tag, start: pos, valueStart: p, end: limit, indefinite: true };
  }
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || p + n > limit) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > limit) return null;
  return { cls: id >> 6, constructed, tag, start: pos, valueStart: p, end: p + len, indefinite: false };
}

/** Reads the children of a constructed TLV, at most `max` of them; null when one is malformed. */
export function tlvChildren(
  buf: Uint8Array,
  parent: Tlv,
  max = Number.POSITIVE_INFINITY,
  allowIndefinite = false,
): Tlv[] | null {
  const out: Tlv[] = [];
  let pos = parent.valueStart;
  while (pos < parent.end && out.length < max) {
    // End-of-contents octets close an indefinite-length parent.
    if (parent.indefinite && buf[pos] === 0 && buf[pos + 1] === 0) break;
    const child = readTlv(buf, pos, parent.end, allowIndefinite);
    if (!child) return null;
    out.push(child);
    if (child.indefinite) break; // its end is unknown without a full parse; stop here
    pos = child.end;
  }
  return out;
}

export function isUniversal(t: Tlv | null | undefined, tag: number): t is Tlv {
  return t != null && t.cls === 0 && t.tag === tag;
}

export function isContext(t: Tlv | null | undefined, tag: number): t is Tlv {
  return t != null && t.cls === 2 && t.tag === tag;
}

export function tlvValue(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.valueStart, t.end);
}

/** 2.5.4.n (name attributes) and 2.5.29.n (certificate extensions): most OIDs a certificate holds, read per name. */
const X500_ATTRIBUTE_OIDS: readonly string[] = Array.from({ length: 128 }, (_, n) => `2.5.4.${n}`);
const CERT_EXTENSION_OIDS: readonly string[] = Array.from({ length: 128 }, (_, n) => `2.5.29.${n}`);

/** Dotted OID text from the content octets (bytes[start, end)); null when malformed. */
export function decodeOid(bytes: Uint8Array, start = 0, end = bytes.length): string | null {
  const n = end - start;
  if (n === 3 && bytes[start] === 0x55 && bytes[start + 2]! < 0x80) {
    if (bytes[start + 1] === 0x04) return X500_ATTRIBUTE_OIDS[bytes[start + 2]!]!;
    if (bytes[start + 1] === 0x1d) return CERT_EXTENSION_OIDS[bytes[start + 2]!]!;
  }
  if (n <= 0 || n > 256 || (bytes[end - 1]! & 0x80) !== 0) return null;
  let out = '';
  let arc = 0;
  let big: bigint | null = null; // only for arcs beyond 2^53, which real OIDs (UUID arcs) can have
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (big !== null) big = big * 128n + BigInt(b & 0x7f);
    else if (arc >= 2 ** 45) big = BigInt(arc) * 128n + BigInt(b & 0x7f);
    else arc = arc * 128 + (b & 0x7f);
    if (b & 0x80) continue;
    if (out === '') {
      // The first octets carry two arcs: 40 * first + second, first being 0, 1 or 2.
      if (big !== null) out = `2.${big - 80n}`;
      else out = arc < 40 ? `0.${arc}` : arc < 80 ? `1.${arc - 40}` : `2.${arc - 80}`;
    } else out += `.${big ?? arc}`;
    arc = 0;
    big = null;
  }
  return out;
}

export function readOid(buf: Buffer, t: Tlv | null | undefined): string | null {
  return isUniversal(t, TAG_OID) ? decodeOid(buf, t.valueStart, t.end) : null;
}

/** Small non-negative INTEGER value, or null (too large, negative or not an INTEGER). */
export function readSmallInt(buf: Buffer, t: Tlv | null | undefined): number | null {
  if (!isUniversal(t, TAG_INTEGER)) return null;
  const v = tlvValue(buf, t);
  if (v.length === 0 || v.length > 6 || (v[0]! & 0x80) !== 0) return null;
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/**
 * A reader's result, or its first error line as the one-line reason. The DER walks check every TLV; this is the last
 * guard so that hostile input never escapes as a throw.
 */
export function guarded<T>(read: () => T | string): T | string {
  try {
    return read();
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0]! : String(e);
  }
}
