/**
 * Truststore lint: what a user needs to know before uploading a bundle. API Gateway only says "Invalid
 * certificates produce warnings" when the domain is updated, and never warns later when a certificate expires;
 * these checks say which certificate, why it matters to clients, and the command that fixes it.
 *
 * Every check is data in, findings out, and the whole lint is linear in the bundle: certificates are indexed by
 * subject (and key id) once, issuer lookups and CA depths are memoised, so 10,000 certificates lint in well
 * under a second.
 */
import type { Cert, LoadedFile } from '../pki/types.js';
import { colonHex } from '../pki/cert.js';
import { isPrivateKeyLabel } from '../pki/key.js';
import { DEFAULT_POLICY, insecureSignature, isCa, unmodelledExtension, weakKey } from '../policy/rules.js';
import { likelyIssued, looksSelfSigned, timeValid } from '../policy/chain.js';
import { finding } from '../report/finding.js';
import { FINDING_IDS } from '../report/finding-ids.js';
import { titleText } from '../report/text.js';
import type { Finding } from '../report/finding.js';
import { MAX_CA_NAMES_BYTES, type Truststore } from './truststore.js';
import { listCommand, localName, removeCommand, showCommand } from './commands.js';
import { shellQuote } from '../report/shell.js';

/** `truststore.expires-soon` fires this many days before notAfter. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

/** Every id lintTruststore and readTruststore can produce: the truststore.* rows of the finding catalogue. */
export const TRUSTSTORE_FINDING_IDS = FINDING_IDS.filter((id) => id.startsWith('truststore.'));

/** What a certificate is for in a truststore. */
export type CertRole = 'root' | 'intermediate' | 'pinned-leaf' | 'other';

export function certRole(c: Cert): CertRole {
  if (isCa(c)) return looksSelfSigned(c) ? 'root' : 'intermediate';
  return isPinnedLeaf(c) ? 'pinned-leaf' : 'other';
}

/**
 * A self-signed certificate that does not claim to be a CA: API Gateway accepts it only as this exact client
 * certificate. One that says CA:TRUE but lacks keyCertSign is a broken root, not a pin.
 */
function isPinnedLeaf(c: Cert): boolean {
  return !isCa(c) && c.info.basicConstraints?.ca !== true && c.info.selfSigned;
}

export function lintTruststore(ts: Truststore, file?: LoadedFile, now: Date = new Date()): Finding[] {
  const ctx = lintContext(ts, file, now);
  return [
    ...privateKeyFindings(ctx),
    ...duplicateFindings(ctx),
    ...notCaFindings(ctx),
    ...validityFindings(ctx),
    ...algorithmFindings(ctx),
    ...incompleteChainFindings(ctx),
    ...tooDeepFindings(ctx),
    ...sameSubjectFindings(ctx),
    ...caNamesFindings(ts),
    ...constraintsNotJudgedFindings(ctx, ts),
  ];
}

/** The CA names would not fit in a TLS CertificateRequest: what that means for servers that name them. */
function caNamesFindings(ts: Truststore): Finding[] {
  const bytes = ts.caNamesBytes;
  if (bytes <= MAX_CA_NAMES_BYTES) return [];
  return [
    finding({
      id: 'truststore.ca-names-too-large',
      severity: 'warning',
      title:
        `the CA names of these ${ts.certs.length} certificates take ${bytes} bytes, more than a TLS ` +
        `CertificateRequest holds (${MAX_CA_NAMES_BYTES})`,
      detail:
        'A server that names its trusted CAs to clients (nginx ssl_client_certificate, Node with `ca`, most ' +
        'OpenSSL-based servers) fails every handshake with this bundle (an internal_error alert). mtlsgate does not ' +
        'name them for such a truststore and verifies chains with its policy instead; clients that choose a ' +
        'certificate by the CA names (browsers, Java key managers) get no hint.',
      fix:
        'Keep the bundle under about 1,000 CAs per domain, or on nginx load it with ssl_trusted_certificate (not ' +
        'sent) and name a few CAs with ssl_client_certificate.',
      evidence: { certificates: ts.certs.length, caNamesBytes: bytes, limit: MAX_CA_NAMES_BYTES },
    }),
  ];
}

/**
 * Past the CertificateRequest limit mtlsgate judges chains with its policy, which does not evaluate policy constraints
 * or RFC 3779 resources (see policy/rules.ts unmodelledExtension): a chain through a CA carrying them is refused
 * (MTLSGATE_UNMODELLED_EXTENSION) where OpenSSL would check them. Said before deployment, not found in the logs.
 */
function constraintsNotJudgedFindings(ctx: LintContext, ts: Truststore): Finding[] {
  if (ts.caNamesBytes <= MAX_CA_NAMES_BYTES) return [];
  const hit: { i: number; what: string }[] = [];
  for (const i of ctx.unique) {
    const what = unmodelledExtension(ctx.certs[i]!);
    if (what !== null) hit.push({ i, what });
  }
  if (hit.length === 0) return [];
  const shown = hit
    .slice(0, 10)
    .map(({ i, what }) => `${i}: ${ctx.certs[i]!.info.subject || '(empty subject)'} (${what})`);
  return [
    finding({
      id: 'truststore.constraints-not-judged',
      severity: 'warning',
      title:
        `${hit.length} CA certificate(s) carry ${[...new Set(hit.map((h) => h.what))].join(', ')}, which ` +
        `mtlsgate cannot check with a bundle this large: clients under them are refused`,
      detail:
        'With more CA names than a CertificateRequest holds, mtlsgate does not hand the truststore to OpenSSL ' +
        'for the handshake; its policy judges each chain instead, and the policy does not evaluate policy constraints ' +
        'or RFC 3779 resources. Rather than guess, it refuses a chain through such a CA ' +
        '(MTLSGATE_UNMODELLED_EXTENSION), where API Gateway, or mtlsgate with a smaller bundle, would check the ' +
        'constraint.',
      fix:
        'Give the clients under these CAs a domain of their own whose truststore stays under about 1,000 CAs ' +
        '(mtlsgate then lets OpenSSL check the constraints in the handshake), or remove CAs this domain does not ' +
        'need.',
      evidence: { certificates: shown, more: Math.max(0, hit.length - shown.length) },
    }),
  ];
}

// ---- context: built once, shared by the checks ----

interface LintContext {
  certs: readonly Cert[];
  file: LoadedFile | undefined;
  now: Date;
  /** The bundle's file name as a shell word, for fix commands. */
  name: string;
  /** Indexes of the first copy of each distinct certificate; later copies only get `truststore.duplicate`. */
  unique: number[];
  /** For each certificate, the index of its first copy in the bundle (its own index when it is the first). */
  firstCopy: number[];
  /** Certificate index i is the i-th CERTIFICATE block of the file, so awk can pick it by position. */
  positional: boolean;
  /** Indexes of the distinct certificates, by Node's subject string. */
  bySubject: Map<string, number[]>;
  /** Memoised: the index of the certificate's issuer in the bundle, or null. */
  issuerOf: (i: number) => number | null;
}

function lintContext(ts: Truststore, file: LoadedFile | undefined, now: Date): LintContext {
  const certs = ts.certs;
  // Copies are found by their octets: no certificate is described or hashed for it.
  const byDer = new Map<string, number>();
  const unique: number[] = [];
  const firstCopy = certs.map((c, i) => {
    const der = c.der.toString('latin1');
    const first = byDer.get(der);
    if (first !== undefined) return first;
    byDer.set(der, i);
    unique.push(i);
    return i;
  });
  const bySubject = groupIndexes(unique, (i) => certs[i]!.subjectName);
  return {
    certs,
    file,
    now,
    name: shellQuote(localName(file?.path ?? ts.source)),
    unique,
    firstCopy,
    positional: isPositional(file),
    bySubject,
    issuerOf: issuerFinder(certs, bySubject, now),
  };
}

/** The indexes by a key of each, in order within a group; the groups in the order their first member appears. */
function groupIndexes(indexes: readonly number[], key: (i: number) => string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const i of indexes) {
    const k = key(i);
    const list = groups.get(k);
    if (list) list.push(i);
    else groups.set(k, [i]);
  }
  return groups;
}

/**
 * Without parse errors or PKCS#7 blocks, the loader keeps every CERTIFICATE block, in order. With them, a
 * certificate's position no longer tells its block, and the fix commands fall back to listing subjects.
 */
function isPositional(file: LoadedFile | undefined): boolean {
  if (!file) return true;
  if (file.format !== 'pem') return false;
  if (file.problems.some((p) => p.kind === 'cert-parse-error' || p.kind === 'pkcs7-parse-error')) return false;
  return !file.pemLabels.some((l) => l === 'PKCS7' || l === 'PKCS #7 SIGNED DATA' || l === 'CMS');
}

/**
 * Finds each certificate's issuer among the bundle's distinct certificates as OpenSSL's chain building would:
 * those named as its issuer, those whose subject key id matches its authority key id first, then the first likely
 * issuer that is valid now, else the last likely one. A self-signed certificate has no issuer. Only the few
 * certificates of the issuer's name are described, so a bundle of roots is never described for this.
 */
function issuerFinder(
  certs: readonly Cert[],
  bySubject: ReadonlyMap<string, number[]>,
  now: Date,
): (i: number) => number | null {
  // Typed arrays, not Maps: 10,000 certificates are looked up several times each.
  const UNKNOWN = -2;
  const NONE = -1;
  const memo = new Int32Array(certs.length).fill(UNKNOWN);
  const keyId = (j: number): string => certs[j]!.info.subjectKeyId ?? '';
  return (i) => {
    const known = memo[i]!;
    if (known !== UNKNOWN) return known === NONE ? null : known;
    const child = certs[i]!;
    let found: number | null = null;
    if (!looksSelfSigned(child)) {
      const named = bySubject.get(child.issuerName) ?? [];
      const akid = child.info.authorityKeyId;
      const candidates =
        akid === null
          ? [...groupIndexes(named, keyId).values()].flat()
          : [...named.filter((j) => keyId(j) === akid), ...named.filter((j) => keyId(j) === '')];
      for (const j of candidates) {
        if (j === i || !likelyIssued(child, certs[j]!)) continue;
        found = j;
        if (timeValid(certs[j]!, now)) break;
      }
    }
    memo[i] = found ?? NONE;
    return found;
  };
}

// ---- the checks ----

function privateKeyFindings(ctx: LintContext): Finding[] {
  const file = ctx.file;
  if (!file || file.keyBlocks === 0) return [];
  const detail =
    'A truststore is public material: it is uploaded to S3 and read by whoever manages the domain. A private key ' +
    'in it gives anyone who can read the bucket the identity the key belongs to. API Gateway needs only certificates.';
  const fix = [
    `awk '/^[ \\t]*-----BEGIN .*PRIVATE KEY-----/{s=1} !s; /^[ \\t]*-----END .*PRIVATE KEY-----/{s=0}' ${ctx.name} > ${ctx.name}.nokeys`,
    'upload the file without keys; if the bundle was ever uploaded or shared, treat the key as exposed: revoke and reissue its certificate',
  ].join('\n');
  const out: Finding[] = [];
  // Positions among the readable PEM blocks (pemLabels); the key itself is never read into a finding.
  file.pemLabels.forEach((label, block) => {
    if (!isPrivateKeyLabel(label)) return;
    out.push(
      finding({
        id: 'truststore.contains-private-key',
        severity: 'error',
        title: `PEM block ${block} is a private key (${label})`,
        detail,
        fix,
        evidence: { file: file.path, block, type: label },
      }),
    );
  });
  const rest = file.keyBlocks - out.length;
  if (rest > 0) {
    const what =
      file.format === 'pem' ? `${rest} unreadable private key block(s)` : `${rest} private key(s) (${file.format})`;
    out.push(
      finding({
        id: 'truststore.contains-private-key',
        severity: 'error',
        title: `the bundle holds ${what}`,
        detail,
        fix,
        evidence: { file: file.path, count: rest, format: file.format },
      }),
    );
  }
  return out;
}

function duplicateFindings(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  ctx.firstCopy.forEach((first, i) => {
    if (first === i) return;
    out.push(
      finding({
        id: 'truststore.duplicate',
        severity: 'warning',
        title: `${label(ctx, i)} is an exact copy of certificate ${first}`,
        detail:
          'The same certificate (identical DER) appears twice. It does no harm to verification, but it usually means ' +
          'the bundle was assembled by appending without checking, and a later removal may leave one copy behind.',
        fix: removeCommand(ctx, i),
        evidence: { ...evidenceOf(ctx, i), duplicateOf: first },
      }),
    );
  });
  return out;
}

function notCaFindings(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const i of ctx.unique) {
    const c = ctx.certs[i]!;
    if (isCa(c)) continue;
    const ev = {
      ...evidenceOf(ctx, i),
      basicConstraints: basicConstraintsText(c),
      keyUsage: c.info.keyUsage ?? 'absent',
    };
    if (isPinnedLeaf(c)) {
      out.push(
        finding({
          id: 'truststore.not-ca',
          severity: 'info',
          title: `${label(ctx, i)} is a pinned self-signed client certificate`,
          detail:
            'This certificate is not a CA, so it can issue nothing; API Gateway accepts it only when a client presents ' +
            'this exact certificate (a pinned self-signed client certificate). That is fine if intended. If it was ' +
            `meant as a root CA, it has ${notCaReason(c)}; a CA needs basicConstraints CA:TRUE (and keyCertSign when ` +
            'keyUsage is present), or clients it signed are denied.',
          fix: '',
          evidence: ev,
        }),
      );
      continue;
    }
    out.push(
      finding({
        id: 'truststore.not-ca',
        severity: 'warning',
        title:
          c.info.basicConstraints?.ca === true
            ? `${label(ctx, i)} says CA:TRUE but its keyUsage lacks keyCertSign: it can never be an issuer`
            : `${label(ctx, i)} is not a CA and not self-signed: it can never be an issuer`,
        detail:
          `It has ${notCaReason(c)}, so OpenSSL refuses it as the issuer of a client certificate` +
          (c.info.basicConstraints?.ca === true
            ? '. It looks like a CA whose keyUsage was made without keyCertSign: reissue it with keyUsage keyCertSign, cRLSign.'
            : ', and as it is not self-signed it cannot be pinned either: no client is ever accepted because of it. It is ' +
              "usually a client or server certificate pasted by mistake; the client's own certificate belongs in its --cert, not in the truststore."),
        fix: [showCommand(ctx, i), removeCommand(ctx, i)].join('\n'),
        evidence: ev,
      }),
    );
  }
  return out;
}

function notCaReason(c: Cert): string {
  const bc = c.info.basicConstraints;
  if (bc === null) return 'no basicConstraints extension';
  if (!bc.ca) return 'basicConstraints CA:FALSE';
  return 'CA:TRUE but a keyUsage without keyCertSign';
}

function basicConstraintsText(c: Cert): string {
  const bc = c.info.basicConstraints;
  if (bc === null) return 'absent';
  return `CA:${bc.ca ? 'TRUE' : 'FALSE'}${bc.pathLength === null ? '' : `, pathlen:${bc.pathLength}`}${bc.critical ? ' (critical)' : ''}`;
}

function validityFindings(ctx: LintContext): Finding[] {
  const t = ctx.now.getTime();
  const invalid = ctx.unique.filter((i) => !timeValid(ctx.certs[i]!, ctx.now));
  // With nothing valid left, every client is denied: that is an outage, not a warning.
  const severity = invalid.length === ctx.unique.length ? 'error' : 'warning';
  const out: Finding[] = invalid.map((i) => {
    const c = ctx.certs[i]!;
    const notYet = c.facts.notBeforeMs > t;
    const ev = { ...evidenceOf(ctx, i), notBefore: c.info.notBefore, at: ctx.now.toISOString() };
    return finding({
      id: 'truststore.expired',
      severity,
      title: notYet
        ? `${label(ctx, i)} is not valid until ${c.info.notBefore}`
        : `${label(ctx, i)} expired on ${c.info.notAfter}`,
      detail:
        (notYet
          ? "Its validity period has not started (or this machine's clock is behind)."
          : 'Its validity period is over.') +
        ' Clients whose chain runs through it are denied (OpenSSL: "certificate has expired" / "not yet valid"). ' +
        'API Gateway warns only when the domain is updated and never notifies you later.' +
        (severity === 'error' ? ' No certificate in the bundle is valid, so every client is denied.' : ''),
      fix: [
        showCommand(ctx, i, '-subject -dates'),
        'replace it with its renewed certificate, or remove it:',
        removeCommand(ctx, i),
      ].join('\n'),
      evidence: ev,
    });
  });
  for (const i of ctx.unique) {
    const c = ctx.certs[i]!;
    const left = c.facts.notAfterMs - t;
    if (!timeValid(c, ctx.now) || left >= EXPIRY_WARNING_DAYS * DAY_MS) continue;
    const days = Math.floor(left / DAY_MS);
    out.push(
      finding({
        id: 'truststore.expires-soon',
        severity: 'info',
        title: `${label(ctx, i)} expires on ${c.info.notAfter.slice(0, 10)} (in ${days} day${days === 1 ? '' : 's'})`,
        detail:
          `It expires within ${EXPIRY_WARNING_DAYS} days. Renew it, put the new certificate in the bundle (both may sit side by side ` +
          'while clients move over), upload a new truststore version and update the domain: API Gateway does not warn you.',
        fix: showCommand(ctx, i, '-subject -enddate'),
        evidence: { ...evidenceOf(ctx, i), daysLeft: days },
      }),
    );
  }
  return out;
}

function algorithmFindings(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const i of ctx.unique) {
    const c = ctx.certs[i]!;
    if (insecureSignature(c)) {
      const root = isCa(c) && looksSelfSigned(c);
      const sig = c.info.signatureAlgorithm;
      out.push(
        finding({
          id: 'truststore.insecure-signature',
          severity: 'warning',
          title: `${label(ctx, i)} is signed with ${sig.name}${root ? ' (its self-signature)' : ''}`,
          detail:
            'API Gateway supports "SHA-256 or stronger" in the truststore; MD5, SHA-1 and SHA-224 signatures are below that. ' +
            (root
              ? "This is the self-signature of a root: OpenSSL never checks a trust anchor's own signature, so TLS still " +
                "works here, but API Gateway's rule names every certificate, and it may warn or refuse it."
              : 'Clients whose chain runs through it may be denied with "Client cert using an insecure Signature Algorithm".'),
          fix: [
            showCommand(ctx, i, '-subject -text'),
            'reissue it signed with SHA-256 or stronger (openssl ... -sha256), then replace it in the bundle',
          ].join('\n'),
          evidence: { ...evidenceOf(ctx, i), signatureAlgorithm: sig.name, hash: sig.hash },
        }),
      );
    }
    if (weakKey(c)) {
      const k = c.info.publicKey;
      const size = k.type === 'ec' ? `${k.curve ?? 'EC'} (${k.bits} bits)` : `${k.type.toUpperCase()} ${k.bits} bits`;
      out.push(
        finding({
          id: 'truststore.weak-key',
          severity: 'warning',
          title: `${label(ctx, i)} has a weak ${size} key`,
          detail:
            `API Gateway supports RSA-${DEFAULT_POLICY.minRsaBits} or stronger and ECDSA-${DEFAULT_POLICY.minEcBits} or stronger ` +
            '(DSA not at all); OpenSSL 3 at its default security level also rejects RSA keys under 2048 bits. ' +
            'Clients issued under this certificate may be denied.',
          fix: [
            showCommand(ctx, i, '-subject -text'),
            'reissue the CA with an RSA-2048+ or P-256+ key and its clients under it',
          ].join('\n'),
          evidence: { ...evidenceOf(ctx, i), keyType: k.type, bits: k.bits, curve: k.curve },
        }),
      );
    }
  }
  return out;
}

function incompleteChainFindings(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const i of ctx.unique) {
    const c = ctx.certs[i]!;
    if (!isCa(c) || looksSelfSigned(c) || ctx.issuerOf(i) !== null) continue;
    const akid = c.info.authorityKeyId;
    const sameName = ctx.bySubject.get(c.issuerName) ?? [];
    const ev: Finding['evidence'] = {
      ...evidenceOf(ctx, i),
      issuerNeeded: c.info.issuer,
      authorityKeyId: akid === null ? null : hexId(akid),
    };
    if (sameName.length > 0)
      ev.sameNameOtherKey = sameName.map((j) => `${j}: subject key id ${hexOrNone(ctx.certs[j]!.info.subjectKeyId)}`);
    out.push(
      finding({
        id: 'truststore.incomplete-chain',
        severity: 'warning',
        title: `${label(ctx, i)}: its issuer ${titleText(c.info.issuer)} is not in the bundle`,
        detail:
          "API Gateway builds a client's chain from the truststore alone and ignores intermediates the client sends: " +
          'every CA from the issuing one up to the self-signed root must be in the bundle. Clients issued under this ' +
          'certificate are denied with "Could not find issuer for certificate".' +
          (sameName.length > 0
            ? ` The bundle has a certificate with the issuer's name (${sameName.join(', ')}), but with another key: ` +
              'a re-keyed or different CA of the same name, which cannot verify this one.'
            : ''),
        fix: [
          showCommand(ctx, i, '-subject -issuer -ext authorityKeyIdentifier'),
          'find the certificate whose subject is the issuer above (and whose Subject Key Identifier equals the authority key id), then append its PEM:',
          `cat issuer-ca.pem >> ${ctx.name}`,
        ].join('\n'),
        evidence: ev,
      }),
    );
  }
  return out;
}

/** A CA this many CAs from its root (itself included) leaves its clients over API Gateway's limit. */
function tooDeepFindings(ctx: LintContext): Finding[] {
  const max = DEFAULT_POLICY.maxCaCerts;
  const heightOf = heightFinder(ctx);
  const out: Finding[] = [];
  for (const i of ctx.unique) {
    const c = ctx.certs[i]!;
    if (!isCa(c)) continue;
    const { count, top } = heightOf(i);
    if (count <= max) continue;
    const anchored = looksSelfSigned(ctx.certs[top]!);
    out.push(
      finding({
        id: 'truststore.too-deep',
        severity: 'warning',
        title:
          `${label(ctx, i)} is ${count} ` +
          `CAs ${anchored ? 'from its root' : 'deep (and its chain is incomplete)'}, over the limit of ${max}`,
        detail:
          `API Gateway allows "a maximum chain length of four": at most ${max} CA certificates from the root to the ` +
          'issuing CA, the client certificate not counted. A client issued by this CA needs ' +
          `${count}${anchored ? '' : ' or more'}, so it is denied.`,
        fix:
          'issue client certificates from a CA at most 3 levels below the root (flatten the hierarchy), and ' +
          'remove this CA from the bundle when nothing needs it',
        evidence: { ...evidenceOf(ctx, i), caCount: count, maxCaCerts: max, path: pathEvidence(ctx, i, max + 2) },
      }),
    );
  }
  return out;
}

interface Height {
  /** CA certificates from this one up to the top of its chain in the bundle, itself included. */
  count: number;
  /** Index of that top certificate (a root when the chain is complete). */
  top: number;
}

/**
 * Memoised per certificate, so the whole bundle costs one walk up each chain; a loop of cross-signed CAs
 * stops where it repeats. Typed arrays rather than a Map and a Set per walk: it runs for every CA of the bundle.
 */
function heightFinder(ctx: LintContext): (i: number) => Height {
  const n = ctx.certs.length;
  const counts = new Int32Array(n); // 0: not known yet
  const tops = new Int32Array(n);
  const visitedBy = new Int32Array(n); // 1 + the start of the walk that last passed a certificate
  const walk: number[] = [];
  return (start) => {
    walk.length = 0;
    let count = 0;
    let top = start;
    for (let i: number | null = start; i !== null; i = ctx.issuerOf(i)) {
      if (counts[i] !== 0) {
        count = counts[i]!;
        top = tops[i]!;
        break;
      }
      if (visitedBy[i] === start + 1) break;
      visitedBy[i] = start + 1;
      walk.push(i);
      count = 0;
      top = i;
    }
    for (let k = walk.length - 1; k >= 0; k--) {
      count += 1;
      counts[walk[k]!] = count;
      tops[walk[k]!] = top;
    }
    return { count: counts[start]!, top: tops[start]! };
  };
}

/** The chain from the top down to certificate i, at most `limit` entries (the top ones elided). */
function pathEvidence(ctx: LintContext, i: number, limit: number): string[] {
  const up: string[] = [];
  const seen = new Set<number>();
  for (let j: number | null = i; j !== null && !seen.has(j); j = ctx.issuerOf(j)) {
    if (up.length === limit) {
      up.push('…');
      break;
    }
    seen.add(j);
    up.push(`${j}: ${ctx.certs[j]!.info.subject}`);
  }
  return up.reverse();
}

function sameSubjectFindings(ctx: LintContext): Finding[] {
  const out: Finding[] = [];
  for (const list of ctx.bySubject.values()) {
    if (list.length < 2) continue;
    const keys = new Set(list.map((i) => ctx.certs[i]!.info.spkiSha256));
    if (keys.size < 2) continue; // renewals with the same key are fine: any copy verifies the same clients
    const first = ctx.certs[list[0]!]!;
    out.push(
      finding({
        id: 'truststore.same-subject-different-key',
        severity: 'warning',
        title:
          `certificates ${list.join(', ')} share the subject ${titleText(first.info.subject) || '(empty)'} but ` +
          `have ${keys.size} different keys`,
        detail:
          'Two CAs with one name and different keys: OpenSSL picks an issuer by name (and key id when present) and takes ' +
          'the first that is currently valid, so a client signed by the other key can fail with "certificate signature ' +
          'failure". API Gateway also refuses such bundles: "The certificate subject conflicts with an existing ' +
          'certificate from a different issuer". Keep only the CA your clients are issued by, or give the CAs distinct names.',
        fix: [
          listCommand(ctx),
          'remove the certificate(s) you do not issue clients from, e.g.:',
          removeCommand(ctx, list[list.length - 1]!),
        ].join('\n'),
        evidence: {
          subject: first.info.subject,
          indexes: list.map(String),
          issuers: list.map((i) => `${i}: ${ctx.certs[i]!.info.issuer}`),
          keys: list.map((i) => `${i}: spki sha256 ${ctx.certs[i]!.info.spkiSha256.slice(0, 16)}…`),
          fingerprints: list.map((i) => `${i}: ${ctx.certs[i]!.info.fingerprintSha256}`),
        },
      }),
    );
  }
  return out;
}

// ---- naming, evidence and commands ----

function label(ctx: LintContext, i: number): string {
  return `certificate ${i} (${titleText(ctx.certs[i]!.info.subject) || 'empty subject'})`;
}

function evidenceOf(ctx: LintContext, i: number): Finding['evidence'] {
  const info = ctx.certs[i]!.info;
  return {
    index: i,
    subject: info.subject,
    issuer: info.issuer,
    serial: info.serial,
    notAfter: info.notAfter,
    fingerprint: info.fingerprintSha256,
  };
}

function hexId(hex: string): string {
  return colonHex(hex).toUpperCase();
}

function hexOrNone(hex: string | null): string {
  return hex === null ? '(none)' : hexId(hex);
}
