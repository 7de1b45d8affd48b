/**
 * The loopback server's own certificate: made once per process, never written anywhere. The generator is loaded
 * on first use, so a doctor run that needs no handshake does not load the ASN.1 libraries.
 */
let identity: Promise<{ certPem: string; keyPem: string }> | null = null;

export function loopbackServerIdentity(): Promise<{ certPem: string; keyPem: string }> {
  identity ??= import('../pki/generate.js')
    .then(({ issue }) =>
      issue({ subject: 'mtlsgate-loopback', profile: 'server', key: { type: 'ec', curve: 'P-256' } }),
    )
    .then((i) => ({ certPem: i.certPem, keyPem: i.keyPem }));
  return identity;
}
