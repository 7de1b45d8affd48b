import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePem, toPem } from '../../src/pki/pem.js';

const body = Buffer.from('hello pem world, long enough to wrap across more than one line of base64 text....');

test('blocks with text around them, CRLF and indentation', () => {
  const text = `Certificate:\n  Data: blah\n${toPem('CERTIFICATE', body)}between\r\n${toPem('PRIVATE KEY', Buffer.from('k')).replaceAll('\n', '\r\n')}  ${toPem('X', Buffer.from('x'))}trailer`;
  const { blocks, problems } = parsePem(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(blocks.map((b) => [b.label, b.index]), [['CERTIFICATE', 0], ['PRIVATE KEY', 1], ['X', 2]]);
  assert.deepEqual(blocks[0]!.body, body);
  assert.deepEqual(blocks[1]!.body, Buffer.from('k'));
});

test('RFC 1421 headers of legacy encrypted keys', () => {
  const text = '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00FF\n\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n';
  const [block] = parsePem(text).blocks;
  assert.deepEqual(block?.headers, { 'Proc-Type': '4,ENCRYPTED', 'DEK-Info': 'AES-256-CBC,00FF' });
  assert.equal(block?.body.toString(), 'hello');
});

test('mismatched labels, bad base64 and missing END lines are problems, not throws', () => {
  const text = [
    '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END PRIVATE KEY-----',
    '-----BEGIN CERTIFICATE-----\n!!notbase64!!\n-----END CERTIFICATE-----',
    '-----BEGIN CERTIFICATE-----\naGVsbG8\n-----END CERTIFICATE-----',
    '-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----',
    '-----BEGIN A-----\naGVsbG8=',
    toPem('CERTIFICATE', body),
    '-----BEGIN B-----\naGVsbG8=\n',
  ].join('\n');
  const { blocks, problems } = parsePem(text);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]!.index, 5);
  assert.deepEqual(problems.map((p) => p.index), [0, 1, 2, 3, 4, 6]);
  assert.match(problems[0]!.message, /BEGIN CERTIFICATE is closed by END PRIVATE KEY/);
  assert.match(problems[1]!.message, /invalid base64/);
  assert.match(problems[2]!.message, /invalid base64/);
  assert.match(problems[3]!.message, /empty body/);
  assert.match(problems[4]!.message, /\(A\) has no END line/);
  assert.match(problems[5]!.message, /\(B\) has no END line/);
  for (const p of problems) assert.doesNotMatch(p.message, /\n/);
});

test('a BEGIN that does not start a line is text', () => {
  assert.deepEqual(parsePem(`see -----BEGIN CERTIFICATE----- above\n`).blocks, []);
  assert.deepEqual(parsePem(`see -----BEGIN CERTIFICATE----- above\n`).problems, []);
});

test('hostile input stays linear: a 10 MB line, 100k blocks, 100k BEGINs without END', () => {
  const bound = (label: string, fn: () => void, ms: number): void => {
    const t = performance.now();
    fn();
    const took = performance.now() - t;
    assert.ok(took < ms, `${label} took ${took.toFixed(0)} ms`);
  };
  const line = 'A'.repeat(10 * 1024 * 1024);
  bound('10 MB line', () => assert.equal(parsePem(line).blocks.length, 0), 2000);
  bound('10 MB body line', () => assert.equal(parsePem(`-----BEGIN X-----\n${line}\n-----END X-----\n`).blocks.length, 1), 2000);
  bound('10 MB BEGIN line', () => assert.equal(parsePem(`-----BEGIN ${line}-----\n`).blocks.length, 0), 2000);
  const block = toPem('CERTIFICATE', Buffer.from('x'));
  bound('100k blocks', () => assert.equal(parsePem(block.repeat(100_000)).blocks.length, 100_000), 3000);
  bound('100k BEGINs', () => assert.equal(parsePem('-----BEGIN X-----\n'.repeat(100_000)).problems.length, 100_000), 3000);
  bound('100k ENDs', () => assert.equal(parsePem('-----END X-----\n'.repeat(100_000)).blocks.length, 0), 3000);
  bound('BEGINs on one line', () => parsePem('x -----BEGIN X-----'.repeat(100_000)), 3000);
});
