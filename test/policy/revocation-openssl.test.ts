/**
 * Revocation by CRLs, our judgement against OpenSSL's: for the x509-limbo CRL cases, built with issue() and CRLs
 * made by `openssl ca -gencrl`, `crlPathStatus` + `revocationVerdict` (onUnavailable: deny) must give what
 * `openssl verify -crl_check` (scope leaf) or `-crl_check_all` (scope chain) gives: accept or deny, and the code of
 * the first `error N at depth D lookup:` line, mapped through openssl-codes.ts. OpenSSL checks a CRL's signature
 * and issuer when it verifies; we refuse such a CRL when it loads: the codes must match all the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, type Issued } from '../../src/pki/generate.js';
import { parseCrls } from '../../src/pki/crl.js';
import { analyzeChain } from '../../src/policy/analyze.js';
import { VERIFY_ERRORS } from '../../src/policy/openssl-codes.js';
import { buildCrlSet, crlPathStatus, revocationVerdict } from '../../src/policy/revocation.js';
import { DEFAULT_POLICY } from '../../src/policy/rules.js';
import { verdictFields } from '../../src/policy/verdict.js';
import { truststoreFromPem } from '../../src/trust/load.js';
import { certFromPem } from '../../src/pki/cert.js';
import { CRL_EXTENSIONS, crlCa, gencrl, revoke } from '../helpers/crl.js';
import { tmpDir } from '../helpers/pki.js';

const dir = tmpDir();
const DAY = 24 * 3600_000;

interface Case {
  name: string;
  truststore: Issued[];
  leaf: Issued;
  /** Sent by the client after its certificate (openssl verify -untrusted). */
  untrusted?: Issued[];
  crls: string[];
  scope: 'leaf' | 'chain';
  /** What both must say: null = accepted. */
  code: string | null;
}

interface Said {
  accepted: boolean;
  code: string | null;
  depth: number | null;
}

const CODE_BY_NUM = new Map<number, string>(VERIFY_ERRORS.map((e) => [e.num, e.name]));

function opensslVerify(c: Case, index: number): Said & { output: string } {
  const ts = join(dir, `ts-${index}.pem`);
  const crls = join(dir, `crls-${index}.pem`);
  const leaf = join(dir, `leaf-${index}.pem`);
  writeFileSync(ts, c.truststore.map((i) => i.certPem).join(''));
  writeFileSync(crls, c.crls.map((f) => readFileSync(f, 'utf8')).join(''));
  writeFileSync(leaf, c.leaf.certPem);
  const args = ['verify', c.scope === 'leaf' ? '-crl_check' : '-crl_check_all', '-CAfile', ts, '-CRLfile', crls];
  if (c.untrusted?.length) {
    const u = join(dir, `untrusted-${index}.pem`);
    writeFileSync(u, c.untrusted.map((i) => i.certPem).join(''));
    args.push('-untrusted', u);
  }
  const r = spawnSync('openssl', [...args, leaf], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  // OpenSSL 3.0 prints `error N at D depth lookup: TEXT`, later versions `error N at depth D lookup: TEXT`.
  const m = /error (\d+) at (?:depth (\d+)|(\d+) depth) lookup: ?(.*)/.exec(output);
  if (r.status === 0 && /: OK\s*$/.test(r.stdout)) return { accepted: true, code: null, depth: null, output };
  return {
    accepted: false,
    code: m ? (CODE_BY_NUM.get(Number(m[1])) ?? `unknown ${m[1]}`) : null,
    depth: m ? Number(m[2] ?? m[3]) : null,
    output,
  };
}

function ours(c: Case): Said {
  const now = new Date();
  const store = truststoreFromPem(c.truststore.map((i) => i.certPem).join(''), 'truststore').truststore!;
  const untrusted = (c.untrusted ?? []).map((i) => certFromPem(i.certPem));
  const analysis = analyzeChain(certFromPem(c.leaf.certPem), untrusted, store, DEFAULT_POLICY, now);
  assert.equal(analysis.opensslChain.end, 'anchored', `${c.name}: the path is anchored`);
  const crls = c.crls.flatMap((f) => {
    const { crls: read, problems } = parseCrls(readFileSync(f), f);
    assert.deepEqual(problems, [], f);
    return read.map((crl) => ({ crl, source: f }));
  });
  const set = buildCrlSet(crls, store.certs);
  const result = crlPathStatus(set, analysis.opensslChain.certs, c.scope, now);
  const v = verdictFields(revocationVerdict(result, 'deny'));
  return { accepted: v.accepted, code: v.code, depth: result.status === 'good' ? null : result.level };
}

// root -> intermediate -> leaf, the truststore holds root and intermediate (as API Gateway wants).
const root = await issue({ subject: 'CN=CRL Root,O=mtlsgate test', profile: 'root-ca' });
const inter = await issue({ subject: 'CN=CRL Intermediate,O=mtlsgate test', profile: 'intermediate-ca', issuer: root });
const leaf = await issue({ subject: 'CN=crl client', profile: 'client', issuer: inter, serial: '12ab34' });
const revokedLeaf = await issue({ subject: 'CN=revoked client', profile: 'client', issuer: inter });
// Another CA of the truststore whose CRL lists a certificate with the leaf's serial.
const other = await issue({ subject: 'CN=Other CA,O=mtlsgate test', profile: 'root-ca' });
const otherLeaf = await issue({ subject: 'CN=other client', profile: 'client', issuer: other, serial: '12ab34' });
// A CA whose key usage lacks cRLSign, and one with the intermediate's name and another key.
const noCrlSign = await issue({ subject: 'CN=No cRLSign CA', profile: 'root-ca', keyUsage: ['keyCertSign'] });
const noCrlSignLeaf = await issue({ subject: 'CN=no-crlsign client', profile: 'client', issuer: noCrlSign });
const twin = await issue({ subject: inter.subject, profile: 'intermediate-ca', issuer: root });
// A second intermediate, revoked by the root.
const badInter = await issue({ subject: 'CN=Revoked Intermediate', profile: 'intermediate-ca', issuer: root });
const badInterLeaf = await issue({ subject: 'CN=under revoked intermediate', profile: 'client', issuer: badInter });

const rootCa = crlCa(dir, root, 'root');
const interCa = crlCa(dir, inter, 'inter');
const otherCa = crlCa(dir, other, 'other');
const noCrlSignCa = crlCa(dir, noCrlSign, 'no-crlsign');
const twinCa = crlCa(dir, twin, 'twin');
revoke(interCa, revokedLeaf, 'keyCompromise');
revoke(otherCa, otherLeaf, 'superseded');
revoke(rootCa, badInter, 'cACompromise');
revoke(twinCa, leaf, 'keyCompromise');

const now = Date.now();
const crl = {
  inter: gencrl(interCa, 'inter.crl'),
  root: gencrl(rootCa, 'root.crl'),
  other: gencrl(otherCa, 'other.crl'),
  noCrlSign: gencrl(noCrlSignCa, 'no-crlsign.crl'),
  unknownCritical: gencrl(interCa, 'inter-critical.crl', { extensions: CRL_EXTENSIONS.unknownCritical }),
  expired: gencrl(interCa, 'inter-expired.crl', {
    lastUpdate: new Date(now - 10 * DAY),
    nextUpdate: new Date(now - DAY),
  }),
  notYetValid: gencrl(interCa, 'inter-future.crl', {
    lastUpdate: new Date(now + DAY),
    nextUpdate: new Date(now + 8 * DAY),
  }),
  twin: gencrl(twinCa, 'twin.crl'),
  twinNoAkid: gencrl(twinCa, 'twin-no-akid.crl', { extensions: CRL_EXTENSIONS.none }),
};

const ts = [root, inter];
const cases: Case[] = [
  { name: 'revoked leaf', truststore: ts, leaf: revokedLeaf, crls: [crl.inter], scope: 'leaf', code: 'CERT_REVOKED' },
  { name: 'leaf not on the CRL', truststore: ts, leaf, crls: [crl.inter], scope: 'leaf', code: null },
  {
    name: "the leaf's serial on another issuer's CRL",
    truststore: [...ts, other],
    leaf,
    crls: [crl.other, crl.inter],
    scope: 'leaf',
    code: null,
  },
  {
    name: "only another issuer's CRL, which lists the leaf's serial",
    truststore: [...ts, other],
    leaf,
    crls: [crl.other],
    scope: 'leaf',
    code: 'UNABLE_TO_GET_CRL',
  },
  {
    name: 'CRL issuer without cRLSign',
    truststore: [noCrlSign],
    leaf: noCrlSignLeaf,
    crls: [crl.noCrlSign],
    scope: 'leaf',
    code: 'KEYUSAGE_NO_CRL_SIGN',
  },
  {
    name: 'CRL with an unknown critical extension',
    truststore: ts,
    leaf,
    crls: [crl.unknownCritical],
    scope: 'leaf',
    code: 'UNHANDLED_CRITICAL_CRL_EXTENSION',
  },
  { name: 'expired CRL', truststore: ts, leaf, crls: [crl.expired], scope: 'leaf', code: 'CRL_HAS_EXPIRED' },
  {
    name: 'CRL not yet valid',
    truststore: ts,
    leaf,
    crls: [crl.notYetValid],
    scope: 'leaf',
    code: 'CRL_NOT_YET_VALID',
  },
  {
    // OpenSSL takes it for no CRL of the issuer: its authority key id does not match the issuer's key.
    name: "CRL signed by another key with the issuer's name (its AKID names that key)",
    truststore: ts,
    leaf,
    crls: [crl.twin],
    scope: 'leaf',
    code: 'UNABLE_TO_GET_CRL',
  },
  {
    name: "CRL signed by another key with the issuer's name (no AKID)",
    truststore: ts,
    leaf,
    crls: [crl.twinNoAkid],
    scope: 'leaf',
    code: 'CRL_SIGNATURE_FAILURE',
  },
  { name: 'no CRL of the issuer', truststore: ts, leaf, crls: [crl.root], scope: 'leaf', code: 'UNABLE_TO_GET_CRL' },
  {
    name: 'scope chain, every CRL, nothing revoked',
    truststore: ts,
    leaf,
    crls: [crl.root, crl.inter],
    scope: 'chain',
    code: null,
  },
  {
    name: 'scope chain, revoked intermediate',
    truststore: [root, badInter],
    leaf: badInterLeaf,
    crls: [crl.root, gencrl(crlCa(dir, badInter, 'bad-inter'), 'bad-inter.crl')],
    scope: 'chain',
    code: 'CERT_REVOKED',
  },
  {
    name: 'scope leaf, revoked intermediate (not checked)',
    truststore: [root, badInter],
    leaf: badInterLeaf,
    crls: [crl.root, join(dir, 'bad-inter.crl')],
    scope: 'leaf',
    code: null,
  },
  {
    name: 'scope chain, the root CRL missing',
    truststore: ts,
    leaf,
    crls: [crl.inter],
    scope: 'chain',
    code: 'UNABLE_TO_GET_CRL',
  },
  {
    name: 'scope chain, the intermediate sent by the client, revoked',
    truststore: [root],
    untrusted: [badInter],
    leaf: badInterLeaf,
    crls: [crl.root, join(dir, 'bad-inter.crl')],
    scope: 'chain',
    code: 'CERT_REVOKED',
  },
];

for (const [i, c] of cases.entries()) {
  test(`CRL agreement with openssl verify: ${c.name}`, () => {
    const theirs = opensslVerify(c, i);
    const mine = ours(c);
    const expected = { accepted: c.code === null, code: c.code };
    assert.deepEqual(
      { accepted: theirs.accepted, code: theirs.code },
      expected,
      `openssl verify, not as the case expects:\n${theirs.output}`,
    );
    assert.deepEqual({ accepted: mine.accepted, code: mine.code }, expected, 'ours, not as the case expects');
    if (!theirs.accepted && theirs.depth !== null)
      assert.equal(mine.depth, theirs.depth, `the level: ours ${mine.depth}, openssl's ${theirs.depth}`);
  });
}
