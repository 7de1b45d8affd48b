/** Text rendering of a doctor report: the verdict first, then the path, then the findings. Pure. */
import { createColors } from 'picocolors';
import type { DoctorReport } from './offline.js';
import { renderFindings } from './render.js';
import type { ProbeReport } from './live/types.js';
import { renderLive } from './live/render.js';

/** The offline part (verdict, path, findings), then the live probe's part when `doctor --url` ran one. */
export function renderReport(r: DoctorReport & { live?: ProbeReport | null }, opts: { color: boolean }): string {
  const live = r.live ?? null;
  const offlineRan = r.verdictSource !== null || r.certificates.length > 0 || r.findings.length > 0;
  if (live === null) return renderOffline(r, opts);
  if (!offlineRan) return renderLive(live, opts);
  return renderOffline(r, opts) + '\n' + renderLive(live, opts);
}

function renderOffline(r: DoctorReport, opts: { color: boolean }): string {
  const c = createColors(opts.color);
  const lines: string[] = [];
  const how = r.verdictSource === 'handshake' ? 'from a real TLS handshake against the truststore' : 'predicted from the certificates (no usable key for a handshake)';
  if (r.verdictSource === null) {
    lines.push(c.bold('? Verdict unknown') + ': ' + (r.certificates.length === 0 ? 'no readable client certificate' : 'no usable truststore'));
  } else if (r.verdict.accepted) {
    lines.push(c.green(c.bold('✓ The gateway would accept this client certificate')) + c.dim(` (${how})`));
  } else {
    lines.push(c.red(c.bold('✗ The gateway would deny this client certificate')) + c.dim(` (${how})`));
    lines.push(`  403 Access denied. Reason: ${c.bold(r.verdict.reason ?? 'unknown')}` + c.dim(`  [${r.verdict.code ?? '-'}]`));
  }
  if (r.chain) {
    const end = r.chain.end === 'anchored' ? c.green('trusted root') : c.red(r.chain.end.replace(/-/g, ' '));
    lines.push(`  path: ${r.chain.subjects.join(c.dim(' → '))} ${c.dim('[')}${end}${c.dim(']')}`);
  }
  if (r.openssl && !r.openssl.authorized) lines.push(c.dim(`  OpenSSL ${r.verdictSource === 'handshake' ? 'said' : 'would say'}: ${r.openssl.message ?? r.openssl.code}`));
  lines.push('');
  if (r.findings.length > 0) lines.push(renderFindings(r.findings, opts));
  else lines.push(c.green('No problems found.'));
  return lines.join('\n').replace(/\n*$/, '\n');
}
