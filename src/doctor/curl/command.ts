/**
 * Findings about the command itself, before any file is read: no URL or a plain-HTTP one (a client certificate is
 * only ever sent over TLS), options curl would refuse, no client certificate at all, a Host header expected to
 * change which certificate the server presents, -k taken for a client-certificate fix.
 */
import { finding, type Finding } from '../../report/finding.js';
import { firstItems } from '../../report/text.js';
import { effectiveUrl, type CurlCommand } from './parse.js';

export function checkCommand(c: CurlCommand): Finding[] {
  const out: Finding[] = [];
  if (c.unknown.length > 0) {
    out.push(
      finding({
        id: 'curl.unknown-option',
        severity: 'error',
        title: `curl does not know ${shortList(c.unknown)}`,
        detail:
          `curl stops with "option ${c.unknown[0]}: is unknown" (or "is ambiguous") and exit code 2, before ` +
          `connecting. Check the spelling (curl --help all); --opt=value needs a 2025 or later curl.`,
        fix: 'curl --help all | grep -- OPTION',
        evidence: { options: c.unknown.slice(0, 20) },
      }),
    );
  }
  if (c.missingValue.length > 0) {
    out.push(
      finding({
        id: 'curl.missing-value',
        severity: 'error',
        title: `${c.missingValue.join(', ')} is missing its value`,
        detail:
          `curl stops with "option ${c.missingValue[0]}: requires parameter" (exit 2). A line break or an ` +
          `unquoted character may have cut the command.`,
        fix: '',
        evidence: { options: c.missingValue },
      }),
    );
  }
  const url = c.urls[0];
  if (url === undefined) {
    out.push(
      finding({
        id: 'curl.no-url',
        severity: 'error',
        title: 'the command has no URL',
        detail:
          'curl says "no URL specified!" (exit 2). The URL may have been taken as the value of an option before ' +
          'it, or cut off by the shell.',
        fix: "curl --cert client.crt --key client.key 'https://HOST/PATH'",
      }),
    );
  } else {
    const u = effectiveUrl(url);
    if (u.scheme !== 'https') {
      out.push(
        finding({
          id: 'curl.not-https',
          severity: 'error',
          title: u.guessed
            ? `the URL ${url} has no scheme, so curl uses ${u.scheme}://`
            : `the URL is ${u.scheme}://, not https://`,
          detail:
            'A client certificate is only ever sent in a TLS handshake: over plain HTTP curl ignores --cert, and ' +
            'a mutual-TLS endpoint is not on that port anyway.',
          fix: `curl ... 'https://${url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')}'`,
          evidence: { url, scheme: u.scheme },
        }),
      );
    }
    if (c.urls.length > 1) {
      // A line can hold 250,000 words: the evidence keeps 20 URLs; curl.urls in the JSON has them all.
      out.push(
        finding({
          id: 'curl.several-urls',
          severity: 'info',
          title: `the command has ${c.urls.length} URLs; curl fetches each, the live probe tries the first`,
          detail:
            "A word meant as an option's value (an unquoted header, a data string split at a space) can also " +
            'end up read as a URL.',
          fix: '',
          evidence: { urls: firstItems(c.urls, 20) },
        }),
      );
    }
  }
  if (c.cert === null) {
    if (c.key !== null) {
      out.push(
        finding({
          id: 'curl.key-without-cert',
          severity: 'error',
          title: '--key is given without --cert',
          detail:
            'curl sends a client certificate only with --cert; a --key alone is ignored and the server gets no ' +
            'certificate.',
          fix: 'curl --cert client.crt --key ' + c.key + ' ...',
          evidence: { key: c.key },
        }),
      );
    } else {
      out.push(
        finding({
          id: 'curl.no-client-cert',
          severity: 'warning',
          title: 'the command sends no client certificate (no --cert)',
          detail:
            'A mutual-TLS server refuses a connection without one: an alert "certificate required", a reset, or ' +
            'a 403.',
          fix: 'curl --cert client.crt --key client.key ...',
        }),
      );
    }
  }
  if (c.hostHeader !== null) {
    out.push(
      finding({
        id: 'curl.host-header-not-sni',
        severity: 'warning',
        title: `-H 'Host: ${c.hostHeader}' does not change the TLS server name`,
        detail:
          "curl sends the URL's host name in the TLS handshake (SNI) and checks the server certificate against " +
          'it; a Host header only changes the HTTP request. A server with several custom domains picks its certificate ' +
          'and truststore by SNI, so the wrong domain may answer. Put the real name in the URL and say where to ' +
          'connect with --resolve or --connect-to.',
        fix: `curl --resolve ${c.hostHeader}:443:IP https://${c.hostHeader}/ ...`,
        evidence: { hostHeader: c.hostHeader },
      }),
    );
  }
  if (c.insecure) {
    out.push(
      finding({
        id: 'curl.insecure',
        severity: 'info',
        title: "-k/--insecure skips checking the server's certificate only",
        detail: 'It does nothing for the client certificate: the server still checks yours exactly as before.',
        fix: '',
      }),
    );
  }
  return out;
}

/** At most five of the user's words, each at most 60 characters: a title stays one readable line. */
function shortList(words: string[]): string {
  const shown = words.slice(0, 5).map((w) => (w.length > 60 ? `${w.slice(0, 57)}...` : w));
  return shown.join(', ') + (words.length > 5 ? ` and ${words.length - 5} more` : '');
}
