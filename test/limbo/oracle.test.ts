/**
 * The model against the real thing: every limbo case also goes through the `openssl verify` binary with OpenSSL's
 * default flags (what Node's TLS verify uses: no -x509_strict, no partial chains), only the case's certificates as
 * trust (no system store), the same time, purpose, host / IP and depth. Our SUCCESS/FAILURE must equal the
 * binary's on every case not listed in openssl-differences.json, and every listed case must still differ.
 * Skipped, visibly, only when there is no openssl binary. See docs/limbo.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLimbo, purposeFor, readCaseList, runCase, type LimboCase, type LimboResult } from './harness.js';

const DIFFERENCES_URL = new URL('./openssl-differences.json', import.meta.url);

/** `openssl version`, or null when there is no binary to run. */
function opensslVersion(): string | null {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

interface OpenSslVerdict {
  result: LimboResult;
  /** `error N at D depth lookup: text` lines, in the order openssl printed them (it stops at some errors). */
  errors: string[];
}

function opensslVerify(tc: LimboCase, now: Date, dir: string): OpenSslVerdict {
  const wanted = purposeFor(tc);
  if ('skip' in wanted) throw new Error(`${tc.id}: ${wanted.skip}`);
  const file = (name: string, pems: readonly string[]): string => {
    const path = join(dir, name);
    writeFileSync(path, pems.join(''));
    return path;
  };
  const at = tc.validation_time === null ? now : new Date(tc.validation_time);
  const args = [
    'verify',
    '-no-CApath',
    '-no-CAstore',
    '-purpose',
    wanted.purpose === 'sslserver' ? 'sslserver' : 'sslclient',
  ];
  args.push('-CAfile', file('trusted.pem', tc.trusted_certs));
  if (tc.untrusted_intermediates.length > 0) args.push('-untrusted', file('untrusted.pem', tc.untrusted_intermediates));
  args.push('-attime', String(Math.floor(at.getTime() / 1000)));
  if (tc.max_chain_depth !== null) args.push('-verify_depth', String(tc.max_chain_depth));
  const name = tc.expected_peer_name;
  if (name?.kind === 'DNS') args.push('-verify_hostname', name.value);
  else if (name?.kind === 'IP') args.push('-verify_ip', name.value);
  else if (name?.kind === 'RFC822') args.push('-verify_email', name.value);
  args.push(file('peer.pem', [tc.peer_certificate]));
  let output: string;
  let ok: boolean;
  try {
    output = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    ok = /: OK\s*$/.test(output);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    output = `${err.stderr ?? ''}${err.stdout ?? ''}`;
    ok = false;
  }
  const errors = [...output.matchAll(/error (\d+) at (\d+) depth lookup: ([^\n]+)/g)].map(
    (m) => `${m[1]}@${m[2]} ${m[3]}`,
  );
  if (!ok && errors.length === 0) errors.push(output.trim().split('\n')[0] ?? 'openssl failed without output');
  return { result: ok ? 'SUCCESS' : 'FAILURE', errors };
}

test('openssl oracle: the model says what `openssl verify` says on every limbo case', async (t) => {
  const version = opensslVersion();
  if (version === null) {
    t.diagnostic('openssl binary not found on PATH: the oracle comparison did NOT run');
    t.skip('openssl binary not found on PATH');
    return;
  }
  t.diagnostic(`oracle: ${version} (Node's TLS uses OpenSSL ${process.versions.openssl})`);
  const data = loadLimbo();
  const differences = readCaseList(DIFFERENCES_URL);
  const ids = new Set(data.testcases.map((tc) => tc.id));
  assert.deepEqual(
    [...differences.keys()].filter((id) => !ids.has(id)),
    [],
    'openssl-differences.json lists unknown ids',
  );

  const now = new Date();
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-limbo-'));
  let agree = 0;
  try {
    for (const tc of data.testcases) {
      const ours = runCase(tc, now);
      const theirs = opensslVerify(tc, now, dir);
      if (ours.actual === theirs.result) agree++;
      await t.test(tc.id, () => {
        const detail =
          `${tc.id}: model ${ours.actual} (${ours.context}); openssl ${theirs.result}` +
          (theirs.errors.length > 0 ? ` (${theirs.errors.join(' | ')})` : '') +
          `; ${version}, Node's OpenSSL ${process.versions.openssl}`;
        if (differences.has(tc.id)) {
          assert.notEqual(
            ours.actual,
            theirs.result,
            `stale entry, the model agrees with openssl now: ${detail}\n  remove it from test/limbo/openssl-differences.json`,
          );
        } else {
          assert.equal(
            ours.actual,
            theirs.result,
            `${detail}\n  the model is not OpenSSL here: fix it, or list the case in test/limbo/openssl-differences.json with a reason`,
          );
        }
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(
    `openssl oracle: ${agree}/${data.testcases.length} agree with openssl verify, ${differences.size} listed differences`,
  );
});
