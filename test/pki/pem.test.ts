import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePem, toPem } from '../../src/pki/pem.js';
import { inWorker } from '../helpers/hang-guard.js';

const body = Buffer.from('hello pem world, long enough to wrap across more than one line of base64 text....');

test('blocks with text around them, CRLF and indentation', () => {
  const text = `Certificate:\n  Data: blah\n${toPem('CERTIFICATE', body)}between\r\n${toPem('PRIVATE KEY', Buffer.from('k')).replaceAll('\n', '\r\n')}  ${toPem('X', Buffer.from('x'))}trailer`;
  const { blocks, problems } = parsePem(text);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    blocks.map((b) => [b.label, b.index]),
    [
      ['CERTIFICATE', 0],
      ['PRIVATE KEY', 1],
      ['X', 2],
    ],
  );
  assert.deepEqual(blocks[0]!.body, body);
  assert.deepEqual(blocks[1]!.body, Buffer.from('k'));
});

test('RFC 1421 headers of legacy encrypted keys', () => {
  const text =
    '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00FF\n\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n';
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
  assert.deepEqual(
    problems.map((p) => p.index),
    [0, 1, 2, 3, 4, 6],
  );
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

test('hostile input stays linear: a 10 MB line, 100k blocks, 100k BEGINs without END', async () => {
  // Each parse runs in a worker stopped after minutes (not a wall-clock bound that a loaded machine trips): on
  // these sizes a super-linear parser takes hours, so it fails here instead of hanging the run.
  const PEM = new URL('../../src/pki/pem.ts', import.meta.url);
  const parsed = (label: string, input: string): Promise<{ blocks: number; problems: number }> =>
    inWorker(
      label,
      { pem: PEM },
      '((r) => ({ blocks: r.blocks.length, problems: r.problems.length }))(m.pem.parsePem(data))',
      input,
    );
  const line = 'A'.repeat(10 * 1024 * 1024);
  assert.equal((await parsed('10 MB line', line)).blocks, 0);
  assert.equal((await parsed('10 MB body line', `-----BEGIN X-----\n${line}\n-----END X-----\n`)).blocks, 1);
  assert.equal((await parsed('10 MB BEGIN line', `-----BEGIN ${line}-----\n`)).blocks, 0);
  const block = toPem('CERTIFICATE', Buffer.from('x'));
  assert.equal((await parsed('100k blocks', block.repeat(100_000))).blocks, 100_000);
  assert.equal((await parsed('100k BEGINs', '-----BEGIN X-----\n'.repeat(100_000))).problems, 100_000);
  assert.equal((await parsed('100k ENDs', '-----END X-----\n'.repeat(100_000))).blocks, 0);
  await parsed('BEGINs on one line', 'x -----BEGIN X-----'.repeat(100_000));
});

/** The body rule parsePem keeps: drop every `\s`, then a multiple of 4 from the alphabet with up to two final '='. */
function referenceBody(raw: string): Buffer | 'invalid base64' | 'empty body' {
  const compact = raw.replace(/\s+/g, '');
  if (compact.length === 0) return 'empty body';
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return 'invalid base64';
  return Buffer.from(compact, 'base64');
}

test('base64 bodies: padding, blanks and stray characters decide exactly as the stripped-body rule', () => {
  const pieces = ['QUJD', 'RA==', 'RE0=', 'RA', 'R', '=', '==', '\n', '\r\n', ' ', '\t', '\f', '\v', '\u00a0'];
  const extra = ['-', '_', '.', '!', '\u0085', '\u2028', 'AAAA', 'A=AA', '/+/+'];
  // A seeded walk over short bodies built from the pieces; each is judged by parsePem and by the reference.
  let seed = 18;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const bodies = [
    'QUJD\n',
    'QUJDRA==\n',
    'QUJDRA\n',
    'QUJDRA=\n',
    'AB=\n=\n',
    'QUJD\nRA=\n=\n',
    ' \n',
    'QU JD\tRA==\f\n',
  ];
  for (let i = 0; i < 3000; i++) {
    let b = '';
    for (let k = 1 + next(6); k > 0; k--) b += next(4) === 0 ? extra[next(extra.length)] : pieces[next(pieces.length)];
    bodies.push(b + '\n');
  }
  let decoded = 0;
  for (const b of bodies) {
    const { blocks, problems } = parsePem(`-----BEGIN X-----\n${b}-----END X-----\n`);
    const want = referenceBody(b);
    if (typeof want === 'string') {
      assert.equal(blocks.length, 0, JSON.stringify(b));
      assert.equal(problems[0]?.message, `pem block 0 (X): ${want}`, JSON.stringify(b));
    } else {
      decoded++;
      assert.deepEqual(problems, [], JSON.stringify(b));
      assert.deepEqual(blocks[0]?.body, want, JSON.stringify(b));
    }
  }
  // All in one text: past the first refused bodies a parse decodes without atob, with the same answers.
  const all = parsePem(bodies.map((b) => `-----BEGIN X-----\n${b}-----END X-----\n`).join(''));
  assert.equal(all.blocks.length, decoded);
  for (const block of all.blocks) assert.deepEqual(block.body, referenceBody(bodies[block.index]!));
  for (const p of all.problems) assert.equal(p.message, `pem block ${p.index} (X): ${referenceBody(bodies[p.index]!)}`);
  assert.ok(decoded > 150 && decoded < bodies.length - 150, `both answers are exercised (${decoded} decoded)`);
});
