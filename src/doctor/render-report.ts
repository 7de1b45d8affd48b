/** Text rendering of a doctor report: the verdict first, then the path, then the findings, then the live part. Pure. */
import { createColors } from 'picocolors';
import type { DiagnoseReport } from './diagnose.js';
import { renderFindings } from './render.js';
import { renderLive } from './live/render.js';

/** The offline part (verdict, path, findings), then the live probe's part when `doctor --url` ran one. */
export function renderReport(r: DiagnoseReport, opts: { color: boolean }): string {
  const offline = r.findings.filter((f) => f.source === 'offline');
  const live = r.findings.filter((f) => f.source === 'live');
  const offlineRan = r.verdict !== null || r.certificates.length > 0 || offline.length > 0;
  if (r.live === null) return renderOffline(r, opts);
  if (!offlineRan) return renderUnknown(opts) + '\n' + renderLive(r.live, live, opts);
  return renderOffline(r, opts) + '\n' + renderLive(r.live, live, opts);
}

/** Only a probe ran: say that the gateway's verdict on a client certificate is not known. */
function renderUnknown(opts: { color: boolean }): string {
  const c = createColors(opts.color);
  return `${c.bold('? Verdict unknown')}: no client certificate given (--cert, --key, --truststore)\n`;
}

function renderOffline(r: DiagnoseReport, opts: { color: boolean }): string {
  const c = createColors(opts.color);
  const lines: string[] = [];
  const how =
    r.verdictSource === 'handshake'
      ? 'from a real TLS handshake against the truststore'
      : 'predicted from the certificates (no usable key for a handshake)';
  if (r.verdict === null) {
    const why = r.certificates.length === 0 ? 'no readable client certificate' : 'no usable truststore';
    lines.push(c.bold('? Verdict unknown') + ': ' + why);
  } else if (r.verdict.accepted) {
    lines.push(c.green(c.bold('✓ The gateway would accept this client certificate')) + c.dim(` (${how})`));
  } else {
    lines.push(c.red(c.bold('✗ The gateway would deny this client certificate')) + c.dim(` (${how})`));
    lines.push(`  403 Access denied. Reason: ${c.bold(r.verdict.reason)}` + c.dim(`  [${r.verdict.code}]`));
  }
  if (r.chain) {
    const end = r.chain.end === 'anchored' ? c.green('trusted root') : c.red(r.chain.end.replace(/-/g, ' '));
    lines.push(`  path: ${r.chain.subjects.join(c.dim(' → '))} ${c.dim('[')}${end}${c.dim(']')}`);
  }
  if (r.revocation) {
    const v = r.revocation;
    const at =
      v.level === null ? '' : v.level === 0 ? ' (the client certificate)' : ` (level ${v.level}: ${v.subject})`;
    const what =
      v.status === 'good'
        ? c.green('not revoked')
        : v.status === 'revoked'
          ? c.red(`revoked${at} at ${v.revokedAt}${v.reason ? `, ${v.reason}` : ''}`)
          : v.status === 'unavailable'
            ? c.yellow(`no status${at}: ${v.code}`)
            : 'not checked (denied before revocation is judged)';
    lines.push(`  revocation: ${what}` + c.dim(` [CRL, scope ${v.scope}, onUnavailable ${v.onUnavailable}]`));
  }
  if (r.openssl && !r.openssl.authorized) {
    const said = r.verdictSource === 'handshake' ? 'said' : 'would say';
    lines.push(c.dim(`  OpenSSL ${said}: ${r.openssl.message ?? r.openssl.code}`));
  }
  lines.push('');
  const offline = r.findings.filter((f) => f.source === 'offline');
  if (offline.length > 0) lines.push(renderFindings(offline, opts));
  else lines.push(c.green('No problems found.'));
  return lines.join('\n').replace(/\n*$/, '\n');
}
