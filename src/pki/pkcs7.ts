/**
 * Certificates out of a PKCS#7 / CMS SignedData (a .p7b or `-----BEGIN PKCS7-----`), as
 * `openssl pkcs7 -print_certs` lists them. DER is walked directly; BER (indefinite lengths, which some
 * Windows and Java tools write) falls back to asn1js + pkijs.
 */
import type * as Pkijs from 'pkijs';
import { asn1Libs } from './asn1-libs.js';
import type { Cert, LoadProblem } from './types.js';
import { parseCert } from './cert.js';
import { OID_PKCS7_SIGNED_DATA } from './oids.js';
import { TAG_SEQUENCE, isContext, isUniversal, readOid, readTlv, tlvChildren } from './der.js';

export interface Pkcs7Result {
  certs: Cert[];
  problems: LoadProblem[];
}

export function certsFromPkcs7(der: Buffer): Pkcs7Result {
  const ders = certificateDersFromDer(der) ?? certificateDersFromBer(der);
  if (typeof ders === 'string') return { certs: [], problems: [{ kind: 'pkcs7-parse-error', message: ders }] };
  const result: Pkcs7Result = { certs: [], problems: [] };
  ders.forEach((d, index) => {
    try {
      result.certs.push(parseCert(d));
    } catch (e) {
      result.problems.push({
        kind: 'cert-parse-error',
        index,
        message: `certificate ${index}: ${(e as Error).message}`,
      });
    }
  });
  if (ders.length === 0)
    result.problems.push({ kind: 'pkcs7-parse-error', message: 'the PKCS#7 holds no certificates' });
  return result;
}

/**
 * ContentInfo { contentType signedData, [0] EXPLICIT SignedData { version, digestAlgorithms,
 * encapContentInfo, [0] IMPLICIT certificates SET OF CertificateChoices OPTIONAL, ... } }.
 * Null when the DER walk fails, so the BER parser gets a try.
 */
function certificateDersFromDer(der: Buffer): Buffer[] | string | null {
  const outer = readTlv(der, 0);
  const [type, explicit] = outer ? (tlvChildren(der, outer, 2) ?? []) : [];
  if (!type) return null;
  const oid = readOid(der, type);
  if (oid !== OID_PKCS7_SIGNED_DATA) return `not a PKCS#7 SignedData (content type ${oid ?? 'unreadable'})`;
  const signedData = isContext(explicit, 0) ? readTlv(der, explicit.valueStart, explicit.end) : null;
  const fields = signedData ? tlvChildren(der, signedData) : null;
  if (!fields) return null;
  const certSet = fields.slice(3).find((t) => isContext(t, 0) && t.constructed);
  if (!certSet) return [];
  const choices = tlvChildren(der, certSet);
  if (!choices) return null;
  // Only the plain `certificate` choice; attribute and other certificate choices are tagged [1]..[3].
  return choices.filter((c) => isUniversal(c, TAG_SEQUENCE)).map((c) => der.subarray(c.start, c.end));
}

function certificateDersFromBer(der: Buffer): Buffer[] | string {
  const { asn1js, pkijs } = asn1Libs();
  try {
    const parsed = asn1js.fromBER(der.buffer.slice(der.byteOffset, der.byteOffset + der.length) as ArrayBuffer);
    if (parsed.offset === -1) return `not valid DER or BER (${parsed.result.error})`;
    const info = new pkijs.ContentInfo({ schema: parsed.result });
    if (info.contentType !== OID_PKCS7_SIGNED_DATA) return `not a PKCS#7 SignedData (content type ${info.contentType})`;
    const signed = new pkijs.SignedData({ schema: info.content });
    return (signed.certificates ?? [])
      .filter((c): c is Pkijs.Certificate => c instanceof pkijs.Certificate)
      .map((c) => Buffer.from(c.toSchema(false).toBER(false)));
  } catch (e) {
    return `malformed PKCS#7 (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`;
  }
}
