// @ts-check
/**
 * The mtlsgate dashboard: polls the admin listener's JSON endpoints (/readyz, /domains, /certs, /denials) and
 * /metrics, and shows them. Read-only unless the gateway has admin.token: the page then asks for the token, keeps it
 * in sessionStorage (this tab only), sends it as `Authorization: Bearer`, and offers a reload button.
 */
import { clear, commonName, counterTotals, el, expiryClass, inDays, routeTotals, shortDate } from './view.js';

const TOKEN_KEY = 'mtlsgate.adminToken';
const POLL_MS = 3000;
/** The timeline's right edge: a year ahead. */
const HORIZON_DAYS = 365;

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const ui = {
  status: $('status'),
  updated: $('updated'),
  mode: $('mode'),
  tokenForm: /** @type {HTMLFormElement} */ ($('token-form')),
  tokenInput: /** @type {HTMLInputElement} */ ($('token-input')),
  reload: /** @type {HTMLButtonElement} */ ($('reload')),
  forget: $('forget'),
  refresh: $('refresh'),
  reloadResult: $('reload-result'),
  error: $('error'),
  counters: $('counters'),
  routes: /** @type {HTMLElement} */ ($('routes').querySelector('tbody')),
  routesEmpty: $('routes-empty'),
  domains: /** @type {HTMLElement} */ ($('domains').querySelector('tbody')),
  timeline: $('timeline'),
  timelineMore: $('timeline-more'),
  soonDays: $('soon-days'),
  servers: /** @type {HTMLElement} */ ($('servers').querySelector('tbody')),
  denials: $('denials'),
  denialsEmpty: $('denials-empty'),
};

/** The gateway wants a token (a request without one got 401); null until known. */
let tokenRequired = /** @type {boolean | null} */ (null);
let token = sessionStorage.getItem(TOKEN_KEY);
/** @type {Map<string, number> | null} */
let lastCounters = null;
let busy = false;

class Unauthorized extends Error {}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 */
async function api(path, init = {}) {
  /** @type {Record<string, string>} */
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const res = await fetch(path, { cache: 'no-store', ...init, headers });
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok && res.status !== 503) {
    const body = await res.text();
    throw new Error(`${path}: HTTP ${res.status} ${body.slice(0, 200)}`);
  }
  return res;
}

/** @param {string} path */
const getJson = async (path) => (await api(path)).json();

function renderAuth() {
  const needToken = tokenRequired === true && !token;
  ui.tokenForm.hidden = !needToken;
  ui.reload.hidden = !(tokenRequired === true && token);
  ui.forget.hidden = !(tokenRequired === true && token);
  ui.mode.textContent =
    tokenRequired === false
      ? 'read-only (no admin.token set)'
      : needToken
        ? 'this gateway has an admin token: enter it to see its data'
        : '';
}

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    if (tokenRequired === null) {
      // Asked once without credentials: the answer says whether the gateway has a token at all.
      const probe = await fetch('/domains', { cache: 'no-store' });
      tokenRequired = probe.status === 401;
    }
    renderAuth();
    const ready = await (await fetch('/readyz', { cache: 'no-store' })).json();
    renderStatus(ready);
    if (tokenRequired && !token) return;
    const [domains, trust, servers, denials, metrics] = await Promise.all([
      getJson('/domains'),
      getJson('/certs?role=truststore&limit=200'),
      getJson('/certs?role=server&limit=100'),
      getJson('/denials?limit=50'),
      api('/metrics').then((r) => r.text()),
    ]);
    renderDomains(domains);
    renderTimeline(trust);
    renderServers(servers);
    renderDenials(denials.denials);
    renderCounters(counterTotals(metrics));
    renderRoutes(routeTotals(metrics));
    ui.error.hidden = true;
    ui.updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e instanceof Unauthorized) {
      forgetToken();
      showError('the admin token was refused: enter it again');
    } else showError(`cannot reach the admin listener: ${/** @type {Error} */ (e).message}`);
  } finally {
    busy = false;
  }
}

/** @param {string} message */
function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function forgetToken() {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  renderAuth();
}

/** @param {{ ready: boolean; degraded: boolean; workers?: number }} r */
function renderStatus(r) {
  const text = r.ready ? (r.degraded ? 'degraded' : 'ready') : 'not ready';
  ui.status.textContent = r.workers === undefined ? text : `${text} · ${r.workers} workers`;
  ui.status.className = `pill ${r.ready ? (r.degraded ? 'pill-warn' : 'pill-ok') : 'pill-error'}`;
}

/**
 * @param {{ subject: string; notAfter: string; daysToExpiry: number; status: string } | null} e
 */
function expiryCell(e) {
  if (!e) return el('td', {}, '–');
  return el(
    'td',
    { class: expiryClass(e.status), title: e.subject },
    el('span', { class: 'expiry-text' }, `${shortDate(e.notAfter)} (${inDays(e.daysToExpiry)})`),
    el('br'),
    el('span', { class: 'muted' }, commonName(e.subject)),
  );
}

/** @param {any[]} domains */
function renderDomains(domains) {
  clear(ui.domains);
  for (const d of domains) {
    const reload = d.reload
      ? el(
          'td',
          { class: d.reload.result === 'ok' ? '' : 'expiry-expired' },
          `${d.reload.result} at ${new Date(d.reload.at).toLocaleTimeString()}`,
          d.reload.error ? el('div', { class: 'small' }, d.reload.error) : null,
        )
      : el(
          'td',
          {},
          `loaded ${new Date(d.loadedAt).toLocaleTimeString()}`,
          el('div', { class: 'muted' }, 'no reload yet'),
        );
    ui.domains.append(
      el(
        'tr',
        { 'data-domain': d.domainName },
        el('td', { class: 'domain-name nowrap' }, d.domainName),
        el(
          'td',
          {},
          el(
            'ul',
            { class: 'plain' },
            ...d.basePaths.map((/** @type {string} */ p) =>
              el('li', { class: 'nowrap' }, `/${p === '(none)' ? '' : p}`),
            ),
          ),
        ),
        el(
          'td',
          {},
          el('code', {}, d.truststoreUri),
          el(
            'div',
            { class: 'muted' },
            `${d.certificates} certificates${d.truststoreVersion ? ` · version ${d.truststoreVersion}` : ''}`,
          ),
          d.warnings.length
            ? el('div', { class: 'small expiry-expires-soon' }, `${d.warnings.length} lint warning(s)`)
            : null,
        ),
        expiryCell(d.serverCertificate),
        expiryCell(d.truststoreEarliestExpiry),
        reload,
      ),
    );
  }
}

/** @param {{ certificates: any[]; total: number; truncated: boolean; expiresSoonDays: number }} page */
function renderTimeline(page) {
  ui.soonDays.textContent = String(page.expiresSoonDays);
  clear(ui.timeline);
  for (const c of page.certificates) {
    const width = Math.max(0, Math.min(1, c.daysToExpiry / HORIZON_DAYS)) * 100;
    const bar = el('span', { class: 'bar' });
    // CSSOM, not a style attribute: allowed under the page's Content-Security-Policy.
    bar.style.width = `${width}%`;
    ui.timeline.append(
      el(
        'li',
        { class: `${expiryClass(c.status)} timeline-row`, 'data-fingerprint': c.fingerprintSha256 },
        el(
          'span',
          { class: 'label', title: `${c.subject}\nissuer: ${c.issuer}\nserial: ${c.serial}` },
          commonName(c.subject),
        ),
        el('span', { class: 'track' }, bar),
        el('span', { class: 'when' }, `${shortDate(c.notAfter)} · ${inDays(c.daysToExpiry)}`),
        el(
          'span',
          { class: 'meta' },
          el('span', { class: 'muted small' }, c.domain),
          ...c.warnings.map((/** @type {{ id: string; title: string }} */ w) =>
            el('span', { class: 'tag', title: w.title }, w.id),
          ),
        ),
      ),
    );
  }
  ui.timelineMore.textContent = page.truncated
    ? `the ${page.certificates.length} that expire first of ${page.total}: GET /certs?offset=${page.certificates.length} for the rest`
    : '';
}

/** @param {{ certificates: any[] }} page */
function renderServers(page) {
  clear(ui.servers);
  for (const c of page.certificates) {
    ui.servers.append(
      el(
        'tr',
        {},
        el('td', { class: 'nowrap' }, c.domain),
        el('td', {}, String(c.index)),
        el('td', {}, c.subject),
        el('td', {}, c.issuer),
        expiryCell(c),
        el('td', {}, el('code', { class: 'fingerprint' }, c.fingerprintSha256)),
      ),
    );
  }
}

/** @param {any[]} denials */
function renderDenials(denials) {
  ui.denialsEmpty.hidden = denials.length > 0;
  clear(ui.denials);
  for (const d of denials) {
    const where = [
      d.domain ?? '(no domain)',
      d.route === null ? null : `route /${d.route}`,
      `from ${d.sourceIp ?? '?'}`,
    ];
    if (d.requestId) where.push(`request ${d.requestId}`);
    const client = d.client
      ? el(
          'dl',
          { class: 'client' },
          el('dt', {}, 'subject'),
          el('dd', { class: 'subject' }, d.client.subject),
          el('dt', {}, 'issuer'),
          el('dd', {}, d.client.issuer),
          el('dt', {}, 'SHA-256'),
          el('dd', {}, el('code', { class: 'fingerprint' }, d.client.fingerprintSha256)),
        )
      : el('p', { class: 'muted' }, 'no client certificate');
    const x = d.explanation;
    const explanation = x
      ? el(
          'div',
          { class: 'explanation' },
          el(
            'p',
            { class: 'explanation-title' },
            el('span', { class: 'text' }, x.title),
            x.findingId ? el('span', { class: 'tag' }, x.findingId) : null,
          ),
          x.detail ? el('p', { class: 'explanation-detail' }, x.detail) : null,
          x.fix ? el('pre', { class: 'fix' }, el('code', {}, x.fix)) : null,
          d.reloadedSince ? el('p', { class: 'muted small' }, 'explained against the truststore loaded since') : null,
        )
      : null;
    ui.denials.append(
      el(
        'li',
        { class: 'denial', 'data-code': d.code },
        el(
          'p',
          { class: 'denial-head' },
          el('span', { class: 'pill pill-error' }, d.status === null ? 'handshake' : String(d.status)),
          el('strong', { class: 'reason' }, d.reason),
          el('code', {}, d.code),
          el('time', { datetime: d.time }, new Date(d.time).toLocaleString()),
        ),
        el('p', { class: 'muted small' }, where.filter((w) => w !== null).join(' · ')),
        client,
        explanation,
      ),
    );
  }
}

/** @param {Map<string, number>} totals */
function renderCounters(totals) {
  clear(ui.counters);
  for (const [name, value] of totals) {
    const before = lastCounters?.get(name);
    const delta = before === undefined || value === before ? '' : ` (+${value - before})`;
    ui.counters.append(
      el(
        'div',
        { class: 'counter', 'data-name': name },
        el(
          'dt',
          {},
          name
            .replace(/^mtlsgate_/, '')
            .replace(/_total$/, '')
            .replace(/_/g, ' '),
        ),
        el('dd', {}, `${value}${delta}`),
      ),
    );
  }
  lastCounters = totals;
}

/** @param {ReturnType<typeof routeTotals>} rows */
function renderRoutes(rows) {
  clear(ui.routes);
  ui.routesEmpty.hidden = rows.length > 0;
  for (const r of rows) {
    // '-' is the route of requests answered before routing (no base path matched, or refused at the door).
    const route = r.route === '-' ? '(no route)' : r.route;
    const count = (/** @type {string} */ cls) =>
      el(
        'td',
        { class: `num${cls === '5xx' && r.classes[cls] ? ' expiry-expired' : ''}` },
        String(r.classes[cls] ?? 0),
      );
    ui.routes.append(
      el(
        'tr',
        { 'data-domain': r.domain, 'data-route': r.route },
        el('td', { class: 'nowrap' }, r.domain === '-' ? '(no domain)' : r.domain),
        el('td', { class: 'nowrap' }, route),
        count('2xx'),
        count('3xx'),
        count('4xx'),
        count('5xx'),
        el('td', { class: 'num' }, String(r.total)),
      ),
    );
  }
}

ui.tokenForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = ui.tokenInput.value;
  ui.tokenInput.value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  void refresh();
});

ui.forget.addEventListener('click', () => forgetToken());
ui.refresh.addEventListener('click', () => void refresh());

ui.reload.addEventListener('click', async () => {
  ui.reload.disabled = true;
  try {
    const res = await api('/reload', { method: 'POST' });
    const r = await res.json();
    const errors = (r.errors ?? []).map((/** @type {{ message: string }} */ e) => e.message);
    ui.reloadResult.textContent = r.ok
      ? `reloaded at ${new Date().toLocaleTimeString()}: ok`
      : `reload failed: ${errors.join('; ') || `HTTP ${res.status}`}`;
    ui.reloadResult.className = `banner ${r.ok ? 'banner-ok' : 'banner-error'}`;
    ui.reloadResult.hidden = false;
  } catch (e) {
    if (e instanceof Unauthorized) forgetToken();
    showError(`reload: ${/** @type {Error} */ (e).message || 'the admin token was refused'}`);
  } finally {
    ui.reload.disabled = false;
    void refresh();
  }
});

void refresh();
setInterval(() => void refresh(), POLL_MS);
