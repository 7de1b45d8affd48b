/**
 * The dashboard's files on the admin listener: content types, a strict Content-Security-Policy, revalidation by
 * ETag, no path outside the listed files (whatever the URL spells), public while the data keeps its token, and
 * shipped in the npm package.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UI_CSP, UI_DIR } from '../../src/gateway/admin-ui.js';
import { domainConfig, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { makeWorld } from '../helpers/lifecycle.js';
import { REPO } from '../helpers/build.js';
import { run } from '../helpers/proc.js';

const TOKEN = 'dashboard-token-0123456789';
let gw: GatewayProcess;

before(async () => {
  const w = await makeWorld('ui.e2e.test');
  gw = await startGateway({
    config: {
      admin: { host: '127.0.0.1', port: 0, token: TOKEN },
      domains: [domainConfig(w.domain, w.server, w.truststore, [{ basePath: '', target: 'http://127.0.0.1:9' }])],
    },
  });
});

after(async () => {
  await gw?.stop();
});

/** A raw request: the path goes on the wire as written (no client-side `..` resolution). */
function get(
  path: string,
  o: { method?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: gw.adminPort, path, method: o.method ?? 'GET', headers: o.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('each file with its content type, the CSP, nosniff, no-cache and an ETag that answers 304', async () => {
  const files: Array<[string, string, string]> = [
    ['/ui', 'index.html', 'text/html; charset=utf-8'],
    ['/ui/', 'index.html', 'text/html; charset=utf-8'],
    ['/ui/app.js', 'app.js', 'text/javascript; charset=utf-8'],
    ['/ui/view.js', 'view.js', 'text/javascript; charset=utf-8'],
    ['/ui/app.css', 'app.css', 'text/css; charset=utf-8'],
    ['/ui/favicon.svg', 'favicon.svg', 'image/svg+xml'],
  ];
  for (const [path, file, type] of files) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['content-type'], type, path);
    assert.equal(r.body, readFileSync(join(UI_DIR, file), 'utf8'), path);
    assert.equal(r.headers['content-security-policy'], UI_CSP, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['cache-control'], 'no-cache', path);
    const etag = r.headers.etag;
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{22}"$/, path);
    const again = await get(path, { headers: { 'if-none-match': etag } });
    assert.deepEqual([again.status, again.body], [304, ''], `${path}: unchanged`);
    assert.equal((await get(path, { headers: { 'if-none-match': '"other"' } })).status, 200, `${path}: changed`);
  }
  assert.match(UI_CSP, /script-src 'self';/);
  assert.doesNotMatch(UI_CSP, /unsafe-inline|unsafe-eval|https?:/);
  const html = (await get('/ui')).body;
  assert.doesNotMatch(
    html,
    /<script>|<script(?![^>]*\bsrc=)|\bstyle=|\bon[a-z]+=/i,
    'no inline script, style or handler',
  );
});

test('only the listed files: traversal and other spellings get 404, other methods 405', async () => {
  for (const path of [
    '/ui/../package.json',
    '/ui/..%2fpackage.json',
    '/ui/%2e%2e/%2e%2e/package.json',
    '/ui/app.js/../../package.json',
    '/ui//etc/passwd',
    '/ui/index.html',
    '/ui/APP.JS',
    '/ui/app.js%00.css',
    '/ui/tsconfig.json',
  ]) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(r.body, /"name": "mtlsgate"|root:/, path);
  }
  assert.equal((await get('/ui/app.js?v=1')).status, 200, 'a query string is ignored');
  assert.equal((await get('/ui', { method: 'POST' })).status, 405);
});

test('with admin.token the page is public and its data is not', async () => {
  assert.equal((await get('/ui')).status, 200);
  assert.equal((await get('/ui/app.js')).status, 200);
  for (const path of ['/certs', '/denials', '/domains', '/metrics']) {
    assert.equal((await get(path)).status, 401, path);
    assert.equal((await get(path, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, path);
  }
});

test('the npm package ships the dashboard files', async () => {
  const r = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const files = (JSON.parse(r.stdout.toString()) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map(
    (f) => f.path,
  );
  for (const f of [
    'ui/index.html',
    'ui/app.js',
    'ui/view.js',
    'ui/app.css',
    'ui/favicon.svg',
    'dist/gateway/admin-ui.js',
  ])
    assert.ok(files.includes(f), `${f} is in the package`);
  // Served from the same place in the package as in a clone: ui/ beside dist/.
  assert.equal(UI_DIR, join(REPO, 'ui/'));
});
