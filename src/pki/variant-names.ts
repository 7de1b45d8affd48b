/**
 * The names of `pki issue`'s certificate variants, apart from the generator that makes them, so the CLI can list
 * them in its help without loading the ASN.1 libraries (about 40 ms of start-up for every command).
 */
import { UserError } from '../errors.js';

export type Variant =
  | 'expired'
  | 'not-yet-valid'
  | 'sha1'
  | 'rsa-1024'
  | 'ec-p256'
  | 'ec-p384'
  | 'ed25519'
  | 'rsa-2048'
  | 'no-client-auth'
  | 'server-auth-only'
  | 'no-digital-signature'
  | 'issuer-not-ca'
  | 'deep-chain'
  | 'self-signed'
  | 'expired-ca'
  | 'pathlen-exceeded';

/** One line each, shown by `mtlsgate pki issue --help`; the keys are all the variants, in help order. */
export const VARIANTS: Readonly<Record<Variant, string>> = {
  expired: 'notAfter was yesterday',
  'not-yet-valid': 'notBefore is 30 days from now',
  sha1: 'signed with SHA-1 by the intermediate',
  'rsa-1024': 'RSA 1024-bit key',
  'ec-p256': 'EC P-256 key (valid)',
  'ec-p384': 'EC P-384 key (valid)',
  ed25519: 'Ed25519 key (valid)',
  'rsa-2048': 'RSA 2048-bit key (valid)',
  'no-client-auth': 'extendedKeyUsage codeSigning only (no clientAuth)',
  'server-auth-only': 'a server certificate: extendedKeyUsage serverAuth only',
  'no-digital-signature': 'keyUsage keyEncipherment only (no digitalSignature)',
  'issuer-not-ca': 'issued by a certificate whose basicConstraints say CA:FALSE',
  'deep-chain': 'under a chain of CAs below the root, --depth of them (default 5; valid)',
  'self-signed': 'self-signed, not issued by the PKI',
  'expired-ca': 'valid leaf under an intermediate that expired yesterday',
  'pathlen-exceeded': 'root -> intermediate (pathLen 0) -> sub-CA -> leaf',
};

export function isVariant(name: string): name is Variant {
  return Object.hasOwn(VARIANTS, name);
}

/** The variant named by user input, or a UserError listing the valid names. */
export function parseVariant(name: string): Variant {
  if (isVariant(name)) return name;
  throw new UserError(
    'E_UNKNOWN_VARIANT',
    `unknown variant "${name}"; choose one of: ${Object.keys(VARIANTS).join(', ')}`,
  );
}
