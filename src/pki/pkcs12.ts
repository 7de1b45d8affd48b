/**
 * PKCS#12 (.p12/.pfx). pkijs reads the structure (it copes with the BER indefinite lengths Java and NSS write);
 * the MAC check and decryption are done synchronously with node:crypto, so loading stays synchronous and
 * decrypts exactly what OpenSSL 3 can. Finally Node's own loader (`tls.createSecureContext({ pfx })`, what the
 * gateway and curl-equivalents use) is asked too, and its verdict is reported.
 */
import {
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  hash as oneShotHash,
  pbkdf2Sync,
  timingSafeEqual,
} from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { asn1Libs } from './asn1-libs.js';
import type { Cert, LoadProblem, Pkcs12Info, PrivateKey } from './types.js';
import { parseCert } from './cert.js';
import { HASH_ALGORITHMS, OID_PKCS7_DATA, OID_PKCS7_ENCRYPTED_DATA, PBES2_CIPHERS } from './oids.js';
import { MAX_KDF_ITERATIONS, classifyKeyError, pbeIterations, privateKeyFrom } from './key.js';
import {
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
  isUniversal,
  readOid,
  readSmallInt,
  readTlv,
  tlvChildren,
  tlvValue,
} from './der.js';
import type { Tlv } from './der.js';

export interface Pkcs12Result {
  certs: Cert[];
  keys: PrivateKey[];
  keyBlocks: number;
  problems: LoadProblem[];
  info: Pkcs12Info;
}

const BAG_KEY = '1.2.840.113549.1.12.10.1.1';
const BAG_SHROUDED_KEY = '1.2.840.113549.1.12.10.1.2';
const BAG_CERT = '1.2.840.113549.1.12.10.1.3';
const BAG_SAFE_CONTENTS = '1.2.840.113549.1.12.10.1.6';
const CERT_X509 = '1.2.840.113549.1.9.22.1';

export function parsePkcs12(der: Buffer, passphrase?: string): Pkcs12Result {
  const out: Pkcs12Result = {
    certs: [],
    keys: [],
    keyBlocks: 0,
    problems: [],
    info: {
      macAlgorithm: null,
      encryptionAlgorithms: [],
      nodeLoads: false,
      nodeError: null,
      legacyUnreadableParts: 0,
      kdfIterations: 0,
    },
  };
  let affordable = true;
  try {
    affordable = readPfx(der, passphrase, out);
  } catch (e) {
    out.problems.push({ kind: 'pkcs12-parse-error', message: `not a readable PKCS#12 file (${errorText(e)})` });
  }
  // Node's loader would spend the same iterations, so it is only asked when they are affordable.
  const node = affordable
    ? nodeVerdict(der, passphrase)
    : `not tried: more than ${MAX_KDF_ITERATIONS} key derivation iterations`;
  out.info.nodeLoads = node === null;
  out.info.nodeError = node;
  out.info.encryptionAlgorithms = unique(out.info.encryptionAlgorithms);
  const legacy = out.info.encryptionAlgorithms.filter((a) => a.startsWith('pbeWithSHA'));
  if (legacy.length > 0 && (!out.info.nodeLoads || out.info.legacyUnreadableParts > 0)) {
    const parts = out.info.legacyUnreadableParts;
    const unread = parts ? `; ${parts} encrypted part${parts > 1 ? 's' : ''} could not be read here either` : '';
    out.problems.push({
      kind: 'pkcs12-legacy-encryption',
      message:
        `encrypted with ${legacy.join(' and ')}, which Node 17+ and curl on OpenSSL 3 cannot load without ` +
        `the legacy provider${unread}; re-export it with \`openssl pkcs12 -export\` (AES-256)`,
    });
  } else if (node !== null && out.problems.length === 0) {
    out.problems.push({ kind: 'pkcs12-parse-error', message: `node's tls cannot load it: ${node}` });
  }
  return out;
}

/** Reads what the password opens; false when an iteration count was too high to try (a hostile file). */
function readPfx(der: Buffer, passphrase: string | undefined, out: Pkcs12Result): boolean {
  const { pkijs } = asn1Libs();
  const root = fromBer(der);
  const macIterationsRaw = macIterations(root);
  const pfx = new pkijs.PFX({ schema: root });
  if (pfx.authSafe.contentType !== OID_PKCS7_DATA) {
    throw new Error('public-key integrity mode (signed authSafe) is not supported');
  }
  const authSafe = Buffer.from((pfx.authSafe.content as Asn1js.OctetString).getValue());
  const password = passphrase ?? '';
  const cost: KdfCost = { spent: 0, exhausted: false };
  if (pfx.macData) {
    const iterations = macIterationsRaw;
    if (!afford(out, cost, 'the integrity mac', iterations)) return false;
    const mac = checkMac(pfx.macData, iterations, authSafe, password);
    out.info.macAlgorithm = mac.algorithm;
    if (mac.ok === false) {
      out.problems.push(
        passphrase === undefined
          ? { kind: 'passphrase-required', message: 'the PKCS#12 file is password protected and no password was given' }
          : { kind: 'pkcs12-wrong-passphrase', message: 'mac verify failure: the password is wrong' },
      );
      return true;
    }
    if (mac.ok === null)
      out.problems.push({ kind: 'pkcs12-parse-error', message: `cannot check the integrity mac (${mac.algorithm})` });
  }
  let affordable = true;
  const contents = pkijs.AuthenticatedSafe.fromBER(toArrayBuffer(authSafe)).safeContents;
  contents.forEach((ci, i) => {
    if (ci.contentType === OID_PKCS7_DATA) {
      affordable =
        readBags(Buffer.from((ci.content as Asn1js.OctetString).getValue()), password, out, 0, cost) && affordable;
    } else if (ci.contentType === OID_PKCS7_ENCRYPTED_DATA) {
      const enc = new pkijs.EncryptedData({ schema: ci.content }).encryptedContentInfo;
      const alg = ber(enc.contentEncryptionAlgorithm);
      out.info.encryptionAlgorithms.push(algorithmName(alg));
      if (!afford(out, cost, `encrypted part ${i}`, pbeIterations(alg))) {
        affordable = false;
        return;
      }
      const data = Buffer.from(enc.getEncryptedContent());
      const plain = pbeDecrypt(alg, data, password);
      if (plain === LEGACY_ONLY) out.info.legacyUnreadableParts++;
      else if (typeof plain === 'string') {
        out.problems.push({
          kind: 'pkcs12-parse-error',
          index: i,
          message: `encrypted part ${i} unreadable: ${plain}`,
        });
      } else affordable = readBags(plain, password, out, 0, cost) && affordable;
    } else {
      out.problems.push({
        kind: 'pkcs12-parse-error',
        index: i,
        message: `part ${i} has unsupported content type ${ci.contentType}`,
      });
    }
  });
  return affordable;
}

interface KdfCost {
  /** Iterations of every key derivation so far. */
  spent: number;
  /** One was refused: the rest are skipped without another problem. */
  exhausted: boolean;
}

/**
 * MAX_KDF_ITERATIONS is what a whole file may ask for, the MAC and every encrypted part together (real files ask
 * for a few thousand). Capping each derivation alone let a 200-byte file of parts at 1,000,000 iterations each
 * run for as long as it had parts: our PKCS#12 KDF hashes in JavaScript, seconds per part.
 */
const MAX_KDF_TOTAL = MAX_KDF_ITERATIONS;

/** Whether a derivation of `iterations` may run; the first that may not is reported, later ones skipped. */
function afford(out: Pkcs12Result, cost: KdfCost, what: string, iterations: number): boolean {
  if (cost.exhausted) return false;
  cost.spent += iterations;
  if (iterations <= MAX_KDF_ITERATIONS && cost.spent <= MAX_KDF_TOTAL) {
    out.info.kdfIterations = cost.spent;
    return true;
  }
  cost.exhausted = true;
  const why =
    iterations > MAX_KDF_ITERATIONS
      ? `over ${MAX_KDF_ITERATIONS}`
      : `${cost.spent} in all, over the ${MAX_KDF_TOTAL} a file may use`;
  out.problems.push({
    kind: 'pkcs12-parse-error',
    message: `${what} asks for ${iterations} key derivation iterations (${why}); not tried`,
  });
  return false;
}

function readBags(safeContents: Buffer, password: string, out: Pkcs12Result, depth: number, cost: KdfCost): boolean {
  const { pkijs } = asn1Libs();
  let affordable = true;
  for (const bag of pkijs.SafeContents.fromBER(toArrayBuffer(safeContents)).safeBags) {
    switch (bag.bagId) {
      case BAG_CERT:
        readCertBag(bag.bagValue as Pkijs.CertBag, out);
        break;
      case BAG_KEY:
        out.keyBlocks++;
        addKey(ber(bag.bagValue), false, undefined, out);
        break;
      case BAG_SHROUDED_KEY: {
        out.keyBlocks++;
        const alg = ber((bag.bagValue as Pkijs.PKCS8ShroudedKeyBag).encryptionAlgorithm);
        out.info.encryptionAlgorithms.push(algorithmName(alg));
        if (afford(out, cost, 'a key bag', pbeIterations(alg))) addKey(ber(bag.bagValue), true, password, out);
        else affordable = false;
        break;
      }
      case BAG_SAFE_CONTENTS:
        if (depth < 4) affordable = readBags(ber(bag.bagValue), password, out, depth + 1, cost) && affordable;
        break;
      default:
        break; // CRL and secret bags carry nothing we use
    }
  }
  return affordable;
}

function readCertBag(bag: Pkijs.CertBag, out: Pkcs12Result): void {
  const { asn1js } = asn1Libs();
  if (bag.certId !== CERT_X509) return;
  const value = bag.certValue instanceof asn1js.OctetString ? Buffer.from(bag.certValue.getValue()) : null;
  try {
    if (!value) throw new Error('certificate bag without a DER certificate');
    out.certs.push(parseCert(value));
  } catch (e) {
    out.problems.push({
      kind: 'cert-parse-error',
      index: out.certs.length,
      message: `certificate bag: ${errorText(e)}`,
    });
  }
}

function addKey(der: Buffer, encrypted: boolean, password: string | undefined, out: Pkcs12Result): void {
  try {
    const keyObject = createPrivateKey({
      key: der,
      format: 'der',
      type: 'pkcs8',
      ...(encrypted ? { passphrase: password ?? '' } : {}),
    });
    out.keys.push(privateKeyFrom(keyObject, 'pkcs12', encrypted));
  } catch (e) {
    const legacy = encrypted && readOid(der, algOidTlv(der))?.startsWith(PKCS12_LEGACY_PREFIX);
    const p = classifyKeyError(e, encrypted, true);
    // The MAC already proved the password, so a failure here is the algorithm, not the password.
    if (legacy || p.kind === 'wrong-passphrase')
      out.problems.push({ kind: 'key-parse-error', message: `key bag unreadable: ${errorText(e)}` });
    else out.problems.push(p);
  }
}

/** RFC 7292 MAC: HMAC keyed by the PKCS#12 KDF (id 3) over the authSafe octets. OpenSSL also tries NULL for "". */
function checkMac(
  macData: Pkijs.MacData,
  iterations: number,
  authSafe: Buffer,
  password: string,
): { ok: boolean | null; algorithm: string } {
  const oid = macData.mac.digestAlgorithm.algorithmId;
  const hash = HASH_ALGORITHMS.get(oid);
  if (!hash) return { ok: null, algorithm: oid };
  const salt = Buffer.from(macData.macSalt.getValue());
  const expected = Buffer.from(macData.mac.digest.getValue());
  const candidates = password === '' ? [password, null] : [password];
  for (const pw of candidates) {
    const key = pkcs12Kdf(hash, pw, salt, 3, iterations, createHash(hash).digest().length);
    const got = createHmac(hash, key).update(authSafe).digest();
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true, algorithm: hash };
  }
  return { ok: false, algorithm: hash };
}

function nodeVerdict(der: Buffer, passphrase: string | undefined): string | null {
  try {
    createSecureContext({ pfx: der, ...(passphrase === undefined ? {} : { passphrase }) });
    return null;
  } catch (e) {
    return errorText(e);
  }
}

function algOidTlv(der: Buffer): ReturnType<typeof readTlv> {
  const outer = readTlv(der, 0);
  const alg = outer && tlvChildren(der, outer, 1)?.[0];
  return alg ? (tlvChildren(der, alg, 1)?.[0] ?? null) : null;
}

function fromBer(der: Buffer): Asn1js.AsnType {
  const { asn1js } = asn1Libs();
  const parsed = asn1js.fromBER(toArrayBuffer(der));
  if (parsed.offset === -1) throw new Error(parsed.result.error || 'bad BER');
  return parsed.result;
}

function ber(obj: { toSchema(): { toBER(sizeOnly?: boolean): ArrayBuffer } }): Buffer {
  return Buffer.from(obj.toSchema().toBER(false));
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split(/\r?\n/)[0]!.trim();
  return line.includes('::') ? line.slice(line.lastIndexOf('::') + 2) : line;
}

// ---- Password-based decryption (RFC 7292 appendix B and C, RFC 8018 PBES2) ----

const PKCS12_LEGACY_PREFIX = '1.2.840.113549.1.12.1.';
const PBES2 = '1.2.840.113549.1.5.13';
/** pbeDecrypt's answer when only OpenSSL's legacy provider has the cipher (RC2, RC4). */
const LEGACY_ONLY = 'needs the legacy provider';
const PBKDF2 = '1.2.840.113549.1.5.12';

/** pbeWithSHAAnd* schemes: Node cipher, key and IV length. RC2 and RC4 live in OpenSSL 3's legacy provider. */
const PKCS12_PBE: ReadonlyMap<string, { name: string; cipher: string; keyLen: number; ivLen: number }> = new Map([
  ['1', { name: 'pbeWithSHAAnd128BitRC4', cipher: 'rc4', keyLen: 16, ivLen: 0 }],
  ['2', { name: 'pbeWithSHAAnd40BitRC4', cipher: 'rc4-40', keyLen: 5, ivLen: 0 }],
  ['3', { name: 'pbeWithSHAAnd3-KeyTripleDES-CBC', cipher: 'des-ede3-cbc', keyLen: 24, ivLen: 8 }],
  ['4', { name: 'pbeWithSHAAnd2-KeyTripleDES-CBC', cipher: 'des-ede-cbc', keyLen: 16, ivLen: 8 }],
  ['5', { name: 'pbeWithSHAAnd128BitRC2-CBC', cipher: 'rc2-cbc', keyLen: 16, ivLen: 8 }],
  ['6', { name: 'pbeWithSHAAnd40BitRC2-CBC', cipher: 'rc2-40-cbc', keyLen: 5, ivLen: 8 }],
]);

/** Readable name of a DER AlgorithmIdentifier: `AES-256-CBC` for PBES2, the pbeWithSHAAnd* name otherwise. */
function algorithmName(alg: Buffer): string {
  const [oidTlv, params] = algParts(alg);
  const oid = readOid(alg, oidTlv) ?? 'unknown';
  if (oid.startsWith(PKCS12_LEGACY_PREFIX)) return PKCS12_PBE.get(oid.slice(PKCS12_LEGACY_PREFIX.length))?.name ?? oid;
  if (oid === PBES2 && params) {
    const scheme = tlvChildren(alg, params, 2)?.[1];
    const cipherOid = scheme ? readOid(alg, tlvChildren(alg, scheme, 1)?.[0]) : null;
    return cipherOid ? (PBES2_CIPHERS.get(cipherOid)?.name.toUpperCase() ?? cipherOid) : oid;
  }
  return oid;
}

/**
 * MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }, the third
 * element of the PFX. Read from the raw INTEGER octets: pkijs takes asn1js's valueDec, which is 0 for a
 * 4-octet INTEGER such as 0x7fffffff, and the hostile count would go unnoticed.
 */
function macIterations(pfx: Asn1js.AsnType): number {
  const { asn1js } = asn1Libs();
  const mac = pfx instanceof asn1js.Sequence ? pfx.valueBlock.value[2] : undefined;
  const iterations = mac instanceof asn1js.Sequence ? mac.valueBlock.value[2] : undefined;
  if (!(iterations instanceof asn1js.Integer)) return 1;
  const bytes = iterations.valueBlock.valueHexView;
  if (bytes.length > 6 || (bytes[0] ?? 0) & 0x80) return Number.POSITIVE_INFINITY;
  return bytes.reduce((n, b) => n * 256 + b, 0);
}

/** Decrypts with a DER AlgorithmIdentifier; a string explains why it could not. */
function pbeDecrypt(alg: Buffer, data: Buffer, password: string): Buffer | string {
  const [oidTlv, params] = algParts(alg);
  const oid = readOid(alg, oidTlv);
  if (!oid || !params) return 'malformed encryption algorithm';
  try {
    if (oid === PBES2) return pbes2Decrypt(alg, params, data, password);
    const scheme = oid.startsWith(PKCS12_LEGACY_PREFIX)
      ? PKCS12_PBE.get(oid.slice(PKCS12_LEGACY_PREFIX.length))
      : undefined;
    if (!scheme) return `unsupported encryption ${oid}`;
    const [saltTlv, iterTlv] = tlvChildren(alg, params, 2) ?? [];
    if (!isUniversal(saltTlv, TAG_OCTET_STRING)) return 'malformed pbe parameters';
    const salt = tlvValue(alg, saltTlv);
    const iterations = readSmallInt(alg, iterTlv) ?? 1;
    const key = pkcs12Kdf('sha1', password, salt, 1, iterations, scheme.keyLen);
    const iv = scheme.ivLen ? pkcs12Kdf('sha1', password, salt, 2, iterations, scheme.ivLen) : null;
    const d = createDecipheriv(scheme.cipher, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_OSSL_EVP_UNSUPPORTED') return LEGACY_ONLY;
    return errorText(e);
  }
}

function pbes2Decrypt(alg: Buffer, params: Tlv, data: Buffer, password: string): Buffer | string {
  const [kdf, scheme] = tlvChildren(alg, params, 2) ?? [];
  const [kdfOid, kdfParams] = kdf ? (tlvChildren(alg, kdf, 2) ?? []) : [];
  const [cipherOid, ivTlv] = scheme ? (tlvChildren(alg, scheme, 2) ?? []) : [];
  if (readOid(alg, kdfOid) !== PBKDF2 || !kdfParams) return 'unsupported pbes2 key derivation';
  const cipher = PBES2_CIPHERS.get(readOid(alg, cipherOid) ?? '');
  if (!cipher || !isUniversal(ivTlv, TAG_OCTET_STRING)) return 'unsupported pbes2 cipher';
  const kp = tlvChildren(alg, kdfParams, 4) ?? [];
  const salt = kp[0] && isUniversal(kp[0], TAG_OCTET_STRING) ? tlvValue(alg, kp[0]) : null;
  const iterations = readSmallInt(alg, kp[1]);
  if (!salt || !iterations) return 'malformed pbkdf2 parameters';
  const prf = kp.slice(2).find((t) => isUniversal(t, TAG_SEQUENCE));
  const hash = prf ? HASH_ALGORITHMS.get(readOid(alg, tlvChildren(alg, prf, 1)?.[0]) ?? '') : 'sha1';
  if (!hash) return 'unsupported pbkdf2 prf';
  // PBES2 inside PKCS#12 uses the password's UTF-8 bytes, as OpenSSL does.
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, cipher.keyLen, hash);
  const d = createDecipheriv(cipher.name, key, tlvValue(alg, ivTlv));
  return Buffer.concat([d.update(data), d.final()]);
}

/**
 * RFC 7292 appendix B.2 key derivation. `password` null is OpenSSL's "no password" (empty input), while ""
 * is the two-byte BMPString terminator.
 */
function pkcs12Kdf(
  hash: string,
  password: string | null,
  salt: Buffer,
  id: number,
  iterations: number,
  n: number,
): Buffer {
  const u = createHash(hash).digest().length;
  const v = hash === 'sha384' || hash === 'sha512' ? 128 : 64;
  const pw = password === null ? Buffer.alloc(0) : bmpString(password);
  const fill = (b: Buffer): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(b.length / v));
    for (let i = 0; i < out.length; i++) out[i] = b[i % b.length]!;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([fill(salt), fill(pw)]);
  const result: Buffer[] = [];
  for (let got = 0; got < n; got += u) {
    let a = createHash(hash).update(d).update(i).digest();
    for (let r = 1; r < iterations; r++) a = oneShotHash(hash, a, 'buffer');
    result.push(a);
    const b = Buffer.alloc(v);
    for (let k = 0; k < v; k++) b[k] = a[k % u]!;
    for (let j = 0; j < i.length; j += v) {
      let carry = 1; // I_j = (I_j + B + 1) mod 2^(8v)
      for (let k = v - 1; k >= 0; k--) {
        const sum = i[j + k]! + b[k]! + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(result).subarray(0, n);
}

function bmpString(s: string): Buffer {
  const out = Buffer.alloc(s.length * 2 + 2);
  for (let i = 0; i < s.length; i++) out.writeUInt16BE(s.charCodeAt(i), i * 2);
  return out;
}

function algParts(alg: Buffer): [Tlv | undefined, Tlv | undefined] {
  const outer = readTlv(alg, 0);
  const kids = outer ? (tlvChildren(alg, outer, 2) ?? []) : [];
  return [kids[0], kids[1]];
}
