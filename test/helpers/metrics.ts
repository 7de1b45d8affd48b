/**
 * A parser of Prometheus' text format (0.0.4) as /metrics writes it: families with their HELP and TYPE, samples with
 * their labels (escapes undone) and values. Strict: a line it does not understand, a sample outside its family or a
 * repeated series throws, so a malformed exposition fails the test that reads it.
 */

export interface Sample {
  /** The sample's own name (a histogram's `_bucket`, `_sum`, `_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m || m.index !== at) throw new Error(`bad labels in: ${line}`);
    if (m[1]! in out) throw new Error(`label ${m[1]} twice in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return out;
}

export function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | null = null;
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      if (families.has(help[1]!)) throw new Error(`family ${help[1]} twice`);
      current = { name: help[1]!, type: '', help: help[2]!, samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (current === null || current.name !== type[1]) throw new Error(`TYPE without its HELP: ${line}`);
      current.type = type[2]!;
      continue;
    }
    const s = SAMPLE.exec(line);
    if (!s || !current) throw new Error(`not a sample line: ${line}`);
    const base = current.type === 'histogram' ? s[1]!.replace(/_(bucket|sum|count)$/, '') : s[1]!;
    if (base !== current.name) throw new Error(`${s[1]} outside its family (in ${current.name})`);
    const value = s[3] === '+Inf' ? Infinity : Number(s[3]);
    if (Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    const labels = s[2] === undefined ? {} : parseLabels(s[2], line);
    const key = `${s[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`series twice: ${line}`);
    seen.add(key);
    current.samples.push({ name: s[1]!, labels, value });
  }
  return families;
}

/** The samples of `name` (a family's or a histogram's `_bucket`/`_sum`/`_count`) whose labels include `want`. */
export function samples(families: Map<string, Family>, name: string, want: Record<string, string> = {}): Sample[] {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = families.get(name) ?? families.get(base);
  if (!f) return [];
  return f.samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
}

/** The one sample's value (0 when there is none: counters start absent); throws when several match. */
export function value(families: Map<string, Family>, name: string, want: Record<string, string> = {}): number {
  const found = samples(families, name, want);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(want)}`);
  return found[0]?.value ?? 0;
}

/** Every series as `name{labels}`, sorted: what a cardinality check compares. */
export function seriesKeys(families: Map<string, Family>): string[] {
  const out: string[] = [];
  for (const f of families.values())
    for (const s of f.samples) out.push(`${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
  return out.sort();
}
