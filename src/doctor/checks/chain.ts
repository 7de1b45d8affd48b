/**
 * Chain findings: each defect the policy found on the path built from the truststore, explained. Defects on the
 * client certificate itself (depth 0) are the certificate checks' job, except the ones only the chain can tell
 * (self-signed, missing issuer, broken signature).
 */
import type { Cert } from '../../pki/types.js';
import type { ChainAnalysis } from '../../policy/analyze.js';
import { constraintsOf, describeSubtrees, nameConstraintEvents } from '../../policy/name-constraints.js';
import { OWN_CODES, type Defect } from '../../policy/defect.js';
import { describeKey } from './cert.js';
import { shellQuote } from '../../report/shell.js';
import { finding, type Finding } from '../../report/finding.js';
import { titleText } from '../../report/text.js';
import type { Known } from '../known.js';

/** A key identifier as `openssl x509 -ext subjectKeyIdentifier` prints it: upper-case hex in colon pairs. */
function keyIdText(hex: string | null): string {
  return hex === null ? '(none)' : (hex.toUpperCase().match(/../g) ?? []).join(':');
}

/**
 * The truststore has a CA of the issuer's name, but its key did not sign this certificate: a CA re-keyed under the
 * same name, or an old and a new bundle mixed up. Saying "no certificate for the issuer" would contradict the
 * truststore's list of subjects, which names it.
 */
function issuerKeyMismatch(o: { d: Defect; c: Cert; sameName: readonly Cert[]; ts: string }): Finding {
  const { d, c, sameName, ts } = o;
  const who = d.depth === 0 ? 'the client certificate' : `CA "${titleText(c.info.subject)}"`;
  const want = keyIdText(c.info.authorityKeyId);
  const have = sameName.map((t) => keyIdText(t.info.subjectKeyId));
  return finding({
    id: 'chain.issuer-key-mismatch',
    severity: 'error',
    title:
      `the truststore has a CA named "${titleText(c.info.issuer)}", but not the one that issued ${who}: ` +
      'its key is another',
    detail:
      `${who[0]!.toUpperCase()}${who.slice(1)} was signed by a key whose identifier (its authority key id) is ` +
      `${want}; the truststore's CA of that name has subject key id ${have.join(', ')}. Same name, other key: the ` +
      'CA was re-keyed under the same name, or an old and a new bundle were mixed up. The gateway cannot find the ' +
      'issuer: "Access denied. Reason: Could not find issuer for certificate". Put the CA certificate whose ' +
      'subject key id is the authority key id above in the truststore (keep the other one too while clients of ' +
      'both keys exist), or issue the client certificate again from the CA the truststore holds.',
    fix:
      `# which of your CA certificates has the key that signed it? (look for ${want})
` +
      'for f in *.pem *.crt; do echo "$f: $(openssl x509 -in "$f" -noout -ext subjectKeyIdentifier 2>/dev/null | ' +
      `tail -1)"; done
cat THE-MATCHING-CA.pem >> ${shellQuote(ts)}   # then upload the truststore again and reload`,
    evidence: {
      depth: d.depth,
      issuer: c.info.issuer,
      authorityKeyId: want,
      truststoreCaSubjectKeyIds: have,
      truststoreCaFingerprints: sameName.map((t) => t.info.fingerprintSha256),
    },
  });
}

/** Name-constraint failures on the path OpenSSL builds: which CA's constraints, which certificate, what it names. */
function nameConstraintFindings(a: ChainAnalysis): Finding[] {
  const certs = a.opensslChain.certs;
  return nameConstraintEvents(a.opensslChain)
    .filter((e) => e.code !== 'UNMODELLED')
    .slice(0, 4)
    .map((e) => {
      const c = certs[e.depth]!;
      const ca = certs[e.caDepth]!;
      const nc = constraintsOf(ca);
      const subtrees = nc && nc !== 'malformed' ? describeSubtrees(nc) : { permitted: [], excluded: [] };
      const who = e.depth === 0 ? 'the client certificate' : `CA "${titleText(c.info.subject)}"`;
      const names = [`subject ${c.info.subject}`, ...c.info.subjectAltNames];
      const what: Record<string, string> = {
        PERMITTED_VIOLATION: 'names something outside what the CA may issue for',
        EXCLUDED_VIOLATION: 'names something the CA is forbidden to issue for',
        SUBTREE_MINMAX: "uses minimum/maximum in the CA's constraints, which OpenSSL does not support",
        UNSUPPORTED_CONSTRAINT_TYPE: 'meets a constraint of a name type OpenSSL cannot check',
        UNSUPPORTED_NAME_SYNTAX: 'has a name OpenSSL cannot compare with the constraints',
        UNSPECIFIED: 'has too many names × constraints for OpenSSL to check',
      };
      return finding({
        id: 'chain.name-constraints',
        severity: 'error',
        title: `${who} ${what[e.code] ?? 'breaks the name constraints'} of CA "${titleText(ca.info.subject)}"`,
        detail:
          `The CA's name constraints: permitted ${subtrees.permitted.join(', ') || '(none)'}; excluded ` +
          `${subtrees.excluded.join(', ') || '(none)'}. ${who[0]!.toUpperCase()}${who.slice(1)} names: ` +
          `${names.join(', ')}. OpenSSL refuses the chain (${e.code}), and so does the gateway. A subject CN that ` +
          'looks like a host name counts as one when the certificate has no DNS name in its SAN.',
        fix:
          "issue the certificate with names inside the CA's permitted subtrees (and outside the excluded ones), " +
          'or from a CA without these constraints',
        evidence: {
          code: e.code,
          depth: e.depth,
          ca: ca.info.subject,
          permitted: subtrees.permitted,
          excluded: subtrees.excluded,
          names,
        },
      });
    });
}

export function checkChain(k: Known, a: ChainAnalysis): Finding[] {
  const out: Finding[] = [...nameConstraintFindings(a)];
  const seen = new Set<string>();
  const truststorePath = k.truststore?.source ?? 'truststore.pem';
  for (const d of sortByDepth(a.defects)) {
    const c = a.rulesChain.certs[d.depth]!;
    const f = explain(k, a, d, c, truststorePath);
    if (f && !seen.has(`${f.id}@${d.depth}`)) {
      seen.add(`${f.id}@${d.depth}`);
      out.push(f);
    }
  }
  return out;
}

function explain(k: Known, a: ChainAnalysis, d: Defect, c: Cert, ts: string): Finding | null {
  const at = { depth: d.depth, subject: c.info.subject, issuer: c.info.issuer };
  const certPath = k.certPath ?? 'client.crt';
  switch (d.code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return a.sameSubjectInTruststore
        ? selfSignedModified(k, c, a.sameSubjectInTruststore)
        : finding({
            id: 'chain.self-signed-untrusted',
            severity: 'error',
            title: 'the client certificate is self-signed and is not in the truststore',
            detail:
              'API Gateway accepts a self-signed client certificate only when that exact certificate is in the ' +
              'truststore; otherwise: "Access denied. Reason: self-signed certificate".',
            fix:
              `cat ${shellQuote(certPath)} >> ${shellQuote(ts)}   # then upload the truststore again (a new S3 object ` +
              `version) and reload`,
            evidence: { subject: c.info.subject, fingerprintSha256: c.info.fingerprintSha256 },
          });
    case OWN_CODES.clientIntermediatesIgnored: {
      const sent = k.intermediates.map((i) => i.info.subject);
      return finding({
        id: 'chain.client-intermediates-ignored',
        severity: 'error',
        title: 'the path closes only with intermediates the client sends, and API Gateway ignores those',
        detail:
          'OpenSSL alone would accept this chain, but API Gateway builds the path from the truststore only: ' +
          '"Could not find issuer for certificate". Put every intermediate CA in the truststore.',
        fix:
          `# append the intermediate CA certificates (not the client certificate) to the truststore:\nopenssl ` +
          `crl2pkcs7 -nocrl -certfile ${shellQuote(certPath)} | openssl pkcs7 -print_certs | awk '/subject=/{n++} ` +
          `n>1' >> ${shellQuote(ts)}`,
        evidence: { missingIssuer: c.info.issuer, authorityKeyId: c.info.authorityKeyId, clientSent: sent },
      });
    }
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN': {
      const sameName = (k.truststore?.certs ?? []).filter((t) => t.info.subject === c.info.issuer);
      if (sameName.length > 0) return issuerKeyMismatch({ d, c, sameName, ts });
      return finding({
        id: 'chain.issuer-missing',
        severity: 'error',
        title: `the truststore has no certificate for the issuer "${titleText(c.info.issuer)}"`,
        detail:
          `The ${d.depth === 0 ? 'client certificate' : `CA "${c.info.subject}"`} was issued by a CA that is ` +
          `not in the truststore: "Access denied. Reason: Could not find issuer for certificate". The truststore ` +
          `must hold the issuing CA and every CA above it up to the root.`,
        fix:
          `# get the issuer's certificate (ask the CA, or look at the client's chain) and append it and its ` +
          `parents:\ncat ISSUER-CA.pem ROOT-CA.pem >> ${shellQuote(ts)}`,
        evidence: {
          needIssuer: c.info.issuer,
          authorityKeyId: c.info.authorityKeyId,
          truststoreSubjects: truststoreSubjects(k),
        },
      });
    }
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return finding({
        id: 'chain.root-missing',
        severity: 'error',
        title:
          `the truststore holds "${titleText(c.info.subject)}" but not the root CA above it ` +
          `("${titleText(c.info.issuer)}")`,
        detail:
          'API Gateway requires the complete chain of trust up to a self-signed root in the truststore; an ' +
          'intermediate alone is not enough: "Could not find issuer for certificate".',
        fix: `cat ROOT-CA.pem >> ${shellQuote(ts)}   # the root whose subject is "${c.info.issuer}"`,
        evidence: { ...at, authorityKeyId: c.info.authorityKeyId },
      });
    case 'CERT_SIGNATURE_FAILURE': {
      const issuer = a.rulesChain.certs[d.depth + 1];
      return finding({
        id: 'chain.signature-invalid',
        severity: 'error',
        title:
          `the signature on ${d.depth === 0 ? 'the client certificate' : `"${titleText(c.info.subject)}"`} does ` +
          `not verify with the truststore's "${titleText(issuer?.info.subject ?? c.info.issuer)}"`,
        detail:
          'The certificate was altered after signing, or a different CA with the same name (and key id) is in ' +
          'the truststore. API Gateway: "The certificate\'s content must not have been altered"; OpenSSL: ' +
          '"certificate signature failure".',
        fix: `openssl verify -CAfile ${shellQuote(ts)} -show_chain ${shellQuote(certPath)}`,
        evidence: { ...at, issuerFingerprint: issuer?.info.fingerprintSha256 ?? null },
      });
    }
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      if (d.depth === 0) return null;
      return d.code === 'CERT_HAS_EXPIRED'
        ? finding({
            id: 'chain.ca-expired',
            severity: 'error',
            title: `CA certificate "${titleText(c.info.subject)}" expired on ${c.info.notAfter}`,
            detail:
              'Every certificate on the path must be valid now; an expired CA denies every client under it: ' +
              '"certificate has expired". API Gateway does not warn when truststore certificates expire.',
            fix:
              'renew the CA certificate (same key and subject keep issued client certificates valid), replace it in ' +
              'the truststore and upload it again',
            evidence: { ...at, notAfter: c.info.notAfter },
          })
        : finding({
            id: 'chain.ca-not-yet-valid',
            severity: 'error',
            title: `CA certificate "${titleText(c.info.subject)}" is not valid until ${c.info.notBefore}`,
            detail: 'Every certificate on the path must be valid now: "certificate is not yet valid".',
            fix: 'check the clocks, or re-issue the CA certificate with an earlier notBefore',
            evidence: { ...at, notBefore: c.info.notBefore },
          });
    case 'INVALID_CA':
      return finding({
        id: 'chain.not-a-ca',
        severity: 'error',
        title: `"${titleText(c.info.subject)}" issued a certificate but is not a CA`,
        detail:
          `Its basic constraints ` +
          `(${c.info.basicConstraints ? `CA:${String(c.info.basicConstraints.ca).toUpperCase()}` : 'absent'}) or key ` +
          `usage (${c.info.keyUsage?.join(', ') ?? 'absent'}) do not allow signing certificates. OpenSSL refuses the ` +
          `path: "invalid CA certificate" / "unsuitable certificate purpose".`,
        fix:
          're-issue that CA certificate with basicConstraints = critical,CA:TRUE and keyUsage = keyCertSign, ' +
          'cRLSign',
        evidence: at,
      });
    case 'INVALID_PURPOSE':
      if (d.depth === 0) return null;
      return finding({
        id: 'chain.ca-purpose',
        severity: 'error',
        title:
          `CA "${titleText(c.info.subject)}" may not issue client certificates (extended key ` +
          `usage: ${titleText(c.info.extendedKeyUsage?.join(', ') ?? 'absent')})`,
        detail:
          'A CA whose extended key usage is present must include clientAuth for OpenSSL to accept client ' +
          'certificates under it: "unsuitable certificate purpose".',
        fix: 're-issue the CA certificate without an extended key usage, or with clientAuth in it',
        evidence: at,
      });
    case 'PATH_LENGTH_EXCEEDED':
      return finding({
        id: 'chain.path-length-exceeded',
        severity: 'error',
        title:
          `CA "${titleText(c.info.subject)}" allows ${c.info.basicConstraints?.pathLength ?? 0} CA(s) below it, ` +
          `and the path has more`,
        detail:
          'Its pathLenConstraint limits how many intermediate CAs may follow it: "path length constraint ' +
          'exceeded".',
        fix: 'issue the client certificate from a CA higher up, or re-issue the constrained CA with a larger pathlen',
        evidence: { ...at, pathLength: c.info.basicConstraints?.pathLength ?? null },
      });
    case OWN_CODES.chainTooLong:
      return finding({
        id: 'chain.too-long',
        severity: 'error',
        title:
          `the path has ${a.rulesChain.certs.length - 1} CA certificates; API Gateway allows at ` +
          `most ${k.policy.maxCaCerts}`,
        detail:
          '"Certificates can have a maximum chain length of four" (the client certificate not counted). A deep ' +
          'private PKI is denied even when every certificate is right.',
        fix: 'issue client certificates from a CA at most four levels deep (root plus three intermediates)',
        evidence: { path: a.rulesChain.certs.map((x) => x.info.subject) },
      });
    case OWN_CODES.insecureSignature:
    case 'CA_MD_TOO_WEAK':
      if (d.depth === 0) return null;
      return finding({
        id: 'chain.insecure-signature',
        severity: 'error',
        title: `CA "${titleText(c.info.subject)}" is signed with ${titleText(c.info.signatureAlgorithm.name)}`,
        detail:
          'API Gateway requires SHA-256 or stronger on every certificate of the path: "Client cert using an ' +
          'insecure Signature Algorithm".',
        fix: 're-issue that CA certificate with SHA-256 (same key and subject), replace it in the truststore',
        evidence: { ...at, signatureAlgorithm: c.info.signatureAlgorithm.name },
      });
    case OWN_CODES.weakKey:
    case 'CA_KEY_TOO_SMALL':
      if (d.depth === 0) return null;
      return finding({
        id: 'chain.insecure-signature',
        severity: 'error',
        title: `CA "${titleText(c.info.subject)}" has a weak key (${describeKey(c)})`,
        detail:
          'API Gateway requires RSA-2048+ or ECDSA-256+ on every certificate of the path: "Client cert using ' +
          'an insecure Signature Algorithm".',
        fix: 'the CA needs a new, stronger key; its client certificates must be re-issued',
        evidence: { ...at, key: describeKey(c) },
      });
    default:
      return null;
  }
}

function selfSignedModified(k: Known, client: Cert, copy: Cert): Finding {
  const differs: string[] = [];
  const pairs: [string, string, string][] = [
    ['serial', client.info.serial, copy.info.serial],
    ['notBefore', client.info.notBefore, copy.info.notBefore],
    ['notAfter', client.info.notAfter, copy.info.notAfter],
    ['public key (SPKI SHA-256)', client.info.spkiSha256, copy.info.spkiSha256],
    ['signature algorithm', client.info.signatureAlgorithm.name, copy.info.signatureAlgorithm.name],
  ];
  for (const [what, a, b] of pairs) if (a !== b) differs.push(`${what}: client ${a} / truststore ${b}`);
  if (differs.length === 0)
    differs.push(
      'same fields, different bytes (the signature or an extension changed: the file was edited or corrupted)',
    );
  const certPath = k.certPath ?? 'client.crt';
  const keyPath = k.keyFile?.path ?? 'private.key';
  const rsa = client.info.modulusSha1 !== null;
  const digest = (c: Cert | null | undefined): string =>
    c ? ((rsa ? c.info.modulusSha1 : c.info.spkiSha256) ?? '-') : '-';
  return finding({
    id: 'chain.self-signed-modified',
    severity: 'error',
    title:
      'the truststore holds a different certificate with this subject: the client certificate was changed after ' +
      'it was put in the truststore',
    detail:
      'API Gateway accepts a self-signed client certificate only if that exact certificate is in the ' +
      "truststore. The one presented has the same subject as the truststore's copy but other content (regenerated, " +
      're-signed or corrupted): "Access denied. Reason: self-signed certificate". The key, the client certificate ' +
      'and the truststore copy must all match.',
    fix:
      `# compare (all three must be equal):\nopenssl ${rsa ? 'rsa' : 'pkey'} ` +
      `-noout ${rsa ? '-modulus' : '-pubout'} -in ${shellQuote(keyPath)} | openssl sha1\nopenssl x509 ` +
      `-noout ${rsa ? '-modulus' : '-pubkey'} -in ${shellQuote(certPath)} | openssl ` +
      `sha1\ndiff ${shellQuote(certPath)} <(openssl x509 -in TRUSTSTORE-COPY.pem)\n# fix: replace the truststore ` +
      `copy with the certificate the client uses (or give the client the old one back)`,
    evidence: {
      [rsa ? 'key modulus sha1' : 'key SPKI SHA-256']: k.key
        ? ((rsa ? k.key.info.modulusSha1 : k.key.info.spkiSha256) ?? '-')
        : '(no key given)',
      [rsa ? 'client cert modulus sha1' : 'client cert SPKI SHA-256']: digest(client),
      [rsa ? 'truststore copy modulus sha1' : 'truststore copy SPKI SHA-256']: digest(copy),
      differs,
      clientFingerprint: client.info.fingerprintSha256,
      truststoreFingerprint: copy.info.fingerprintSha256,
    },
  });
}

function truststoreSubjects(k: Known): string[] {
  const all = k.truststore?.certs.map((c) => c.info.subject) ?? [];
  return all.length > 10 ? [...all.slice(0, 10), `... and ${all.length - 10} more`] : all;
}

function sortByDepth(ds: readonly Defect[]): Defect[] {
  return ds.slice().sort((a, b) => a.depth - b.depth);
}
