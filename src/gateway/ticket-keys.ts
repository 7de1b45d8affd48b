/**
 * TLS session ticket keys: what lets a client resume its session on any worker, and (from a shared file) on any
 * replica. Node takes 48 bytes (16 name, 16 HMAC, 16 AES). The file holds them raw, or as hex or base64 text
 * (`openssl rand 48 > ticket.key`, `openssl rand -hex 48`); it is a secret and is never logged.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export const TICKET_KEYS_BYTES = 48;

/** How the primary hands its random keys to the workers it forks (a worker's environment is readable by its owner only). */
export const TICKET_KEYS_ENV = 'MTLSGATE_TICKET_KEYS';

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

/** Read `tls.ticketKeyFile`; errors name the key and the file, never the content. */
export async function readTicketKeys(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`tls.ticketKeyFile: ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : (e as Error).message}`);
  }
  const keys = bytes.length <= 1024 ? decodeTicketKeys(bytes) : null;
  if (!keys) throw new Error(`tls.ticketKeyFile: ${path}: expected ${TICKET_KEYS_BYTES} bytes (raw, or as 96 hex digits or 64 base64 characters; e.g. openssl rand 48), got ${bytes.length} bytes that are none of these`);
  return keys;
}
