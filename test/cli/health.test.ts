/**
 * `mtlsgate health --url URL [--timeout-ms N]` against real HTTP servers: exit 0 on 2xx, 1 with one line saying why
 * (the status, a refused connection, no answer in time), 2 on a usage error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { closedPort } from '../helpers/backends.js';
import { cli } from '../helpers/cli.js';

let server: http.Server;
let base: string;
const sockets = new Set<Socket>();

before(async () => {
  // /ready: 200, /draining: 503, /hang: never answers.
  server = http.createServer((req, res) => {
    if (req.url === '/hang') return;
    res.writeHead(req.url === '/ready' ? 200 : 503, { 'content-type': 'application/json' });
    res.end('{}');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  sockets.forEach((s) => s.destroy());
  server.close();
});

test('2xx: exit 0, the URL and status on stdout', async () => {
  const r = await cli(['health', '--url', `${base}/ready`]);
  assert.deepEqual([r.code, r.out, r.err], [0, `${base}/ready: 200\n`, '']);
});

test('another status: exit 1, one line naming it', async () => {
  const r = await cli(['health', '--url', `${base}/draining`]);
  assert.deepEqual([r.code, r.out, r.err], [1, '', `mtlsgate: health: ${base}/draining: status 503\n`]);
});

test('nothing listening: exit 1, connection refused', async () => {
  const url = `http://127.0.0.1:${await closedPort()}/readyz`;
  const r = await cli(['health', '--url', url]);
  assert.deepEqual([r.code, r.err], [1, `mtlsgate: health: ${url}: connection refused (nothing listens there)\n`]);
});

test('no answer in time: exit 1 once --timeout-ms has passed', async () => {
  const started = Date.now();
  const r = await cli(['health', '--url', `${base}/hang`, '--timeout-ms', '300']);
  const took = Date.now() - started;
  assert.deepEqual([r.code, r.err], [1, `mtlsgate: health: ${base}/hang: no answer within 300 ms\n`]);
  assert.ok(took >= 290 && took < 5000, `took ${took} ms`);
});

test('usage errors: exit 2 with one line', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['health'], /required option '--url <url>' not specified/],
    [['health', '--url', 'not a url'], /^mtlsgate: --url: "not a url" is not a URL; give http:\/\/host:port\/path\n$/],
    [
      ['health', '--url', 'ftp://127.0.0.1/x'],
      /^mtlsgate: --url: expected an http:\/\/ or https:\/\/ URL, not ftp:\n$/,
    ],
    [['health', '--url', `${base}/ready`, '--timeout-ms', '1.5'], /--timeout-ms: "1.5" is not a whole number/],
    [['health', '--url', `${base}/ready`, '--timeout-ms', '0'], /--timeout-ms: "0" is not a whole number/],
  ];
  for (const [argv, err] of cases) {
    const r = await cli(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, err, argv.join(' '));
    assert.equal(r.out, '');
  }
});
