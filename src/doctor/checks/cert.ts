/** Checks on the client certificate alone: validity, algorithms, and whether it is fit for client authentication. */
import type { Cert } from '../../pki/types.js';
import { finding, type Finding } from '../../report/finding.js';
import { titleText } from '../../report/text.js';
import type { Known } from '../known.js';
import { clientPurposeOk, insecureSignature, isCa, weakKey } from '../../policy/rules.js';
import { shellQuote } from '../../report/shell.js';

const SOON_DAYS = 30;
/** Debian/Ubuntu's OpenSSL default (security level 2): 112-bit keys, no SHA-1 signatures. */
const SECLEVEL2_MIN_RSA = 2048;

export function checkLeaf(k: Known): Finding[] {
  const c = k.leaf;
  if (c === null) return [];
  const out: Finding[] = [];
  const i = c.info;
  const path = k.certPath ?? 'client.crt';
  const who = { path, subject: i.subject, serial: i.serial };
  const t = k.now.getTime();
  if (Date.parse(i.notAfter) <= t) {
    out.push(
      finding({
        id: 'cert.expired',
        severity: 'error',
        title: `the client certificate expired on ${i.notAfter}`,
        detail:
          `API Gateway denies it with "Access denied. Reason: certificate has expired". Clocks matter: the ` +
          `gateway compares with its own time.`,
        fix: 'issue a new certificate from the same CA (same subject is fine) and deploy it with its key',
        evidence: { ...who, notAfter: i.notAfter, daysLeft: i.daysLeft },
      }),
    );
  } else if (Date.parse(i.notBefore) > t) {
    out.push(
      finding({
        id: 'cert.not-yet-valid',
        severity: 'error',
        title: `the client certificate is not valid until ${i.notBefore}`,
        detail:
          "Its validity starts in the future: the issuing machine's clock is ahead, or it was back-dated " +
          'wrongly. The gateway denies it with "certificate is not yet valid".',
        fix:
          'wait until notBefore, or re-issue it with a start time in the past (e.g. openssl x509 -req ... ' +
          '-not_before, or mtlsgate pki issue)',
        evidence: { ...who, notBefore: i.notBefore },
      }),
    );
  } else if (i.daysLeft <= SOON_DAYS) {
    out.push(
      finding({
        id: 'cert.expires-soon',
        severity: 'warning',
        title: `the client certificate expires in ${i.daysLeft} day(s), on ${i.notAfter}`,
        detail: 'Renew it before then: API Gateway does not warn about expiring client certificates.',
        fix: 'issue a new certificate from the same CA before it expires',
        evidence: { ...who, notAfter: i.notAfter, daysLeft: i.daysLeft },
      }),
    );
  }
  if (insecureSignature(c)) {
    out.push(
      finding({
        id: 'cert.insecure-signature',
        severity: 'error',
        title: `the client certificate is signed with ${titleText(i.signatureAlgorithm.name)}`,
        detail:
          'API Gateway requires SHA-256 or stronger and denies it with "Client cert using an insecure Signature ' +
          'Algorithm".',
        fix: 're-issue it with SHA-256: openssl x509 -req -sha256 ... (or openssl req -sha256 for a self-signed one)',
        evidence: { ...who, signatureAlgorithm: i.signatureAlgorithm.name },
      }),
    );
  }
  if (weakKey(c, k.policy)) {
    out.push(
      finding({
        id: 'cert.weak-key',
        severity: 'error',
        title: `the client certificate's key is too weak: ${describeKey(c)}`,
        detail:
          `API Gateway requires RSA of at least ${k.policy.minRsaBits} bits or ECDSA of at ` +
          `least ${k.policy.minEcBits} bits, and denies it with "Client cert using an insecure Signature Algorithm".`,
        fix:
          'make a new key and certificate: openssl req -newkey rsa:2048 ... or -newkey ec -pkeyopt ' +
          'ec_paramgen_curve:P-256',
        evidence: { ...who, key: describeKey(c) },
      }),
    );
  }
  const sha1 = i.signatureAlgorithm.hash === 'sha1' || i.signatureAlgorithm.hash === 'md5';
  const smallRsa =
    (i.publicKey.type === 'rsa' || i.publicKey.type === 'rsa-pss') && i.publicKey.bits < SECLEVEL2_MIN_RSA;
  if (sha1 || smallRsa) {
    const openssl = sha1
      ? 'error:0A00018E:SSL routines::ca md too weak'
      : 'error:0A00018F:SSL routines::ee key too small';
    out.push(
      finding({
        id: 'cert.refused-by-client-tls',
        severity: 'error',
        title:
          `curl on Debian/Ubuntu refuses to send this certificate ` +
          `(${sha1 ? 'SHA-1/MD5 signature' : `RSA-${i.publicKey.bits} key`})`,
        detail:
          `Their OpenSSL runs at security level 2 and fails before connecting: "curl: (58) could not load PEM ` +
          `client certificate ${path}, OpenSSL error ${openssl}". Lowering the level on the client only hides the ` +
          `problem: the gateway denies it anyway.`,
        fix: 'replace the certificate (SHA-256 signature, RSA-2048+ or EC P-256+)',
        evidence: { ...who, openssl },
      }),
    );
  }
  if (!clientPurposeOk(c)) {
    const eku = i.extendedKeyUsage;
    if (eku !== null && !eku.includes('clientAuth')) {
      out.push(
        finding({
          id: 'cert.no-client-auth',
          severity: 'error',
          title:
            `the client certificate is not for client authentication (extended key ` +
            `usage: ${titleText(eku.join(', '))})`,
          detail:
            'OpenSSL, and so the gateway, refuses a client certificate whose extended key usage lacks ' +
            'clientAuth: "unsuitable certificate purpose". Public CAs stopped issuing clientAuth certificates in 2026; ' +
            'a renewed public certificate often lacks it.',
          fix:
            `re-issue it with extendedKeyUsage = clientAuth, e.g. openssl x509 -req ... -extfile <(printf ` +
            `"extendedKeyUsage=clientAuth\\nkeyUsage=digitalSignature")`,
          evidence: { ...who, extendedKeyUsage: eku },
        }),
      );
    }
    const ku = i.keyUsage;
    if (ku !== null && !ku.includes('digitalSignature') && !ku.includes('keyAgreement')) {
      out.push(
        finding({
          id: 'cert.key-usage',
          severity: 'error',
          title: `the client certificate's key usage (${titleText(ku.join(', ') || 'empty')}) lacks digitalSignature`,
          detail:
            'A TLS client signs the handshake with its key, so OpenSSL requires digitalSignature (or ' +
            'keyAgreement) when key usage is present: "unsuitable certificate purpose".',
          fix: 're-issue it with keyUsage = digitalSignature',
          evidence: { ...who, keyUsage: ku },
        }),
      );
    }
  }
  if (isCa(c) && !i.selfSigned) {
    out.push(
      finding({
        id: 'cert.is-ca',
        severity: 'warning',
        title: 'the client certificate is a CA certificate',
        detail:
          'Was the CA certificate given instead of the client certificate? A client certificate normally has ' +
          'CA:FALSE.',
        fix: `mtlsgate inspect ${shellQuote(path)}`,
        evidence: who,
      }),
    );
  }
  return out;
}

export function describeKey(c: Cert): string {
  const k = c.info.publicKey;
  return k.type === 'ec' ? `EC ${k.curve ?? k.bits}` : `${k.type.toUpperCase()}-${k.bits}`;
}
