/**
 * The package as users get it. deploy/check-image-steps.sh runs deploy/Dockerfile's steps here (a clean build,
 * `npm pack`, a global install of the tarball without devDependencies, the gateway as a non-root user under tini,
 * `mtlsgate health`, a mutual-TLS request, SIGTERM); then the same tarball is installed into a clean directory as a
 * dependency, with the npm cache where it has the packages, and `npx mtlsgate demo --selftest` runs from there.
 * One test: building and packing once is most of its time. The script's own `npm ci` is left to CI's (the
 * repository's node_modules stands in for it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { REPO } from '../helpers/build.js';
import { tmpDir } from '../helpers/pki.js';
import { run } from '../helpers/proc.js';

/** This test's Node (24) first on PATH: npm, npx and the package's `#!/usr/bin/env node` run on it. */
const env = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

test('npm pack installs and runs: the Dockerfile steps as non-root, then npx mtlsgate demo --selftest', async () => {
  const out = tmpDir();
  const steps = await run(
    'bash',
    [join(REPO, 'deploy', 'check-image-steps.sh'), '--keep-tarball', out, '--reuse-node-modules'],
    {
      env,
      timeoutMs: 240_000,
    },
  );
  const said = steps.stdout.toString();
  assert.equal(steps.code, 0, `${said}\n${steps.stderr}`);
  assert.match(said, /^check-image-steps: health: http:\/\/127\.0\.0\.1:\d+\/readyz: 200 \[\d+s\]$/m);
  assert.match(said, /^check-image-steps: curl with the client certificate: HTTP 200 \[/m);
  assert.match(said, /^check-image-steps: SIGTERM: drained and exited 0 \[/m);
  if (process.getuid?.() === 0) assert.match(said, /^check-image-steps: the gateway runs as uid 65532 \[/m);
  const [tarball] = readdirSync(out).filter((f) => /^mtlsgate-.*\.tgz$/.test(f));
  assert.ok(tarball, `no tarball kept in ${out}`);

  // A consumer: an empty project that installs the tarball. Its `prepare` (the repository's runtime download and
  // build, from scripts/ that is not in the package) must not run.
  const app = join(tmpDir(), 'app');
  const npm = (args: string[]) => run('npm', args, { cwd: app, env, timeoutMs: 120_000 });
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "name": "consumer", "private": true }\n');
  const install = await npm(['install', join(out, tarball), '--prefer-offline', '--no-audit', '--no-fund']);
  assert.equal(install.code, 0, `${install.stdout.toString()}\n${install.stderr}`);
  assert.ok(existsSync(join(app, 'node_modules', 'mtlsgate', 'dist', 'cli', 'main.js')));
  assert.ok(!existsSync(join(app, 'node_modules', 'mtlsgate', '.runtime')), 'prepare did not run');
  assert.ok(!existsSync(join(app, 'node_modules', 'mtlsgate', 'src')), 'no sources in the package');

  const demo = await run(
    'npx',
    ['--no', 'mtlsgate', 'demo', '--dir', 'demo', '--port', '0', '--admin-port', '0', '--selftest'],
    { cwd: app, env, timeoutMs: 120_000 },
  );
  const text = demo.stdout.toString();
  assert.equal(demo.code, 0, `${text}\n${demo.stderr}`);
  const results = text.split('\n').filter((l) => /^(ok {2}|FAIL)/.test(l));
  assert.equal(results.length, 7, text);
  assert.deepEqual(
    results.filter((l) => l.startsWith('FAIL')),
    [],
  );
});
