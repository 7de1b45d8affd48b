/** tls.ticketKeyFile: 48 bytes raw, as hex or as base64; anything else is an error naming the key and the file, never its content. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTicketKeys, readTicketKeys } from '../../src/gateway/ticket-keys.js';

test('48 raw bytes, 96 hex digits or 64 base64 characters (surrounding whitespace allowed) give the same keys', () => {
  const k = randomBytes(48);
  assert.deepEqual(decodeTicketKeys(k), k);
  assert.deepEqual(decodeTicketKeys(Buffer.from(`${k.toString('hex')}\n`)), k);
  assert.deepEqual(decodeTicketKeys(Buffer.from(` ${k.toString('base64')}\r\n`)), k);
  assert.equal(decodeTicketKeys(randomBytes(47)), null);
  assert.equal(decodeTicketKeys(randomBytes(80)), null, 'nginx-style 80-byte keys are not what Node takes');
  assert.equal(decodeTicketKeys(Buffer.from(k.toString('hex').slice(2))), null);
});

test('readTicketKeys: a missing, wrong-sized or directory path is a one-line error naming tls.ticketKeyFile and the path only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgate-tk-'));
  const secretish = join(dir, 'bad.key');
  writeFileSync(secretish, 'SECRET-LOOKING-CONTENT-THAT-MUST-NOT-BE-ECHOED');
  await assert.rejects(readTicketKeys(secretish), (e: Error) => {
    assert.match(e.message, /^tls\.ticketKeyFile: .*bad\.key: expected 48 bytes/);
    assert.doesNotMatch(e.message, /SECRET/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  await assert.rejects(readTicketKeys(join(dir, 'none.key')), /tls\.ticketKeyFile: .*none\.key: no such file/);
  await assert.rejects(readTicketKeys(dir), /tls\.ticketKeyFile: .*: a directory, not a file/);
  const good = join(dir, 'good.key');
  const k = randomBytes(48);
  writeFileSync(good, k);
  assert.deepEqual(await readTicketKeys(good), k);
});
