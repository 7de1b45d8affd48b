/**
 * x509-limbo (C2SP, 2023-12-02 seed, 135 SERVER cases) through the offline path analysis. Every case must agree
 * with limbo's expected result or be listed in exceptions.json with a reason; a listed case that agrees again
 * fails the test, so the list stays honest. See docs/limbo.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMBO_PATH, loadLimbo, readCaseList, runLimbo, type CaseResult } from './harness.js';

const EXCEPTIONS_URL = new URL('./exceptions.json', import.meta.url);

function line(r: CaseResult): string {
  return `${r.id}: expected ${r.expected}, got ${r.actual} (${r.context})`;
}

test('the limbo data is required: a missing file fails, naming the path', () => {
  const missing = '/nonexistent/limbo/limbo.json';
  assert.throws(
    () => loadLimbo(missing),
    (e: unknown) => e instanceof Error && e.message.includes(missing),
  );
});

test('x509-limbo: every case agrees with its expected result or is a listed exception', async (t) => {
  const data = loadLimbo(); // throws, naming LIMBO_PATH, when the vendored file is missing
  assert.equal(data.testcases.length, 135, `${LIMBO_PATH}: expected the 135 cases of the 2023-12-02 seed`);
  const exceptions = readCaseList(EXCEPTIONS_URL);
  const results = runLimbo(data);
  const ids = new Set(results.map((r) => r.id));
  const unknown = [...exceptions.keys()].filter((id) => !ids.has(id));
  assert.deepEqual(unknown, [], 'exceptions.json lists ids that are not in the limbo file');

  const agree = results.filter((r) => r.actual === r.expected).length;
  t.diagnostic(`limbo: ${agree}/${results.length} agree with the expected result, ${exceptions.size} exceptions`);

  for (const r of results) {
    await t.test(r.id, () => {
      const reason = exceptions.get(r.id);
      if (reason === undefined) {
        assert.equal(
          r.actual,
          r.expected,
          `${line(r)}\n  fix the model or list it in test/limbo/exceptions.json with a reason`,
        );
      } else {
        assert.notEqual(
          r.actual,
          r.expected,
          `stale exception, the case agrees now: ${line(r)}\n  remove it from test/limbo/exceptions.json`,
        );
      }
    });
  }
});
