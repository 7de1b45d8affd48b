/**
 * The file watcher (src/gateway/watch.ts) on a volume updated the way the kubelet updates a mounted Secret: it
 * reports the files whose content changed, once per burst of events, and nothing for steps that change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../src/gateway/config.js';
import { watchedPaths, watchFiles } from '../../src/gateway/watch.js';
import { kubeletWrite } from '../helpers/kubelet.js';
import { tmpDir } from '../helpers/pki.js';

const silent = pino({ level: 'silent' });

/** A watcher whose changes arrive one by one through next(). */
async function watched(paths: string[]) {
  const calls: string[][] = [];
  let wake: (() => void) | null = null;
  const w = await watchFiles({
    paths,
    debounceMs: 50,
    log: silent,
    onChange: (files) => {
      calls.push(files);
      wake?.();
    },
  });
  let seen = 0;
  const next = async (): Promise<string[]> => {
    while (calls.length <= seen) await new Promise<void>((r) => (wake = r));
    return calls[seen++]!;
  };
  return { w, calls, next };
}

test('a kubelet update reports exactly the files whose content changed, once per update', async () => {
  const dir = tmpDir();
  kubeletWrite(dir, { 'tls.crt': 'cert 1', 'tls.key': 'key 1', 'ca.crt': 'ca 1' });
  const paths = ['tls.crt', 'tls.key', 'ca.crt'].map((n) => join(dir, n));
  const { w, calls, next } = await watched(paths);
  try {
    kubeletWrite(dir, { 'tls.crt': 'cert 1', 'tls.key': 'key 1', 'ca.crt': 'ca 2' });
    assert.deepEqual(await next(), [join(dir, 'ca.crt')]);

    // The same payload again, and a file beside ours: events, but no content of ours changed. Then a real change.
    kubeletWrite(dir, { 'tls.crt': 'cert 1', 'tls.key': 'key 1', 'ca.crt': 'ca 2' });
    writeFileSync(join(dir, 'unrelated.txt'), 'x');
    kubeletWrite(dir, { 'tls.crt': 'cert 2', 'tls.key': 'key 2', 'ca.crt': 'ca 2' });
    assert.deepEqual(await next(), [join(dir, 'tls.crt'), join(dir, 'tls.key')]);
    assert.equal(calls.length, 2, JSON.stringify(calls));
  } finally {
    w.close();
  }
});

test('a file that stops being watched is not reported; one added is, from its content when added', async () => {
  const a = tmpDir();
  const b = tmpDir();
  kubeletWrite(a, { 'ca.crt': 'a 1' });
  kubeletWrite(b, { 'ca.crt': 'b 1' });
  const { w, next } = await watched([join(a, 'ca.crt')]);
  try {
    await w.setPaths([join(b, 'ca.crt')]);
    kubeletWrite(a, { 'ca.crt': 'a 2' });
    kubeletWrite(b, { 'ca.crt': 'b 2' });
    assert.deepEqual(await next(), [join(b, 'ca.crt')]);
  } finally {
    w.close();
  }
});

test('watchedPaths: the config, certificates, keys, file:// truststores and CRLs, ticket keys; not s3:// or http', () => {
  const cfg = parseConfig(
    JSON.stringify({
      tls: { ticketKeyFile: 'ticket.key' },
      domains: [
        {
          domainName: 'a.example.test',
          certificate: { cert: 'secret/tls.crt', key: 'secret/tls.key' },
          mutualTls: {
            truststoreUri: 'file://trust/ca%20bundle.pem',
            revocation: { mode: 'crl', crl: { sources: ['file://crl/ca.crl', 'http://crl.example.test/ca.crl'] } },
          },
          basePathMappings: [{ target: 'http://127.0.0.1:9000' }],
        },
        {
          domainName: 'b.example.test',
          certificate: { cert: '/etc/b/tls.crt', key: '/etc/b/tls.key' },
          mutualTls: { truststoreUri: 's3://bucket/truststore.pem' },
          basePathMappings: [{ target: 'http://127.0.0.1:9000' }],
        },
      ],
    }),
    '/etc/mtlsgate/config.json',
  );
  assert.deepEqual(watchedPaths(cfg, '/etc/mtlsgate/config.json'), [
    '/etc/b/tls.crt',
    '/etc/b/tls.key',
    '/etc/mtlsgate/config.json',
    '/etc/mtlsgate/crl/ca.crl',
    '/etc/mtlsgate/secret/tls.crt',
    '/etc/mtlsgate/secret/tls.key',
    '/etc/mtlsgate/ticket.key',
    '/etc/mtlsgate/trust/ca bundle.pem',
  ]);
});
