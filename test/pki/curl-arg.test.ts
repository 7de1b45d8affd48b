import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitCurlCertArg } from '../../src/pki/curl-arg.js';

const split = (arg: string): [string, string | null] => {
  const r = splitCurlCertArg(arg);
  return [r.file, r.passphrase];
};

test('no colon and no backslash: the whole value is the file', () => {
  assert.deepEqual(split('client.pem'), ['client.pem', null]);
  assert.deepEqual(split(''), ['', null]);
});

test('the first unescaped colon starts the password, taken verbatim', () => {
  assert.deepEqual(split('client.p12:secret'), ['client.p12', 'secret']);
  assert.deepEqual(split('client.p12:pa:ss\\:word'), ['client.p12', 'pa:ss\\:word']);
  assert.deepEqual(split('client.p12:'), ['client.p12', null]);
});

test('backslash escapes in the file name: \\: and \\\\, other backslashes kept', () => {
  assert.deepEqual(split('my\\:cert.pem:pw'), ['my:cert.pem', 'pw']);
  assert.deepEqual(split('a\\\\b.pem'), ['a\\b.pem', null]);
  assert.deepEqual(split('dir\\file.pem'), ['dir\\file.pem', null]);
  assert.deepEqual(split('trailing\\'), ['trailing\\', null]);
});

test('a Windows drive letter is not a separator', () => {
  assert.deepEqual(split('C:\\certs\\client.pem'), ['C:\\certs\\client.pem', null]);
  assert.deepEqual(split('c:/certs/client.p12:pw'), ['c:/certs/client.p12', 'pw']);
  assert.deepEqual(split('C:x'), ['C', 'x']);
  assert.deepEqual(split('CD:\\x'), ['CD', '\\x']);
});

test('pkcs11: URIs are left whole, any case', () => {
  assert.deepEqual(split('pkcs11:token=t;object=o;pin-value=1:2'), ['pkcs11:token=t;object=o;pin-value=1:2', null]);
  assert.deepEqual(split('PKCS11:object=x'), ['PKCS11:object=x', null]);
});
