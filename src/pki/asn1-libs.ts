/**
 * pkijs and asn1js, loaded on first use: only PKCS#12 and BER-encoded PKCS#7 files need them, and loading them costs
 * every `serve` worker about 10 MiB it never uses. (Node requires their CommonJS builds synchronously, so the
 * parsers stay synchronous.)
 */
import { createRequire } from 'node:module';
import type * as Pkijs from 'pkijs';
import type * as Asn1js from 'asn1js';

const load = createRequire(import.meta.url);
let libs: { pkijs: typeof Pkijs; asn1js: typeof Asn1js } | undefined;

export function asn1Libs(): { pkijs: typeof Pkijs; asn1js: typeof Asn1js } {
  return (libs ??= { asn1js: load('asn1js') as typeof Asn1js, pkijs: load('pkijs') as typeof Pkijs });
}
