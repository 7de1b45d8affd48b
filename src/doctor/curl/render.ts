/**
 * Text of a `doctor curl` report: the command as curl reads it (passphrases never shown), curl's error, the curl
 * findings, then the offline and live parts as `doctor --url` prints them. Pure.
 */
import { createColors } from 'picocolors';
import { renderFindings } from '../render.js';
import { firstItems } from '../../report/text.js';
import { renderReport } from '../render-report.js';
import { effectiveUrl, type CurlCommand } from './parse.js';
import type { CurlDoctorReport } from './run.js';

export function renderCurlReport(r: CurlDoctorReport, opts: { color: boolean }): string {
  const c = createColors(opts.color);
  const lines = [
    c.bold('curl command, as curl reads it'),
    ...describeCommand(r.curl).map(([k, v]) => `  ${c.dim(k.padEnd(12))} ${clean(v)}`),
  ];
  if (r.error)
    lines.push(
      `  ${c.dim('curl said'.padEnd(12))} ${clean(r.error.exitCode !== null ? `(${r.error.exitCode}) ` : '')}${clean(r.error.text ?? '')}`,
    );
  lines.push('');
  const curlFindings = r.findings.filter((f) => f.source === 'curl');
  if (curlFindings.length > 0) {
    // renderFindings puts curl.* ids under its catch-all heading: print them under our own.
    lines.push(
      c.bold('curl'),
      renderFindings(curlFindings, opts)
        .replace(/^[^\n]*\n/, '')
        .replace(/\n+$/, ''),
      '',
    );
  }
  const offline = r.findings.some((f) => f.source === 'offline');
  const offlineRan = r.verdict !== null || r.report.certificates.length > 0 || offline;
  if (offlineRan || r.report.live) lines.push(renderReport(r.report, opts).replace(/\n+$/, ''));
  if (r.liveSkipped) lines.push(c.dim(`Live probe not run: ${clean(r.liveSkipped)}`));
  return lines.join('\n').replace(/\n*$/, '\n');
}

function describeCommand(cmd: CurlCommand): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const url = cmd.urls[0];
  if (url === undefined) out.push(['URL', '(none)']);
  else {
    const u = effectiveUrl(url);
    out.push([
      'URL',
      `${u.url}${u.guessed ? ` (no scheme given: curl uses ${u.scheme}://)` : ''}  ${cmd.method ?? 'GET'}${cmd.urls.length > 1 ? `  (+${cmd.urls.length - 1} more)` : ''}`,
    ]);
  }
  out.push(['certificate', cmd.cert === null ? 'none (no --cert)' : `${cmd.cert}  as ${cmd.certType ?? 'PEM'}`]);
  if (cmd.cert !== null || cmd.key !== null)
    out.push(['key', cmd.key === null ? `from the --cert file (no --key)` : `${cmd.key}  as ${cmd.keyType ?? 'PEM'}`]);
  if (cmd.passphrase) out.push(['passphrase', `given with ${cmd.passphrase.from} (not shown)`]);
  out.push([
    'server CA',
    cmd.insecure
      ? 'not checked (-k)'
      : [cmd.cacert && `--cacert ${cmd.cacert}`, cmd.capath && `--capath ${cmd.capath}`].filter(Boolean).join(', ') ||
        'the system CAs',
  ]);
  for (const r of cmd.resolve) out.push(['resolve', r]);
  for (const r of cmd.connectTo) out.push(['connect-to', r]);
  if (cmd.hostHeader) out.push(['Host header', cmd.hostHeader]);
  if (cmd.tlsMin || cmd.tlsMax)
    out.push([
      'TLS',
      `${cmd.tlsMin ? `at least ${cmd.tlsMin}` : ''}${cmd.tlsMin && cmd.tlsMax ? ', ' : ''}${cmd.tlsMax ? `at most ${cmd.tlsMax}` : ''}`,
    ]);
  if (cmd.proxy) out.push(['proxy', cmd.proxy]);
  if (cmd.ignored.length) out.push(['ignored', cmd.ignored.join(' ')]);
  if (cmd.unknown.length) out.push(['unknown', firstItems(cmd.unknown, 20).join(' ')]);
  for (const n of cmd.notes) out.push(['note', n]);
  return out;
}

const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** File names and URLs come from the user's paste: control characters are shown, never sent to the terminal. */
function clean(s: string): string {
  return s.replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
