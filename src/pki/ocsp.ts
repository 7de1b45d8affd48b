/**
 * OCSP (RFC 6960) on the wire, without the network: one-certificate requests, responses read with our iterative DER
 * reader (as crl.ts reads CRLs, so hostile input never throws or recurses), and the checks that turn a response into
 * an answer about one certificate. Fetching and caching belong to trust/ocsp.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  describeSignatureAlgorithm,
  formatSerial,
  parseCert,
  parseTime,
  signatureVerifies,
  splitCertificate,
} from './cert.js';
import { CRL_REASONS, readExtensionList, verifySignedData } from './crl.js';
import {
  TAG_BIT_STRING,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
  isContext,
  isUniversal,
  readOid,
  readTlv,
  tlvChildren,
  tlvValue,
  guarded,
} from './der.js';
import type { Tlv } from './der.js';
import { derExplicit, derNull, derOctetString, derOid, derSequence, derTlv } from './der-write.js';
import { formatName } from './oids.js';
import type { Cert, SignatureAlgorithmInfo } from './types.js';

export const OID_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
export const OID_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
const OID_SHA1 = '1.3.14.3.2.26';
const OID_EKU_OCSP_SIGNING_NAME = 'OCSPSigning';

/** Digests a responder may use in a CertID; we send SHA-1 (what every responder understands) but match any of these. */
const CERT_ID_HASHES: ReadonlyMap<string, string> = new Map([
  [OID_SHA1, 'sha1'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

/** OCSPResponseStatus names (RFC 6960 §4.2.1; 4 is unused). */
export const OCSP_RESPONSE_STATUSES: ReadonlyMap<number, string> = new Map([
  [0, 'successful'],
  [1, 'malformedRequest'],
  [2, 'internalError'],
  [3, 'tryLater'],
  [5, 'sigRequired'],
  [6, 'unauthorized'],
]);

/** Responses carrying more certificates than this are refused: a responder needs one (its own). */
const MAX_RESPONSE_CERTS = 8;

export interface OcspCertId {
  /** OID of the digest used for the two hashes. */
  hashAlgorithm: string;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** The serial INTEGER's content octets, as in the certificate. */
  serial: Buffer;
}

export type OcspCertStatus = 'good' | 'revoked' | 'unknown';

export interface OcspSingleResponse {
  certId: OcspCertId;
  status: OcspCertStatus;
  /** Set when status is revoked. */
  revokedAt: Date | null;
  /** The CRLReason name (`keyCompromise`), null when absent. */
  reason: string | null;
  thisUpdate: Date;
  nextUpdate: Date | null;
  unknownCriticalExtensions: string[];
}

export type OcspResponderId = { byName: Buffer; name: string } | { byKey: Buffer };

export interface BasicOcspResponse {
  tbsDer: Buffer;
  signatureAlgorithm: SignatureAlgorithmInfo;
  signatureValue: Buffer;
  responderId: OcspResponderId;
  producedAt: Date;
  responses: OcspSingleResponse[];
  /** The nonce extension's value (the inner OCTET STRING's content, RFC 8954), null when absent. */
  nonce: Buffer | null;
  /** Certificates the responder sent along (a delegated responder's own). */
  certs: Cert[];
  unknownCriticalExtensions: string[];
}

export interface ParsedOcspResponse {
  /** The OCSPResponseStatus name, or `status N` for a value RFC 6960 does not define. */
  responseStatus: string;
  /** Present exactly when responseStatus is successful. */
  basic: BasicOcspResponse | null;
}

/** `responder` is the subject of the certificate whose key signed the answer (the issuer's or a delegate's). */
export type OcspAnswer =
  | { status: 'good'; thisUpdate: Date; nextUpdate: Date | null; responder: string }
  | {
      status: 'revoked';
      revokedAt: Date;
      reason: string | null;
      thisUpdate: Date;
      nextUpdate: Date | null;
      responder: string;
    }
  | { status: 'unknown'; thisUpdate: Date; nextUpdate: Date | null; responder: string }
  /** One line; "unavailable" in the gateway's terms. */
  | { status: 'error'; why: string };

/** 32 random bytes, the nonce length RFC 8954 recommends. */
export function ocspNonce(): Buffer {
  return randomBytes(32);
}

/** The SHA-1 CertID RFC 6960 §4.1.1 describes for `cert` issued by `issuer`. Throws on a malformed certificate. */
export function certIdFor(cert: Cert, issuer: Cert, hash = 'sha1'): OcspCertId {
  const hashOid = [...CERT_ID_HASHES].find(([, name]) => name === hash)?.[0];
  if (!hashOid) throw new Error(`unsupported CertID hash ${hash}`);
  const { subject } = splitCertificate(issuer.der);
  return {
    hashAlgorithm: hashOid,
    issuerNameHash: createHash(hash).update(issuer.der.subarray(subject.start, subject.end)).digest(),
    issuerKeyHash: createHash(hash).update(publicKeyBits(issuer)).digest(),
    serial: tlvValue(cert.der, splitCertificate(cert.der).serial),
  };
}

/** The subjectPublicKey BIT STRING's value without its unused-bits octet: what key hashes in OCSP cover. */
function publicKeyBits(cert: Cert): Buffer {
  const { spki } = splitCertificate(cert.der);
  const bits = tlvChildren(cert.der, spki, 2)?.[1];
  if (!isUniversal(bits, TAG_BIT_STRING) || bits.end === bits.valueStart) throw new Error('malformed public key');
  return cert.der.subarray(bits.valueStart + 1, bits.end);
}

/** A DER OCSPRequest for one certificate, with the RFC 8954 nonce extension when `nonce` is given. */
export function ocspRequest({ cert, issuer, nonce }: { cert: Cert; issuer: Cert; nonce: Buffer | null }): {
  der: Buffer;
  certId: OcspCertId;
} {
  const certId = certIdFor(cert, issuer);
  const request = derSequence(
    derSequence(
      derSequence(derOid(OID_SHA1), derNull()),
      derOctetString(certId.issuerNameHash),
      derOctetString(certId.issuerKeyHash),
      // The serial's content octets verbatim: re-encoding an odd (non-minimal) serial would change the CertID.
      derTlv(0x02, certId.serial),
    ),
  );
  const parts: Buffer[] = [derSequence(request)];
  if (nonce) {
    const ext = derSequence(derOid(OID_OCSP_NONCE), derOctetString(derOctetString(nonce)));
    parts.push(derExplicit(2, derSequence(ext)));
  }
  return { der: derSequence(derSequence(...parts)), certId };
}

/** An OCSPResponse, or a one-line reason it is malformed. Never throws. */
export function parseOcspResponse(der: Buffer): ParsedOcspResponse | string {
  return guarded(() => readResponse(der));
}

function readResponse(input: Buffer): ParsedOcspResponse | string {
  const outer = readTlv(input, 0);
  if (!isUniversal(outer, TAG_SEQUENCE)) return 'no outer SEQUENCE';
  if (outer.end !== input.length) return 'bytes after the OCSPResponse';
  const kids = tlvChildren(input, outer, 3);
  const [statusTlv, bytesTlv] = kids ?? [];
  if (!kids || kids.length > 2 || !statusTlv || statusTlv.cls !== 0 || statusTlv.tag !== 10) return 'no responseStatus';
  if (statusTlv.end - statusTlv.valueStart !== 1) return 'malformed responseStatus';
  const code = input[statusTlv.valueStart]!;
  const responseStatus = OCSP_RESPONSE_STATUSES.get(code) ?? `status ${code}`;
  if (code !== 0) return { responseStatus, basic: null };
  if (!isContext(bytesTlv, 0)) return 'successful but no responseBytes';
  const rb = readTlv(input, bytesTlv.valueStart, bytesTlv.end);
  const [typeTlv, octets] = (isUniversal(rb, TAG_SEQUENCE) && tlvChildren(input, rb, 3)) || [];
  const type = readOid(input, typeTlv);
  if (!type || !isUniversal(octets, TAG_OCTET_STRING)) return 'malformed responseBytes';
  if (type !== OID_OCSP_BASIC) return `response type ${type} is not id-pkix-ocsp-basic`;
  const basic = readBasic(input.subarray(octets.valueStart, octets.end));
  return typeof basic === 'string' ? basic : { responseStatus, basic };
}

function readBasic(der: Buffer): BasicOcspResponse | string {
  const outer = readTlv(der, 0);
  if (!isUniversal(outer, TAG_SEQUENCE) || outer.end !== der.length) return 'malformed BasicOCSPResponse';
  const top = tlvChildren(der, outer, 5);
  const [tbs, sigAlg, sig, certsTlv] = top ?? [];
  if (!top || top.length > 4 || !isUniversal(tbs, TAG_SEQUENCE) || !isUniversal(sigAlg, TAG_SEQUENCE))
    return 'not a BasicOCSPResponse (tbsResponseData, signatureAlgorithm, signature, certs)';
  if (!isUniversal(sig, TAG_BIT_STRING) || sig.end - sig.valueStart < 2 || der[sig.valueStart] !== 0)
    return 'malformed signature BIT STRING';
  const certs: Cert[] = [];
  if (certsTlv) {
    if (!isContext(certsTlv, 0)) return 'malformed certs';
    const seq = readTlv(der, certsTlv.valueStart, certsTlv.end);
    const list = isUniversal(seq, TAG_SEQUENCE) ? tlvChildren(der, seq, MAX_RESPONSE_CERTS + 1) : null;
    if (!list) return 'malformed certs';
    if (list.length > MAX_RESPONSE_CERTS) return `more than ${MAX_RESPONSE_CERTS} certificates in certs`;
    for (const [n, c] of list.entries()) {
      try {
        certs.push(parseCert(der.subarray(c.start, c.end)));
      } catch (e) {
        return `certs[${n}]: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
  }
  const kids = tlvChildren(der, tbs);
  if (!kids) return 'malformed tbsResponseData';
  let i = 0;
  if (isContext(kids[0], 0)) {
    // version [0] EXPLICIT: only v1 (0) exists.
    const v = readTlv(der, kids[0].valueStart, kids[0].end);
    if (!isUniversal(v, TAG_INTEGER) || v.end - v.valueStart !== 1 || der[v.valueStart] !== 0)
      return 'unsupported ResponseData version';
    i++;
  }
  const responderId = readResponderId(der, kids[i++]);
  if (!responderId) return 'malformed responderID';
  const produced = kids[i++];
  const producedAt = isUniversal(produced, TAG_GENERALIZED_TIME) ? parseTime(der, produced) : null;
  if (!producedAt) return 'malformed producedAt';
  const list = kids[i++];
  const entries = isUniversal(list, TAG_SEQUENCE) ? tlvChildren(der, list) : null;
  if (!entries) return 'malformed responses';
  const responses: OcspSingleResponse[] = [];
  for (const [n, e] of entries.entries()) {
    const one = readSingle(der, e);
    if (typeof one === 'string') return `responses[${n}]: ${one}`;
    responses.push(one);
  }
  let nonce: Buffer | null = null;
  const unknownCriticalExtensions: string[] = [];
  if (isContext(kids[i], 1)) {
    const exts = readExtensionList(der, kids[i]!);
    if (!exts) return 'malformed responseExtensions';
    for (const ext of exts) {
      if (ext.oid === OID_OCSP_NONCE) {
        // RFC 8954 wraps the nonce in an OCTET STRING inside extnValue; older responders put raw bytes that happen
        // to be one TLV, which we compare whole.
        const v: Tlv = ext.value;
        nonce = v.cls === 0 && v.tag === TAG_OCTET_STRING ? tlvValue(der, v) : der.subarray(v.start, v.end);
      } else if (ext.critical) unknownCriticalExtensions.push(ext.oid);
    }
    i++;
  }
  if (i !== kids.length) return 'unexpected fields at the end of tbsResponseData';
  return {
    tbsDer: der.subarray(tbs.start, tbs.end),
    signatureAlgorithm: describeSignatureAlgorithm(der, sigAlg),
    signatureValue: der.subarray(sig.valueStart + 1, sig.end),
    responderId,
    producedAt,
    responses,
    nonce,
    certs,
    unknownCriticalExtensions,
  };
}

/** ResponderID ::= CHOICE { byName [1] EXPLICIT Name, byKey [2] EXPLICIT OCTET STRING (SHA-1 of the key bits) }. */
function readResponderId(der: Buffer, t: Tlv | undefined): OcspResponderId | null {
  if (!t || t.cls !== 2 || !t.constructed) return null;
  const inner = readTlv(der, t.valueStart, t.end);
  if (!inner || inner.end !== t.end) return null;
  if (t.tag === 1 && isUniversal(inner, TAG_SEQUENCE)) {
    return { byName: der.subarray(inner.start, inner.end), name: formatName(der, inner) };
  }
  if (t.tag === 2 && isUniversal(inner, TAG_OCTET_STRING)) return { byKey: tlvValue(der, inner) };
  return null;
}

function readSingle(der: Buffer, t: Tlv): OcspSingleResponse | string {
  const kids = isUniversal(t, TAG_SEQUENCE) ? tlvChildren(der, t, 6) : null;
  if (!kids || kids.length < 3 || kids.length > 5) return 'malformed SingleResponse';
  const certId = readCertId(der, kids[0]!);
  if (!certId) return 'malformed certID';
  const st = kids[1]!;
  let status: OcspCertStatus;
  let revokedAt: Date | null = null;
  let reason: string | null = null;
  if (st.cls === 2 && st.tag === 0 && st.end === st.valueStart) status = 'good';
  else if (st.cls === 2 && st.tag === 2 && st.end === st.valueStart) status = 'unknown';
  else if (st.cls === 2 && st.tag === 1 && st.constructed) {
    status = 'revoked';
    // RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
    const ri = tlvChildren(der, st, 3);
    if (!ri || ri.length > 2) return 'malformed RevokedInfo';
    revokedAt = isUniversal(ri[0], TAG_GENERALIZED_TIME) ? parseTime(der, ri[0]) : null;
    if (!revokedAt) return 'malformed revocationTime';
    if (ri[1]) {
      const e = isContext(ri[1], 0) ? readTlv(der, ri[1].valueStart, ri[1].end) : null;
      if (!e || e.cls !== 0 || e.tag !== 10 || e.end - e.valueStart !== 1) return 'malformed revocationReason';
      const code = der[e.valueStart]!;
      reason = CRL_REASONS.get(code) ?? `unknown reason ${code}`;
    }
  } else return 'malformed certStatus';
  const thisUpdate = isUniversal(kids[2], TAG_GENERALIZED_TIME) ? parseTime(der, kids[2]) : null;
  if (!thisUpdate) return 'malformed thisUpdate';
  let i = 3;
  let nextUpdate: Date | null = null;
  if (isContext(kids[i], 0)) {
    const n = readTlv(der, kids[i]!.valueStart, kids[i]!.end);
    nextUpdate = n && isUniversal(n, TAG_GENERALIZED_TIME) ? parseTime(der, n) : null;
    if (!nextUpdate) return 'malformed nextUpdate';
    i++;
  }
  const unknownCriticalExtensions: string[] = [];
  if (isContext(kids[i], 1)) {
    const exts = readExtensionList(der, kids[i]!);
    if (!exts) return 'malformed singleExtensions';
    for (const ext of exts) if (ext.critical) unknownCriticalExtensions.push(ext.oid);
    i++;
  }
  if (i !== kids.length) return 'unexpected fields at the end of SingleResponse';
  return { certId, status, revokedAt, reason, thisUpdate, nextUpdate, unknownCriticalExtensions };
}

function readCertId(der: Buffer, t: Tlv): OcspCertId | null {
  const kids = isUniversal(t, TAG_SEQUENCE) ? tlvChildren(der, t, 5) : null;
  if (kids?.length !== 4) return null;
  const [alg, nameHash, keyHash, serial] = kids;
  const hashAlgorithm = isUniversal(alg, TAG_SEQUENCE) ? readOid(der, tlvChildren(der, alg, 2)?.[0]) : null;
  if (!hashAlgorithm || !isUniversal(nameHash, TAG_OCTET_STRING) || !isUniversal(keyHash, TAG_OCTET_STRING))
    return null;
  if (!isUniversal(serial, TAG_INTEGER) || serial.end === serial.valueStart) return null;
  return {
    hashAlgorithm,
    issuerNameHash: tlvValue(der, nameHash),
    issuerKeyHash: tlvValue(der, keyHash),
    serial: tlvValue(der, serial),
  };
}

export interface CheckOcspOptions {
  /** The DER OCSPResponse, or what parseOcspResponse made of it. */
  response: Buffer | ParsedOcspResponse;
  cert: Cert;
  issuer: Cert;
  /**
   * The nonce sent, or null. A response without any nonce is accepted unless `requireNonce`: RFC 5019 responders
   * (most public CAs) pre-sign their answers and never echo one, and thisUpdate/nextUpdate still bound a replay.
   * A different nonce is always an error.
   */
  nonce: Buffer | null;
  requireNonce?: boolean;
  now: Date;
  /** Allowed clock difference with the responder for thisUpdate, nextUpdate and a delegated responder's validity. */
  clockSkewMs: number;
}

/** Judges a response about `cert`: status, signer, nonce and freshness. Never throws. */
export function checkOcspResponse(o: CheckOcspOptions): OcspAnswer {
  try {
    return check(o);
  } catch (e) {
    return { status: 'error', why: `cannot check the response: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function check(o: CheckOcspOptions): OcspAnswer {
  const parsed = Buffer.isBuffer(o.response) ? parseOcspResponse(o.response) : o.response;
  if (typeof parsed === 'string') return fail(`malformed response: ${parsed}`);
  if (parsed.responseStatus !== 'successful' || !parsed.basic)
    return fail(`responder answered ${parsed.responseStatus}`);
  const basic = parsed.basic;
  if (basic.unknownCriticalExtensions.length > 0)
    return fail(`unknown critical response extension ${basic.unknownCriticalExtensions.join(', ')}`);

  const single = basic.responses.find((r) => certIdMatches(r.certId, o.cert, o.issuer));
  if (!single) return fail(`no answer for serial ${formatSerial(serialOf(o.cert))} of ${o.issuer.info.subject}`);
  if (single.unknownCriticalExtensions.length > 0)
    return fail(`unknown critical single extension ${single.unknownCriticalExtensions.join(', ')}`);

  const signer = findSigner(basic, o.issuer, o.now, o.clockSkewMs);
  if ('why' in signer) return fail(signer.why);

  if (o.nonce) {
    if (basic.nonce && !basic.nonce.equals(o.nonce))
      return fail('nonce differs from the one sent (a replayed answer?)');
    if (!basic.nonce && o.requireNonce) return fail('no nonce in the response, and one is required');
  }

  const skew = o.clockSkewMs;
  if (single.thisUpdate.getTime() > o.now.getTime() + skew)
    return fail(`thisUpdate ${single.thisUpdate.toISOString()} is in the future`);
  if (single.nextUpdate && single.nextUpdate.getTime() < o.now.getTime() - skew)
    return fail(`stale: nextUpdate ${single.nextUpdate.toISOString()} has passed`);

  const common = { thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate, responder: signer.subject };
  if (single.status === 'revoked')
    return { status: 'revoked', revokedAt: single.revokedAt!, reason: single.reason, ...common };
  return { status: single.status, ...common };
}

function fail(why: string): OcspAnswer {
  return { status: 'error', why };
}

function serialOf(cert: Cert): Buffer {
  return tlvValue(cert.der, splitCertificate(cert.der).serial);
}

function certIdMatches(id: OcspCertId, cert: Cert, issuer: Cert): boolean {
  const hash = CERT_ID_HASHES.get(id.hashAlgorithm);
  if (!hash || !id.serial.equals(serialOf(cert))) return false;
  const mine = certIdFor(cert, issuer, hash);
  return mine.issuerNameHash.equals(id.issuerNameHash) && mine.issuerKeyHash.equals(id.issuerKeyHash);
}

function subjectDerOf(cert: Cert): Buffer {
  const { subject } = splitCertificate(cert.der);
  return cert.der.subarray(subject.start, subject.end);
}

function responderIdMatches(id: OcspResponderId, cert: Cert): boolean {
  if ('byKey' in id) return createHash('sha1').update(publicKeyBits(cert)).digest().equals(id.byKey);
  return subjectDerOf(cert).equals(id.byName) || cert.info.subject === id.name;
}

function describeResponderId(id: OcspResponderId): string {
  return 'byKey' in id ? `key id ${id.byKey.toString('hex')}` : id.name;
}

/**
 * RFC 6960 §4.2.2.2: the signer is the issuer itself, or a certificate in `certs` that the issuer signed, with the
 * id-kp-OCSPSigning EKU, valid now. Gives the signer's subject, or why none qualifies.
 */
function findSigner(
  basic: BasicOcspResponse,
  issuer: Cert,
  now: Date,
  skewMs: number,
): { subject: string } | { why: string } {
  const verifies = (c: Cert): boolean =>
    verifySignedData(basic.tbsDer, basic.signatureAlgorithm, basic.signatureValue, c.x509.publicKey);
  if (responderIdMatches(basic.responderId, issuer)) {
    // A delegated responder may share the CA's name; then its own key decides below.
    if (verifies(issuer)) return { subject: issuer.info.subject };
  }
  const named = basic.certs.filter((c) => responderIdMatches(basic.responderId, c));
  if (named.length === 0) {
    const why = responderIdMatches(basic.responderId, issuer)
      ? `bad signature: ${issuer.info.subject}'s key does not verify the response`
      : `signed by ${describeResponderId(basic.responderId)}, neither the issuer ${issuer.info.subject} ` +
        'nor a delegated responder whose certificate the response carries';
    return { why };
  }
  let why = '';
  for (const c of named) {
    const who = `delegated responder ${c.info.subject}`;
    if (!signatureVerifies(c, issuer.x509.publicKey) || !subjectDerOf(issuer).equals(issuerDerOf(c)))
      why = `${who} is not issued by ${issuer.info.subject}`;
    else if (!(c.info.extendedKeyUsage ?? []).includes(OID_EKU_OCSP_SIGNING_NAME))
      why = `${who} lacks the OCSPSigning extended key usage`;
    else if (
      new Date(c.info.notBefore).getTime() > now.getTime() + skewMs ||
      new Date(c.info.notAfter).getTime() < now.getTime() - skewMs
    )
      why = `${who} is not valid now (${c.info.notBefore} to ${c.info.notAfter})`;
    else if (!verifies(c)) why = `bad signature: ${who}'s key does not verify the response`;
    else return { subject: c.info.subject };
  }
  return { why };
}

function issuerDerOf(cert: Cert): Buffer {
  const { issuer } = splitCertificate(cert.der);
  return cert.der.subarray(issuer.start, issuer.end);
}
