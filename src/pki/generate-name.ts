/**
 * Distinguished names for generated certificates: RFC 4514 strings in, ASN.1 Names out, and back.
 * Hand-written rather than taken from @peculiar/x509 so that we choose the string types (UTF8String for
 * text, PrintableString for C) and can put any character, even NUL or a comma, into a value for tests.
 */
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';

type StringKind = 'utf8' | 'printable' | 'ia5';

const ATTRIBUTES: Record<string, { oid: string; kind: StringKind }> = {
  CN: { oid: '2.5.4.3', kind: 'utf8' },
  SERIALNUMBER: { oid: '2.5.4.5', kind: 'printable' },
  C: { oid: '2.5.4.6', kind: 'printable' },
  L: { oid: '2.5.4.7', kind: 'utf8' },
  ST: { oid: '2.5.4.8', kind: 'utf8' },
  STREET: { oid: '2.5.4.9', kind: 'utf8' },
  O: { oid: '2.5.4.10', kind: 'utf8' },
  OU: { oid: '2.5.4.11', kind: 'utf8' },
  UID: { oid: '0.9.2342.19200300.100.1.1', kind: 'utf8' },
  DC: { oid: '0.9.2342.19200300.100.1.25', kind: 'ia5' },
  EMAILADDRESS: { oid: '1.2.840.113549.1.9.1', kind: 'ia5' },
};

/** How the names print: the RFC 4514 short names, plus emailAddress and serialNumber as OpenSSL spells them. */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export interface DnAttribute {
  oid: string;
  value: string;
}

/**
 * Escapes a value for an RFC 4514 string, so `'CN=' + escapeDnValue(anything)` always means a one-attribute
 * DN whose CN is exactly `anything` (commas, quotes, plus signs, backslashes, NUL, non-ASCII included).
 */
export function escapeDnValue(value: string): string {
  const chars = [...value];
  return chars
    .map((ch, i) => {
      const edge = (i === 0 && (ch === ' ' || ch === '#')) || (i === chars.length - 1 && ch === ' ');
      if (ch === '\0') return '\\00';
      return edge || ',+"\\<>;'.includes(ch) ? `\\${ch}` : ch;
    })
    .join('');
}

/**
 * A subject is either a bare CN (`client`, `Smith, John`) or an RFC 4514 DN (`CN=client,O=Example,C=US`).
 * It is a DN when it starts with a known attribute type (or a dotted OID) and `=`; anything else is a CN
 * taken verbatim. Returns attributes in RFC 4514 order: most specific (CN) first.
 */
export function parseSubject(subject: string): DnAttribute[] {
  const m = /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)\s*=/.exec(subject);
  const looksLikeDn = m?.[1] !== undefined && attributeOid(m[1]) !== null;
  if (!looksLikeDn) {
    if (subject === '') throw new Error('certificate subject is empty');
    return [{ oid: ATTRIBUTES.CN!.oid, value: subject }];
  }
  return parseDn(subject);
}

function attributeOid(type: string): string | null {
  if (/^\d+(\.\d+)+$/.test(type)) return type;
  return ATTRIBUTES[type.toUpperCase()]?.oid ?? null;
}

/** RFC 4514 parser: `\,` style and `\c3\a9` hex escapes; spaces around `=` and `,` are dropped. */
function parseDn(dn: string): DnAttribute[] {
  const out: DnAttribute[] = [];
  let i = 0;
  while (i < dn.length) {
    const eq = dn.indexOf('=', i);
    if (eq < 0) throw new Error(`bad DN ${JSON.stringify(dn)}: "${dn.slice(i)}" has no "="`);
    const type = dn.slice(i, eq).trim();
    const oid = attributeOid(type);
    if (oid === null) throw new Error(`bad DN ${JSON.stringify(dn)}: unknown attribute type "${type}"`);
    const bytes: number[] = [];
    let keep = 0; // bytes up to the last non-space or escaped character; unescaped trailing spaces are dropped
    i = eq + 1;
    while (i < dn.length && dn[i] === ' ') i++;
    for (; i < dn.length; i++) {
      const ch = dn[i]!;
      if (ch === ',' || ch === ';') break;
      if (ch === '+')
        throw new Error(`bad DN ${JSON.stringify(dn)}: multi-valued RDNs are not supported (escape "+" as "\\+")`);
      if (ch === '\\') {
        const pair = dn.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(pair)) {
          bytes.push(parseInt(pair, 16));
          i += 2;
        } else {
          const next = dn.codePointAt(i + 1);
          if (next === undefined) throw new Error(`bad DN ${JSON.stringify(dn)}: ends with a lone "\\"`);
          const lit = String.fromCodePoint(next);
          bytes.push(...Buffer.from(lit, 'utf8'));
          i += lit.length;
        }
        keep = bytes.length;
        continue;
      }
      const cp = dn.codePointAt(i)!;
      const lit = String.fromCodePoint(cp);
      bytes.push(...Buffer.from(lit, 'utf8'));
      i += lit.length - 1;
      if (ch !== ' ') keep = bytes.length;
    }
    i++; // skip the separator
    const value = decodeUtf8(bytes.slice(0, keep), dn);
    if (value === '') throw new Error(`bad DN ${JSON.stringify(dn)}: empty value for ${type}`);
    out.push({ oid, value });
  }
  return out;
}

function decodeUtf8(bytes: number[], dn: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new Error(`bad DN ${JSON.stringify(dn)}: hex escapes are not valid UTF-8`);
  }
}

/** Builds the ASN.1 Name; its RDN sequence runs the other way round from the RFC 4514 string (C first). */
export function toAsn1Name(attrs: DnAttribute[]): Name {
  const rdns = [...attrs].reverse().map(({ oid, value }) => {
    return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: oid, value: attributeValue(oid, value) })]);
  });
  return new Name(rdns);
}

function attributeValue(oid: string, value: string): AttributeValue {
  const kind = Object.values(ATTRIBUTES).find((a) => a.oid === oid)?.kind ?? 'utf8';
  // A value that does not fit the preferred type (C=Ü) still gets encoded, as UTF8String, for negative tests.
  if (kind === 'printable' && /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value))
    return new AttributeValue({ printableString: value });

  if (kind === 'ia5' && /^[\x00-\x7f]*$/.test(value)) return new AttributeValue({ ia5String: value });
  return new AttributeValue({ utf8String: value });
}

/** RFC 4514 string of an ASN.1 Name, most specific first: `CN=client,O=Example,C=US`. */
export function formatName(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      [...rdn]
        .map((atv) => {
          const type = SHORT_NAMES[atv.type] ?? atv.type;
          const v = atv.value;
          const text =
            v.anyValue !== undefined ? `#${Buffer.from(v.anyValue).toString('hex')}` : escapeDnValue(v.toString());
          return `${type}=${text}`;
        })
        .join('+'),
    )
    .join(',');
}
