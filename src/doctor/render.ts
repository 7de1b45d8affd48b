/**
 * Text rendering of findings, shared by `truststore lint` and `doctor`. Pure: findings in, string out; colour
 * only through picocolors' createColors(opts.color), so NO_COLOR and pipes get plain text.
 *
 *   Truststore
 *     ✗ certificate 2 (CN=Old Root) expired on 2024-01-01  [truststore.expired]
 *         The certificate's validity period is over; ...
 *         index:    2
 *         subject:  CN=Old Root
 *         fix:
 *         $ openssl x509 -noout -subject -enddate -in truststore.pem
 */
import pc from 'picocolors';
import type { Finding, Severity } from '../report/finding.js';
import { sortFindings } from '../report/finding.js';

type Colors = ReturnType<typeof pc.createColors>;

export interface RenderOptions {
  color: boolean;
  /** Wrap prose at this many columns (commands and evidence are never wrapped, so they stay copy-pasteable). */
  width?: number;
}

const DEFAULT_WIDTH = 100;
const INDENT = '      ';

/** Display groups in print order; the first whose test matches an id wins. */
const GROUPS: ReadonlyArray<{ name: string; test: (id: string) => boolean }> = [
  { name: 'Files', test: (id) => id.startsWith('cert.file-') || id.startsWith('key.') || id.startsWith('pkcs12.') },
  { name: 'Certificate', test: (id) => id.startsWith('cert.') },
  { name: 'Chain', test: (id) => id.startsWith('chain.') },
  { name: 'Revocation', test: (id) => id.startsWith('revocation.') },
  { name: 'Truststore', test: (id) => id.startsWith('truststore.') },
  { name: 'CRL', test: (id) => id.startsWith('crl.') },
  { name: 'Other', test: () => true },
];

export function groupOf(id: string): string {
  return GROUPS.find((g) => g.test(id))!.name;
}

export function renderFindings(findings: readonly Finding[], opts: RenderOptions): string {
  const c = pc.createColors(opts.color);
  const width = opts.width ?? DEFAULT_WIDTH;
  const byGroup = new Map<string, Finding[]>(GROUPS.map((g) => [g.name, []]));
  for (const f of findings) byGroup.get(groupOf(f.id))!.push(f);
  const sections: string[] = [];
  for (const [name, list] of byGroup) {
    if (list.length === 0) continue;
    sections.push([c.bold(name), ...sortFindings(list).map((f) => renderFinding(f, c, width))].join('\n'));
  }
  return sections.length === 0 ? '' : sections.join('\n\n') + '\n';
}

function renderFinding(f: Finding, c: Colors, width: number): string {
  const lines = [`  ${marker(f.severity, c)} ${oneLine(f.title)}  ${c.dim(`[${f.id}]`)}`];
  if (f.detail) lines.push(...wrap(clean(f.detail), width - INDENT.length).map((l) => INDENT + l));
  lines.push(...renderEvidence(f.evidence, c));
  if (f.fix) {
    lines.push(INDENT + c.dim('fix:'));
    for (const line of f.fix.split('\n')) lines.push(...renderFixLine(line, c, width));
  }
  return lines.join('\n');
}

function marker(s: Severity, c: Colors): string {
  if (!c.isColorSupported) return `[${s}]`;
  switch (s) {
    case 'error':
      return c.red(c.bold('✗'));
    case 'warning':
      return c.yellow(c.bold('!'));
    case 'info':
      return c.cyan('i');
  }
}

function renderEvidence(evidence: Finding['evidence'], c: Colors): string[] {
  const entries = Object.entries(evidence);
  if (entries.length === 0) return [];
  const keyWidth = Math.max(...entries.map(([k]) => k.length)) + 1;
  const out: string[] = [];
  for (const [key, value] of entries) {
    const label = c.dim(`${key}:`.padEnd(keyWidth));
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) out.push(`${INDENT}${label} (none)`);
    values.forEach((v, i) => {
      const shown = v === null ? '(none)' : oneLine(String(v));
      out.push(`${INDENT}${i === 0 ? label : ' '.repeat(keyWidth)} ${shown}`);
    });
  }
  return out;
}

/**
 * Lines that start with a command (by its first word) get `$ ` and are never wrapped; lines already starting with
 * `$ ` or `# ` are kept; anything else is prose and wrapped.
 */
const COMMANDS = new Set([
  'openssl',
  'awk',
  'sed',
  'grep',
  'cat',
  'cp',
  'mv',
  'rm',
  'chmod',
  'chown',
  'aws',
  'curl',
  'mtlsgate',
  'jq',
  'diff',
  'csplit',
  'printf',
  'echo',
  'node',
  'npx',
  'date',
  'ls',
  'head',
  'tail',
  'sort',
  'uniq',
  'mkdir',
  'cd',
]);

export function looksLikeCommand(line: string): boolean {
  const first = /^\s*([A-Za-z0-9_.-]+)/.exec(line)?.[1];
  return first !== undefined && COMMANDS.has(first);
}

function renderFixLine(line: string, c: Colors, width: number): string[] {
  const text = clean(line);
  if (text.trim() === '') return [];
  if (text.startsWith('$ ')) return [INDENT + c.green(text)];
  if (looksLikeCommand(text)) return [INDENT + c.green(`$ ${text.trim()}`)];
  if (text.startsWith('# ')) return [INDENT + c.dim(text)];
  return wrap(text, width - INDENT.length).map((l) => INDENT + l);
}

/** Greedy word wrap; a word longer than the width (a URL, a DN) gets a line of its own rather than being cut. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line === '') line = word;
      else if (line.length + 1 + word.length <= width) line += ' ' + word;
      else {
        out.push(line);
        line = word;
      }
    }
    out.push(line);
  }
  return out;
}

/**
 * Certificate names and file names are attacker-controlled; C0/C1 control characters (ESC above all) are shown
 * as \xNN so a hostile subject cannot rewrite the terminal. Newlines are kept for the caller to split on.
 */

const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

function clean(s: string): string {
  return s.replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function oneLine(s: string): string {
  return clean(s).replace(/\n/g, '\\n');
}

export type SeverityCounts = Record<Severity, number>;

export function countFindings(findings: readonly Finding[]): SeverityCounts {
  const counts: SeverityCounts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** One line: `2 errors, 1 warning, 3 notes` or `no problems found`. */
export function renderSummary(counts: SeverityCounts, opts: RenderOptions = { color: false }): string {
  const c = pc.createColors(opts.color);
  if (counts.error + counts.warning + counts.info === 0) return c.green('no problems found');
  const parts = [
    plural(counts.error, 'error', c.red),
    plural(counts.warning, 'warning', c.yellow),
    plural(counts.info, 'note', c.cyan),
  ];
  return parts.join(', ');
}

function plural(n: number, word: string, paint: (s: string) => string): string {
  const text = `${n} ${word}${n === 1 ? '' : 's'}`;
  return n > 0 ? paint(text) : text;
}
