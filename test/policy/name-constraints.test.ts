/**
 * The name-constraint model (src/policy/name-constraints.ts) against the real thing, case by case: every chain here is
 * judged by the model, by a real TLS handshake through Node (its OpenSSL 3.5: the gateway's truth) and by
 * `openssl verify -purpose sslclient` (the system binary). The model must say exactly what the handshake says
 * (accepted, or the same code); and what the binary says, except where the binary is another OpenSSL line: those
 * cases carry the reason, and must still differ, so the list cannot rot.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { issue, type Issued, type IssueSpec, type NameConstraintsSpec } from '../../src/pki/generate.js';
import { parseCert } from '../../src/pki/cert.js';
import { makeTruststore } from '../../src/trust/truststore.js';
import { analyzeChain } from '../../src/policy/analyze.js';
import { loopbackVerdict } from '../../src/policy/loopback.js';
import { VERIFY_ERRORS } from '../../src/policy/openssl-codes.js';
import { tmpDir } from '../helpers/pki.js';

const DIR = tmpDir();
const CLI_VERSION = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();

/** One key per role, so a case costs two signatures, not key generation. */
let keys: { root: Issued; int: Issued; leaf: Issued };
before(async () => {
  const [root, int, leaf] = await Promise.all([
    issue({ subject: 'CN=key root', profile: 'root-ca' }),
    issue({ subject: 'CN=key int', profile: 'root-ca' }),
    issue({ subject: 'CN=key leaf', profile: 'client' }),
  ]);
  keys = { root, int, leaf };
});

interface ChainSpec {
  root?: NameConstraintsSpec;
  /** An intermediate between root and leaf (its own subject and SANs can be constrained by the root). */
  int?: { nc?: NameConstraintsSpec; subject?: string; sans?: string[] };
  leaf: Partial<IssueSpec>;
}

interface Built {
  root: Issued;
  chain: Issued[];
  leaf: Issued;
}

async function build(spec: ChainSpec): Promise<Built> {
  const root = await issue({
    subject: 'CN=NC Root,O=mtlsgate test',
    profile: 'root-ca',
    publicKeyFrom: keys.root,
    nameConstraints: spec.root,
  });
  let issuer = root;
  const chain: Issued[] = [];
  if (spec.int) {
    issuer = await issue({
      subject: spec.int.subject ?? 'CN=NC Intermediate,O=mtlsgate test',
      profile: 'intermediate-ca',
      issuer: root,
      publicKeyFrom: keys.int,
      nameConstraints: spec.int.nc,
      sans: spec.int.sans,
    });
    chain.push(issuer);
  }
  const leaf = await issue({
    subject: 'CN=leaf',
    profile: 'client',
    ...spec.leaf,
    issuer,
    publicKeyFrom: keys.leaf,
  });
  return { root, chain, leaf };
}

/** The model's prediction for the chain: OpenSSL's code, or null for accepted. */
function modelCode(b: Built): string | null {
  const store = makeTruststore('nc', [parseCert(b.root.der)]);
  const a = analyzeChain(
    parseCert(b.leaf.der),
    b.chain.map((c) => parseCert(c.der)),
    store,
  );
  return a.predicted.code;
}

async function handshakeCode(b: Built): Promise<string | null> {
  const r = await loopbackVerdict({
    chainPem: b.leaf.certPem + b.chain.map((c) => c.certPem).join(''),
    key: createPrivateKey(b.leaf.keyPem),
    truststorePem: b.root.certPem,
  });
  if ('error' in r) throw new Error(r.error);
  drainOpenSslErrors();
  return r.code;
}

/**
 * Node's TLS verification can leave an error on OpenSSL's per-thread queue (nc_uri's OSSL_parse_url raises one for
 * a URI it cannot parse), and the next PEM key load in this thread throws it. One throwaway load takes it off.
 */
function drainOpenSslErrors(): void {
  try {
    createPrivateKey(keys.leaf.keyPem);
  } catch {
    // the stale error, now consumed
  }
}

const NAME_BY_NUM = new Map<number, string>(VERIFY_ERRORS.map((e) => [e.num, e.name]));

/** `openssl verify`'s last error (the one Node would report), or null when it says OK. */
function cliCode(b: Built): string | null {
  const ca = join(DIR, 'ca.pem');
  const untrusted = join(DIR, 'untrusted.pem');
  const leaf = join(DIR, 'leaf.pem');
  writeFileSync(ca, b.root.certPem);
  writeFileSync(leaf, b.leaf.certPem);
  const args = ['verify', '-no-CApath', '-no-CAstore', '-purpose', 'sslclient', '-CAfile', ca];
  if (b.chain.length > 0) {
    writeFileSync(untrusted, b.chain.map((c) => c.certPem).join(''));
    args.push('-untrusted', untrusted);
  }
  let out: string;
  try {
    out = execFileSync('openssl', [...args, leaf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  const errors = [...out.matchAll(/error (\d+) at \d+ depth lookup/g)].map((m) => Number(m[1]));
  if (errors.length === 0) {
    assert.match(out, /: OK\s*$/, `openssl verify neither failed with a code nor said OK: ${out}`);
    return null;
  }
  return NAME_BY_NUM.get(errors[errors.length - 1]!) ?? `#${errors[errors.length - 1]}`;
}

interface Case {
  name: string;
  spec: ChainSpec;
  /** What the handshake (Node's OpenSSL 3.5) reports; null = accepted. Checked, not assumed: see the assertion. */
  expect: string | null;
  /** The system `openssl verify` is another OpenSSL line and says otherwise here, for this reason. */
  cliDiffers?: string;
}

const DNS = (...d: string[]): NameConstraintsSpec => ({ permitted: d.map((x) => `DNS:${x}`) });
const leafSans = (...sans: string[]): Partial<IssueSpec> => ({ sans });
const URI_PARSE =
  'OpenSSL 3.5 takes the URI host from OSSL_parse_url (query, userinfo, empty host); 3.0 cuts the text after ' +
  '"://" at the first ":" or "/" and refuses an empty host';

const CASES: Case[] = [
  // dNSName
  {
    name: 'DNS leading dot, below',
    spec: { root: DNS('.example.com'), leaf: leafSans('DNS:a.example.com') },
    expect: null,
  },
  {
    name: 'DNS leading dot, the name itself',
    spec: { root: DNS('.example.com'), leaf: leafSans('DNS:example.com') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'DNS outside',
    spec: { root: DNS('.example.com'), leaf: leafSans('DNS:a.other.org') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'DNS no dot: the name itself',
    spec: { root: DNS('example.com'), leaf: leafSans('DNS:example.com') },
    expect: null,
  },
  {
    name: 'DNS no dot: below, on a label boundary',
    spec: { root: DNS('example.com'), leaf: leafSans('DNS:a.b.example.com') },
    expect: null,
  },
  {
    name: 'DNS no dot: suffix without a boundary',
    spec: { root: DNS('example.com'), leaf: leafSans('DNS:badexample.com') },
    expect: 'PERMITTED_VIOLATION',
  },
  { name: 'DNS case folded', spec: { root: DNS('.EXAMPLE.com'), leaf: leafSans('DNS:A.example.COM') }, expect: null },
  {
    name: 'DNS empty constraint matches all',
    spec: { root: DNS(''), leaf: leafSans('DNS:anything.org') },
    expect: null,
  },
  {
    name: 'DNS one of several permitted',
    spec: { root: DNS('.a.org', '.b.org'), leaf: leafSans('DNS:x.b.org') },
    expect: null,
  },
  {
    name: 'DNS every SAN must fit',
    spec: { root: DNS('.a.org'), leaf: leafSans('DNS:x.a.org', 'DNS:y.c.org') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'DNS excluded',
    spec: { root: { excluded: ['DNS:bad.example.com'] }, leaf: leafSans('DNS:x.bad.example.com') },
    expect: 'EXCLUDED_VIOLATION',
  },
  {
    name: 'DNS permitted and excluded',
    spec: {
      root: { permitted: ['DNS:.example.com'], excluded: ['DNS:.bad.example.com'] },
      leaf: leafSans('DNS:x.bad.example.com'),
    },
    expect: 'EXCLUDED_VIOLATION',
  },
  {
    name: 'DNS constraint, only an IP SAN and a non-host CN',
    spec: { root: DNS('.example.com'), leaf: leafSans('IP:10.0.0.1') },
    expect: null,
  },
  // rfc822Name
  {
    name: 'email host',
    spec: { root: { permitted: ['email:example.com'] }, leaf: leafSans('email:u@example.com') },
    expect: null,
  },
  {
    name: 'email host, not below',
    spec: { root: { permitted: ['email:example.com'] }, leaf: leafSans('email:u@a.example.com') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'email domain, below',
    spec: { root: { permitted: ['email:.example.com'] }, leaf: leafSans('email:u@a.example.com') },
    expect: null,
  },
  {
    name: 'email domain, the host itself',
    spec: { root: { permitted: ['email:.example.com'] }, leaf: leafSans('email:u@example.com') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'email mailbox, same',
    spec: { root: { permitted: ['email:u@example.com'] }, leaf: leafSans('email:u@EXAMPLE.com') },
    expect: null,
  },
  {
    name: 'email mailbox, local part case',
    spec: { root: { permitted: ['email:u@example.com'] }, leaf: leafSans('email:U@example.com') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'email without @',
    spec: { root: { permitted: ['email:example.com'] }, leaf: leafSans('email:nobody') },
    expect: 'UNSUPPORTED_NAME_SYNTAX',
  },
  {
    name: 'email in the subject, excluded',
    spec: { root: { excluded: ['email:.bad.org'] }, leaf: { subject: 'CN=leaf,emailAddress=u@x.bad.org' } },
    expect: 'EXCLUDED_VIOLATION',
  },
  // iPAddress
  {
    name: 'IPv4 inside',
    spec: { root: { permitted: ['IP:10.0.0.0/8'] }, leaf: leafSans('IP:10.1.2.3') },
    expect: null,
  },
  {
    name: 'IPv4 outside',
    spec: { root: { permitted: ['IP:10.0.0.0/8'] }, leaf: leafSans('IP:11.0.0.1') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'IPv6 under an IPv4 constraint',
    spec: { root: { permitted: ['IP:10.0.0.0/8'] }, leaf: leafSans('IP:2001:db8::1') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'IPv6 inside',
    spec: { root: { permitted: ['IP:2001:db8::/32'] }, leaf: leafSans('IP:2001:db8:1::5') },
    expect: null,
  },
  {
    name: 'IPv6 excluded',
    spec: { root: { excluded: ['IP:2001:db8::/32'] }, leaf: leafSans('IP:2001:db8::5') },
    expect: 'EXCLUDED_VIOLATION',
  },
  {
    name: 'IP constraint of 5 bytes',
    spec: { root: { permitted: ['IP:hex:0a000000ff'] }, leaf: leafSans('IP:10.0.0.1') },
    expect: 'UNSUPPORTED_NAME_SYNTAX',
  },
  {
    name: 'IP constraint, mask not contiguous',
    spec: { root: { permitted: ['IP:10.0.0.5/255.0.0.255'] }, leaf: leafSans('IP:10.9.9.5') },
    expect: null,
  },
  // uniformResourceIdentifier
  {
    name: 'URI below, with port and path',
    spec: { root: { permitted: ['URI:.example.com'] }, leaf: leafSans('URI:https://a.example.com:8443/x') },
    expect: null,
  },
  {
    name: 'URI host exact',
    spec: { root: { permitted: ['URI:example.com'] }, leaf: leafSans('URI:spiffe://example.com/ns/x') },
    expect: null,
  },
  {
    name: 'URI host not exact',
    spec: { root: { permitted: ['URI:example.com'] }, leaf: leafSans('URI:https://a.example.com/') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'URI without //',
    spec: { root: { permitted: ['URI:.example.com'] }, leaf: leafSans('URI:urn:a.example.com') },
    expect: 'UNSUPPORTED_NAME_SYNTAX',
  },
  {
    name: 'URI with a query after the host',
    spec: { root: { permitted: ['URI:.example.com'] }, leaf: leafSans('URI:https://a.example.com?x=1') },
    expect: null,
    cliDiffers: URI_PARSE,
  },
  {
    name: 'URI with an empty host',
    spec: { root: { permitted: ['URI:.example.com'] }, leaf: leafSans('URI:file:///etc/x') },
    expect: 'PERMITTED_VIOLATION',
    cliDiffers: URI_PARSE,
  },
  {
    name: 'URI userinfo names a permitted host',
    spec: { root: { permitted: ['URI:.example.com'] }, leaf: leafSans('URI:https://evil.org@a.example.com/') },
    expect: null,
  },
  // directoryName
  {
    name: 'DirName prefix',
    spec: { root: { permitted: ['DirName:O=Example,C=US'] }, leaf: { subject: 'CN=leaf,O=Example,C=US' } },
    expect: null,
  },
  {
    name: 'DirName other O',
    spec: { root: { permitted: ['DirName:O=Example,C=US'] }, leaf: { subject: 'CN=leaf,O=Other,C=US' } },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'DirName canonical: case and spaces',
    spec: {
      root: { permitted: ['DirName:O=  example   CORP ,C=us'] },
      leaf: { subject: 'CN=leaf,O=Example Corp,C=US' },
    },
    expect: null,
  },
  {
    name: 'DirName excluded',
    spec: { root: { excluded: ['DirName:O=Bad,C=US'] }, leaf: { subject: 'CN=leaf,O=Bad,C=US' } },
    expect: 'EXCLUDED_VIOLATION',
  },
  {
    name: 'DirName longer than the subject',
    spec: {
      root: { permitted: ['DirName:CN=leaf,O=Example,C=US'] },
      leaf: { subject: 'O=Example,C=US', sans: ['DNS:x.org'] },
    },
    expect: 'PERMITTED_VIOLATION',
  },
  // the CN as a host name
  {
    name: 'CN host outside, no SAN',
    spec: { root: DNS('.example.com'), leaf: { subject: 'CN=host.other.org' } },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'CN host outside, a DNS SAN inside',
    spec: { root: DNS('.example.com'), leaf: { subject: 'CN=host.other.org', sans: ['DNS:a.example.com'] } },
    expect: null,
  },
  {
    name: 'CN host outside, only an IP SAN',
    spec: { root: DNS('.example.com'), leaf: { subject: 'CN=host.other.org', sans: ['IP:10.0.0.1'] } },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'CN host inside, no SAN',
    spec: { root: DNS('.example.com'), leaf: { subject: 'CN=host.example.com' } },
    expect: null,
  },
  {
    name: 'CN not a host name (space)',
    spec: { root: DNS('.example.com'), leaf: { subject: 'CN=host other.org' } },
    expect: null,
  },
  { name: 'CN one label', spec: { root: DNS('.example.com'), leaf: { subject: 'CN=localhost' } }, expect: null },
  {
    name: 'CN with a hyphen next to a dot',
    spec: { root: DNS('.example.com'), leaf: { subject: 'CN=host-.other.org' } },
    expect: null,
  },
  {
    name: 'CN excluded',
    spec: { root: { excluded: ['DNS:.bad.org'] }, leaf: { subject: 'CN=x.bad.org' } },
    expect: 'EXCLUDED_VIOLATION',
  },
  // minimum / maximum, unsupported types
  {
    name: 'maximum present',
    spec: { root: { permitted: [{ base: 'DNS:.example.com', maximum: 3 }] }, leaf: leafSans('DNS:a.example.com') },
    expect: 'SUBTREE_MINMAX',
  },
  {
    name: 'minimum 1',
    spec: { root: { permitted: [{ base: 'DNS:.example.com', minimum: 1 }] }, leaf: leafSans('DNS:a.example.com') },
    expect: 'SUBTREE_MINMAX',
  },
  {
    name: 'minimum 0 written out',
    spec: { root: { permitted: [{ base: 'DNS:.example.com', minimum: 0 }] }, leaf: leafSans('DNS:a.example.com') },
    expect: null,
  },
  {
    name: 'maximum on a type the leaf has no name of',
    spec: { root: { permitted: [{ base: 'email:example.com', maximum: 1 }] }, leaf: leafSans('DNS:a.example.com') },
    expect: null,
  },
  {
    name: 'maximum on an excluded subtree after a match',
    spec: {
      root: { excluded: ['DNS:.example.com', { base: 'DNS:.x.org', maximum: 1 }] },
      leaf: leafSans('DNS:a.example.com'),
    },
    expect: 'EXCLUDED_VIOLATION',
  },
  {
    name: 'registeredID constraint and name',
    spec: { root: { permitted: ['RID:1.2.3.4'] }, leaf: leafSans('RID:1.2.3.4') },
    expect: 'UNSUPPORTED_CONSTRAINT_TYPE',
  },
  // where the constraints sit
  {
    name: 'on the intermediate, inside',
    spec: { int: { nc: DNS('.example.com') }, leaf: leafSans('DNS:a.example.com') },
    expect: null,
  },
  {
    name: 'on the intermediate, outside',
    spec: { int: { nc: DNS('.example.com') }, leaf: leafSans('DNS:a.other.org') },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'intermediate widens the root: the root still holds',
    spec: {
      root: DNS('.example.com'),
      int: { nc: DNS('.example.com', '.other.org') },
      leaf: leafSans('DNS:a.other.org'),
    },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'the intermediate itself outside the root',
    spec: {
      root: { permitted: ['DirName:O=mtlsgate test'] },
      int: { subject: 'CN=Int,O=elsewhere' },
      leaf: { subject: 'CN=leaf,O=mtlsgate test' },
    },
    expect: 'PERMITTED_VIOLATION',
  },
  {
    name: 'self-issued intermediate is not checked',
    spec: {
      root: DNS('.example.com'),
      int: { subject: 'CN=NC Root,O=mtlsgate test', sans: ['DNS:x.other.org'] },
      leaf: leafSans('DNS:a.example.com'),
    },
    expect: null,
  },
  {
    name: 'expired and outside: the constraint error comes last',
    spec: {
      root: DNS('.example.com'),
      leaf: {
        sans: ['DNS:a.other.org'],
        notBefore: new Date(Date.now() - 10 * 86_400_000),
        notAfter: new Date(Date.now() - 86_400_000),
      },
    },
    expect: 'PERMITTED_VIOLATION',
  },
];

test('name constraints: model == Node handshake (OpenSSL 3.5) == openssl verify, case by case', async (t) => {
  t.diagnostic(`cli: ${CLI_VERSION}; Node's OpenSSL ${process.versions.openssl}`);
  for (const c of CASES) {
    await t.test(c.name, async () => {
      const b = await build(c.spec);
      const [model, real, cli] = [modelCode(b), await handshakeCode(b), cliCode(b)];
      const detail = `model ${model}, handshake ${real}, ${CLI_VERSION} ${cli}`;
      assert.equal(real, c.expect, `the handshake is not what the case says: ${detail}`);
      assert.equal(model, real, `the model is not the handshake: ${detail}`);
      if (c.cliDiffers === undefined) assert.equal(cli, real, `openssl verify differs: ${detail}`);
      else assert.notEqual(cli, real, `listed as differing (${c.cliDiffers}), but agrees now: ${detail}`);
    });
  }
});

test('hostile: names x constraints past NAME_CHECK_MAX is UNSPECIFIED at once, just under it stays bounded', async () => {
  const constraints = Array.from({ length: 1000 }, (_, i) => `DNS:.d${i}.example.com`);
  const over = await build({ root: { permitted: constraints }, leaf: leafSans(...manyNames(1100)) });
  let started = performance.now();
  assert.equal(modelCode(over), 'UNSPECIFIED');
  assert.ok(performance.now() - started < 500, 'refused without comparing');
  assert.equal(await handshakeCode(over), 'UNSPECIFIED');
  // 1,000 names (with the subject's one entry) x 1,000 constraints is under 2^20: every pair is compared.
  const under = await build({ root: { permitted: constraints }, leaf: leafSans(...manyNames(1000)) });
  started = performance.now();
  assert.equal(modelCode(under), 'PERMITTED_VIOLATION');
  const ms = performance.now() - started;
  assert.ok(ms < 3000, `a million comparisons took ${Math.round(ms)} ms`);
  assert.equal(await handshakeCode(under), 'PERMITTED_VIOLATION');
});

/** Names below the last constraint only, so the permitted loop runs to its end for each. */
function manyNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `DNS:h${i}.d999.example.com`).map((s, i) =>
    i === n - 1 ? 'DNS:outside.org' : s,
  );
}

test('property: random DNS names and constraints, the model says what openssl verify says', async () => {
  const label = fc.stringMatching(/^[aAb-]{0,3}$/);
  const dnsName = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(dnsName, dnsName, fc.boolean(), async (san, base, excluded) => {
      runs++;
      const nc = excluded ? { excluded: [`DNS:${base}`] } : { permitted: [`DNS:${base}`] };
      const b = await build({ root: nc, leaf: leafSans(`DNS:${san}`) });
      assert.equal(
        modelCode(b),
        cliCode(b),
        `SAN ${JSON.stringify(san)} ${excluded ? 'excluded' : 'permitted'} ${JSON.stringify(base)}`,
      );
    }),
    { numRuns: 300 },
  );
  assert.equal(runs >= 300, true);
});
