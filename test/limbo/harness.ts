/**
 * x509-limbo through the offline path analysis: every testcase is parsed with certFromPem, its path is built
 * with buildChain (OpenSSL 3.0's order, client-sent intermediates used) and judged by predictOpenSsl with the
 * purpose the case asks for (sslserver for every case of the 2023 file), then the checks OpenSSL's verify applies
 * on top when asked (host / IP name, verify depth) and the case's own key-usage / signature constraints.
 * The result per case is SUCCESS or FAILURE (SKIPPED for a request OpenSSL has no knob for) with a one-line
 * context: the code the model predicts, or the parse / name / depth problem, and the path it built.
 *
 * Data: `test/limbo/data/` (vendored, Apache-2.0, see its NOTICE). A missing file is an error, never a skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { certFromPem } from '../../src/pki/cert.js';
import type { Cert } from '../../src/pki/types.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { buildChain, type Chain } from '../../src/policy/chain.js';
import { predictOpenSsl } from '../../src/policy/openssl-model.js';
import type { Purpose } from '../../src/policy/rules.js';

export const LIMBO_FILE = 'limbo-2023-12-02-ddc40b4.json';
export const LIMBO_URL = new URL(`./data/${LIMBO_FILE}`, import.meta.url);
export const LIMBO_PATH = fileURLToPath(LIMBO_URL);

export type LimboResult = 'SUCCESS' | 'FAILURE';
/** SKIPPED: the case asks for something OpenSSL's verify cannot be told (as upstream harnesses report it). */
export type HarnessResult = LimboResult | 'SKIPPED';

export interface PeerName {
  kind: 'DNS' | 'IP' | 'RFC822';
  value: string;
}

/** The fields of a limbo Testcase (schema of 2023-12-02) that the harness reads. */
export interface LimboCase {
  id: string;
  features: string[] | null;
  description: string;
  validation_kind: 'SERVER' | 'CLIENT';
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time: string | null;
  signature_algorithms: string[] | null;
  key_usage: string[] | null;
  extended_key_usage: string[] | null;
  expected_result: LimboResult;
  expected_peer_name: PeerName | null;
  max_chain_depth: number | null;
}

export interface LimboFile {
  version: number;
  testcases: LimboCase[];
}

export interface CaseResult {
  id: string;
  expected: LimboResult;
  actual: HarnessResult;
  /** Why: the OpenSSL code the model predicts (or the parse / name / depth problem), and the path it built. */
  context: string;
}

/** Reads the limbo file; throws naming the path when it is not there (the suite must fail, not skip). */
export function loadLimbo(path: string = LIMBO_PATH): LimboFile {
  if (!existsSync(path)) {
    throw new Error(
      `x509-limbo data not found at ${path}: the limbo suite needs test/limbo/data/${LIMBO_FILE} (see docs/limbo.md)`,
    );
  }
  const data = JSON.parse(readFileSync(path, 'utf8')) as LimboFile;
  if (data.version !== 1 || !Array.isArray(data.testcases)) throw new Error(`${path}: not a limbo v1 file`);
  return data;
}

/**
 * max_chain_depth as OpenSSL's verify depth (X509_VERIFY_PARAM_set_depth, `openssl verify -verify_depth d`): the
 * number of intermediates allowed, leaf and trust anchor not counted; a longer path is CERT_CHAIN_TOO_LONG.
 * Self-issued intermediates count like any other: OpenSSL has no exemption (limbo expects one; see exceptions).
 */
function depthProblem(chain: Chain, maxDepth: number | null): string | null {
  if (maxDepth === null) return null;
  const intermediates = chain.certs.length - 2; // leaf and anchor not counted
  return intermediates > maxDepth
    ? `CERT_CHAIN_TOO_LONG (${intermediates} intermediates > max_chain_depth ${maxDepth})`
    : null;
}

/**
 * X509_check_host / X509_check_ip as OpenSSL's verify applies them (check_id): DNS names against DNS SANs, the
 * subject CN only when there is no DNS SAN; wildcards in the leftmost label only and never partial
 * (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, as the upstream OpenSSL harness sets); IPs against IP SANs only.
 */
function nameProblem(leaf: Cert, name: PeerName | null): string | null {
  if (name === null) return null;
  switch (name.kind) {
    case 'DNS': {
      const ok = leaf.x509.checkHost(name.value, {
        subject: 'default',
        wildcards: true,
        partialWildcards: false,
        multiLabelWildcards: false,
        singleLabelSubdomains: false,
      });
      return ok === undefined ? `HOSTNAME_MISMATCH (${name.value})` : null;
    }
    case 'IP': {
      if (isIP(name.value) === 0) return `IP_ADDRESS_MISMATCH (not an IP address: ${name.value})`;
      return leaf.x509.checkIP(name.value) === undefined ? `IP_ADDRESS_MISMATCH (${name.value})` : null;
    }
    case 'RFC822':
      return leaf.x509.checkEmail(name.value, { subject: 'default' }) === undefined
        ? `EMAIL_MISMATCH (${name.value})`
        : null;
  }
}

/**
 * The purpose OpenSSL verifies for: a serverAuth constraint (or a SERVER case without one) is `sslserver`, a
 * clientAuth one (or a CLIENT case) is `sslclient`, the gateway's own purpose. OpenSSL's purposes check one EKU
 * each, so a case asking for anything else cannot be honoured: it is SKIPPED with the reason, not guessed.
 */
export function purposeFor(tc: LimboCase): { purpose: Purpose } | { skip: string } {
  const eku = tc.extended_key_usage ?? [];
  const wanted = new Set(
    eku.map((u) => (u === '1.3.6.1.5.5.7.3.1' ? 'serverAuth' : u === '1.3.6.1.5.5.7.3.2' ? 'clientAuth' : u)),
  );
  if (wanted.size === 0) return { purpose: tc.validation_kind === 'CLIENT' ? 'sslclient' : 'sslserver' };
  if (wanted.size === 1 && wanted.has('serverAuth')) return { purpose: 'sslserver' };
  if (wanted.size === 1 && wanted.has('clientAuth')) return { purpose: 'sslclient' };
  return {
    skip: `extended_key_usage ${[...wanted].join(',')}: OpenSSL's purposes check serverAuth or clientAuth, one at a time`,
  };
}

/** key_usage: each listed usage must be asserted by the peer's keyUsage extension when it has one (harness check). */
function keyUsageProblem(peer: Cert, wanted: readonly string[] | null): string | null {
  const ku = peer.info.keyUsage;
  if (!wanted || wanted.length === 0 || ku === null) return null;
  const missing = wanted.filter((u) => !ku.includes(u));
  return missing.length > 0 ? `KEY_USAGE (peer keyUsage lacks ${missing.join(',')})` : null;
}

/** Limbo's signature algorithm names as OIDs (GOST ones have none here: never acceptable). */
const SIGNATURE_OIDS: Readonly<Record<string, string>> = {
  RSA_WITH_MD5: '1.2.840.113549.1.1.4',
  RSA_WITH_SHA1: '1.2.840.113549.1.1.5',
  RSA_WITH_SHA224: '1.2.840.113549.1.1.14',
  RSA_WITH_SHA256: '1.2.840.113549.1.1.11',
  RSA_WITH_SHA384: '1.2.840.113549.1.1.12',
  RSA_WITH_SHA512: '1.2.840.113549.1.1.13',
  RSA_WITH_SHA3_224: '2.16.840.1.101.3.4.3.13',
  RSA_WITH_SHA3_256: '2.16.840.1.101.3.4.3.14',
  RSA_WITH_SHA3_384: '2.16.840.1.101.3.4.3.15',
  RSA_WITH_SHA3_512: '2.16.840.1.101.3.4.3.16',
  RSASSA_PSS: '1.2.840.113549.1.1.10',
  ECDSA_WITH_SHA1: '1.2.840.10045.4.1',
  ECDSA_WITH_SHA224: '1.2.840.10045.4.3.1',
  ECDSA_WITH_SHA256: '1.2.840.10045.4.3.2',
  ECDSA_WITH_SHA384: '1.2.840.10045.4.3.3',
  ECDSA_WITH_SHA512: '1.2.840.10045.4.3.4',
  ECDSA_WITH_SHA3_224: '2.16.840.1.101.3.4.3.9',
  ECDSA_WITH_SHA3_256: '2.16.840.1.101.3.4.3.10',
  ECDSA_WITH_SHA3_384: '2.16.840.1.101.3.4.3.11',
  ECDSA_WITH_SHA3_512: '2.16.840.1.101.3.4.3.12',
  DSA_WITH_SHA1: '1.2.840.10040.4.3',
  DSA_WITH_SHA224: '2.16.840.1.101.3.4.3.1',
  DSA_WITH_SHA256: '2.16.840.1.101.3.4.3.2',
  DSA_WITH_SHA384: '2.16.840.1.101.3.4.3.3',
  DSA_WITH_SHA512: '2.16.840.1.101.3.4.3.4',
  ED25519: '1.3.101.112',
  ED448: '1.3.101.113',
};

/** signature_algorithms: every signature the path relies on (all but a self-signed anchor's own) must be listed. */
function signatureProblem(chain: Chain, allowed: readonly string[] | null): string | null {
  if (!allowed || allowed.length === 0) return null;
  const oids = new Set(allowed.map((a) => SIGNATURE_OIDS[a]).filter((o) => o !== undefined));
  const checked = chain.end === 'anchored' ? chain.certs.slice(0, -1) : chain.certs;
  const bad = checked.find((c) => !oids.has(c.info.signatureAlgorithm.oid));
  return bad
    ? `SIGNATURE_ALGORITHM (${bad.info.signatureAlgorithm.name} on ${bad.info.subject || '(empty subject)'})`
    : null;
}

function parseAll(pems: readonly string[], what: string): Cert[] {
  return pems.map((pem, i) => {
    try {
      return certFromPem(pem);
    } catch (e) {
      throw new ParseFailure(`${what}[${i}]: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

class ParseFailure extends Error {}

function describePath(chain: Chain): string {
  const marks = chain.certs.map((c, i) => `${c.info.subject || '(empty)'}${chain.trusted[i] ? '*' : ''}`);
  return `${chain.end}: ${marks.join(' <- ')}`;
}

/** Runs one testcase through the offline analysis. `now` overrides the current time for cases without a time. */
export function runCase(tc: LimboCase, now: Date = new Date()): CaseResult {
  const base = { id: tc.id, expected: tc.expected_result };
  const wanted = purposeFor(tc);
  if ('skip' in wanted) return { ...base, actual: 'SKIPPED', context: wanted.skip };
  const { purpose } = wanted;
  let trusted: Cert[];
  let intermediates: Cert[];
  let peer: Cert;
  try {
    trusted = parseAll(tc.trusted_certs, 'trusted_certs');
    intermediates = parseAll(tc.untrusted_intermediates, 'untrusted_intermediates');
    [peer] = parseAll([tc.peer_certificate], 'peer_certificate') as [Cert];
  } catch (e) {
    if (e instanceof ParseFailure) return { ...base, actual: 'FAILURE', context: `parse failure: ${e.message}` };
    throw e;
  }
  const at = tc.validation_time === null ? now : new Date(tc.validation_time);
  const store = makeTruststore(`limbo:${tc.id}`, trusted);
  const chain = buildChain(peer, store, intermediates, at);
  const predicted = predictOpenSsl(chain, at, purpose);
  const problems = [
    predicted.authorized ? null : (predicted.code ?? 'UNSPECIFIED'),
    depthProblem(chain, tc.max_chain_depth),
    nameProblem(peer, tc.expected_peer_name),
    keyUsageProblem(peer, tc.key_usage),
    signatureProblem(chain, tc.signature_algorithms),
  ].filter((p): p is string => p !== null);
  const path = `${purpose} ${describePath(chain)}`;
  return {
    ...base,
    actual: problems.length === 0 ? 'SUCCESS' : 'FAILURE',
    context: problems.length === 0 ? `ok; ${path}` : `${problems.join('; ')}; ${path}`,
  };
}

export function runLimbo(data: LimboFile = loadLimbo(), now: Date = new Date()): CaseResult[] {
  return data.testcases.map((tc) => runCase(tc, now));
}

/** An exceptions-style list: `[{ id, reason }]`. */
export interface ListedCase {
  id: string;
  reason: string;
}

/** Reads such a list and checks its shape: unique ids, each with a reason worth the name (20+ characters). */
export function readCaseList(url: URL): Map<string, string> {
  const path = fileURLToPath(url);
  const list = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(list)) throw new Error(`${path}: expected an array of { id, reason }`);
  const out = new Map<string, string>();
  for (const entry of list as Partial<ListedCase>[]) {
    if (typeof entry.id !== 'string') throw new Error(`${path}: an entry without an id`);
    if (typeof entry.reason !== 'string' || entry.reason.trim().length < 20)
      throw new Error(`${path}: ${entry.id} needs a real reason`);
    if (out.has(entry.id)) throw new Error(`${path}: ${entry.id} is listed twice`);
    out.set(entry.id, entry.reason);
  }
  return out;
}
