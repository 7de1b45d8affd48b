/**
 * Text of the live part of a doctor report: where we connected, the TLS facts, what the server did, then the findings.
 * Pure.
 */
import { createColors } from 'picocolors';
import { renderFindings } from '../render.js';
import type { Finding } from '../../report/finding.js';
import type { LiveReport, ProbeOutcome, ProbeReport } from './types.js';
import { printable } from './reasons.js';

export function renderLive(live: LiveReport, findings: readonly Finding[], opts: { color: boolean }): string {
  const c = createColors(opts.color);
  const lines: string[] = [];
  const via = live.connectedTo
    ? ` ${c.dim('→')} ${live.connectedTo}`
    : live.addresses.length
      ? ` ${c.dim('→')} ${live.addresses.join(', ')}`
      : '';
  lines.push(c.bold(`Live: ${live.url}`) + via + (live.applied?.length ? c.dim(`  (${live.applied.join(', ')})`) : ''));
  const t = live.tls;
  if (t) {
    if (t.version)
      lines.push(
        `  TLS:     ${t.version}, ${t.cipher ?? '?'}${t.serverName ? c.dim(`  (server name ${t.serverName})`) : c.dim('  (no server name: IP address)')}`,
      );
    const leaf = t.serverChain[0];
    if (leaf) {
      const ok = t.serverVerified ? c.green('verified') : c.red(`not verified: ${t.serverError ?? '?'}`);
      lines.push(
        `  server:  ${printable(leaf.subject)} ${c.dim(`(issuer ${printable(leaf.issuer)}; ${t.serverChain.length} certificate(s))`)} ${ok}`,
      );
    }
    lines.push(
      `  client certificate: ${requested(t)}; ${t.clientCertSent ? 'sent' : 'not sent'}${t.clientCertError ? c.dim(` (${t.clientCertError})`) : ''}`,
    );
    if (t.acceptableCAs?.length)
      for (const ca of t.acceptableCAs.slice(0, 10)) lines.push(c.dim(`    accepts: ${printable(ca)}`));
    if ((t.acceptableCAs?.length ?? 0) > 10) lines.push(c.dim(`    ... and ${t.acceptableCAs!.length - 10} more`));
  }
  lines.push(`  answer:  ${answer(live.outcome)}`);
  lines.push(
    c.dim(
      `  timings: ${Object.entries(live.timings)
        .map(([k, v]) => `${k} ${v} ms`)
        .join(', ')}`,
    ),
  );
  lines.push('');
  // Every live finding lands in the renderer's last group: print them under our own heading instead.
  const text = renderFindings(findings, opts).replace(/^[^\n]*\n/, '');
  lines.push(text === '' ? c.green('  Nothing wrong on the wire.') : text.replace(/\n+$/, ''));
  return lines.join('\n') + '\n';
}

function requested(t: NonNullable<ProbeReport['tls']>): string {
  if (t.clientCertRequested === true)
    return t.acceptableCAs === null
      ? 'requested by the server'
      : t.acceptableCAs.length === 0
        ? 'requested (any CA)'
        : `requested from ${t.acceptableCAs.length} CA name(s)`;
  if (t.clientCertRequested === false) return 'not requested by the server';
  return `request unknown${t.certificateRequestProbe ? ` (${t.certificateRequestProbe})` : ''}`;
}

function answer(o: ProbeOutcome): string {
  switch (o.kind) {
    case 'http':
      return `HTTP ${o.status} ${oneLine(o.body).slice(0, 160)}${o.truncated ? ' …(truncated)' : ''}`;
    case 'closed-after-handshake':
      return 'the server closed the connection right after the handshake (no alert, no HTTP answer)';
    case 'tls-failed':
      return `${o.afterHandshake ? 'after the handshake' : 'TLS handshake failed'}: ${o.alert ? `alert ${o.alert}` : o.code}`;
    case 'timeout':
      return `no answer in time (${o.stage})`;
    case 'tcp-failed':
      return `TCP connection failed: ${o.code}`;
    case 'dns-failed':
      return `name not resolved: ${o.error}`;
  }
}

function oneLine(s: string): string {
  return printable(s.replace(/\s+/g, ' ').trim());
}
