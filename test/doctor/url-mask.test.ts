// The one URL-password masker shared by `doctor --url` (live/target.ts) and `doctor curl` (curl/parse.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskUrlPassword } from '../../src/doctor/url-mask.js';
import { parseTarget } from '../../src/doctor/live/target.js';
import { parseCurlArgs } from '../../src/doctor/curl/parse.js';
import { isUserError } from '../../src/errors.js';

test('scheme://user:PASS@host (what live/target.ts masked): the password becomes ***', () => {
  assert.equal(
    maskUrlPassword('https://alice:s3cret@api.example.test:8443/p?q=1#f'),
    'https://alice:***@api.example.test:8443/p?q=1#f',
  );
  assert.equal(maskUrlPassword('HTTPS://alice:s3cret@x.test/'), 'HTTPS://alice:***@x.test/');
  assert.equal(maskUrlPassword('socks5h://u:p@proxy.test:1080'), 'socks5h://u:***@proxy.test:1080');
  assert.equal(
    maskUrlPassword('https://alice:pa:ss@x.test/'),
    'https://alice:***@x.test/',
    'the first colon ends the user name',
  );
  assert.equal(
    maskUrlPassword('https://alice:p@ss@x.test/'),
    'https://alice:***@x.test/',
    'the last @ before the path ends the user part, as in curl',
  );
  assert.equal(maskUrlPassword('https://:s3cret@x.test/'), 'https://:***@x.test/', 'an empty user name');
});

test('user:PASS@host without a scheme (what curl/parse.ts also masked): the password becomes ***', () => {
  assert.equal(maskUrlPassword('alice:s3cret@api.example.test/p'), 'alice:***@api.example.test/p');
  assert.equal(maskUrlPassword('api_user:s3cret@x.test'), 'api_user:***@x.test');
  assert.equal(maskUrlPassword('u:p@proxy.test:3128'), 'u:***@proxy.test:3128');
});

test('URLs without a password are returned as they are (the same string)', () => {
  for (const url of [
    'https://x.test/',
    'https://alice@x.test/',
    'x.test:8443/path',
    'https://x.test/a@b:c',
    'https://x.test/?u=a:b@c',
    'https://x.test/#a:b@c',
    'alice@x.test',
    '',
    'not a url',
  ]) {
    assert.equal(maskUrlPassword(url), url, url);
  }
});

test('doctor --url: a schemeless user:PASS@host that is not a URL is refused without echoing the password', () => {
  const SECRET = 'hunter2-do-not-print';
  assert.throws(
    () => parseTarget(`api_user:${SECRET}@api.example.test/`),
    (e: Error) =>
      isUserError(e) &&
      /not a URL/.test(e.message) &&
      !e.message.includes(SECRET) &&
      e.message.includes('api_user:***@'),
  );
});

test('doctor curl: URL and proxy passwords are still masked, with the note', () => {
  const c = parseCurlArgs(['-x', 'u:proxypass@proxy.test:3128', 'https://alice:s3cret@x.test/', 'bob:pw@y.test/']);
  assert.deepEqual(c.urls, ['https://alice:***@x.test/', 'bob:***@y.test/']);
  assert.equal(c.proxy, 'u:***@proxy.test:3128');
  assert.ok(c.notes.includes('the password in a URL is not shown (user:***@)'));
  assert.equal(parseCurlArgs(['https://x.test/']).notes.length, 0);
});
