/**
 * The octet-level readers of a certificate's hot fields (times, names) against the plain definitions they replace:
 * the RFC 5280 time forms as regular expressions, and RFC 4514 escaping byte by byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTime } from '../../src/pki/cert.js';
import { readTlv, TAG_GENERALIZED_TIME, TAG_UTC_TIME } from '../../src/pki/der.js';
import { escapeDnUtf8, formatName } from '../../src/pki/oids.js';

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d{1,9})?Z$/;

function referenceTime(tag: number, text: string): number | null {
  const m = (tag === TAG_UTC_TIME ? UTC_TIME : GENERALIZED_TIME).exec(text);
  if (!m) return null;
  const year = tag === TAG_UTC_TIME ? (Number(m[1]) < 50 ? 2000 : 1900) + Number(m[1]) : Number(m[1]);
  const [, , mo, d, h, mi, s] = m;
  const t = Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  return Number.isNaN(t) ? null : t;
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag, value.length]), value]);
}

function timeOf(tag: number, text: string): number | null {
  const der = tlv(tag, Buffer.from(text, 'latin1'));
  return parseTime(der, readTlv(der, 0)!)?.getTime() ?? null;
}

test('parseTime reads exactly the UTCTime and GeneralizedTime forms the RFC 5280 patterns accept', () => {
  const cases: [number, string][] = [
    [TAG_UTC_TIME, '250102030405Z'],
    [TAG_UTC_TIME, '2501020304Z'],
    [TAG_UTC_TIME, '491231235959Z'],
    [TAG_UTC_TIME, '500101000000Z'],
    [TAG_UTC_TIME, '991399999999Z'], // out-of-range fields roll over, as Date.UTC does
    [TAG_UTC_TIME, '250102030405'],
    [TAG_UTC_TIME, '25010203040Z'],
    [TAG_UTC_TIME, '250102030405.1Z'],
    [TAG_UTC_TIME, '2501020304-0Z'],
    [TAG_UTC_TIME, '250102030405+0100'],
    [TAG_UTC_TIME, 'Z'],
    [TAG_UTC_TIME, ''],
    [TAG_GENERALIZED_TIME, '20250102030405Z'],
    [TAG_GENERALIZED_TIME, '202501020304Z'],
    [TAG_GENERALIZED_TIME, '20250102030405.123456789Z'],
    [TAG_GENERALIZED_TIME, '20250102030405.1234567890Z'],
    [TAG_GENERALIZED_TIME, '202501020304.5Z'],
    [TAG_GENERALIZED_TIME, '20250102030405.Z'],
    [TAG_GENERALIZED_TIME, '20250102030405.1'],
    [TAG_GENERALIZED_TIME, '2025010203040Z'],
    [TAG_GENERALIZED_TIME, '99991231235959Z'],
    [TAG_GENERALIZED_TIME, '00000101000000Z'],
    [TAG_GENERALIZED_TIME, '2025010203040５Z'],
  ];
  for (const [tag, text] of cases) assert.equal(timeOf(tag, text), referenceTime(tag, text), `${tag} ${text}`);
  // And a few thousand random strings over the characters that matter.
  const alphabet = '0123456789Z.+-';
  let seed = 7;
  const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  let matched = 0;
  for (let i = 0; i < 5000; i++) {
    const tag = next(2) === 0 ? TAG_UTC_TIME : TAG_GENERALIZED_TIME;
    const base = tag === TAG_UTC_TIME ? '250102030405' : '20250102030405';
    let text = base.slice(0, 10 + next(base.length - 9));
    for (let k = next(4); k > 0; k--) text += alphabet[next(alphabet.length)]!;
    if (next(2) === 0) text += 'Z';
    const want = referenceTime(tag, text);
    if (want !== null) matched++;
    assert.equal(timeOf(tag, text), want, `${tag} ${text}`);
  }
  assert.ok(matched > 500, `only ${matched} random strings were valid times`);
  // Not a time type at all.
  const int = Buffer.from([0x02, 0x01, 0x05]);
  assert.equal(parseTime(int, readTlv(int, 0)!), null);
});

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }, one attribute per RDN. */
function nameDer(attrs: [string, number, Buffer][]): Buffer {
  const oidBytes: Record<string, number[]> = { CN: [0x55, 0x04, 0x03], O: [0x55, 0x04, 0x0a], X: [0x2a, 0x03, 0x04] };
  const seq = (tag: number, parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    const len = body.length < 128 ? [body.length] : [0x81, body.length];
    return Buffer.concat([Buffer.from([tag, ...len]), body]);
  };
  return seq(
    0x30,
    attrs.map(([type, tag, value]) =>
      seq(0x31, [seq(0x30, [tlv(0x06, Buffer.from(oidBytes[type]!)), seq(tag, [value])])]),
    ),
  );
}

test('formatName prints plain ASCII values as their octets and escapes everything else as before', () => {
  const values = [
    'plain',
    ' lead',
    'trail ',
    '#hash',
    'a#b',
    'a,b',
    'a+b',
    'a"b',
    'a\\b',
    'a<b>',
    'a;b',
    'a=b',
    'tab\t',
  ].concat(['del\x7f', 'nul\x00', '', ' ', 'x y z', "O'Brien (QA) / ops@example.com", 'caf\u00e9']);
  for (const v of values) {
    for (const tag of [12, 19, 22, 20, 26, 18]) {
      const bytes = Buffer.from(v, tag === 12 ? 'utf8' : 'latin1');
      const der = nameDer([['CN', tag, bytes]]);
      const want = `CN=${escapeDnUtf8(tag === 12 ? bytes : Buffer.from(bytes.toString('latin1'), 'utf8'))}`;
      assert.equal(formatName(der, readTlv(der, 0)!), want, `${tag} ${JSON.stringify(v)}`);
    }
  }
  // Several RDNs, most specific first; an unknown attribute type and a non-string value print as hex.
  const der = nameDer([
    ['O', 19, Buffer.from('Example')],
    ['X', 19, Buffer.from('x')],
    ['CN', 2, Buffer.from([1])],
    ['CN', 12, Buffer.from('a,b')],
  ]);
  assert.equal(formatName(der, readTlv(der, 0)!), 'CN=a\\,b,CN=#020101,1.2.3.4=#130178,O=Example');
});
