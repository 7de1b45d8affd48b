import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  certFromPem,
  describeCert,
  modulusSha1,
  parseCert,
  signatureVerifies,
  spkiSha256,
} from '../../src/pki/cert.js';
import { fixtures, openssl, opensslModulusSha1, opensslTmpDir, x509 } from '../helpers/openssl.js';

const fx = fixtures();
const pem = (file: string): string => readFileSync(file, 'utf8');
const after = (text: string, prefix: string): string => text.slice(text.indexOf(prefix) + prefix.length).trim();
/** The value lines under an `openssl x509 -ext NAME` header. */
const extValue = (file: string, name: string): string => x509(file, '-ext', name).split('\n').slice(1).join(' ').trim();

test('every CertInfo field of a CA-issued leaf matches openssl', () => {
  const { info } = certFromPem(pem(fx.leafCert));
  const f = fx.leafCert;
  assert.equal(info.subject, after(x509(f, '-subject', '-nameopt', 'RFC2253'), 'subject='));
  assert.equal(info.subject, 'CN=client,OU=Payments,O=Example,C=US');
  assert.equal(info.issuer, after(x509(f, '-issuer', '-nameopt', 'RFC2253'), 'issuer='));
  assert.equal(info.serial, 'a1:b2:c3:d4:e5:f6:07:18');
  assert.equal(info.serial.replaceAll(':', '').toUpperCase(), after(x509(f, '-serial'), 'serial='));
  assert.equal(Date.parse(info.notBefore), Date.parse(after(x509(f, '-startdate'), 'notBefore=')));
  assert.equal(Date.parse(info.notAfter), Date.parse(after(x509(f, '-enddate'), 'notAfter=')));
  assert.ok(info.daysLeft === 89 || info.daysLeft === 90, `daysLeft ${info.daysLeft}`);
  assert.equal(info.selfIssued, false);
  assert.equal(info.selfSigned, false);
  assert.deepEqual(info.publicKey, { type: 'rsa', bits: 2048, curve: null });
  assert.deepEqual(info.signatureAlgorithm, {
    oid: '1.2.840.113549.1.1.11',
    name: 'sha256WithRSAEncryption',
    hash: 'sha256',
  });
  assert.match(x509(f, '-text'), /Signature Algorithm: sha256WithRSAEncryption/);
  assert.deepEqual(info.subjectAltNames, [
    'DNS:client.example',
    'IP:127.0.0.1',
    'IP:2001:db8::1',
    'email:ops@example.com',
    'URI:spiffe://example.org/client',
  ]);
  assert.match(
    extValue(f, 'subjectAltName'),
    /DNS:client.example, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1/,
  );
  assert.deepEqual(info.keyUsage, ['digitalSignature', 'keyEncipherment']);
  assert.equal(extValue(f, 'keyUsage'), 'Digital Signature, Key Encipherment');
  assert.deepEqual(info.extendedKeyUsage, ['clientAuth', '1.3.6.1.4.1.99999.1']);
  assert.deepEqual(info.basicConstraints, { ca: false, pathLength: null, critical: true });
  const colonLower = (s: string): string => s.replaceAll(':', '').toLowerCase();
  assert.equal(info.subjectKeyId, colonLower(extValue(f, 'subjectKeyIdentifier')));
  assert.equal(info.authorityKeyId, colonLower(extValue(f, 'authorityKeyIdentifier').replace(/^keyid:/, '')));
  assert.equal(info.authorityKeyId, certFromPem(pem(fx.caCert)).info.subjectKeyId);
  assert.equal(info.fingerprintSha256, after(x509(f, '-fingerprint', '-sha256'), 'Fingerprint='));
  assert.equal(info.modulusSha1, opensslModulusSha1('x509', f));
  const spkiDer = Buffer.from(
    openssl(['x509', '-in', f, '-noout', '-pubkey']).replace(/-----[^-]+-----|\s/g, ''),
    'base64',
  );
  assert.equal(info.spkiSha256, openssl(['sha256', '-r'], spkiDer).split(' ')[0]);
});

test('a CA certificate: basic constraints with pathlen, keyCertSign, self-signed', () => {
  const { info } = certFromPem(pem(fx.caCert));
  assert.equal(info.subject, 'CN=Example Root CA,O=Example,C=US');
  assert.deepEqual(info.basicConstraints, { ca: true, pathLength: 1, critical: true });
  assert.deepEqual(info.keyUsage, ['keyCertSign', 'cRLSign']);
  assert.equal(info.extendedKeyUsage, null);
  assert.equal(info.selfIssued, true);
  assert.equal(info.selfSigned, true);
});

test('EC and Ed25519 certificates: curve names and sizes as OpenSSL names them', () => {
  assert.deepEqual(certFromPem(pem(fx.ecP256Cert)).info.publicKey, { type: 'ec', bits: 256, curve: 'prime256v1' });
  assert.deepEqual(certFromPem(pem(fx.ecP384Cert)).info.publicKey, { type: 'ec', bits: 384, curve: 'secp384r1' });
  const ed = certFromPem(pem(fx.ed25519Cert)).info;
  assert.deepEqual(ed.publicKey, { type: 'ed25519', bits: 256, curve: null });
  assert.deepEqual(ed.signatureAlgorithm, { oid: '1.3.101.112', name: 'ED25519', hash: null });
  assert.equal(ed.modulusSha1, null);
  assert.equal(certFromPem(pem(fx.ecP256Cert)).info.signatureAlgorithm.name, 'ecdsa-with-SHA256');
});

test('a self-signed leaf without keyCertSign is selfSigned (Node checkIssued says no)', () => {
  const dir = opensslTmpDir();
  const key = join(dir, 'k.pem');
  const crt = join(dir, 'c.pem');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    fx.conf,
    '-key',
    key,
    '-subj',
    '/CN=self',
    '-addext',
    'keyUsage=digitalSignature',
    '-out',
    crt,
  ]);
  const cert = certFromPem(pem(crt));
  assert.equal(cert.x509.checkIssued(cert.x509), false);
  assert.equal(cert.info.selfSigned, true);
  // Same name, issued by another key of that name: self-issued but not self-signed.
  const other = join(dir, 'k2.pem');
  const otherCa = join(dir, 'ca2.pem');
  const csr = join(dir, 'c.csr');
  const crt2 = join(dir, 'c2.pem');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other]);
  openssl(['req', '-x509', '-new', '-config', fx.conf, '-key', other, '-subj', '/CN=self', '-out', otherCa]);
  openssl(['req', '-new', '-config', fx.conf, '-key', key, '-subj', '/CN=self', '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', otherCa, '-CAkey', other, '-set_serial', '7', '-out', crt2]);
  const issued = certFromPem(pem(crt2));
  assert.equal(issued.info.selfIssued, true);
  assert.equal(issued.info.selfSigned, false);
});

test('names: RFC 4514 escaping, UTF-8, control characters and unknown attributes as openssl -nameopt RFC2253', () => {
  const dir = opensslTmpDir();
  const key = join(dir, 'k.pem');
  openssl(['genpkey', '-algorithm', 'ED25519', '-out', key]);
  const subjects = [
    '/CN=a\\,b+c\\"d\\\\e<f>g;h/O= lead and trail /OU=#hash',
    '/CN=Jürgen Ça va/O=日本',
    '/CN=line\rbreak\nhere\tand\x01ctl\x7f',
    '/CN=x/emailAddress=a@b.c/1.2.3.4=odd/serialNumber=42/DC=example/UID=u1',
  ];
  subjects.forEach((subj, i) => {
    const crt = join(dir, `n${i}.pem`);
    openssl(['req', '-x509', '-new', '-config', fx.conf, '-key', key, '-utf8', '-subj', subj, '-out', crt]);
    const ours = certFromPem(pem(crt)).info.subject;
    assert.equal(ours, after(x509(crt, '-subject', '-nameopt', 'RFC2253'), 'subject='), subj);
    assert.doesNotMatch(ours, /[\x00-\x1f\x7f-\uffff]/, 'no raw control or non-ASCII characters');
  });
});

test('serials: leading sign octet dropped, small and 20-octet serials', () => {
  const dir = opensslTmpDir();
  const key = join(dir, 'k.pem');
  openssl(['genpkey', '-algorithm', 'ED25519', '-out', key]);
  for (const [serial, expect] of [
    ['1', '01'],
    ['0x80', '80'],
    ['0x7fffffffffffffffffffffffffffffffffffffff', '7f:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff'],
  ] as const) {
    const crt = join(dir, `s${serial}.pem`);
    openssl([
      'req',
      '-x509',
      '-new',
      '-config',
      fx.conf,
      '-key',
      key,
      '-subj',
      '/CN=s',
      '-set_serial',
      serial,
      '-out',
      crt,
    ]);
    assert.equal(certFromPem(pem(crt)).info.serial, expect);
  }
});

test('modulus digests match openssl, also when the top nibble is zero', () => {
  const dir = opensslTmpDir();
  for (const bits of [1028, 1030, 2048]) {
    const key = join(dir, `rsa${bits}.pem`);
    const crt = join(dir, `rsa${bits}.crt`);
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', key]);
    openssl(['req', '-x509', '-new', '-config', fx.conf, '-key', key, '-subj', '/CN=m', '-out', crt]);
    const cert = certFromPem(pem(crt));
    assert.equal(cert.info.publicKey.bits, bits);
    assert.equal(cert.info.modulusSha1, opensslModulusSha1('x509', crt), `${bits} bits`);
    assert.equal(modulusSha1(createPrivateKey(pem(key))), opensslModulusSha1('rsa', key), `${bits} bits key`);
    assert.equal(modulusSha1(cert.x509.publicKey), cert.info.modulusSha1);
  }
  assert.equal(modulusSha1(certFromPem(pem(fx.ecP256Cert)).x509.publicKey), null);
});

test('spkiSha256 of a certificate equals that of its private key', () => {
  const pairs = [
    [fx.leafCert, fx.rsaPkcs8],
    [fx.ecP256Cert, fx.ecP256Sec1],
    [fx.ecP384Cert, fx.ecP384Sec1],
    [fx.ed25519Cert, fx.ed25519Key],
  ] as const;
  for (const [crt, key] of pairs) {
    const cert = certFromPem(pem(crt));
    assert.equal(spkiSha256(createPrivateKey(pem(key))), cert.info.spkiSha256, crt);
    assert.equal(spkiSha256(cert.x509.publicKey), cert.info.spkiSha256);
  }
});

test('signatureVerifies: issuer key yes, other key no, never throws', () => {
  const leaf = certFromPem(pem(fx.leafCert));
  const ca = certFromPem(pem(fx.caCert));
  assert.equal(signatureVerifies(leaf, ca.x509.publicKey), true);
  assert.equal(signatureVerifies(leaf, leaf.x509.publicKey), false);
  assert.equal(signatureVerifies(leaf, certFromPem(pem(fx.ed25519Cert)).x509.publicKey), false);
});

test('parseCert throws one-line errors for bad DER; describeCert takes a clock', () => {
  const der = certFromPem(pem(fx.leafCert)).der;
  for (const bad of [
    Buffer.alloc(0),
    Buffer.from('hello'),
    der.subarray(0, der.length - 10),
    Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]),
  ]) {
    assert.throws(
      () => parseCert(bad),
      (e: Error) => !e.message.includes('\n'),
    );
  }
  assert.throws(() => certFromPem('no pem here'), /no CERTIFICATE block/);
  const info = describeCert(new X509Certificate(der), der, new Date(Date.now() + 200 * 86_400_000));
  assert.ok(info.daysLeft < -100);
  // Trailing bytes after the certificate are ignored, as OpenSSL's d2i does.
  assert.equal(
    parseCert(Buffer.concat([der, Buffer.from([0, 0])])).info.fingerprintSha256,
    certFromPem(pem(fx.leafCert)).info.fingerprintSha256,
  );
});

test('SHA-1 signatures are named with their hash; RSA-PSS reads the hash from the parameters', () => {
  const dir = opensslTmpDir();
  const key = join(dir, 'k.pem');
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
  const sha1 = join(dir, 'sha1.pem');
  openssl(['req', '-x509', '-new', '-config', fx.conf, '-key', key, '-subj', '/CN=old', '-sha1', '-out', sha1]);
  assert.deepEqual(certFromPem(pem(sha1)).info.signatureAlgorithm, {
    oid: '1.2.840.113549.1.1.5',
    name: 'sha1WithRSAEncryption',
    hash: 'sha1',
  });
  const pss = join(dir, 'pss.pem');
  openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    fx.conf,
    '-key',
    key,
    '-subj',
    '/CN=pss',
    '-sha384',
    '-sigopt',
    'rsa_padding_mode:pss',
    '-out',
    pss,
  ]);
  assert.deepEqual(certFromPem(pem(pss)).info.signatureAlgorithm, {
    oid: '1.2.840.113549.1.1.10',
    name: 'rsassaPss',
    hash: 'sha384',
  });
});

/** The URIs `openssl x509 -text` prints under an extension header, in order. */
function opensslUris(text: string, header: string, prefix: RegExp): string[] {
  const at = text.indexOf(header);
  if (at < 0) return [];
  const block = text.slice(at + header.length).split(/\n {12}X509v3 |\n {12}Authority|\n {4}Signature/)[0]!;
  return [...block.matchAll(new RegExp(`${prefix.source}(\\S+)`, 'g'))].map((m) => m[1]!);
}

test('CRL distribution points and OCSP URLs match openssl x509 -text; other names and methods are left out', () => {
  const dir = opensslTmpDir();
  const conf = join(dir, 'revocation.cnf');
  const key = join(dir, 'r.key');
  const cert = join(dir, 'r.pem');
  writeFileSync(
    conf,
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[ext]',
      'crlDistributionPoints = cdp1, cdp2, cdp3',
      'authorityInfoAccess = OCSP;URI:http://ocsp.example.com/, caIssuers;URI:http://ca.example.com/ca.crt, ' +
        'OCSP;URI:http://ocsp2.example.com:8888/x?y=1',
      '[cdp1]',
      'fullname = URI:http://crl.example.com/a.crl, DNS:not-a-uri.example',
      '[cdp2]',
      'fullname = URI:ldap://ldap.example.com/cn=CA?certificateRevocationList',
      'reasons = keyCompromise',
      '[cdp3]',
      'relativename = rdn',
      '[rdn]',
      'CN = relative',
      '',
    ].join('\n'),
  );
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key]
    .concat(['-subj', '/CN=revocation', '-config', conf, '-extensions', 'ext', '-out', cert])); // prettier-ignore
  const text = x509(cert, '-text');
  const { info } = certFromPem(pem(cert));
  assert.deepEqual(info.crlDistributionPoints, [
    'http://crl.example.com/a.crl',
    'ldap://ldap.example.com/cn=CA?certificateRevocationList',
  ]);
  assert.deepEqual(info.crlDistributionPoints, opensslUris(text, 'X509v3 CRL Distribution Points:', /URI:/));
  assert.deepEqual(info.ocspUrls, ['http://ocsp.example.com/', 'http://ocsp2.example.com:8888/x?y=1']);
  assert.deepEqual(info.ocspUrls, opensslUris(text, 'Authority Information Access:', /OCSP - URI:/));

  const plain = certFromPem(pem(fx.leafCert)).info;
  assert.deepEqual([plain.crlDistributionPoints, plain.ocspUrls], [[], []]);
});

test('hostile CRL distribution point and AIA extensions give empty lists, never a throw', async () => {
  const { issue } = await import('../../src/pki/generate.js');
  const made = await issue({
    subject: 'CN=fuzz',
    crlUrls: ['http://crl.example.com/x.crl'],
    ocspUrls: ['http://ocsp.example.com'],
  });
  const der = made.der;
  assert.deepEqual(parseCert(der).info.crlDistributionPoints, ['http://crl.example.com/x.crl']);
  const uriAt = der.indexOf(Buffer.from('http://crl'));
  const ocspAt = der.indexOf(Buffer.from('http://ocsp'));
  // Every single-byte change to the two extensions' bytes: a result or a parse error, never an escape.
  for (const base of [uriAt - 12, ocspAt - 16]) {
    for (let at = base; at < base + 16; at++) {
      for (const v of [0x00, 0x30, 0x80, 0x86, 0xa0, 0xff]) {
        const bytes = Buffer.from(der);
        bytes[at] = v;
        let info;
        try {
          info = parseCert(bytes).info;
        } catch {
          continue; // OpenSSL refused the certificate: fine
        }
        assert.ok(Array.isArray(info.crlDistributionPoints) && Array.isArray(info.ocspUrls));
      }
    }
  }
});
