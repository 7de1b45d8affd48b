/**
 * curl's `--cert <certificate[:password]>` splitting (parse_cert_parameter in curl's src/tool_getparam.c), so
 * `mtlsgate doctor --cert` reads the same file and password curl would.
 *
 * - `pkcs11:` URIs (any case) are left whole, as is a value with neither ':' nor '\'.
 * - In the file name `\:` is a colon, `\\` a backslash; any other backslash is kept with what follows.
 * - The first unescaped ':' separates the password, which is taken verbatim; `file:` means no password.
 * - `C:\...` or `C:/...`: a colon in the second column after a letter is a drive letter. curl applies this
 *   rule only in Windows builds; we always do, since a file really named like that is far less likely.
 */

export interface CurlCertArg {
  file: string;
  passphrase: string | null;
}

export function splitCurlCertArg(arg: string): CurlCertArg {
  if (/^pkcs11:/i.test(arg) || !/[:\\]/.test(arg)) return { file: arg, passphrase: null };
  let file = '';
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!;
    if (c === '\\') {
      const next = arg[i + 1];
      if (next === undefined) file += '\\';
      else if (next === '\\' || next === ':') file += next;
      else file += '\\' + next;
      i++;
    } else if (c === ':') {
      if (i === 1 && /^[A-Za-z]$/.test(arg[0]!) && (arg[2] === '\\' || arg[2] === '/')) {
        file += ':';
        continue;
      }
      const rest = arg.slice(i + 1);
      return { file, passphrase: rest === '' ? null : rest };
    } else file += c;
  }
  return { file, passphrase: null };
}
