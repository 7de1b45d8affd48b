/**
 * A minimal DER writer for the few structures we build ourselves (OCSP requests, the loopback certificate, CRL
 * times): definite lengths only, every value given as bytes already encoded, so the output is DER whenever the
 * parts are.
 */

/** One TLV with a low tag number (< 31): `id` is the whole identifier octet (class, constructed bit, tag). */
export function derTlv(id: number, ...parts: Uint8Array[]): Buffer {
  return derTlvOf(id, parts);
}

/** derTlv for a long list (a CRL's 100,000 entries would overflow a spread call's arguments). */
export function derTlvOf(id: number, parts: readonly Uint8Array[]): Buffer {
  const value = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([id]), derLength(value.length), value]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const derSequence = (...parts: Uint8Array[]): Buffer => derTlv(0x30, ...parts);
export const derOctetString = (bytes: Uint8Array): Buffer => derTlv(0x04, bytes);
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
/** `[n] EXPLICIT` around already encoded content. */
export const derExplicit = (n: number, ...parts: Uint8Array[]): Buffer => derTlv(0xa0 | n, ...parts);

/** An OBJECT IDENTIFIER from dotted text; throws on text that is not one (only our own constants reach it). */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`not an OID: ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n) throw new Error(`not an OID: ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return derTlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5 / §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050, to the second. */
export function derTime(d: Date): Buffer {
  const iso = new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString(); // 2026-01-02T03:04:05.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20260102030405Z
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? derTlv(0x17, Buffer.from(digits.slice(2))) : derTlv(0x18, Buffer.from(digits));
}
