/**
 * One CRL (RFC 5280 §5), built in-process and signed with node:crypto as generate-cert.ts signs certificates. The
 * DER is written by hand rather than through @peculiar/asn1-x509's CertificateList: its serializer builds an object
 * per field, and 100,000-entry CRLs (tests, the benchmark) must take well under a second to build.
 */
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { AsnSerializer } from '@peculiar/asn1-schema';
import { parseCert, splitCertificate } from './cert.js';
import { CRL_REASONS, EXT_CRL_NUMBER, EXT_REASON_CODE, crlReasonCode } from './crl.js';
import { TAG_BIT_STRING, TAG_SEQUENCE, readTlv, tlvChildren } from './der.js';
import { derOid, derTime, derTlv, derTlvOf } from './der-write.js';
import { signatureAlgorithm } from './generate-cert.js';
import type { Hash, Issued } from './generate-cert.js';
import { EXT_AUTHORITY_KEY_ID } from './oids.js';
import { toPem } from './pem.js';

export interface RevokedSpec {
  /** Hex, with or without colons ("0a1b", "0a:1b", CertInfo.serial's form). */
  serial: string;
  revokedAt: Date;
  /** A CRLReason name (keyCompromise, superseded, ...); omitted: no reasonCode entry extension. */
  reason?: string;
}

export interface ExtraExtension {
  oid: string;
  critical: boolean;
  /** The DER that goes inside extnValue's OCTET STRING. */
  value: Buffer;
}

export interface CrlSpec {
  /** The CA that signs the CRL: its subject becomes the CRL's issuer, its key signs. */
  issuer: Issued;
  revoked: RevokedSpec[];
  /** Default now. CRLs carry whole seconds. */
  thisUpdate?: Date;
  /** Default thisUpdate + 7 days; null = no nextUpdate field. */
  nextUpdate?: Date | null;
  /** Default 1. */
  crlNumber?: bigint;
  /** Signature digest, default sha256; ignored for an Ed25519 issuer key. */
  hash?: Hash;
  /** Appended to the CRL extensions (tests: an unknown critical extension). */
  extraExtensions?: ExtraExtension[];
}

export interface MadeCrl {
  der: Buffer;
  pem: string;
}

const DAY = 86_400_000;

/** A v2 CRL with authority key identifier and CRL number. Throws on a bad serial or reason name. */
export function makeCrl(spec: CrlSpec): MadeCrl {
  const signer = createPrivateKey(spec.issuer.keyPem);
  const algorithm = signatureAlgorithm(signer, spec.hash ?? 'sha256');
  const algorithmDer = Buffer.from(AsnSerializer.serialize(algorithm.id));
  const { subject } = splitCertificate(spec.issuer.der);
  const thisUpdate = spec.thisUpdate ?? new Date();
  const nextUpdate = spec.nextUpdate === undefined ? new Date(thisUpdate.getTime() + 7 * DAY) : spec.nextUpdate;

  const fields = [
    derTlv(0x02, Buffer.from([1])), // v2
    algorithmDer,
    spec.issuer.der.subarray(subject.start, subject.end),
    derTime(thisUpdate),
  ];
  if (nextUpdate) fields.push(derTime(nextUpdate));
  if (spec.revoked.length > 0) fields.push(derTlvOf(0x30, spec.revoked.map(revokedEntry)));
  const extensions = [
    extension(EXT_AUTHORITY_KEY_ID, false, derTlv(0x30, derTlv(0x80, authorityKeyId(spec.issuer)))),
    extension(EXT_CRL_NUMBER, false, integer(unsigned(spec.crlNumber ?? 1n))),
    ...(spec.extraExtensions ?? []).map((e) => extension(e.oid, e.critical, e.value)),
  ];
  fields.push(derTlv(0xa0, derTlv(0x30, ...extensions)));
  const tbs = derTlv(0x30, ...fields);
  const signature = sign(algorithm.digest, tbs, signer);
  const crl = derTlv(0x30, tbs, algorithmDer, derTlv(TAG_BIT_STRING, Buffer.from([0]), signature));
  return { der: crl, pem: toPem('X509 CRL', crl) };
}

function revokedEntry(r: RevokedSpec): Buffer {
  const serial = integer(unsigned(serialValue(r.serial)));
  if (r.reason === undefined) return derTlv(0x30, serial, derTime(r.revokedAt));
  const code = crlReasonCode(r.reason);
  if (code === null)
    throw new Error(`unknown revocation reason "${r.reason}"; choose one of: ${[...CRL_REASONS.values()].join(', ')}`);
  const reason = extension(EXT_REASON_CODE, false, derTlv(0x0a, Buffer.from([code])));
  return derTlv(0x30, serial, derTime(r.revokedAt), derTlv(0x30, reason));
}

function serialValue(hex: string): bigint {
  const clean = hex.replace(/[:\s]/g, '').replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]+$/.test(clean)) throw new Error(`serial must be hex, got ${JSON.stringify(hex)}`);
  return BigInt(`0x${clean}`);
}

/** RFC 5280 §4.2.1.1: the issuer's subject key id, or (as OpenSSL computes one) SHA-1 of its public key bits. */
function authorityKeyId(issuer: Issued): Buffer {
  const ski = parseCert(issuer.der).info.subjectKeyId;
  if (ski !== null) return Buffer.from(ski, 'hex');
  const spki = createPublicKey(issuer.keyPem).export({ type: 'spki', format: 'der' });
  const outer = readTlv(spki, 0);
  const bits = outer ? tlvChildren(spki, outer, 2)?.[1] : undefined;
  if (!bits || outer?.tag !== TAG_SEQUENCE) throw new Error('cannot read the issuer public key');
  return createHash('sha1')
    .update(spki.subarray(bits.valueStart + 1, bits.end))
    .digest();
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  const parts = [derOid(oid)];
  if (critical) parts.push(derTlv(0x01, Buffer.from([0xff])));
  parts.push(derTlv(0x04, value));
  return derTlv(0x30, ...parts);
}

/** The content octets of a non-negative INTEGER: minimal, with a 0x00 in front when the top bit is set. */
function unsigned(n: bigint): Buffer {
  if (n < 0n) throw new Error('a CRL number or serial cannot be negative');
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

function integer(content: Buffer): Buffer {
  return derTlv(0x02, content);
}
