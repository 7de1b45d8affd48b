// Unit tests for src/report: the finding constructor, sortFindings, text cutting and shell quoting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finding, sortFindings, type Finding, type Severity } from '../../src/report/finding.js';
import { cutText, firstItems, titleText, TITLE_TEXT_MAX } from '../../src/report/text.js';
import { shellQuote } from '../../src/report/shell.js';

const at = (severity: Severity, title: string): Finding =>
  finding({ id: 'cert.expired', severity, title, detail: '', fix: '' });

test('finding() takes one object; evidence defaults to none and is kept when given', () => {
  const f = finding({ id: 'key.mismatch', severity: 'error', title: 't', detail: 'd', fix: 'x', evidence: { a: 1 } });
  assert.deepEqual(f, { id: 'key.mismatch', severity: 'error', title: 't', detail: 'd', fix: 'x', evidence: { a: 1 } });
  assert.deepEqual(finding({ id: 'key.missing', severity: 'info', title: 't', detail: 'd', fix: '' }).evidence, {});
});

test('sortFindings: errors, warnings, infos; equal severities keep their order; the input is not changed', () => {
  const input = [at('info', 'i1'), at('error', 'e1'), at('warning', 'w1'), at('info', 'i2'), at('error', 'e2')];
  const titles = sortFindings(input).map((f) => f.title);
  assert.deepEqual(titles, ['e1', 'e2', 'w1', 'i1', 'i2']);
  assert.deepEqual(
    input.map((f) => f.title),
    ['i1', 'e1', 'w1', 'i2', 'e2'],
  );
});

test("sortFindings keeps extra fields (a finding's source)", () => {
  const sourced = [
    { ...at('info', 'a'), source: 'live' as const },
    { ...at('error', 'b'), source: 'curl' as const },
  ];
  assert.deepEqual(
    sortFindings(sourced).map((f) => f.source),
    ['curl', 'live'],
  );
});

test('cutText cuts at code points, never inside a surrogate pair, and says how long the text was', () => {
  assert.equal(cutText('abc', 3), 'abc');
  assert.equal(cutText('abcd', 3), 'abc... (4 characters)');
  const emoji = '😀'.repeat(5); // 10 UTF-16 units, 5 characters
  assert.equal(cutText(emoji, 5), emoji);
  assert.equal(cutText(emoji, 2), '😀😀... (5 characters)');
  const long = 'x'.repeat(TITLE_TEXT_MAX + 1);
  assert.equal(titleText(long), `${'x'.repeat(TITLE_TEXT_MAX)}... (${TITLE_TEXT_MAX + 1} characters)`);
});

test('firstItems keeps short lists whole and ends a long one with a count', () => {
  assert.deepEqual(firstItems(['a', 'b'], 2), ['a', 'b']);
  assert.deepEqual(firstItems(['a', 'b', 'c'], 2, ' CA names'), ['a', 'b', '... and 1 more CA names']);
});

test('shellQuote leaves safe words alone and single-quotes the rest, quotes included', () => {
  assert.equal(shellQuote('dir/client.crt'), 'dir/client.crt');
  assert.equal(shellQuote('my cert.pem'), "'my cert.pem'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote('$(rm -rf ~)'), "'$(rm -rf ~)'");
});
