/**
 * Test fixtures made with the `openssl` binary (no shell: execFileSync with argument arrays), so our parsing is
 * checked against OpenSSL's own output. Everything lives in one temp directory per test process.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { tmpDir } from './pki.js';
import { join } from 'node:path';

export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A fresh temp directory removed when the process exits (MTLSGATE_KEEP_TMP=1 keeps it). */
export const opensslTmpDir = tmpDir;

/** `openssl x509|rsa -noout -modulus -in F | openssl sha1`, the hex after "= ". */
export function opensslModulusSha1(kind: 'x509' | 'rsa', file: string, passin?: string): string {
  const modulus = openssl([kind, '-noout', '-modulus', '-in', file, ...(passin ? ['-passin', `pass:${passin}`] : [])]);
  const digest = openssl(['sha1'], modulus);
  return digest.slice(digest.indexOf('= ') + 2).trim();
}

/** `openssl x509 -noout <args>` for one certificate. */
export function x509(file: string, ...args: string[]): string {
  return openssl(['x509', '-in', file, '-noout', ...args]);
}

export const PASS = 'correct horse';

export interface Fixtures {
  dir: string;
  /** A minimal openssl config (empty [dn], so `req` adds no default extensions). */
  conf: string;
  caKey: string;
  caCert: string;
  /** Leaf signed by the CA: SANs, KU, EKU clientAuth, SKI/AKI; its key in several encodings. */
  leafCert: string;
  leafCertDerCrt: string;
  /** DER bytes in a file named .pem. */
  leafCertDerPem: string;
  rsaPkcs8: string;
  rsaPkcs1: string;
  rsaEncPkcs8: string;
  rsaLegacyEnc: string;
  rsaPkcs8Der: string;
  rsaEncPkcs8Der: string;
  ecP256Sec1: string;
  ecP256Pkcs8: string;
  ecP256Cert: string;
  ecP384Sec1: string;
  ecP384Cert: string;
  ed25519Key: string;
  ed25519Cert: string;
  p12Modern: string;
  p12Legacy: string;
  p7bPem: string;
  p7bDer: string;
  /** `openssl x509 -text` of the leaf, prose, then the CA: text around and between blocks. */
  bundle: string;
}

let made: Fixtures | undefined;

/** Every fixture, made once per test process. */
export function fixtures(): Fixtures {
  made ??= makeFixtures(opensslTmpDir());
  return made;
}

function makeFixtures(dir: string): Fixtures {
  const f = (name: string): string => join(dir, name);
  const conf = f('openssl.cnf');
  writeFileSync(
    conf,
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[ca_ext]',
      'basicConstraints = critical,CA:TRUE,pathlen:1',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[leaf_ext]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = clientAuth,1.3.6.1.4.1.99999.1',
      'subjectAltName = DNS:client.example,IP:127.0.0.1,IP:2001:db8::1,email:ops@example.com,URI:spiffe://example.org/client',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', f('ca.key')]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-subj',
    '/C=US/O=Example/CN=Example Root CA',
    '-days',
    '3650',
    '-sha256',
    '-config',
    conf,
    '-extensions',
    'ca_ext',
    '-out',
    f('ca.pem'),
  ]);

  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', f('rsa.p8.pem')]);
  openssl(['rsa', '-in', f('rsa.p8.pem'), '-traditional', '-out', f('rsa.p1.pem')]);
  openssl(['pkey', '-in', f('rsa.p8.pem'), '-aes256', '-passout', `pass:${PASS}`, '-out', f('rsa.p8enc.pem')]);
  openssl([
    'rsa',
    '-in',
    f('rsa.p8.pem'),
    '-traditional',
    '-aes256',
    '-passout',
    `pass:${PASS}`,
    '-out',
    f('rsa.legacy.pem'),
  ]);
  // Not `pkey -outform DER`: OpenSSL 3.0 writes PKCS#1 for that, although its PEM output is PKCS#8.
  openssl(['pkcs8', '-topk8', '-nocrypt', '-in', f('rsa.p8.pem'), '-outform', 'DER', '-out', f('rsa.p8.der')]);
  openssl([
    'pkcs8',
    '-topk8',
    '-in',
    f('rsa.p8.pem'),
    '-outform',
    'DER',
    '-v2',
    'aes256',
    '-passout',
    `pass:${PASS}`,
    '-out',
    f('rsa.p8enc.der'),
  ]);
  openssl([
    'req',
    '-new',
    '-key',
    f('rsa.p8.pem'),
    '-subj',
    '/C=US/O=Example/OU=Payments/CN=client',
    '-config',
    conf,
    '-out',
    f('leaf.csr'),
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    f('leaf.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-set_serial',
    '0x00a1b2c3d4e5f60718',
    '-days',
    '90',
    '-sha256',
    '-extfile',
    conf,
    '-extensions',
    'leaf_ext',
    '-out',
    f('leaf.pem'),
  ]);
  openssl(['x509', '-in', f('leaf.pem'), '-outform', 'DER', '-out', f('leaf.crt')]);
  openssl(['x509', '-in', f('leaf.pem'), '-outform', 'DER', '-out', f('leaf-der.pem')]);

  for (const [name, curve] of [
    ['p256', 'prime256v1'],
    ['p384', 'secp384r1'],
  ] as const) {
    openssl(['ecparam', '-name', curve, '-genkey', '-noout', '-out', f(`ec-${name}.sec1.pem`)]);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      f(`ec-${name}.sec1.pem`),
      '-subj',
      `/CN=ec ${name}`,
      '-days',
      '30',
      '-config',
      conf,
      '-out',
      f(`ec-${name}.pem`),
    ]);
  }
  openssl(['pkcs8', '-topk8', '-nocrypt', '-in', f('ec-p256.sec1.pem'), '-out', f('ec-p256.p8.pem')]);
  openssl(['genpkey', '-algorithm', 'ED25519', '-out', f('ed25519.key')]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    f('ed25519.key'),
    '-subj',
    '/CN=ed25519',
    '-days',
    '30',
    '-config',
    conf,
    '-out',
    f('ed25519.pem'),
  ]);

  const p12 = [
    'pkcs12',
    '-export',
    '-inkey',
    f('rsa.p8.pem'),
    '-in',
    f('leaf.pem'),
    '-certfile',
    f('ca.pem'),
    '-passout',
    `pass:${PASS}`,
  ];
  openssl([...p12, '-out', f('modern.p12')]);
  openssl([...p12, '-legacy', '-out', f('legacy.p12')]);
  openssl(['crl2pkcs7', '-nocrl', '-certfile', f('leaf.pem'), '-certfile', f('ca.pem'), '-out', f('chain.p7b')]);
  openssl([
    'crl2pkcs7',
    '-nocrl',
    '-certfile',
    f('leaf.pem'),
    '-certfile',
    f('ca.pem'),
    '-outform',
    'DER',
    '-out',
    f('chain.p7b.der'),
  ]);
  writeFileSync(
    f('bundle.pem'),
    openssl(['x509', '-in', f('leaf.pem'), '-text']) +
      '\nsome notes between blocks\r\n\r\n' +
      readFileSync(f('ca.pem'), 'utf8'),
  );
  return {
    dir,
    conf,
    caKey: f('ca.key'),
    caCert: f('ca.pem'),
    leafCert: f('leaf.pem'),
    leafCertDerCrt: f('leaf.crt'),
    leafCertDerPem: f('leaf-der.pem'),
    rsaPkcs8: f('rsa.p8.pem'),
    rsaPkcs1: f('rsa.p1.pem'),
    rsaEncPkcs8: f('rsa.p8enc.pem'),
    rsaLegacyEnc: f('rsa.legacy.pem'),
    rsaPkcs8Der: f('rsa.p8.der'),
    rsaEncPkcs8Der: f('rsa.p8enc.der'),
    ecP256Sec1: f('ec-p256.sec1.pem'),
    ecP256Pkcs8: f('ec-p256.p8.pem'),
    ecP256Cert: f('ec-p256.pem'),
    ecP384Sec1: f('ec-p384.sec1.pem'),
    ecP384Cert: f('ec-p384.pem'),
    ed25519Key: f('ed25519.key'),
    ed25519Cert: f('ed25519.pem'),
    p12Modern: f('modern.p12'),
    p12Legacy: f('legacy.p12'),
    p7bPem: f('chain.p7b'),
    p7bDer: f('chain.p7b.der'),
    bundle: f('bundle.pem'),
  };
}
