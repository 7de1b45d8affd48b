// Tests for src/doctor/render.ts (the findings renderer shared by `truststore lint` and `doctor`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finding, type FindingId } from '../../src/report/finding.js';
import { countFindings, groupOf, renderFindings, renderSummary, wrap } from '../../src/doctor/render.js';

// Test-only ids (other.thing) stand for any id the renderer does not group.
const f = (id: string, severity: 'error' | 'warning' | 'info', title = id) =>
  finding({ id: id as FindingId, severity, title, detail: '', fix: '' });

test('findings are grouped Files, Certificate, Chain, Truststore, Other, errors first within a group', () => {
  const out = renderFindings(
    [
      f('other.thing', 'info'),
      f('truststore.expired', 'warning'),
      f('truststore.empty', 'error'),
      f('chain.issuer-missing', 'error'),
      f('cert.expired', 'info'),
      f('key.mismatch', 'error'),
      f('cert.file-not-found', 'error'),
      f('pkcs12.legacy', 'warning'),
    ],
    { color: false },
  );
  const order = out.split('\n').filter((l) => /^\S/.test(l) || l.startsWith('  ['));
  assert.deepEqual(order, [
    'Files',
    '  [error] key.mismatch  [key.mismatch]',
    '  [error] cert.file-not-found  [cert.file-not-found]',
    '  [warning] pkcs12.legacy  [pkcs12.legacy]',
    'Certificate',
    '  [info] cert.expired  [cert.expired]',
    'Chain',
    '  [error] chain.issuer-missing  [chain.issuer-missing]',
    'Truststore',
    '  [error] truststore.empty  [truststore.empty]',
    '  [warning] truststore.expired  [truststore.expired]',
    'Other',
    '  [info] other.thing  [other.thing]',
  ]);
  assert.equal(groupOf('cert.file-unreadable'), 'Files');
  assert.equal(renderFindings([], { color: false }), '');
});

test('detail is wrapped at 100 columns, evidence aligned with arrays one per line, commands get "$ "', () => {
  const out = renderFindings(
    [
      finding({
        id: 'truststore.duplicate',
        severity: 'warning',
        title: 'certificate 3 (CN=x) is an exact copy of certificate 1',
        detail: 'word '.repeat(60).trim(),
        fix: 'openssl x509 -noout -text -in a.pem\nthen upload the new bundle\n$ already marked\n# a comment',
        evidence: { index: 3, subject: 'CN=x', paths: ['a', 'b'], none: null, empty: [] },
      }),
    ],
    { color: false },
  );
  const lines = out.split('\n');
  assert.ok(
    lines.every((l) => l.length <= 100 || l.includes('$ ')),
    out,
  );
  assert.ok(lines.includes('      index:   3'), out);
  assert.ok(lines.includes('      subject: CN=x'), out);
  assert.ok(lines.includes('      paths:   a'), out);
  assert.ok(lines.includes('               b'), out);
  assert.ok(lines.includes('      none:    (none)'), out);
  assert.ok(lines.includes('      empty:   (none)'), out);
  assert.ok(lines.includes('      $ openssl x509 -noout -text -in a.pem'), out);
  assert.ok(lines.includes('      then upload the new bundle'), out);
  assert.ok(lines.includes('      $ already marked'), out);
  assert.ok(lines.includes('      # a comment'), out);
});

test('colour only when asked: ANSI codes and ✗ ! i markers, none of them without colour', () => {
  const list = [
    f('truststore.empty', 'error'),
    f('truststore.expired', 'warning'),
    f('truststore.expires-soon', 'info'),
  ];
  const plain = renderFindings(list, { color: false });
  assert.doesNotMatch(plain, /\x1b\[/);
  const coloured = renderFindings(list, { color: true });
  assert.match(coloured, /\x1b\[31m\x1b\[1m✗/);
  assert.match(coloured, /\x1b\[33m\x1b\[1m!/);
  assert.match(coloured, /\x1b\[36mi/);
});

test('control characters from certificate names cannot reach the terminal', () => {
  const out = renderFindings(
    [
      finding({
        id: 'truststore.not-ca',
        severity: 'warning',
        title: 'certificate 0 (CN=\x1b[2Jevil)',
        detail: 'x\x07',
        fix: '',
        evidence: { subject: 'CN=\x1b]0;t\x07' },
      }),
    ],
    { color: false },
  );
  assert.doesNotMatch(out, /[\x1b\x07]/);
  assert.match(out, /CN=\\x1b\[2Jevil/);
});

test('wrap keeps long words whole', () => {
  assert.deepEqual(wrap('a bb ccc', 4), ['a bb', 'ccc']);
  assert.deepEqual(wrap('x https://example.com/very/long y', 10), ['x', 'https://example.com/very/long', 'y']);
});

test('renderSummary counts by severity', () => {
  const counts = countFindings([f('a.b', 'error'), f('a.c', 'warning'), f('a.d', 'warning')]);
  assert.deepEqual(counts, { error: 1, warning: 2, info: 0 });
  assert.equal(renderSummary(counts), '1 error, 2 warnings, 0 notes');
  assert.equal(renderSummary({ error: 0, warning: 0, info: 0 }), 'no problems found');
});
