/**
 * The password in a URL's user part, masked wherever a URL is printed or put into JSON. Shared by `doctor --url`
 * (src/doctor/live/target.ts) and `doctor curl` (src/doctor/curl/parse.ts); it imports nothing, so either may
 * import it without a cycle.
 */

/**
 * `scheme://user:PASSWORD@host/...` with the password as "***"; also a URL without a scheme (`user:PASSWORD@host/`,
 * as curl accepts, and as a mistyped --url may be), so even the usage error for a non-URL hides it. The last "@"
 * before the path, query or fragment ends the user part, as in curl. A URL without `user:` and `@` is returned
 * unchanged (the same string), so `maskUrlPassword(u) !== u` tells whether anything was masked.
 */
export function maskUrlPassword(url: string): string {
  const m = /^((?:[a-z][a-z0-9+.-]*:\/\/)?)([^/?#]*)@/i.exec(url);
  const colon = m ? m[2]!.indexOf(':') : -1;
  return !m || colon < 0 ? url : `${m[1]}${m[2]!.slice(0, colon)}:***@${url.slice(m[0].length)}`;
}
