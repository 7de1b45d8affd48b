/**
 * src/gateway/allow.ts and the config errors of the new keys: matchers against reference implementations
 * (fast-check), entry validation, and the one-line errors naming the key path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allowEntryProblem, compileAllow, dnsAdmitted, ipAdmitted, sanAdmitted } from '../../src/gateway/allow.js';
import { parseConfig } from '../../src/gateway/config.js';
import { accessLogProblem } from '../../src/gateway/access-format.js';
import { isUserError } from '../../src/errors.js';

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join('.'));

test('DNS wildcard: *.D admits exactly one more label, in any case; never D, two labels, or another suffix', () => {
  fc.assert(
    fc.property(label, label, domain, domain, (a, b, d, other) => {
      const list = compileAllow({ subjectAltNames: [`DNS:*.${d}`] });
      assert.equal(dnsAdmitted(list, `${a}.${d}`), `DNS:*.${d}`);
      assert.equal(sanAdmitted(list, `DNS:${`${a}.${d}`.toUpperCase()}`), `DNS:*.${d}`);
      assert.equal(dnsAdmitted(list, d), null);
      assert.equal(dnsAdmitted(list, `${a}.${b}.${d}`), null);
      assert.equal(dnsAdmitted(list, `*.${d}`), null);
      if (other !== d && !other.endsWith(`.${d}`)) assert.equal(dnsAdmitted(list, `${a}.${other}`), null);
      // The same wildcard also written exactly: the exact name wins, both admit.
      const both = compileAllow({ subjectAltNames: [`DNS:*.${d}`, `DNS:${a}.${d}`] });
      assert.equal(dnsAdmitted(both, `${a}.${d}`), `DNS:${a}.${d}`);
    }),
  );
});

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const v4text = (b: number[]): string => b.join('.');
const v4num = (b: number[]): number => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
const fromNum = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

test('IPv4 CIDR: admitted exactly when the first BITS bits equal the network', () => {
  fc.assert(
    fc.property(v4, fc.integer({ min: 1, max: 32 }), v4, (net, bits, probe) => {
      const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
      const network = fromNum((v4num(net) & mask) >>> 0);
      const entry = bits === 32 ? `IP:${v4text(network)}` : `IP:${v4text(network)}/${bits}`;
      assert.equal(allowEntryProblem('subjectAltNames', entry), null, entry);
      const list = compileAllow({ subjectAltNames: [entry] });
      assert.ok(ipAdmitted(list, v4text(net)), `${v4text(net)} in ${entry}`);
      const inside = (v4num(probe) & mask) >>> 0 === (v4num(network) & mask) >>> 0;
      assert.equal(ipAdmitted(list, v4text(probe)) !== null, inside, `${v4text(probe)} vs ${entry}`);
    }),
  );
});

const v6groups = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 });
const v6text = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
const v6big = (g: number[]): bigint => g.reduce((acc, x) => (acc << 16n) | BigInt(x), 0n);

test('IPv6 CIDR: admitted exactly when the first BITS bits equal the network (also written with ::)', () => {
  fc.assert(
    fc.property(v6groups, fc.integer({ min: 1, max: 128 }), v6groups, (net, bits, probe) => {
      const all = (1n << 128n) - 1n;
      const mask = (all << BigInt(128 - bits)) & all;
      const n = v6big(net) & mask;
      const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - i * 16)) & 0xffffn));
      const entry = `IP:${v6text(groups).replace(/(^|:)0(:0)+$/, '::')}/${bits}`;
      assert.equal(allowEntryProblem('subjectAltNames', entry), null, entry);
      const list = compileAllow({ subjectAltNames: [entry] });
      assert.ok(ipAdmitted(list, v6text(net)), `${v6text(net)} in ${entry}`);
      const inside = (v6big(probe) & mask) === n;
      assert.equal(ipAdmitted(list, v6text(probe)) !== null, inside, `${v6text(probe)} vs ${entry}`);
    }),
  );
});

test('10,000 entries of every kind: hits and misses are lookups', () => {
  const sans: string[] = [];
  for (let i = 0; i < 2000; i++) {
    sans.push(`DNS:host${i}.example.test`, `DNS:*.zone${i}.example.test`, `URI:spiffe://trust.example/ns/n${i}/*`);
    sans.push(`email:user${i}@example.test`, `IP:10.${i >> 8}.${i & 255}.0/24`);
  }
  const list = compileAllow({ subjectAltNames: sans });
  assert.equal(list.size, 10_000);
  assert.equal(sanAdmitted(list, 'DNS:host1999.example.test'), 'DNS:host1999.example.test');
  assert.equal(sanAdmitted(list, 'DNS:a.zone7.example.test'), 'DNS:*.zone7.example.test');
  assert.equal(sanAdmitted(list, 'URI:spiffe://trust.example/ns/n5/sa/x'), 'URI:spiffe://trust.example/ns/n5/*');
  assert.equal(sanAdmitted(list, 'URI:spiffe://trust.example/ns/n5'), null, 'the prefix itself is not under it');
  assert.equal(sanAdmitted(list, 'email:USER3@example.test'), 'email:user3@example.test');
  assert.equal(sanAdmitted(list, 'IP:10.7.207.99'), 'IP:10.7.207.0/24');
  assert.equal(sanAdmitted(list, 'IP:10.8.0.1'), null);
  assert.equal(sanAdmitted(list, 'DNS:host2000.example.test'), null);
  const t = performance.now();
  for (let i = 0; i < 10_000; i++) sanAdmitted(list, `DNS:miss${i}.example.test`);
  // Not a benchmark: a linear scan (10,000 × 10,000 comparisons) would take seconds, lookups take milliseconds.
  assert.ok(performance.now() - t < 1000, 'no scan of the list per judgement');
});

test('malformed entries are refused with a reason', () => {
  const bad: [Parameters<typeof allowEntryProblem>[0], string, RegExp][] = [
    ['subjectAltNames', 'DNS:*', /alone/],
    ['subjectAltNames', 'DNS:a.*.example.com', /whole first label/],
    ['subjectAltNames', 'DNS:*example.com', /whole first label/],
    ['subjectAltNames', 'DNS:*.com', /top-level/],
    ['subjectAltNames', 'DNS:bad_label!.example', /DNS name/],
    ['subjectAltNames', 'URI:*', /star may only end|scheme/],
    ['subjectAltNames', 'URI:spiffe://*', /star may only end|authority/],
    ['subjectAltNames', 'URI:spiffe://t/a*/b', /star may only end/],
    ['subjectAltNames', 'URI:spiffe://t/\r\n', /visible ASCII/],
    ['subjectAltNames', 'email:nobody', /email:user@/],
    ['subjectAltNames', 'email:a*b@example.com', /email:/],
    ['subjectAltNames', 'IP:10.0.0.1/8', /bits set past its \/8 \(did you mean 10\.0\.0\.0\/8\?\)/],
    ['subjectAltNames', 'IP:10.0.0.0/33', /0\.\.32/],
    ['subjectAltNames', 'IP:0.0.0.0/0', /every address/],
    ['subjectAltNames', 'IP:10.0.0', /IP:ADDRESS/],
    ['subjectAltNames', 'client.example.com', /DNS:, URI:, email: or IP:/],
    ['subjectAltNames', '', /empty/],
    ['subjects', '*', /every certificate/],
    ['subjects', '  ', /empty/],
    ['sha256Fingerprints', 'AB:CD', /64 hex/],
    ['sha256Fingerprints', 'z'.repeat(64), /64 hex/],
    ['serialNumbers', '0x12', /hex octets/],
  ];
  for (const [key, entry, why] of bad) assert.match(allowEntryProblem(key, entry) ?? 'accepted', why, entry);
  for (const [key, entry] of [
    ['subjectAltNames', 'DNS:*.example.com'],
    ['subjectAltNames', 'URI:spiffe://trust.example/ns/*'],
    ['subjectAltNames', 'IP:2001:db8::/32'],
    ['sha256Fingerprints', 'ab'.repeat(32)],
    ['serialNumbers', '0a:bc'],
  ] as const)
    assert.equal(allowEntryProblem(key, entry), null, entry);
});

const FILE = '/etc/mtlsgate/gateway.yaml';

function errorOf(text: string): string {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    assert.ok(isUserError(e), String(e));
    return (e as Error).message;
  }
  assert.fail('no error');
}

const config = (mutualTls: string, mappings: string, logs = ''): string => `
domains:
  - domainName: mtls.example.test
    certificate: { cert: ./server.crt, key: ./server.key }
    mutualTls: { truststoreUri: file://./truststore.pem${mutualTls} }
    basePathMappings:
      - { basePath: a, target: "http://127.0.0.1:9000" }
${mappings}
${logs}`;

test('config errors name the key path of the malformed entry', () => {
  const route = (allow: string) =>
    config(
      ', clientCertificate: optional',
      `      - { basePath: b, target: "http://127.0.0.1:9001", allow: ${allow} }`,
    );
  assert.equal(
    errorOf(route('{ subjectAltNames: ["DNS:ok.example", "DNS:ok2.example", "DNS:x.example", "IP:10.0.0.1/8"] }')),
    `${FILE}: domains[0].basePathMappings[1].allow.subjectAltNames[3]: "IP:10.0.0.1/8" has bits set past its /8 (did you mean 10.0.0.0/8?)`,
  );
  assert.match(
    errorOf(config(', allow: { sha256Fingerprints: ["abc"] }', '')),
    /: domains\[0\]\.mutualTls\.allow\.sha256Fingerprints\[0\]: expected 64 hex digits/,
  );
  assert.match(errorOf(route('{ subjects: [""] }')), /allow\.subjects\[0\]: an empty entry$/);
  assert.match(errorOf(route('{ subjectAltNames: ["DNS:*"] }')), /allow\.subjectAltNames\[0\]: "\*" alone/);
  assert.match(errorOf(route('{ subjectAltNames: ["DNS:a.*.b.c"] }')), /subjectAltNames\[0\]: a star may only/);
  assert.match(errorOf(route('{ names: ["x"] }')), /basePathMappings\[1\]\.allow\.names: unknown key/);
});

test('config errors: modes that contradict each other, and bad access log formats', () => {
  assert.match(
    errorOf(config(', clientCertificate: optional, noCertificate: handshake', '')),
    /domains\[0\]\.mutualTls\.noCertificate: handshake contradicts clientCertificate: optional/,
  );
  const opt = parseConfig(config(', clientCertificate: optional', ''), FILE);
  assert.equal(opt.domains[0]!.mutualTls.noCertificate, 'http403', 'optional implies the handshake never fails');
  assert.match(
    errorOf(config('', '      - { basePath: b, target: "http://127.0.0.1:9001", clientCertificate: none }')),
    /domains\[0\]\.basePathMappings\[1\]\.clientCertificate: none needs mutualTls\.clientCertificate: optional/,
  );
  assert.match(
    errorOf(
      config(
        ', clientCertificate: optional',
        '      - { basePath: b, target: "http://127.0.0.1:9001", clientCertificate: none, allow: { subjects: [x] } }',
      ),
    ),
    /basePathMappings\[1\]\.allow: no effect where clientCertificate is none/,
  );
  assert.match(
    errorOf(config('', '', "logs: { accessLogFormat: '$context.requestId $context.nope.x' }")),
    /: logs\.accessLogFormat: unknown variable \$context\.nope\.x$/,
  );
  assert.match(
    errorOf(config('', '', `logs: { accessLogFormat: '{"id":$context.requestId}' }`)),
    /logs\.accessLogFormat: starts with \{ but is not valid JSON/,
  );
  assert.equal(accessLogProblem('{"status":$context.status,"id":"$context.requestId"}'), null);
  assert.equal(accessLogProblem('$context.requestId. $100 $contextual'), null, 'a trailing dot, a lone $: literal');
  assert.match(accessLogProblem('$context.requestId\n') ?? '', /line break/);
});
