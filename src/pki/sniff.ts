/** The format sniffer: what a file or DER blob holds, from a shallow look at its outer structure. */
import type { FileFormat } from './types.js';
import {
  isContext,
  isUniversal,
  readOid,
  readSmallInt,
  readTlv,
  tlvChildren,
  TAG_BIT_STRING,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
  type Tlv,
} from './der.js';

// Kept here rather than imported from oids.ts, which builds on the DER reader.
const OID_PKCS7_DATA = '1.2.840.113549.1.7.1';
const OID_PKCS7_SIGNED_DATA = '1.2.840.113549.1.7.2';

/** What a DER blob looks like, from a shallow look at its outer structure. */
export type DerKind =
  | 'certificate'
  | 'pkcs8'
  | 'pkcs1'
  | 'sec1'
  | 'encrypted-pkcs8'
  | 'pkcs12'
  | 'pkcs7'
  | 'spki'
  | 'crl'
  | 'csr'
  | 'dsa-private-key';

/** Classifies DER bytes; null when they are not one of the structures we know. Never throws. */
export function sniffDer(bytes: Buffer): DerKind | null {
  try {
    return classify(bytes);
  } catch {
    return null;
  }
}

function classify(buf: Buffer): DerKind | null {
  const outer = readTlv(buf, 0, buf.length, true);
  if (!isUniversal(outer, TAG_SEQUENCE) || !outer.constructed) return null;
  const kids = tlvChildren(buf, outer, 10, true);
  if (!kids || kids.length === 0) return null;
  const [a, b, c] = kids;
  const first = readSmallInt(buf, a);

  if (first === 3 && isUniversal(b, TAG_SEQUENCE)) {
    const ci = tlvChildren(buf, b, 1, true);
    const oid = ci && readOid(buf, ci[0]);
    if (oid === OID_PKCS7_DATA || oid === OID_PKCS7_SIGNED_DATA) return 'pkcs12';
  }
  if (readOid(buf, a) === OID_PKCS7_SIGNED_DATA && isContext(b, 0)) return 'pkcs7';
  if (isUniversal(a, TAG_SEQUENCE) && isUniversal(b, TAG_SEQUENCE) && isUniversal(c, TAG_BIT_STRING)) {
    return classifySigned(buf, a);
  }
  if (isUniversal(a, TAG_SEQUENCE) && isUniversal(b, TAG_BIT_STRING) && kids.length === 2) return 'spki';
  if (isUniversal(a, TAG_SEQUENCE) && isUniversal(b, TAG_OCTET_STRING) && kids.length === 2) {
    return readOid(buf, tlvChildren(buf, a, 1)?.[0]) ? 'encrypted-pkcs8' : null;
  }
  if ((first === 0 || first === 1) && isUniversal(b, TAG_SEQUENCE) && isUniversal(c, TAG_OCTET_STRING)) return 'pkcs8';
  if (first === 1 && isUniversal(b, TAG_OCTET_STRING)) return 'sec1';
  if (first === 0 && kids.every((k) => isUniversal(k, TAG_INTEGER))) {
    if (kids.length === 9 || kids.length === 10) return 'pkcs1';
    if (kids.length === 6) return 'dsa-private-key';
  }
  return null;
}

/** Certificate, CRL and CSR share SEQUENCE { tbs, algorithm, signature }; the tbs tells them apart. */
function classifySigned(buf: Buffer, tbs: Tlv): DerKind | null {
  const kids = tlvChildren(buf, tbs, 7);
  if (!kids) return null;
  const rest = isContext(kids[0], 0) ? kids.slice(1) : kids;
  const [a, b, c, d] = rest;
  if (isContext(kids[0], 0) || isUniversal(a, TAG_INTEGER)) {
    if (isUniversal(b, TAG_SEQUENCE) && isUniversal(c, TAG_SEQUENCE) && isUniversal(d, TAG_SEQUENCE)) {
      return 'certificate';
    }
    if (isContext(d, 0) && isUniversal(b, TAG_SEQUENCE) && isUniversal(c, TAG_SEQUENCE)) return 'csr';
  }
  const crl = isUniversal(a, TAG_INTEGER) ? rest.slice(1) : rest;
  if (isUniversal(crl[2], TAG_UTC_TIME) || isUniversal(crl[2], TAG_GENERALIZED_TIME)) return 'crl';
  return null;
}

const PEM_MARKER = Buffer.from('-----BEGIN');

/** What the bytes are, whatever the file is called. Never throws. */
export function sniffFormat(bytes: Buffer): FileFormat {
  if (bytes.length === 0) return 'empty';
  const kind = bytes[0] === 0x30 ? sniffDer(bytes) : null;
  switch (kind) {
    case 'certificate':
      return 'der-certificate';
    case 'pkcs8':
    case 'pkcs1':
    case 'sec1':
    case 'dsa-private-key':
      return 'der-private-key';
    case 'encrypted-pkcs8':
      return 'der-encrypted-private-key';
    case 'pkcs12':
      return 'pkcs12';
    case 'pkcs7':
      return 'pkcs7';
    case 'crl':
      return 'der-crl';
    default:
      break;
  }
  if (bytes.indexOf(PEM_MARKER) >= 0) return 'pem';
  return 'unknown';
}
