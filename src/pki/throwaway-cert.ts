/**
 * A certificate for a TLS server nobody verifies: the doctor's loopback handshake, where only the client's
 * certificate is judged. Built with our own DER writer and node:crypto rather than the generator (generate-cert.ts),
 * which loads the ASN.1 libraries: about 80 ms of a doctor run on a small truststore.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { derExplicit, derOid, derSequence, derTime, derTlv } from './der-write.js';
import { toPem } from './pem.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';
const HOUR_MS = 3_600_000;

/** A fresh P-256 key and a self-signed certificate for `name`, valid from an hour ago for a year; PEM both. */
export function throwawayServerIdentity(name: string, now: Date = new Date()): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = derSequence(derOid(ECDSA_WITH_SHA256));
  const dn = derSequence(derTlv(0x31, derSequence(derOid(COMMON_NAME), derTlv(0x0c, Buffer.from(name, 'utf8')))));
  // A positive serial: the top bit of the first octet clear.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = derSequence(
    derExplicit(0, derTlv(0x02, Buffer.from([2]))), // v3
    derTlv(0x02, serial),
    alg,
    dn,
    derSequence(derTime(new Date(now.getTime() - HOUR_MS)), derTime(new Date(now.getTime() + 365 * 24 * HOUR_MS))),
    dn,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = derSequence(tbs, alg, derTlv(0x03, Buffer.from([0]), signature));
  return {
    certPem: toPem('CERTIFICATE', der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
