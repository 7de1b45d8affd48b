/**
 * One certificate, built in-process: the TBSCertificate is assembled with @peculiar/asn1-x509 and signed
 * with node:crypto.sign. We do not use @peculiar/x509's generator because WebCrypto binds the hash to an
 * RSA key at import time and rejects what tests need on purpose (SHA-1 under a SHA-256 CA key, RSA-1024,
 * absent extensions); node:crypto signs anything OpenSSL can.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { AsnParser, AsnSerializer, OctetString } from '@peculiar/asn1-schema';
import {
  AccessDescription,
  AlgorithmIdentifier,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ad_ocsp,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_pe_authorityInfoAccess,
} from '@peculiar/asn1-x509';
import { formatName, parseSubject, toAsn1Name } from './generate-name.js';
import { derOid, derSequence, derTlv } from './der-write.js';

export type KeySpec =
  { type: 'rsa'; bits: number } | { type: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' } | { type: 'ed25519' };
export type Hash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * Extension defaults by role. Without `profile`: `ca: true` means 'root-ca' (no issuer) or 'intermediate-ca',
 * anything else means 'client'. Spec fields (ca, pathLength, keyUsage, extKeyUsage, sans) override the profile.
 *   root-ca, intermediate-ca: CA:TRUE (critical), KU keyCertSign+cRLSign (critical), no EKU
 *   server: CA:FALSE, KU digitalSignature (+keyEncipherment for RSA keys), EKU serverAuth, SAN DNS:<CN> (or IP:)
 *   client: CA:FALSE, KU digitalSignature, EKU clientAuth
 */
export type Profile = 'root-ca' | 'intermediate-ca' | 'server' | 'client';

export interface IssueSpec {
  /** A bare CN ("client") or an RFC 4514 DN ("CN=client,O=Example,C=US"); see escapeDnValue for odd characters. */
  subject: string;
  /** Omitted: self-signed. */
  issuer?: Issued;
  profile?: Profile;
  /** Default { type: 'ec', curve: 'P-256' }. Ignored with publicKeyFrom. */
  key?: KeySpec;
  /** Signature digest, default sha256; ignored when the signer's key is Ed25519. */
  hash?: Hash;
  /** Default now - 1 hour. Certificates carry whole seconds. */
  notBefore?: Date;
  /** Default notBefore + 365 days. */
  notAfter?: Date;
  /** Hex ("01ab" or "01:ab"); default 16 random bytes, positive. */
  serial?: string;
  /** basicConstraints cA; null = no basicConstraints extension at all. */
  ca?: boolean | null;
  /** pathLenConstraint; written whenever basicConstraints is (meaningful only with ca: true). */
  pathLength?: number;
  /**
   * digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign,
   * encipherOnly, decipherOnly; null = omit.
   */
  keyUsage?: string[] | null;
  /**
   * serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning, anyExtendedKeyUsage or dotted
   * OIDs; null = omit.
   */
  extKeyUsage?: string[] | null;
  /** "DNS:x", "IP:1.2.3.4", "email:a@b", "URI:spiffe://x"; empty = no SAN extension. */
  sans?: string[];
  /** OCSP responder URLs: an authority information access extension with one id-ad-ocsp entry each. */
  ocspUrls?: string[];
  /** CRL URLs: a CRL distribution points extension with one distribution point (fullName URI) each. */
  crlUrls?: string[];
  /** Reuse another certificate's key pair (for "same subject, other content" cases, and to skip key generation). */
  publicKeyFrom?: Issued;
  /** A nameConstraints extension (RFC 5280 4.2.1.10), critical unless `critical: false`. */
  nameConstraints?: NameConstraintsSpec;
}

/**
 * Subtrees as `TYPE:value`: `DNS:.example.com`, `email:example.com`, `URI:.example.com`, `DirName:O=Example,C=US`,
 * `RID:1.2.3`, `IP:10.0.0.0/8` (a prefix length or a dotted / colon mask) or `IP:hex:0a000001ff` for raw bytes of
 * any length (malformed constraints, on purpose). An object adds minimum / maximum, which OpenSSL refuses.
 */
export type SubtreeSpec = string | { base: string; minimum?: number; maximum?: number };

export interface NameConstraintsSpec {
  permitted?: SubtreeSpec[];
  excluded?: SubtreeSpec[];
  critical?: boolean;
}

export interface Issued {
  /** One PEM block. */
  certPem: string;
  /** Unencrypted PKCS#8 PEM. */
  keyPem: string;
  der: Buffer;
  x509: X509Certificate;
  /** This certificate followed by its issuers' up to and including the self-signed root. */
  chainPem: string;
  /** RFC 4514, most specific first. */
  subject: string;
}

const DEFAULT_KEY: KeySpec = { type: 'ec', curve: 'P-256' };
const HOUR = 3600_000;
const DAY = 24 * HOUR;

const generateKeyPairAsync = promisify(generateKeyPair);

export async function generateKey(spec: KeySpec): Promise<KeyObject> {
  // generateKeyPair runs on the libuv pool, so RSA keys for independent certificates generate in parallel.
  const pair =
    spec.type === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: spec.bits, publicExponent: 0x10001 })
      : spec.type === 'ec'
        ? await generateKeyPairAsync('ec', { namedCurve: spec.curve })
        : await generateKeyPairAsync('ed25519', {});
  return pair.privateKey;
}

export async function issue(spec: IssueSpec): Promise<Issued> {
  const privateKey = spec.publicKeyFrom
    ? createPrivateKey(spec.publicKeyFrom.keyPem)
    : await generateKey(spec.key ?? DEFAULT_KEY);
  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const spki = AsnParser.parse(spkiDer, SubjectPublicKeyInfo);
  const subjectAttrs = parseSubject(spec.subject);
  const subjectName = toAsn1Name(subjectAttrs);
  const cn = subjectAttrs.find((a) => a.oid === '2.5.4.3')?.value ?? '';

  const issuerCert = spec.issuer ? AsnParser.parse(spec.issuer.der, Certificate) : null;
  const signer = spec.issuer ? createPrivateKey(spec.issuer.keyPem) : privateKey;
  const algorithm = signatureAlgorithm(signer, spec.hash ?? 'sha256');
  const ski = keyId(spki);
  const aki = issuerCert ? (subjectKeyIdOf(issuerCert) ?? keyId(issuerCert.tbsCertificate.subjectPublicKeyInfo)) : ski;

  const notBefore = spec.notBefore ?? new Date(Date.now() - HOUR);
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + 365 * DAY);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(spec.serial),
    signature: algorithm.id,
    issuer: issuerCert ? issuerCert.tbsCertificate.subject : subjectName,
    validity: new Validity({ notBefore, notAfter }),
    subject: subjectName,
    subjectPublicKeyInfo: spki,
  });
  const exts = extensions(spec, privateKey.asymmetricKeyType ?? '', cn, ski, aki);
  if (exts.length > 0) tbs.extensions = new Extensions(exts);

  const signature = sign(algorithm.digest, Buffer.from(AsnSerializer.serialize(tbs)), signer);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm.id,
    signatureValue: toArrayBuffer(signature),
  });
  const der = Buffer.from(AsnSerializer.serialize(cert));
  const keyPem = spec.publicKeyFrom
    ? spec.publicKeyFrom.keyPem
    : String(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return issuedFrom(der, keyPem, spec.issuer?.chainPem ?? '');
}

/**
 * Wraps DER we made, or read back from disk, as an Issued; `issuerChainPem` is the issuer's chainPem ('' for a root).
 */
export function issuedFrom(der: Buffer, keyPem: string, issuerChainPem: string): Issued {
  const certPem = toPem(der);
  const parsed = AsnParser.parse(der, Certificate);
  return {
    certPem,
    keyPem,
    der,
    x509: new X509Certificate(der),
    chainPem: certPem + issuerChainPem,
    subject: formatName(parsed.tbsCertificate.subject),
  };
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * The signature algorithm follows the signer's key; parameters are NULL for RSA and absent for ECDSA/EdDSA (RFC 5758,
 * 8410).
 */
export function signatureAlgorithm(signer: KeyObject, hash: Hash): { id: AlgorithmIdentifier; digest: string | null } {
  const type = signer.asymmetricKeyType;
  if (type === 'rsa') {
    const oid = {
      sha1: '1.2.840.113549.1.1.5',
      sha256: '1.2.840.113549.1.1.11',
      sha384: '1.2.840.113549.1.1.12',
      sha512: '1.2.840.113549.1.1.13',
    }[hash];
    return { id: new AlgorithmIdentifier({ algorithm: oid, parameters: null }), digest: hash };
  }
  if (type === 'ec') {
    const oid = {
      sha1: '1.2.840.10045.4.1',
      sha256: '1.2.840.10045.4.3.2',
      sha384: '1.2.840.10045.4.3.3',
      sha512: '1.2.840.10045.4.3.4',
    }[hash];
    return { id: new AlgorithmIdentifier({ algorithm: oid }), digest: hash };
  }
  if (type === 'ed25519') return { id: new AlgorithmIdentifier({ algorithm: '1.3.101.112' }), digest: null };
  throw new Error(`cannot sign certificates with a ${type ?? 'unknown'} key`);
}

/** Positive INTEGER in minimal DER: leading zero bytes dropped, one 0x00 added when the top bit is set. */
function serialNumber(hex: string | undefined): ArrayBuffer {
  let bytes: Buffer;
  if (hex === undefined) {
    bytes = randomBytes(16);
    bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, and exactly 16 bytes long
  } else {
    const clean = hex.replace(/[:\s]/g, '').replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]+$/.test(clean)) throw new Error(`serial must be hex, got ${JSON.stringify(hex)}`);
    bytes = Buffer.from(clean.length % 2 ? `0${clean}` : clean, 'hex');
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    bytes = bytes.subarray(start);
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return toArrayBuffer(bytes);
}

interface ExtensionChoices {
  ca: boolean | null;
  pathLength: number | undefined;
  keyUsage: string[] | null;
  extKeyUsage: string[] | null;
  sans: string[];
}

function profileDefaults(profile: Profile, keyType: string, cn: string): ExtensionChoices {
  switch (profile) {
    case 'root-ca':
    case 'intermediate-ca':
      return { ca: true, pathLength: undefined, keyUsage: ['keyCertSign', 'cRLSign'], extKeyUsage: null, sans: [] };
    case 'server': {
      // keyEncipherment only means something for RSA (TLS 1.2 RSA key exchange).
      const keyUsage = keyType === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
      const sans = isIP(cn) ? [`IP:${cn}`] : /^[A-Za-z0-9*.-]+$/.test(cn) ? [`DNS:${cn}`] : [];
      return { ca: false, pathLength: undefined, keyUsage, extKeyUsage: ['serverAuth'], sans };
    }
    case 'client':
      return {
        ca: false,
        pathLength: undefined,
        keyUsage: ['digitalSignature'],
        extKeyUsage: ['clientAuth'],
        sans: [],
      };
  }
}

function extensions(spec: IssueSpec, keyType: string, cn: string, ski: Buffer, aki: Buffer): Extension[] {
  const profile = spec.profile ?? (spec.ca === true ? (spec.issuer ? 'intermediate-ca' : 'root-ca') : 'client');
  const d = profileDefaults(profile, keyType, cn);
  const ca = spec.ca === undefined ? d.ca : spec.ca;
  const keyUsage = spec.keyUsage === undefined ? d.keyUsage : spec.keyUsage;
  const extKeyUsage = spec.extKeyUsage === undefined ? d.extKeyUsage : spec.extKeyUsage;
  const sans = spec.sans ?? d.sans;
  const pathLength = spec.pathLength ?? d.pathLength;

  const out: Extension[] = [];
  if (ca !== null) {
    // Critical on CAs as RFC 5280 4.2.1.9 requires; OpenSSL marks it critical on leaves too, so do we.
    out.push(extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: ca, pathLenConstraint: pathLength })));
  }
  if (keyUsage !== null) out.push(extension(id_ce_keyUsage, true, new KeyUsage(keyUsageFlags(keyUsage))));
  if (extKeyUsage !== null)
    out.push(extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage(extKeyUsage.map(ekuOid))));
  if (sans.length > 0)
    out.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName(sans.map(generalName))));
  out.push(extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(ski))));
  out.push(
    extension(
      id_ce_authorityKeyIdentifier,
      false,
      new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(aki)) }),
    ),
  );
  if (spec.nameConstraints) {
    const nc = spec.nameConstraints;
    out.push(
      new Extension({
        extnID: '2.5.29.30',
        critical: nc.critical ?? true,
        extnValue: new OctetString(toArrayBuffer(nameConstraintsDer(nc))),
      }),
    );
  }
  if (spec.crlUrls?.length) {
    const points = spec.crlUrls.map(
      (uri) =>
        new DistributionPoint({
          distributionPoint: new DistributionPointName({
            fullName: [new GeneralName({ uniformResourceIdentifier: uri })],
          }),
        }),
    );
    out.push(extension(id_ce_cRLDistributionPoints, false, new CRLDistributionPoints(points)));
  }
  if (spec.ocspUrls?.length) {
    const access = spec.ocspUrls.map(
      (uri) =>
        new AccessDescription({
          accessMethod: id_ad_ocsp,
          accessLocation: new GeneralName({ uniformResourceIdentifier: uri }),
        }),
    );
    out.push(extension(id_pe_authorityInfoAccess, false, new AuthorityInfoAccessSyntax(access)));
  }
  return out;
}

function extension(oid: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(AsnSerializer.serialize(value)) });
}

function keyUsageFlags(names: string[]): number {
  const alias: Record<string, keyof typeof KeyUsageFlags> = { crlSign: 'cRLSign', contentCommitment: 'nonRepudiation' };
  return names.reduce((flags, name) => {
    const key = alias[name] ?? name;
    const bit = (KeyUsageFlags as unknown as Record<string, number | undefined>)[key];
    if (typeof bit !== 'number') throw new Error(`unknown key usage "${name}"`);
    return flags | bit;
  }, 0);
}

const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: '2.5.29.37.0',
};

function ekuOid(name: string): string {
  const oid = EKU_OIDS[name] ?? (/^\d+(\.\d+)+$/.test(name) ? name : undefined);
  if (oid === undefined) throw new Error(`unknown extended key usage "${name}"`);
  return oid;
}

function generalName(san: string): GeneralName {
  const colon = san.indexOf(':');
  const kind = san.slice(0, colon).toUpperCase();
  const value = san.slice(colon + 1);
  if (colon > 0 && kind === 'DNS') return new GeneralName({ dNSName: value });
  if (colon > 0 && kind === 'IP' && isIP(value)) return new GeneralName({ iPAddress: value });
  if (colon > 0 && kind === 'EMAIL') return new GeneralName({ rfc822Name: value });
  if (colon > 0 && kind === 'URI') return new GeneralName({ uniformResourceIdentifier: value });
  if (colon > 0 && kind === 'RID') return new GeneralName({ registeredID: value });
  throw new Error(`bad subject alternative name "${san}" (want DNS:, IP:, email:, URI: or RID:)`);
}

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] ... } */
function nameConstraintsDer(nc: NameConstraintsSpec): Buffer {
  const subtrees = (n: number, list: SubtreeSpec[] | undefined): Buffer[] =>
    list === undefined ? [] : [derTlv(0xa0 | n, ...list.map(generalSubtree))];
  return derSequence(...subtrees(0, nc.permitted), ...subtrees(1, nc.excluded));
}

/** GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] INTEGER OPTIONAL, maximum [1] INTEGER OPTIONAL } */
function generalSubtree(spec: SubtreeSpec): Buffer {
  const { base, minimum, maximum } = typeof spec === 'string' ? { base: spec } : spec;
  const int = (tag: number, v: number | undefined): Buffer[] =>
    v === undefined ? [] : [derTlv(tag, smallIntBytes(v))];
  return derSequence(constraintBase(base), ...int(0x80, minimum), ...int(0x81, maximum));
}

function smallIntBytes(v: number): Buffer {
  const bytes: number[] = [];
  for (let n = v; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return Buffer.from(bytes);
}

function constraintBase(base: string): Buffer {
  const colon = base.indexOf(':');
  const kind = base.slice(0, colon).toUpperCase();
  const value = base.slice(colon + 1);
  const ia5 = (tag: number): Buffer => derTlv(0x80 | tag, Buffer.from(value, 'latin1'));
  if (colon <= 0) throw new Error(`bad name constraint "${base}"`);
  if (kind === 'DNS') return ia5(2);
  if (kind === 'EMAIL') return ia5(1);
  if (kind === 'URI') return ia5(6);
  if (kind === 'IP') return derTlv(0x87, ipConstraintBytes(value));
  if (kind === 'RID') return Buffer.concat([Buffer.from([0x88]), derOid(value).subarray(1)]);
  if (kind === 'DIRNAME') return derTlv(0xa4, Buffer.from(AsnSerializer.serialize(toAsn1Name(parseSubject(value)))));
  throw new Error(`bad name constraint "${base}" (want DNS:, email:, URI:, IP:, DirName: or RID:)`);
}

/** address + mask: `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `2001:db8::/32`; `hex:...` is taken as raw bytes. */
function ipConstraintBytes(value: string): Buffer {
  if (value.startsWith('hex:')) return Buffer.from(value.slice(4), 'hex');
  const [addr = '', mask = ''] = value.split('/');
  const a = ipBytes(addr);
  if (/^\d+$/.test(mask)) {
    const bits = Number(mask);
    const m = Buffer.alloc(a.length);
    for (let i = 0; i < bits; i++) m[i >> 3]! |= 0x80 >> (i & 7);
    return Buffer.concat([a, m]);
  }
  return Buffer.concat([a, ipBytes(mask)]);
}

function ipBytes(ip: string): Buffer {
  const kind = isIP(ip);
  if (kind === 4) return Buffer.from(ip.split('.').map(Number));
  if (kind !== 6) throw new Error(`not an IP address: "${ip}"`);
  const [head = '', tail] = ip.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5280 4.2.1.2 method 1 (what OpenSSL does): SHA-1 of the subjectPublicKey bits. */
function keyId(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
}

function subjectKeyIdOf(cert: Certificate): Buffer | null {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  return ext ? Buffer.from(AsnParser.parse(ext.extnValue, SubjectKeyIdentifier).buffer) : null;
}

export function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
