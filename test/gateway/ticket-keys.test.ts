/**
 * tls.ticketKeyFile: 48 bytes raw, as hex or as base64; anything else is an error naming the key and the file, never
 * its content.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTicketKeys, readTicketKeys, ticketKeyRing } from '../../src/gateway/ticket-keys.js';

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
  await assert.rejects(readTicketKeys(dir), /tls\.ticketKeyFile: .*: is a directory, not a file \(EISDIR\)$/);
  // A FIFO is refused from fstat, never read: with no writer, reading it would wait for good.
  const fifo = join(dir, 'fifo.key');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(readTicketKeys(fifo), /tls\.ticketKeyFile: .*fifo\.key: not a regular file \(a fifo\)$/);
  const good = join(dir, 'good.key');
  const k = randomBytes(48);
  writeFileSync(good, k);
  assert.deepEqual(await readTicketKeys(good), k);
});

test('ticketKeyRing: seals with the current keys, opens current and previous ones (asking to renew), refuses others', () => {
  const a = randomBytes(48);
  const b = randomBytes(48);
  const ring = ticketKeyRing(a);
  let cb: ((name: Buffer, iv: Buffer, encrypt: boolean) => unknown[]) | undefined;
  let enabled = 0;
  const ctx = {
    enableTicketKeyCallback: () => void enabled++,
    set onticketkeycallback(f: typeof cb) {
      cb = f;
    },
  };
  assert.equal(ring.install(ctx), true);
  assert.equal(ring.install({}), false, 'no hook on this context: the caller falls back to ticketKeys');
  assert.equal(enabled, 1);
  const sealed = cb!(Buffer.alloc(16), Buffer.alloc(16), true) as Buffer[];
  assert.deepEqual(
    [sealed[0], sealed[1], sealed[2], sealed[3]],
    [1, a.subarray(16, 32), a.subarray(32, 48), a.subarray(0, 16)],
  );
  assert.equal((sealed[4] as Buffer).length, 16);
  assert.deepEqual(cb!(a.subarray(0, 16), Buffer.alloc(16), false), [2, a.subarray(16, 32), a.subarray(32, 48)]);
  ring.rotate(b);
  assert.deepEqual(ring.current, b);
  assert.deepEqual(
    (cb!(Buffer.alloc(16), Buffer.alloc(16), true) as Buffer[])[3],
    b.subarray(0, 16),
    'new tickets under the new keys',
  );
  assert.deepEqual(
    cb!(a.subarray(0, 16), Buffer.alloc(16), false),
    [2, a.subarray(16, 32), a.subarray(32, 48)],
    'old tickets still open',
  );
  assert.equal((cb!(randomBytes(16), Buffer.alloc(16), false) as unknown[])[0], 0, 'unknown key name: full handshake');
  ring.rotate(randomBytes(48));
  assert.equal((cb!(a.subarray(0, 16), Buffer.alloc(16), false) as unknown[])[0], 0, 'two rotations later: gone');
});
