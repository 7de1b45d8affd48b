import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileSource } from '../../src/trust/sources/file.js';
import { tmpDir } from '../helpers/pki.js';

/** fetch() must settle by itself: a hang fails the test after 5 s instead of holding the suite. */
async function settle<T>(p: Promise<T>): Promise<{ ok: T } | { err: Error }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error('fetch hung for 5 s')), 5000)),
  );
  try {
    return { ok: await Promise.race([p, hang]) };
  } catch (e) {
    if ((e as Error).message === 'fetch hung for 5 s') throw e;
    return { err: e as Error };
  } finally {
    clearTimeout(timer);
  }
}

test('file source: a regular file is read whole, by path or file:// URI', async () => {
  const d = tmpDir();
  const p = join(d, 'ts.pem');
  writeFileSync(p, 'pem bytes');
  for (const uri of [p, `file://${p}`]) {
    const r = await settle(fileSource(uri).fetch());
    assert.ok('ok' in r, uri);
    assert.equal(r.ok.bytes.toString(), 'pem bytes');
    assert.equal(r.ok.version, null);
  }
});

test('file source: a FIFO without a writer is refused at once, not waited on', async () => {
  const d = tmpDir();
  const fifo = join(d, 'ts.pem');
  execFileSync('mkfifo', [fifo]);
  const r = await settle(fileSource(`file://${fifo}`).fetch());
  assert.ok('err' in r);
  assert.equal(r.err.message, `file://${fifo}: not a regular file`);
});

test('file source: missing file and directory name the URI and the problem', async () => {
  const d = tmpDir();
  const missing = await settle(fileSource(`file://${d}/nope.pem`).fetch());
  assert.ok('err' in missing);
  assert.equal(missing.err.message, `file://${d}/nope.pem: no such file`);
  const dir = await settle(fileSource(`file://${d}`).fetch());
  assert.ok('err' in dir);
  assert.equal(dir.err.message, `file://${d}: not a regular file`);
});
