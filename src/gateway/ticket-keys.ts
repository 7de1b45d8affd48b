/**
 * TLS session ticket keys: what lets a client resume its session on any worker, and (from a shared file) on any
 * replica. Node takes 48 bytes (16 name, 16 HMAC, 16 AES). The file holds them raw, or as hex or base64 text
 * (`openssl rand 48 > ticket.key`, `openssl rand -hex 48`); it is a secret and is never logged.
 */
import { randomBytes } from 'node:crypto';
import { isLoadProblem, readCapped } from '../pki/read.js';

export const TICKET_KEYS_BYTES = 48;

export function randomTicketKeys(): Buffer {
  return randomBytes(TICKET_KEYS_BYTES);
}

/** Ticket keys from text or bytes: 48 raw bytes, 96 hex digits or 64 base64 characters. Null when none of these. */
export function decodeTicketKeys(bytes: Buffer): Buffer | null {
  if (bytes.length === TICKET_KEYS_BYTES) return bytes;
  const text = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{96}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{64}$/.test(text)) return Buffer.from(text, 'base64');
  return null;
}

/**
 * Read `tls.ticketKeyFile` with the toolkit's capped reader (a FIFO or /dev/zero is refused, not read); errors name
 * the key and the file, never the content.
 */
export async function readTicketKeys(path: string): Promise<Buffer> {
  const read = await readCapped(path, 1024);
  if (isLoadProblem(read)) throw new Error(`tls.ticketKeyFile: ${path}: ${read.message}`);
  const keys = decodeTicketKeys(read.bytes);
  if (!keys)
    throw new Error(
      `tls.ticketKeyFile: ${path}: expected ${TICKET_KEYS_BYTES} bytes (raw, or as 96 hex digits or 64 base64 characters; e.g. openssl rand 48), got ${read.bytes.length} bytes that are none of these`,
    );
  return keys;
}

/**
 * The ticket keys in use, and the ones they replaced (tickets under those still resume, and are renewed).
 *
 * Why not just Node's `ticketKeys` option: Node's own ticket callback never asks OpenSSL to renew a ticket, so a
 * resumed TLS 1.3 connection gets no new one, and OpenSSL-based clients (curl, Python, Go's too) use a TLS 1.3
 * ticket once (RFC 8446 C.4): every other connection was a full handshake. Our callback renews on every
 * resumption. It rides on Node's ticket-key callback hook (SecureContext enableTicketKeyCallback /
 * onticketkeycallback, in Node since 0.x but not documented); where that is missing, `install` says so and the
 * `ticketKeys` option stands in.
 */
export interface TicketKeyRing {
  /** Make these the keys new tickets are sealed with; the current ones still open tickets until replaced again. */
  rotate(keys: Buffer): void;
  /** Hook a TLS context up (the listener's and every domain's: Node calls back on whichever the connection uses). */
  install(context: unknown): boolean;
  readonly current: Buffer;
}

/** Node's SecureContext handle, the internal part this uses. */
interface TicketHookContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[];
}

// OpenSSL's ticket key callback results: 0 unknown key (full handshake), 1 ok, 2 ok and issue a fresh ticket.
const UNKNOWN = 0;
const SEALED = 1;
const RENEW = 2;

export function ticketKeyRing(initial: Buffer): TicketKeyRing {
  let current = initial;
  let previous: Buffer | null = null;
  const name = (k: Buffer): Buffer => k.subarray(0, 16);
  const hmac = (k: Buffer): Buffer => k.subarray(16, 32);
  const aes = (k: Buffer): Buffer => k.subarray(32, 48);
  const callback = (ticketName: Buffer, _iv: Buffer, encrypt: boolean): unknown[] => {
    if (encrypt) return [SEALED, hmac(current), aes(current), name(current), randomBytes(16)];
    const k = ticketName.equals(name(current))
      ? current
      : previous && ticketName.equals(name(previous))
        ? previous
        : null;
    return k ? [RENEW, hmac(k), aes(k)] : [UNKNOWN, hmac(current), aes(current)];
  };
  return {
    get current() {
      return current;
    },
    rotate(keys) {
      if (keys.equals(current)) return;
      previous = current;
      current = keys;
    },
    install(context) {
      const c = context as TicketHookContext | null;
      if (!c || typeof c.enableTicketKeyCallback !== 'function') return false;
      c.onticketkeycallback = callback;
      c.enableTicketKeyCallback();
      return true;
    },
  };
}
