/** The shell commands truststore findings print: show, list or remove a certificate block of a bundle. */
import type { Cert } from '../pki/types.js';

/** What the commands need to know about the bundle. */
export interface CommandContext {
  /** The file name to use in commands (shell-quoted). */
  name: string;
  /** Whether certificate i is the i-th CERTIFICATE block (no parse errors or other blocks in between). */
  positional: boolean;
  certs: readonly Cert[];
}

/** awk picks certificate blocks by position; the pattern matches the labels the loader reads as certificates. */
const CERT_BEGIN = '/^[ \\t]*-----BEGIN (X509 |TRUSTED )?CERTIFICATE-----/';

export function showCommand(ctx: CommandContext, i: number, what = '-text'): string {
  if (!ctx.positional) return listCommand(ctx);
  return `awk -v n=${i} '${CERT_BEGIN}{p=(k++==n)} p; /^[ \\t]*-----END /{p=0}' ${ctx.name} | openssl x509 -noout ${what}`;
}

export function removeCommand(ctx: CommandContext, i: number): string {
  if (!ctx.positional) {
    return `delete the block of certificate ${i} (subject ${ctx.certs[i]!.info.subject}) by hand; once the bundle's parse errors are fixed, lint prints exact commands`;
  }
  return `awk -v n=${i} '${CERT_BEGIN}{s=(k++==n)} !s; /^[ \\t]*-----END /{s=0}' ${ctx.name} > ${ctx.name}.new`;
}

export function listCommand(ctx: CommandContext): string {
  return `openssl crl2pkcs7 -nocrl -certfile ${ctx.name} | openssl pkcs7 -print_certs -noout`;
}

/** The local file name to use in commands; an s3:// bundle is first copied down as truststore.pem. */
export function localName(source: string): string {
  if (source.startsWith('file://')) return decodeURIComponent(source.slice('file://'.length));
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? 'truststore.pem' : source;
}
