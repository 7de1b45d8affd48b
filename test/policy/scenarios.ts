/**
 * Client-certificate scenarios for the verification policy: one defect each (plus the good ones), with the deny
 * reason API Gateway's rules give. Built in-process with the PKI generator; shared by the policy tests and, later,
 * the gateway and doctor agreement suites.
 */
import { issue, type Issued, type IssueSpec } from '../../src/pki/generate.js';
import { SECURITY_LEVEL } from '../../src/policy/openssl-model.js';

export interface Scenario {
  name: string;
  leaf: Issued;
  /** What the client sends after its certificate. */
  clientIntermediates: Issued[];
  truststore: Issued[];
  trustClientIntermediates?: boolean;
  /** null = accepted. */
  reason: string | null;
  /** The verdict's code (Node's verify code, or MTLSGATE_* for API Gateway rules OpenSSL does not check). */
  code: string | null;
}

const DAY = 86_400_000;
const ago = (days: number): Date => new Date(Date.now() - days * DAY);

/** Flip one bit in the signature (the last byte of the DER): same certificate, broken integrity. */
function corruptSignature(i: Issued): Issued {
  const der = Buffer.from(i.der);
  der[der.length - 1] = der[der.length - 1]! ^ 0x01;
  const body = der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  const pem = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
  return { ...i, der, certPem: pem, chainPem: pem };
}

export async function buildScenarios(): Promise<Scenario[]> {
  const ec = { type: 'ec', curve: 'P-256' } as const;
  const root = await issue({ subject: 'CN=Policy Root,O=mtlsgate test', profile: 'root-ca', key: ec });
  const int = await issue({
    subject: 'CN=Policy Intermediate,O=mtlsgate test',
    profile: 'intermediate-ca',
    issuer: root,
    key: ec,
  });
  const client = (over: Partial<IssueSpec> = {}): Promise<Issued> =>
    issue({ subject: 'CN=client,O=mtlsgate test', profile: 'client', issuer: int, publicKeyFrom: int, ...over });
  const good = await client();
  const otherRoot = await issue({ subject: 'CN=Other Root', profile: 'root-ca', publicKeyFrom: root });
  // An intermediate allowed to issue for clients.example only (name constraints, modelled as OpenSSL checks them).
  const constrainedInt = await issue({
    subject: 'CN=Constrained Intermediate,O=mtlsgate test',
    profile: 'intermediate-ca',
    issuer: root,
    publicKeyFrom: int,
    nameConstraints: { permitted: ['DNS:.clients.example', 'email:clients.example'] },
  });
  const inside = await client({ issuer: constrainedInt, sans: ['DNS:a.clients.example'] });
  const outside = await client({ issuer: constrainedInt, sans: ['DNS:a.elsewhere.example'] });
  // The intermediate's name with another key: a CA re-keyed under the same name, or an old bundle mixed with a new.
  const rekeyedInt = await issue({ subject: int.subject, profile: 'intermediate-ca', issuer: root, key: ec });

  const selfSigned = await issue({ subject: 'CN=self-signed client', profile: 'client', key: ec });
  const selfSignedRegenerated = await issue({ subject: 'CN=self-signed client', profile: 'client', key: ec });

  const expiredInt = await issue({
    subject: 'CN=Expired Intermediate',
    profile: 'intermediate-ca',
    issuer: root,
    publicKeyFrom: int,
    notBefore: ago(400),
    notAfter: ago(35),
  });
  const underExpiredInt = await issue({
    subject: 'CN=client',
    profile: 'client',
    issuer: expiredInt,
    publicKeyFrom: int,
    notBefore: ago(40),
    notAfter: new Date(Date.now() + 300 * DAY),
  });
  const notCa = await issue({
    subject: 'CN=Not A CA',
    issuer: root,
    publicKeyFrom: int,
    ca: false,
    keyUsage: ['digitalSignature', 'keyCertSign'],
    extKeyUsage: null,
  });
  const underNotCa = await client({ issuer: notCa });
  const serverOnlyCa = await issue({
    subject: 'CN=Server-only CA',
    profile: 'intermediate-ca',
    issuer: root,
    publicKeyFrom: int,
    extKeyUsage: ['serverAuth'],
  });
  const underServerOnlyCa = await client({ issuer: serverOnlyCa });
  const pathlen0 = await issue({
    subject: 'CN=Pathlen0 CA',
    profile: 'intermediate-ca',
    issuer: root,
    publicKeyFrom: int,
    pathLength: 0,
  });
  const subCa = await issue({ subject: 'CN=Sub CA', profile: 'intermediate-ca', issuer: pathlen0, publicKeyFrom: int });
  const underSubCa = await client({ issuer: subCa });
  const sha1Int = await issue({
    subject: 'CN=SHA1 Intermediate',
    profile: 'intermediate-ca',
    issuer: root,
    publicKeyFrom: int,
    hash: 'sha1',
  });
  const underSha1Int = await client({ issuer: sha1Int });
  const sha1Root = await issue({ subject: 'CN=SHA1 Root', profile: 'root-ca', publicKeyFrom: root, hash: 'sha1' });
  const underSha1Root = await client({ issuer: sha1Root });
  const expiredRoot = await issue({
    subject: 'CN=Expired Root',
    profile: 'root-ca',
    publicKeyFrom: root,
    notBefore: ago(400),
    notAfter: ago(2),
  });
  const underExpiredRoot = await client({ issuer: expiredRoot, notBefore: ago(10) });

  const serverOnlyRoot = await issue({
    subject: 'CN=Server-only Root',
    profile: 'root-ca',
    publicKeyFrom: root,
    extKeyUsage: ['serverAuth'],
  });
  const underServerOnlyRoot = await client({ issuer: serverOnlyRoot });
  const rsaRoot = await issue({ subject: 'CN=RSA Root', profile: 'root-ca', key: { type: 'rsa', bits: 2048 } });
  const rsaLeaf = await issue({
    subject: 'CN=rsa client',
    profile: 'client',
    issuer: rsaRoot,
    key: { type: 'rsa', bits: 2048 },
  });
  const rsa1024Leaf = await issue({
    subject: 'CN=rsa1024 client',
    profile: 'client',
    issuer: rsaRoot,
    key: { type: 'rsa', bits: 1024 },
  });
  const sha1Leaf = await issue({
    subject: 'CN=sha1 client',
    profile: 'client',
    issuer: rsaRoot,
    publicKeyFrom: rsaLeaf,
    hash: 'sha1',
  });
  const p384Leaf = await issue({
    subject: 'CN=p384 client',
    profile: 'client',
    issuer: int,
    key: { type: 'ec', curve: 'P-384' },
  });
  const edLeaf = await issue({
    subject: 'CN=ed25519 client',
    profile: 'client',
    issuer: int,
    key: { type: 'ed25519' },
  });

  // A chain of n CAs below the root (n + 1 CAs on the path).
  const deep = async (cas: number): Promise<{ leaf: Issued; chain: Issued[] }> => {
    const chain: Issued[] = [root];
    for (let i = 1; i < cas; i++) {
      chain.push(
        await issue({
          subject: `CN=Depth ${i} CA`,
          profile: 'intermediate-ca',
          issuer: chain[chain.length - 1]!,
          publicKeyFrom: int,
        }),
      );
    }
    return { leaf: await client({ issuer: chain[chain.length - 1]! }), chain };
  };
  const four = await deep(4);
  const five = await deep(5);

  const s = (
    name: string,
    leaf: Issued,
    truststore: Issued[],
    reason: string | null,
    code: string | null,
    extra: Partial<Scenario> = {},
  ): Scenario => ({
    name,
    leaf,
    truststore,
    reason,
    code,
    clientIntermediates: [],
    ...extra,
  });
  const NO_ISSUER = 'Could not find issuer for certificate';
  const INSECURE = 'Client cert using an insecure Signature Algorithm';
  return [
    s('valid EC chain', good, [root, int], null, null),
    s('valid RSA chain', rsaLeaf, [rsaRoot], null, null),
    s('EC P-384 leaf', p384Leaf, [root, int], null, null),
    s('Ed25519 leaf', edLeaf, [root, int], null, null),
    s('self-signed pinned in truststore', selfSigned, [selfSigned], null, null),
    s(
      'self-signed not in truststore',
      selfSigned,
      [root, int],
      'self-signed certificate',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ),
    s(
      'self-signed regenerated (same subject, other key)',
      selfSignedRegenerated,
      [selfSigned],
      'self-signed certificate',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ),
    s(
      'self-signed with corrupted signature',
      corruptSignature(selfSigned),
      [selfSigned],
      'self-signed certificate',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    ),
    s('issuer not in truststore', good, [otherRoot], NO_ISSUER, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    s('name-constrained CA, client inside', inside, [root, constrainedInt], null, null),
    s(
      'name-constrained CA, client outside',
      outside,
      [root, constrainedInt],
      'permitted subtree violation',
      'PERMITTED_VIOLATION',
    ),
    s('issuer re-keyed under the same name', good, [root, rekeyedInt], NO_ISSUER, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    s('root missing from truststore', good, [int], NO_ISSUER, 'UNABLE_TO_GET_ISSUER_CERT'),
    s('client-sent intermediate ignored', good, [root], NO_ISSUER, 'MTLSGATE_CLIENT_INTERMEDIATES_IGNORED', {
      clientIntermediates: [int],
    }),
    s('client-sent intermediate trusted when allowed', good, [root], null, null, {
      clientIntermediates: [int],
      trustClientIntermediates: true,
    }),
    s('client sends its own root and intermediate', good, [otherRoot], NO_ISSUER, 'SELF_SIGNED_CERT_IN_CHAIN', {
      clientIntermediates: [int, root],
    }),
    s(
      'expired leaf',
      await client({ notBefore: ago(30), notAfter: ago(1) }),
      [root, int],
      'certificate has expired',
      'CERT_HAS_EXPIRED',
    ),
    s(
      'leaf not yet valid',
      await client({ notBefore: new Date(Date.now() + 2 * DAY) }),
      [root, int],
      'certificate is not yet valid',
      'CERT_NOT_YET_VALID',
    ),
    s('expired intermediate', underExpiredInt, [root, expiredInt], 'certificate has expired', 'CERT_HAS_EXPIRED'),
    s('expired root', underExpiredRoot, [expiredRoot], 'certificate has expired', 'CERT_HAS_EXPIRED'),
    s('SHA-1 signed leaf', sha1Leaf, [rsaRoot], INSECURE, 'CA_MD_TOO_WEAK'),
    s('SHA-1 signed intermediate', underSha1Int, [root, sha1Int], INSECURE, 'CA_MD_TOO_WEAK'),
    s('SHA-1 self-signature on the root', underSha1Root, [sha1Root], INSECURE, 'MTLSGATE_INSECURE_SIGNATURE'),
    // OpenSSL 3.2+ (Node 22/24) refuses a 1024-bit key itself at its default security level 2; 3.0 left it to our rule.
    s(
      'RSA-1024 leaf',
      rsa1024Leaf,
      [rsaRoot],
      INSECURE,
      SECURITY_LEVEL >= 2 ? 'EE_KEY_TOO_SMALL' : 'MTLSGATE_WEAK_KEY',
    ),
    s(
      'no clientAuth EKU',
      await client({ extKeyUsage: ['serverAuth'] }),
      [root, int],
      'unsuitable certificate purpose',
      'INVALID_PURPOSE',
    ),
    s(
      'EKU anyExtendedKeyUsage only',
      await client({ extKeyUsage: ['anyExtendedKeyUsage'] }),
      [root, int],
      'unsuitable certificate purpose',
      'INVALID_PURPOSE',
    ),
    s(
      'root restricted to serverAuth',
      underServerOnlyRoot,
      [serverOnlyRoot],
      'unsuitable certificate purpose',
      'INVALID_PURPOSE',
    ),
    s(
      'key usage without digitalSignature',
      await client({ keyUsage: ['keyEncipherment'] }),
      [root, int],
      'unsuitable certificate purpose',
      'INVALID_PURPOSE',
    ),
    s('issuer is not a CA', underNotCa, [root, notCa], 'unsuitable certificate purpose', 'INVALID_PURPOSE'),
    s(
      'CA restricted to serverAuth',
      underServerOnlyCa,
      [root, serverOnlyCa],
      'unsuitable certificate purpose',
      'INVALID_PURPOSE',
    ),
    s(
      'path length constraint exceeded',
      underSubCa,
      [root, pathlen0, subCa],
      'path length constraint exceeded',
      'PATH_LENGTH_EXCEEDED',
    ),
    s(
      'leaf signature corrupted',
      corruptSignature(good),
      [root, int],
      'certificate signature failure',
      'CERT_SIGNATURE_FAILURE',
    ),
    s('4 CAs on the path', four.leaf, four.chain, null, null),
    s('5 CAs on the path', five.leaf, five.chain, 'certificate chain too long', 'MTLSGATE_CHAIN_TOO_LONG'),
  ];
}
