// @ts-check
/**
 * Rendering helpers for the dashboard. Every piece of text goes into the page as a text node (textContent), never
 * as markup: certificate subjects, reasons and fixes are chosen by clients and CAs and may hold `<script>`.
 */

/**
 * An element with attributes (class, title, ...) and children (strings become text nodes).
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** @param {Element} e */
export function clear(e) {
  e.replaceChildren();
}

/**
 * "in 12 days", "today", "3 days ago".
 * @param {number} days
 */
export function inDays(days) {
  if (days === 0) return 'today';
  if (days < 0) return `${-days} day${days === -1 ? '' : 's'} ago`;
  return `in ${days} day${days === 1 ? '' : 's'}`;
}

/**
 * The CSS class of an expiry status (valid, expires-soon, expired, not-yet-valid).
 * @param {string} status
 */
export function expiryClass(status) {
  return `expiry-${/^[a-z-]+$/.test(status) ? status : 'valid'}`;
}

/** @param {string} iso */
export function shortDate(iso) {
  return iso.slice(0, 10);
}

/**
 * The CN of an RFC 4514 subject, else the whole subject.
 * @param {string} subject
 */
export function commonName(subject) {
  const m = /(?:^|,)CN=((?:\\.|[^,\\])*)/.exec(subject);
  return m ? m[1].replace(/\\(.)/g, '$1') : subject || '(empty subject)';
}

/**
 * The total of each counter family in Prometheus text (samples of a family summed over their labels).
 * @param {string} text
 * @returns {Map<string, number>}
 */
export function counterTotals(text) {
  const counters = new Set();
  const totals = new Map();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) counter$/.exec(line);
    if (type) {
      counters.add(type[1]);
      totals.set(type[1], 0);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})? (\S+)$/.exec(line);
    if (sample && counters.has(sample[1])) totals.set(sample[1], totals.get(sample[1]) + Number(sample[2]));
  }
  return totals;
}

/**
 * Requests per route from Prometheus text: `mtlsgate_route_requests_total{domain,route,status_class}` summed into one
 * row per domain and route, with a count per status class (`2xx` ... `5xx`) and their total.
 * @param {string} text
 * @returns {{ domain: string, route: string, classes: Record<string, number>, total: number }[]}
 */
export function routeTotals(text) {
  /** @type {Map<string, { domain: string, route: string, classes: Record<string, number>, total: number }>} */
  const rows = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('mtlsgate_route_requests_total{')) continue;
    const close = line.lastIndexOf('} ');
    const labels = parseLabels(line.slice('mtlsgate_route_requests_total{'.length, close));
    const value = Number(line.slice(close + 2));
    const { domain, route, status_class: cls } = labels;
    if (domain === undefined || route === undefined || cls === undefined || !Number.isFinite(value)) continue;
    const key = `${domain}\u0000${route}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { domain, route, classes: {}, total: 0 }));
    row.classes[cls] = (row.classes[cls] ?? 0) + value;
    row.total += value;
  }
  return [...rows.values()].sort((a, b) => b.total - a.total || a.domain.localeCompare(b.domain));
}

/**
 * Prometheus label pairs (`a="x",b="y"`), with the format's escapes (\\, \", \n) undone.
 * @param {string} s
 * @returns {Record<string, string>}
 */
export function parseLabels(s) {
  /** @type {Record<string, string>} */
  const out = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)",?/gy;
  for (let m = re.exec(s); m !== null; m = re.exec(s))
    out[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  return out;
}
