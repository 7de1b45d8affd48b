/** The loopback server's own certificate: made once per process, never written anywhere. */
import { issue } from '../pki/generate.js';

let identity: Promise<{ certPem: string; keyPem: string }> | null = null;

export function loopbackServerIdentity(): Promise<{ certPem: string; keyPem: string }> {
  identity ??= issue({ subject: 'mtlsgate-loopback', profile: 'server', key: { type: 'ec', curve: 'P-256' } }).then(
    (i) => ({ certPem: i.certPem, keyPem: i.keyPem }),
  );
  return identity;
}
