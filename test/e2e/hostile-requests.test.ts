/**
 * Hostile request bytes, sent raw over a verified TLS connection to a real `mtlsgate serve`: oversized request
 * lines and headers, many headers, request smuggling (Content-Length with Transfer-Encoding, duplicate
 * Content-Length, obsolete line folding, `chunked, identity`, bare LF/CR), absolute-form, `OPTIONS *` and
 * CONNECT (405). Each malformed request is answered 400 (Node's llhttp, strict) and the connection closed; a backend
 * behind a TCP tap records every byte the gateway sends and proves nothing was forwarded, never as two requests.
 * The same bytes from a client the truststore refuses get the same answer, and nothing of theirs is forwarded
 * either. A trickle of well-behaved requests runs throughout and must all succeed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertOnlyVerified,
  assertTrickle,
  rawExchange,
  startHostile,
  startRecordingBackend,
  startTrickle,
  statusLines,
  type Hostile,
  type RecordingBackend,
  type Trickle,
} from '../helpers/hostile.js';
import type { Target } from '../helpers/http.js';

let h: Hostile;
let rec: RecordingBackend;
let trickle: Trickle;
let D: string;

before(async () => {
  rec = await startRecordingBackend();
  h = await startHostile({ domain: 'requests.hostile.e2e.test', routes: [{ basePath: 'rec', target: rec.url }] });
  D = h.w.domain;
  trickle = startTrickle(h.good, { everyMs: 100 });
});

after(async () => {
  await trickle?.stop();
  await h?.close();
  await rec?.close();
});

/** What reached the backend during `fn`: new bytes and the requests its strict parser saw in them. */
async function forwarded<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; bytes: string; requests: RecordingBackend['requests'] }> {
  const bytesBefore = rec.allBytes().length;
  const reqsBefore = rec.requests.length;
  const result = await fn();
  // The gateway forwards before it answers; a short settle covers the tap's own hop.
  await new Promise((r) => setTimeout(r, 50));
  return { result, bytes: rec.allBytes().slice(bytesBefore), requests: rec.requests.slice(reqsBefore) };
}

const SMUGGLED = (): string => `GET /rec/smuggled HTTP/1.1\r\nHost: ${D}\r\n\r\n`;

/** Malformed requests: each must get exactly one 400, the connection closed, and nothing forwarded. */
function malformed(): [string, string][] {
  return [
    [
      'Content-Length with Transfer-Encoding',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED()}`,
    ],
    [
      'Transfer-Encoding with Content-Length',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${SMUGGLED()}`,
    ],
    [
      'duplicate Content-Length, different values',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nContent-Length: 4\r\nContent-Length: 60\r\n\r\nabcd${SMUGGLED()}`,
    ],
    [
      'duplicate Content-Length, same value',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
    ],
    [
      'Content-Length as a list',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nContent-Length: 4, 60\r\n\r\nabcd${SMUGGLED()}`,
    ],
    ['obsolete line folding', `GET /rec/x HTTP/1.1\r\nHost: ${D}\r\nX-A: 1\r\n X-Folded: 2\r\n\r\n`],
    [
      'Transfer-Encoding folded onto a second line',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED()}`,
    ],
    [
      'Transfer-Encoding: chunked, identity',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED()}`,
    ],
    [
      'Transfer-Encoding twice',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED()}`,
    ],
    [
      'space before the colon',
      `POST /rec/x HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED()}`,
    ],
    ['bare LF line endings', `GET /rec/x HTTP/1.1\nHost: ${D}\n\n`],
    ['a bare LF inside the head', `GET /rec/x HTTP/1.1\r\nHost: ${D}\nX-A: 1\r\n\r\n`],
    ['a bare CR inside the head', `GET /rec/x HTTP/1.1\r\nHost: ${D}\rX-A: 1\r\n\r\n`],
    ['NUL in a header value', `GET /rec/x HTTP/1.1\r\nHost: ${D}\r\nX-A: a\x00b\r\n\r\n`],
    ['space in a header name', `GET /rec/x HTTP/1.1\r\nHost: ${D}\r\nX A: 1\r\n\r\n`],
    ['no Host (HTTP/1.1)', `GET /rec/x HTTP/1.1\r\n\r\n`],
  ];
}

async function expectRefused(t: Target, name: string, bytes: string, status: number): Promise<void> {
  const { result: r, bytes: sent, requests } = await forwarded(() => rawExchange(t, bytes, 5000));
  assert.deepEqual(
    statusLines(r.text),
    [status],
    `${name}: exactly one answer, ${status}; got ${JSON.stringify(r.text.slice(0, 300))}`,
  );
  // A missing Host is refused by Node's server itself (requireHostHeader), with an empty body; the rest by ours.
  if (!name.startsWith('no Host'))
    assert.ok(
      r.text.endsWith(`{"message":"${status === 400 ? 'Bad Request' : 'Request Header Fields Too Large'}"}`),
      `${name}: JSON body: ${r.text}`,
    );
  assert.ok(r.closed, `${name}: the gateway closed the connection (took ${r.ms} ms)`);
  assert.ok(r.ms < 3000, `${name}: closed at once, not by a timeout (${r.ms} ms)`);
  assert.equal(sent, '', `${name}: not a byte reached the backend`);
  assert.equal(requests.length, 0, name);
}

test('request smuggling and malformed heads: exactly one 400, the connection closed, nothing forwarded (verified and refused clients)', async () => {
  for (const [name, bytes] of malformed()) {
    await expectRefused(h.good, name, bytes, 400);
    await expectRefused(h.bad, `${name} (refused certificate)`, bytes, 400);
  }
  assert.ok(!rec.requests.some((r) => r.path.includes('smuggled')));
});

test('a malformed chunked body: 400 if nothing was answered yet, else the connection is cut after the answer; never a complete request at the backend', async () => {
  for (const [name, body] of [
    ['chunk size with junk', '4x\r\nabcd\r\n0\r\n\r\n'],
    ['chunks delimited by bare LF', '4\nabcd\n0\n\n'],
  ] as const) {
    for (const t of [h.good, h.bad]) {
      const {
        result: r,
        requests,
        bytes,
      } = await forwarded(() =>
        rawExchange(t, `POST /rec/chunked HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, 5000),
      );
      // The head is valid, so the request may be under way when the body turns out bad: the verified one's head may
      // reach the backend (and be cut there); the refused one got its 403 before the body was read, and the bad body
      // then only closes the connection (no 400 after an answer: a keep-alive client would take it for the next one).
      assert.deepEqual(statusLines(r.text), [t === h.good ? 400 : 403], `${name}: ${r.text.slice(0, 200)}`);
      assert.ok(r.closed && r.ms < 3000, `${name}: closed at once (${r.ms} ms)`);
      assert.equal(requests.length, 0, `${name}: no complete request reached the backend`);
      if (t === h.bad) assert.equal(bytes, '', `${name}: nothing of the refused client's reached the backend`);
    }
  }
});

test('valid framing that looks odd is forwarded as exactly one request; a request in a body stays body', async () => {
  // chunked last: RFC 9112 framing, body decoded from chunks.
  const chunkedLast = await forwarded(() =>
    rawExchange(
      h.good,
      `POST /rec/te HTTP/1.1\r\nHost: ${D}\r\nTransfer-Encoding: identity, chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n`,
    ),
  );
  assert.deepEqual(statusLines(chunkedLast.result.text), [200]);
  assert.deepEqual(
    chunkedLast.requests.map((r) => [r.path, r.bodyBytes]),
    [['/te', 4]],
  );

  // A request inside a Content-Length body is 60 bytes of body, not a second request.
  const inner = SMUGGLED();
  const inBody = await forwarded(() =>
    rawExchange(
      h.good,
      `POST /rec/cl HTTP/1.1\r\nHost: ${D}\r\nContent-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`,
    ),
  );
  assert.deepEqual(statusLines(inBody.result.text), [200]);
  assert.deepEqual(
    inBody.requests.map((r) => [r.path, r.bodyBytes]),
    [['/cl', inner.length]],
  );
  assert.equal(
    inBody.bytes.split('GET /rec/smuggled').length,
    2,
    'the inner request line reached the backend once, inside the body',
  );

  // Two pipelined requests are two requests (the recording counts right), answered in order.
  const piped = await forwarded(() =>
    rawExchange(
      h.good,
      `GET /rec/p1 HTTP/1.1\r\nHost: ${D}\r\n\r\nGET /rec/p2 HTTP/1.1\r\nHost: ${D}\r\nConnection: close\r\n\r\n`,
    ),
  );
  assert.deepEqual(statusLines(piped.result.text), [200, 200]);
  assert.deepEqual(
    piped.requests.map((r) => r.path),
    ['/p1', '/p2'],
  );

  // The same from a refused certificate: 403s, nothing forwarded.
  const denied = await forwarded(() =>
    rawExchange(
      h.bad,
      `POST /rec/cl HTTP/1.1\r\nHost: ${D}\r\nContent-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`,
    ),
  );
  assert.deepEqual(statusLines(denied.result.text), [403]);
  assert.equal(denied.bytes, '');
  assert.ok(!rec.requests.some((r) => r.path.includes('smuggled')));
});

test('a long request line or oversized headers: 431 (Node counts the request line in maxHeaderBytes; never 414), nothing forwarded', async () => {
  await expectRefused(
    h.good,
    '20 KiB request line',
    `GET /rec/${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: ${D}\r\n\r\n`,
    431,
  );
  await expectRefused(
    h.good,
    'one 20 KiB header',
    `GET /rec/x HTTP/1.1\r\nHost: ${D}\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    431,
  );
  const many = Array.from({ length: 4000 }, (_, i) => `h${i}: v\r\n`).join('');
  await expectRefused(
    h.good,
    '4,000 headers over the byte limit',
    `GET /rec/x HTTP/1.1\r\nHost: ${D}\r\n${many}\r\n`,
    431,
  );
  await expectRefused(
    h.bad,
    '20 KiB request line (refused certificate)',
    `GET /rec/${'a'.repeat(20 * 1024)} HTTP/1.1\r\nHost: ${D}\r\n\r\n`,
    431,
  );
});

test('more than 1,000 small headers under the byte limit: 431 on Node 24 (Node 20 dropped the rest), nothing forwarded', async () => {
  // docs/node-openssl.md: Node 24's HTTP server refuses a head with more than maxHeadersCount (1,000) fields.
  const junk = Array.from({ length: 1500 }, (_, i) => `a${i}:b\r\n`).join('');
  await expectRefused(h.good, '1,500 small headers', `GET /rec/many HTTP/1.1\r\nHost: ${D}\r\n${junk}\r\n`, 431);
});

test("many small headers under both limits: the backend still gets the gateway's identity and Host, a late spoofed one is not honoured", async () => {
  const junk = Array.from({ length: 900 }, (_, i) => `a${i}:b\r\n`).join('');
  const spoof = 'X-Client-Cert-Subject-DN: CN=spoofed\r\nClient-Cert: :AAAA:\r\n';
  const { result, requests, bytes } = await forwarded(() =>
    rawExchange(h.good, `GET /rec/many HTTP/1.1\r\nHost: ${D}\r\n${junk}${spoof}Connection: close\r\n\r\n`),
  );
  assert.deepEqual(statusLines(result.text), [200]);
  assert.equal(requests.length, 1);
  const seen = requests[0]!.headers;
  assert.equal(seen['client-cert'], h.goodClientCert, "the gateway's Client-Cert survives the backend's header limit");
  assert.equal(seen['x-client-cert-subject-dn'], 'CN=lifecycle client,O=mtlsgate e2e');
  assert.equal(seen['x-forwarded-host'], D);
  assert.match(String(seen.host), /^127\.0\.0\.1:\d+$/);
  assert.ok(!bytes.includes('spoofed'), 'the spoofed header never left the gateway');
  const forwardedLines = bytes.split('\r\n\r\n')[0]!.split('\r\n').length - 1;
  assert.ok(forwardedLines < 1100, `Node's own limit bounds what is forwarded (${forwardedLines} header lines)`);
});

test('absolute-form, OPTIONS * and CONNECT: never forwarded (400, CONNECT 405)', async () => {
  for (const [name, head] of [
    [
      'absolute-form to another host',
      `GET https://other.example/rec/x HTTP/1.1\r\nHost: ${D}\r\nConnection: close\r\n\r\n`,
    ],
    ['absolute-form naming this domain', `GET https://${D}/rec/x HTTP/1.1\r\nHost: ${D}\r\nConnection: close\r\n\r\n`],
    ['OPTIONS *', `OPTIONS * HTTP/1.1\r\nHost: ${D}\r\nConnection: close\r\n\r\n`],
  ] as const) {
    for (const t of [h.good, h.bad]) {
      const mark = h.gw.mark();
      const { result, bytes } = await forwarded(() => rawExchange(t, head, 5000));
      const status = t === h.good ? 400 : 403; // a refused certificate is refused before the target is looked at
      assert.deepEqual(statusLines(result.text), [status], `${name}: ${result.text.slice(0, 200)}`);
      assert.equal(bytes, '', `${name}: nothing forwarded`);
      if (t === h.good) {
        const line = await h.gw.waitForLog((l) => l.msg === 'request refused', { from: mark });
        assert.equal(line.reason, 'request target must be a path (origin-form)');
      }
    }
  }
  // Node's server has no 'connect' listener here: it destroys the socket, nothing is parsed further or forwarded.
  for (const t of [h.good, h.bad]) {
    const { result, bytes } = await forwarded(() =>
      rawExchange(t, `CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n`, 5000),
    );
    assert.match(result.text, /^HTTP\/1\.1 405 /, 'CONNECT: 405 Method Not Allowed');
    assert.match(result.text, /\{"message":"Method Not Allowed"\}$/);
    assert.ok(result.closed && result.ms < 2000, `CONNECT: closed at once (${result.ms} ms)`);
    assert.equal(bytes, '', 'CONNECT: nothing forwarded');
  }
});

test('two Host headers: the first (the SNI domain) is judged and the second never reaches the backend', async () => {
  const { result, bytes, requests } = await forwarded(() =>
    rawExchange(h.good, `GET /rec/hosts HTTP/1.1\r\nHost: ${D}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`),
  );
  const [status] = statusLines(result.text);
  // RFC 9112 wants 400; Node keeps the first Host and drops the rest. Either way nothing of the second leaves.
  assert.ok(status === 200 || status === 400, `status ${status}`);
  assert.ok(!bytes.includes('evil.example'), 'the second Host is not forwarded in any header');
  if (status === 200) assert.equal(requests[0]!.headers['x-forwarded-host'], D);
});

test('the well-behaved trickle was served throughout, and only the verified client reached a backend', async () => {
  const r = await trickle.stop();
  assertTrickle(r, 5, 'hostile request bytes');
  assertOnlyVerified(h);
  for (const r of rec.requests)
    assert.equal(r.headers['client-cert'], h.goodClientCert, `${r.path} came from the verified client`);
});
