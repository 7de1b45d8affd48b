/**
 * The README's first command runs `npm run demo`: its self-test sends every request the demo prints (accepted,
 * self-signed, revoked, /public without a certificate, /orders through the Lambda authorizer and handler) and asks
 * the doctor about the denials. Run twice on one directory: the second start reuses the PKI and re-issues the CRLs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runBin } from '../helpers/cli.js';
import { tmpDir } from '../helpers/pki.js';

test('demo --selftest: every printed request behaves as printed, on a fresh and on an existing demo directory', async () => {
  const dir = join(tmpDir(), 'demo');
  for (const run of ['fresh', 'again']) {
    const r = await runBin(['demo', '--dir', dir, '--port', '0', '--admin-port', '0', '--selftest'], {
      timeoutMs: 120_000,
    });
    const out = r.stdout.toString();
    assert.equal(r.code, 0, `${run}: ${out}\n${r.stderr.toString()}`);
    const results = out.split('\n').filter((l) => /^(ok {2}|FAIL)/.test(l));
    assert.equal(results.length, 7, out);
    assert.deepEqual(
      results.filter((l) => l.startsWith('FAIL')),
      [],
    );
    assert.match(out, /\/orders: without the token HTTP 401; with it HTTP 200/);
    assert.match(out, /^dashboard: http:\/\/127\.0\.0\.1:\d+\/ui /m, 'the banner names the dashboard');
  }
});
