/**
 * Turning the raw runs into figures: min/median/max per server, ratios mtlsgate ÷ peer paired by round, the
 * markdown tables (printed, written next to the JSON, and optionally into BENCHMARKS.md) and the issue's targets.
 */

export function stats(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return { min: v[0], med: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, max: v[v.length - 1], n: v.length };
}

/** 3 significant digits, thousands separated. */
export function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  // Thresholds after rounding, so 999.6 reads "1,000" and 9.996 "10.0", not "1000" and "10.00".
  if (a >= 999.5) return Math.round(x).toLocaleString('en-US');
  if (a >= 99.95) return x.toFixed(0);
  if (a >= 9.995) return x.toFixed(1);
  if (a >= 0.9995) return x.toFixed(2);
  return x.toPrecision(2);
}

export const cell = (s) => (s ? (s.n === 1 ? fmt(s.med) : `${fmt(s.min)} / **${fmt(s.med)}** / ${fmt(s.max)}`) : '–');

/** The per-connection / per-request figures, each from one kind of run. */
export const METRICS = [
  {
    id: 'hs_core',
    label: 'full mTLS handshakes/s per server core',
    test: 'hs',
    get: (r) => r.per_server_core,
    better: 'higher',
  },
  { id: 'hs_raw', label: 'full handshakes/s (raw, this box)', test: 'hs', get: (r) => r.rate, better: 'higher' },
  {
    id: 'hs_cpu_us',
    label: 'server CPU per full handshake (µs)',
    test: 'hs',
    get: (r) => 1e6 / r.per_server_core,
    better: 'lower',
  },
  {
    id: 'resume_core',
    label: 'resumed handshakes/s per server core',
    test: 'resume',
    get: (r) => r.per_server_core,
    better: 'higher',
  },
  {
    id: 'resume_ratio',
    label: '... sessions actually resumed',
    test: 'resume',
    get: (r) => r.reuse_ratio,
    better: 'higher',
    percent: true,
  },
  {
    id: 'ka_core',
    label: 'keep-alive req/s per server core (64 conns)',
    test: 'ka',
    get: (r) => r.per_server_core,
    better: 'higher',
  },
  { id: 'ka_raw', label: 'keep-alive req/s (raw)', test: 'ka', get: (r) => r.rate, better: 'higher' },
  { id: 'ka_p99', label: 'keep-alive p99 ms at saturation', test: 'ka', get: (r) => r.lat_ms.p99, better: 'lower' },
  { id: 'rate_p50', label: 'p50 ms @ 5,000 req/s', test: 'rate', get: (r) => r.lat_ms.p50, better: 'lower' },
  { id: 'rate_p99', label: 'p99 ms @ 5,000 req/s', test: 'rate', get: (r) => r.lat_ms.p99, better: 'lower' },
  {
    id: 'rate_p99s',
    label: 'p99 ms from schedule @ 5,000 req/s',
    test: 'rate',
    get: (r) => r.lat_sched_ms.p99,
    better: 'lower',
  },
  {
    id: 'rate_cores',
    label: 'server cores used @ 5,000 req/s',
    test: 'rate',
    get: (r) => r.server_cores,
    better: 'lower',
  },
  {
    id: 'rss_conn_early',
    label: 'RSS per idle mTLS connection (KiB), 4 s after opening {idleConns}',
    test: 'rss',
    get: (r) => r.earlyPerConnKiB,
    better: 'lower',
  },
  {
    id: 'rss_conn',
    label: '... once RSS stopped moving (after V8 shrank its heaps)',
    test: 'rss',
    get: (r) => r.perConnKiB,
    better: 'lower',
  },
  {
    id: 'rss_total',
    label: 'VmRSS with the idle connections (MiB)',
    test: 'rss',
    get: (r) => r.withKiB / 1024,
    better: 'lower',
  },
  { id: 'rss_base', label: 'VmRSS before them (MiB)', test: 'rss', get: (r) => r.baseKiB / 1024, better: 'lower' },
  {
    id: 'pss_total',
    label: 'PSS with the idle connections (MiB)',
    test: 'rss',
    get: (r) => r.withPssKiB / 1024,
    better: 'lower',
  },
];

/**
 * runs: [{ test, server, key, round, result }] -> { [metric]: { [key]: { [server]: stats, ratios: { [peer]: stats } } }
 * }
 */
export function summarize(runs, servers, keys) {
  const out = {};
  for (const m of METRICS) {
    out[m.id] = {};
    for (const key of keys) {
      const row = { servers: {}, ratios: {} };
      const byServer = {};
      for (const s of servers) {
        byServer[s] = runs
          .filter((r) => r.test === m.test && r.server === s && r.key === key && r.result)
          .map((r) => ({ round: r.round, v: safe(m.get, r.result) }));
        row.servers[s] = stats(byServer[s].map((x) => x.v));
      }
      for (const peer of ['nginx', 'caddy', 'node']) {
        if (!byServer.mtlsgate || !byServer[peer]) continue;
        // Paired by round: both measured minutes apart, under the same drift.
        const ratios = byServer.mtlsgate.map((g) => {
          const p = byServer[peer].find((x) => x.round === g.round);
          return p && p.v ? g.v / p.v : NaN;
        });
        row.ratios[peer] = stats(ratios);
      }
      out[m.id][key] = row;
    }
  }
  return out;
}

function safe(get, r) {
  try {
    const v = get(r);
    return typeof v === 'number' ? v : NaN;
  } catch {
    return NaN;
  }
}

const NAMES = { nginx: 'nginx', caddy: 'Caddy', node: 'node', mtlsgate: 'mtlsgate' };

/** `o` fills the labels' placeholders ({idleConns}: the connections the rss test opened). */
export function mainTable(summary, servers, keys, o) {
  const peers = ['nginx', 'caddy', 'node'].filter((p) => servers.includes(p) && servers.includes('mtlsgate'));
  const head = ['metric', 'key', ...servers.map((s) => NAMES[s]), ...peers.map((p) => `mtlsgate ÷ ${NAMES[p]}`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const m of METRICS) {
    for (const key of keys) {
      const row = summary[m.id]?.[key];
      if (!row || servers.every((s) => !row.servers[s])) continue;
      const pc = (s) => (m.percent && s ? `${(s.med * 100).toFixed(0)} %` : cell(s));
      const label = m.label.replace('{idleConns}', o.idleConns.toLocaleString('en-US'));
      lines.push(
        `| ${label} | ${key} | ${servers.map((s) => pc(row.servers[s])).join(' | ')}${peers.map((p) => ` | ${m.percent ? '' : cell(row.ratios[p])}`).join('')} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The issue's targets, each met or not, with the figure it was judged on. */
export function targets(summary, scale, doctor, revocation, authz) {
  const med = (id, key, which = 'ratios', who = 'nginx') => summary[id]?.[key]?.[which]?.[who]?.med;
  const t = [];
  const add = (target, value, ok, unit = '×') =>
    t.push({
      target,
      value: value === undefined || Number.isNaN(value) ? null : value,
      status: value === undefined || value === null || Number.isNaN(value) ? 'not measured' : ok ? 'met' : 'not met',
      unit,
    });
  // Issue 18's targets. The note gives the minimal Node forwarder's ratio where it ran: what Node itself reaches here.
  const ceiling = (id, key) => {
    const v = med(id, key, 'ratios', 'node');
    const n = summary[id]?.[key]?.servers?.node?.med;
    const g = summary[id]?.[key]?.servers?.nginx?.med;
    return n && g ? `Node forwarder ${fmtRatio(n / g)} × nginx; mtlsgate ${fmtRatio(v)} × it` : undefined;
  };
  const note = (text) => {
    if (text) t[t.length - 1].note = text;
  };
  for (const key of ['rsa', 'ec']) {
    add(`full mTLS handshakes per core ≥ 1.1 × nginx (${key})`, med('hs_core', key), med('hs_core', key) >= 1.1);
    note(ceiling('hs_core', key));
  }
  for (const key of ['rsa', 'ec']) {
    add(`resumed handshakes per core ≥ 1.1 × nginx (${key})`, med('resume_core', key), med('resume_core', key) >= 1.1);
    const reused = summary.resume_ratio?.[key]?.servers?.mtlsgate?.med;
    if (reused !== undefined && reused < 0.5) note(`only ${(reused * 100).toFixed(0)} % of sessions resumed`);
    // The forwarder renews tickets as mtlsgate does (--renew-tickets), so it bounds resumptions too.
    else note(ceiling('resume_core', key));
  }
  for (const key of ['rsa', 'ec']) {
    add(`keep-alive req/s per core ≥ 0.6 × nginx (${key} run)`, med('ka_core', key), med('ka_core', key) >= 0.6);
    note(ceiling('ka_core', key));
  }
  for (const key of ['rsa', 'ec'])
    add(
      `keep-alive req/s per core ≥ 2 × Caddy (${key} run)`,
      med('ka_core', key, 'ratios', 'caddy'),
      med('ka_core', key, 'ratios', 'caddy') >= 2,
    );
  for (const key of ['rsa', 'ec']) {
    add(`p99 at 5,000 req/s ≤ 1.5 × nginx's (${key} run)`, med('rate_p99', key), med('rate_p99', key) <= 1.5);
    const v = summary.rate_p99?.[key]?.servers?.mtlsgate?.med;
    if (v !== undefined) note(`${fmtRatio(v)} ms`);
  }
  // Judged on the earlier reading (it includes the garbage of 2,000 handshakes): the conservative one.
  for (const key of ['rsa', 'ec']) {
    add(
      `idle memory per connection ≤ 1.5 × nginx (${key}; read 4 s after)`,
      med('rss_conn_early', key),
      med('rss_conn_early', key) <= 1.5,
    );
    note(ceiling('rss_conn_early', key));
  }
  for (const key of ['rsa', 'ec']) {
    add(`baseline RSS, no connections ≤ 2 × nginx (${key})`, med('rss_base', key), med('rss_base', key) <= 2);
    const v = summary.rss_base?.[key]?.servers?.mtlsgate?.med;
    if (v !== undefined) note(`${fmtRatio(v)} MiB`);
  }
  for (const key of ['rsa', 'ec']) {
    const v = scale?.hsRatio?.mtlsgate?.[key]?.med;
    add(`10,000-cert truststore ≥ 0.9 × the 2-cert handshake rate (${key})`, v, v >= 0.9);
  }
  const d =
    doctor?.find((x) => x.size === 10000 && x.key === 'ec')?.wall?.med ??
    doctor?.find((x) => x.size === 10000)?.wall?.med;
  add('doctor --json on the 10,000-cert truststore < 1 s', d, d < 1, 's');
  const check = scale?.check?.find((x) => x.size === 10000)?.wall?.med;
  add('serve --check on the 10,000-cert truststore < 1 s', check, check < 1, 's');
  for (const key of ['rsa', 'ec']) {
    const v = revocation?.ratios?.['mtlsgate/crl']?.[key]?.med;
    add(`full handshakes per core with a 100,000-entry CRL ≥ 0.95 × without (${key})`, v, v >= 0.95);
  }
  for (const key of ['rsa', 'ec']) {
    const v = revocation?.ratios?.['mtlsgate/ocsp']?.[key]?.med;
    add(`full handshakes per core with OCSP, warm cache ≥ 0.95 × without (${key})`, v, v >= 0.95);
  }
  // The whole start-up cost (read, parse, checks against the truststore) in a real gateway process.
  const load = revocation?.load?.check?.added;
  add('loading a 100,000-entry CRL < 1 s (serve --check, with − without)', load, load < 1, 's');
  for (const key of ['rsa', 'ec']) {
    const v = authz?.ratios?.authorizer?.[key]?.med;
    add(`keep-alive requests per core with a cached authorizer decision ≥ 0.9 × without (${key})`, v, v >= 0.9);
  }
  for (const key of ['rsa', 'ec']) {
    const v = authz?.ratios?.allow?.[key]?.med;
    add(`keep-alive requests per core with a 10,000-entry allow-list ≥ 0.95 × without (${key})`, v, v >= 0.95);
  }
  return t;
}

function fmtRatio(v) {
  return v === undefined || v === null || Number.isNaN(v) ? '–' : fmt(v);
}

export function targetsTable(list) {
  const lines = ['| target | mtlsgate (median) | status |', '|---|---|---|'];
  for (const x of list)
    lines.push(
      `| ${x.target} | ${x.value === null ? '–' : `${fmt(x.value)} ${x.unit}`}${x.note ? ` (${x.note})` : ''} | ${x.status === 'met' ? '**met**' : x.status} |`,
    );
  return lines.join('\n');
}
