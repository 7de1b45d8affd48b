/**
 * The package's entry (src/index.ts) as a library user sees it: a gateway started from plain config data, judged by a
 * real TLS client, and the doctor's diagnose() on the same files, agreeing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { diagnose, makeLogger, parseConfig, startGateway } from '../src/index.js';
import { startEcho } from '../src/gateway/echo.js';
import { nodeRequest } from './helpers/http.js';
import { TEST_DOMAIN, testPki } from './helpers/pki.js';

test('the library entry: startGateway from config data, and diagnose() agreeing with its verdicts', async () => {
  const pki = await testPki();
  const echo = await startEcho();
  const cfg = parseConfig(
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      domains: [
        {
          domainName: TEST_DOMAIN,
          certificate: { cert: pki.serverCert, key: pki.serverKey },
          mutualTls: { truststoreUri: `file://${pki.truststore}`, exposeReason: true },
          basePathMappings: [{ basePath: '', target: echo.url }],
        },
      ],
    }),
    'library.json',
  );
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const gw = await startGateway(cfg, makeLogger('json', 'warn', quiet));
  try {
    const base = { port: gw.address().port, servername: TEST_DOMAIN, ca: readFileSync(pki.rootCert, 'utf8') };
    const read = (f: string): string => readFileSync(f, 'utf8');
    const ok = await nodeRequest({ ...base, cert: read(pki.clientCert), key: read(pki.clientKey) });
    assert.equal(ok.status, 200, ok.text);
    const no = await nodeRequest({ ...base, cert: read(pki.selfSignedCert), key: read(pki.selfSignedKey) });
    assert.equal(no.status, 403);
    assert.deepEqual(JSON.parse(no.text), { message: 'Access denied. Reason: self-signed certificate' });

    const good = await diagnose({ files: { cert: pki.clientCert, key: pki.clientKey, truststore: pki.truststore } });
    assert.deepEqual(good.verdict, { accepted: true });
    const bad = await diagnose({
      files: { cert: pki.selfSignedCert, key: pki.selfSignedKey, truststore: pki.truststore },
    });
    assert.deepEqual(bad.verdict, {
      accepted: false,
      reason: 'self-signed certificate',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    assert.equal((await gw.reload()).ok, true);
  } finally {
    await gw.close(0);
    await echo.close();
  }
});
