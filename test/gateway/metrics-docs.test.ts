/**
 * docs/metrics.md and the metrics the gateway exports agree, both ways: every `# TYPE` line /metrics can write is
 * documented with its type and labels, and every documented metric is exported; the reason table is the code's.
 * Prometheus' own promtool lints the exposition and checks and unit-tests the page's example alerts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainSummary } from '../../src/gateway/admin.js';
import {
  BACKEND_ERROR_KINDS,
  countBackendError,
  countHandshake,
  countVerifyFailure,
  inc,
  newMetrics,
  REASON_CODES,
  recordRequest,
  requestLabels,
  VERIFY_FAILURE_REASONS,
} from '../../src/gateway/metrics.js';
import { renderMetrics } from '../../src/gateway/metrics-render.js';
import { DENY_CODES } from '../../src/policy/verdict.js';
import { tmpDir } from '../helpers/pki.js';

const docs = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

/** A rendering with one series of everything, so that every family shows its labels. */
function everything(): string {
  const m = newMetrics();
  recordRequest(m, requestLabels('a.test', '/orders'), 200, 0.003);
  inc(m.denials, 'a.test CERT_REVOKED');
  countVerifyFailure(m, 'a.test', 'CERT_REVOKED');
  countHandshake(m, 'a.test', true, false);
  countBackendError(m, 'a.test', 'timeout');
  m.lastReloadSuccess = 1_700_000_000;
  inc(m.truststoreErrors, 'a.test');
  inc(m.revocationUnavailableAllowed, 'a.test');
  inc(m.crlRefreshErrors, 'a.test');
  const domain = {
    domainName: 'a.test',
    revocation: {
      mode: 'crl',
      scope: 'leaf',
      onUnavailable: 'deny',
      sources: [{ uri: 'file:///x.crl', version: null, loadedAt: new Date().toISOString(), error: null }],
      crls: [
        {
          source: 'file:///x.crl',
          issuer: 'CN=CA',
          thisUpdate: new Date().toISOString(),
          nextUpdate: new Date().toISOString(),
          crlNumber: '1',
          entries: 0,
        },
      ],
    },
  } as unknown as DomainSummary;
  const gauges = [
    {
      domain: 'a.test',
      truststoreLoadedAt: 1_700_000_000,
      truststoreVersion: 'v1',
      truststoreCertificates: 1,
      serverCertNotAfter: 1_800_000_000,
      truststore: [['CN=Root "A"', '01:02', 1_900_000_000] as [string, string, number]],
    },
  ];
  return renderMetrics({ metrics: m, ready: true, degraded: false, domains: [domain], gauges });
}

const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

test('every exported metric is documented with its type and labels, and every documented one is exported', () => {
  const text = everything();
  const exported = new Map<string, { type: string; labels: Set<string> }>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) exported.set(m[1]!, { type: m[2]!, labels: new Set() });
  for (const m of text.matchAll(/^([a-z_]+)\{([^}]*)\} /gm)) {
    const name = exported.has(m[1]!) ? m[1]! : m[1]!.replace(HISTOGRAM_SUFFIX, '');
    const family = exported.get(name);
    assert.ok(family, `${m[1]}: a sample of no family`);
    for (const l of m[2]!.matchAll(/([a-z_]+)="/g)) if (l[1] !== 'le') family.labels.add(l[1]!);
  }
  const documented = new Map<string, { type: string; labels: string }>();
  for (const m of docs.matchAll(/^\| `(mtlsgate_[a-z_]+)` \| (counter|gauge|histogram) \|([^|]*)\|/gm))
    documented.set(m[1]!, { type: m[2]!, labels: m[3]!.trim() });
  assert.deepEqual(
    [...exported.keys()].filter((n) => !documented.has(n)),
    [],
    'exported, not documented',
  );
  assert.deepEqual(
    [...documented.keys()].filter((n) => !exported.has(n)),
    [],
    'documented, not exported',
  );
  for (const [name, e] of exported) {
    const d = documented.get(name)!;
    assert.equal(d.type, e.type, `${name}: type`);
    for (const l of e.labels) assert.match(d.labels, new RegExp(`\`${l}\``), `${name}: label ${l} documented`);
    // Labels are the backticked names outside parentheses (which hold their values).
    const documentedLabels = [...d.labels.replace(/\([^)]*\)/g, '').matchAll(/`([a-z_]+)`/g)].map((x) => x[1]!);
    for (const l of documentedLabels) assert.ok(e.labels.has(l), `${name}: documented label ${l} is exported`);
  }
  assert.equal(text.match(/^# HELP /gm)?.length, exported.size, 'a # HELP line for every family');
});

test('the reason table is the code: each reason with its deny codes, each code under one reason', () => {
  const section = docs.slice(docs.indexOf('## Verification failure reasons'), docs.indexOf('## Backend error kinds'));
  const rows = new Map<string, string[]>();
  for (const m of section.matchAll(/^\| `([a-z_]+)` \| (.*) \|$/gm))
    rows.set(
      m[1]!,
      [...m[2]!.matchAll(/`([A-Z0-9_]+)`/g)].map((c) => c[1]!),
    );
  assert.deepEqual([...rows.keys()], [...VERIFY_FAILURE_REASONS]);
  for (const [reason, codes] of Object.entries(REASON_CODES)) assert.deepEqual(rows.get(reason), [...codes], reason);
  const all = Object.values(REASON_CODES).flat();
  assert.equal(new Set(all).size, all.length, 'no code under two reasons');
  const known = new Set<string>(DENY_CODES);
  for (const c of all) assert.ok(known.has(c), `${c} is a deny code`);
  // The `other` row's examples really fall under other.
  for (const c of rows.get('other')!) assert.ok(known.has(c) && !all.includes(c as never), `${c} counts as other`);
  for (const kind of BACKEND_ERROR_KINDS) assert.ok(docs.includes(`\`${kind}\` (`), `kind ${kind} explained`);
});

const promtool = (args: string[], input?: string) =>
  spawnSync('promtool', args, { encoding: 'utf8', input, timeout: 60_000 });

function needPromtool(): void {
  const r = promtool(['--version']);
  assert.equal(r.error, undefined, 'promtool not found: run scripts/setup.sh (Debian package prometheus)');
}

test("promtool's linter finds nothing wrong with the exposition", () => {
  needPromtool();
  const r = promtool(['check', 'metrics'], everything());
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(r.stdout.trim() + r.stderr.trim(), '');
});

test('the example alerts are valid rules; the truststore one fires for a CA within 30 days only', () => {
  needPromtool();
  const dir = tmpDir();
  const yaml = /```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(yaml, 'docs/metrics.md has a yaml block');
  writeFileSync(join(dir, 'rules.yml'), yaml);
  const checked = promtool(['check', 'rules', join(dir, 'rules.yml')]);
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
  // The label sets as the gateway renders them; the values are notAfter in the test's clock, which starts at 0.
  const series = everything()
    .split('\n')
    .filter((l) => l.startsWith('mtlsgate_truststore_cert_not_after_timestamp_seconds{'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')));
  assert.equal(series.length, 1);
  const soon = series[0]!;
  const later = soon.replace('serial="01:02"', 'serial="03"');
  const day = 86_400;
  const unitTest = {
    rule_files: ['rules.yml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          { series: soon, values: `${29 * day}+0x180` },
          { series: later, values: `${31 * day}+0x180` },
        ],
        alert_rule_test: [
          { eval_time: '30m', alertname: 'MtlsgateTruststoreCertExpiresSoon', exp_alerts: [] },
          {
            eval_time: '2h',
            alertname: 'MtlsgateTruststoreCertExpiresSoon',
            exp_alerts: [
              {
                exp_labels: {
                  severity: 'warning',
                  domain: 'a.test',
                  subject: 'CN=Root "A"',
                  serial: '01:02',
                },
                exp_annotations: { summary: 'Truststore certificate CN=Root "A" of a.test expires within 30 days' },
              },
            ],
          },
        ],
      },
    ],
  };
  // JSON is YAML.
  writeFileSync(join(dir, 'test.yml'), JSON.stringify(unitTest));
  const run = promtool(['test', 'rules', join(dir, 'test.yml')]);
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /SUCCESS/);
});

test('a failing alert expectation fails promtool (the unit test above can fail)', () => {
  needPromtool();
  const dir = tmpDir();
  writeFileSync(join(dir, 'rules.yml'), /```yaml\n([\s\S]*?)```/.exec(docs)![1]!);
  const unitTest = {
    rule_files: ['rules.yml'],
    tests: [
      {
        interval: '1m',
        input_series: [
          { series: 'mtlsgate_truststore_cert_not_after_timestamp_seconds{domain="a"}', values: '0+0x180' },
        ],
        alert_rule_test: [{ eval_time: '2h', alertname: 'MtlsgateTruststoreCertExpiresSoon', exp_alerts: [] }],
      },
    ],
  };
  writeFileSync(join(dir, 'test.yml'), JSON.stringify(unitTest));
  assert.notEqual(promtool(['test', 'rules', join(dir, 'test.yml')]).status, 0);
});
