/**
 * The loopback server's own certificate: made once per process, never written anywhere (pki/throwaway-cert.ts).
 */
import { throwawayServerIdentity } from '../pki/throwaway-cert.js';

let identity: { certPem: string; keyPem: string } | null = null;

export function loopbackServerIdentity(): Promise<{ certPem: string; keyPem: string }> {
  identity ??= throwawayServerIdentity('mtlsgate-loopback');
  return Promise.resolve(identity);
}
