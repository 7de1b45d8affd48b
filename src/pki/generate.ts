/**
 * In-process test-PKI generation (no openssl binary): single certificates (`issue`), a whole PKI on disk
 * (`initPki`, `loadPki`) and deliberately broken client certificates (`issueVariant`).
 *
 *   const root = await issue({ subject: 'Root', profile: 'root-ca' });
 *   const leaf = await issue({ subject: 'CN=client,O=Example', profile: 'client', issuer: root });
 *   const odd = await issue({ subject: `CN=${escapeDnValue('Doe, "J" é')}`, issuer: root, publicKeyFrom: leaf });
 *
 * Pieces: generate-cert.ts (one certificate), generate-name.ts (DNs), generate-files.ts (PKI on disk),
 * generate-variants.ts (the variants).
 */
export { issue, generateKey } from './generate-cert.js';
export type { Hash, Issued, IssueSpec, KeySpec, NameConstraintsSpec, Profile, SubtreeSpec } from './generate-cert.js';
export { escapeDnValue } from './generate-name.js';
export { initPki, loadPki, pkiFiles } from './generate-files.js';
export type { LoadedPki, PkiFiles } from './generate-files.js';
export { issueVariant, isVariant, parseVariant, VARIANTS } from './generate-variants.js';
export type { Variant, VariantFiles, VariantOptions } from './generate-variants.js';
