/**
 * One test PKI per test process (tests in a file share it; node --test runs each file in its own process),
 * made in-process in a fresh temp directory that is removed at exit. Set MTLSGATE_KEEP_TMP=1 to keep it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki, issueVariant, loadPki } from '../../src/pki/generate.js';
import type { LoadedPki, PkiFiles, Variant, VariantFiles } from '../../src/pki/generate.js';

/** Every path initPki wrote (rootCert, clientKey, truststore, ...) plus the loaded CAs; usable as a LoadedPki. */
export type TestPki = PkiFiles & LoadedPki;

/** The server certificate's name; `localhost` so TLS loopback tests can check the server's identity. */
export const TEST_DOMAIN = 'localhost';

let pki: Promise<TestPki> | undefined;
const variants = new Map<string, Promise<VariantFiles>>();

export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const dir = tmpDir();
    const files = await initPki(dir, { domain: TEST_DOMAIN });
    return { ...files, ...(await loadPki(dir)) };
  })();
  return pki;
}

/** A variant issued once per process into the test PKI's directory, as `<name>.crt` (name defaults to the variant). */
export function testVariant(variant: Variant, opts: { name?: string; depth?: number; cn?: string } = {}): Promise<VariantFiles> {
  const name = opts.name ?? variant;
  const key = JSON.stringify([variant, name, opts.depth, opts.cn]);
  let made = variants.get(key);
  if (!made) {
    made = testPki().then((p) => issueVariant(p, variant, { ...opts, name }));
    variants.set(key, made);
  }
  return made;
}

const made: string[] = [];

/** A fresh empty directory, removed when the process exits. */
export function tmpDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-'));
  // One exit listener for all directories (one each would trip the max-listeners warning).
  if (made.length === 0 && !process.env.MTLSGATE_KEEP_TMP) {
    process.once('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  }
  made.push(dir);
  return dir;
}
