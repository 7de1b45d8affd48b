/**
 * Unit tests of bench/lib/report.mjs: the pure logic that turns the benchmark's raw runs into the figures and the
 * met / not met verdicts BENCHMARKS.md claims. No benchmark is run; the inputs are built by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cell,
  fmt,
  mainTable,
  METRICS,
  stats,
  summarize,
  targets,
  targetsTable,
  type PartialRow,
  type Run,
  type Target,
} from '../../bench/lib/report.mjs';

test('stats: odd count, even count (median = mean of the middle two), unsorted input', () => {
  assert.deepEqual(stats([5, 1, 3]), { min: 1, med: 3, max: 5, n: 3 });
  assert.deepEqual(stats([10, 1, 4, 2]), { min: 1, med: 3, max: 10, n: 4 });
  assert.deepEqual(stats([7]), { min: 7, med: 7, max: 7, n: 1 });
  // Numeric, not lexicographic, order.
  assert.deepEqual(stats([100, 9, 20]), { min: 9, med: 20, max: 100, n: 3 });
});

test('stats: NaN, infinities and non-numbers are dropped; nothing left is null', () => {
  assert.deepEqual(stats([NaN, 4, Infinity, '7', null, undefined, 2, -Infinity, {}]), { min: 2, med: 3, max: 4, n: 2 });
  assert.equal(stats([]), null);
  assert.equal(stats([NaN, Infinity, '1', null]), null);
});

test('fmt: thousands separated ≥ 1000, 0/1/2 decimals from 100/10/1, two significant digits below 1', () => {
  assert.equal(fmt(1000), '1,000');
  assert.equal(fmt(1234567.6), '1,234,568');
  assert.equal(fmt(-2500), '-2,500');
  assert.equal(fmt(999.4), '999');
  assert.equal(fmt(100), '100');
  assert.equal(fmt(99.94), '99.9');
  assert.equal(fmt(10), '10.0');
  assert.equal(fmt(9.994), '9.99');
  assert.equal(fmt(1), '1.00');
  assert.equal(fmt(0.99), '0.99');
  assert.equal(fmt(0.5), '0.50');
  assert.equal(fmt(0.012345), '0.012');
  assert.equal(fmt(-0.5), '-0.50');
  // Rounding up across a threshold takes the next format: no "1000", "100.0" or "10.00".
  assert.equal(fmt(999.6), '1,000');
  assert.equal(fmt(99.96), '100');
  assert.equal(fmt(9.996), '10.0');
  assert.equal(fmt(0.9996), '1.00');
});

test('fmt: null, undefined, NaN and infinities print as a dash', () => {
  assert.equal(fmt(null), '–');
  assert.equal(fmt(undefined), '–');
  assert.equal(fmt(NaN), '–');
  assert.equal(fmt(Infinity), '–');
  assert.equal(fmt(-Infinity), '–');
});

test('cell: one run prints the value, several print min / **median** / max, none prints a dash', () => {
  assert.equal(cell({ min: 3, med: 3, max: 3, n: 1 }), '3.00');
  assert.equal(cell({ min: 900, med: 1500, max: 2000, n: 3 }), '900 / **1,500** / 2,000');
  assert.equal(cell(null), '–');
});

const run = (test: string, server: string, key: string, round: number, result: unknown): Run => ({
  test,
  server,
  key,
  round,
  result,
});
const metric = (id: string) => {
  const m = METRICS.find((x) => x.id === id);
  assert.ok(m, id);
  return m;
};

test('summarize: ratios are paired by round, not by position nor as a ratio of medians', () => {
  const hs = (server: string, round: number, v: number) =>
    run('hs', server, 'rsa', round, { per_server_core: v, rate: v * 2 });
  // mtlsgate by round: 100, 300, 900; nginx by round: 200, 100, 300, listed in the order 2, 0, 1.
  // Paired by round: 0.5, 3, 3 -> median 3. By position: 1/3, 1.5, 9 -> 1.5. Ratio of medians: 300 / 200 = 1.5.
  // Mixed in, and to be ignored: a failed run (no result) of nginx round 1 listed before the good one, and the same
  // server and round under another key and another test.
  const runs = [
    hs('mtlsgate', 0, 100),
    hs('mtlsgate', 1, 300),
    hs('mtlsgate', 2, 900),
    run('hs', 'nginx', 'rsa', 1, null),
    run('hs', 'nginx', 'ec', 2, { per_server_core: 5 }),
    run('ka', 'nginx', 'rsa', 2, { per_server_core: 7 }),
    hs('nginx', 2, 300),
    hs('nginx', 0, 200),
    hs('nginx', 1, 100),
  ];
  const s = summarize(runs, ['nginx', 'mtlsgate'], ['rsa']);
  const row = s['hs_core']?.['rsa'];
  assert.ok(row);
  assert.deepEqual(row.servers['mtlsgate'], { min: 100, med: 300, max: 900, n: 3 });
  assert.deepEqual(row.servers['nginx'], { min: 100, med: 200, max: 300, n: 3 });
  assert.deepEqual(row.ratios['nginx'], { min: 0.5, med: 3, max: 3, n: 3 });
  // Caddy was not measured: no ratio at all (not a null one).
  assert.equal('caddy' in row.ratios, false);
  // Every metric has a row for every key, even without data.
  assert.deepEqual(Object.keys(s).sort(), METRICS.map((m) => m.id).sort());
  assert.equal(s['ka_core']?.['rsa']?.servers['mtlsgate'], null);
  // A derived metric: server CPU per handshake = 1e6 / per_server_core.
  assert.deepEqual(s['hs_cpu_us']?.['rsa']?.servers['mtlsgate'], {
    min: 1e6 / 900,
    med: 1e6 / 300,
    max: 1e6 / 100,
    n: 3,
  });
});

test('summarize: a round the peer lacks (or where it measured 0) gives no ratio for that round', () => {
  const hs = (server: string, round: number, v: number) => run('hs', server, 'ec', round, { per_server_core: v });
  const runs = [
    hs('mtlsgate', 0, 100),
    hs('mtlsgate', 1, 300),
    hs('mtlsgate', 2, 900),
    hs('caddy', 0, 50),
    hs('caddy', 2, 300),
  ];
  const s = summarize(runs, ['caddy', 'mtlsgate'], ['ec']);
  // Rounds 0 and 2: 2 and 3. Round 1 (no Caddy run) is NaN and dropped, not paired with another round.
  assert.deepEqual(s['hs_core']?.['ec']?.ratios['caddy'], { min: 2, med: 2.5, max: 3, n: 2 });

  const zero = summarize(
    [hs('mtlsgate', 0, 100), hs('mtlsgate', 1, 300), hs('caddy', 0, 0), hs('caddy', 1, 100)],
    ['caddy', 'mtlsgate'],
    ['ec'],
  );
  assert.deepEqual(zero['hs_core']?.['ec']?.ratios['caddy'], { min: 3, med: 3, max: 3, n: 1 });

  const none = summarize([hs('mtlsgate', 0, 100), hs('caddy', 1, 100)], ['caddy', 'mtlsgate'], ['ec']);
  assert.equal(none['hs_core']?.['ec']?.ratios['caddy'], null);
});

test('summarize: a getter that throws (or returns a non-number) yields no value, not a crash', () => {
  // ka_p99 reads result.lat_ms.p99: this result has no lat_ms, so the getter throws a TypeError.
  assert.throws(() => metric('ka_p99').get({ per_server_core: 1000 }), TypeError);
  const runs = [
    run('ka', 'mtlsgate', 'rsa', 0, { per_server_core: 1000, rate: 4000 }),
    run('ka', 'mtlsgate', 'rsa', 1, { per_server_core: 3000, rate: 4000, lat_ms: { p99: 2 } }),
    run('ka', 'nginx', 'rsa', 0, { per_server_core: 500, rate: 4000, lat_ms: { p99: 1 } }),
    run('ka', 'nginx', 'rsa', 1, { per_server_core: 1000, rate: 4000, lat_ms: { p99: '1' } }),
  ];
  const s = summarize(runs, ['nginx', 'mtlsgate'], ['rsa']);
  const p99 = s['ka_p99']?.['rsa'];
  assert.deepEqual(p99?.servers['mtlsgate'], { min: 2, med: 2, max: 2, n: 1 });
  assert.deepEqual(p99?.servers['nginx'], { min: 1, med: 1, max: 1, n: 1 }); // the string p99 is dropped
  assert.equal(p99?.ratios['nginx'], null); // round 0: mtlsgate has none; round 1: nginx has none
  // The other metrics of the same runs are unaffected.
  assert.deepEqual(s['ka_core']?.['rsa']?.ratios['nginx'], { min: 2, med: 2.5, max: 3, n: 2 });
});

test('mainTable: header, {idleConns} filled thousands separated, empty metrics omitted, percent metrics as "N %"', () => {
  const runs: Run[] = [];
  for (const [round, g, n] of [
    [0, 800, 1000],
    [1, 700, 1000],
    [2, 900, 1000],
  ] as const) {
    runs.push(
      run('hs', 'mtlsgate', 'rsa', round, { per_server_core: g, rate: g * 4 }),
      run('hs', 'nginx', 'rsa', round, { per_server_core: n, rate: n * 4 }),
    );
  }
  runs.push(
    run('resume', 'mtlsgate', 'rsa', 0, { per_server_core: 1200, reuse_ratio: 0.974 }),
    run('resume', 'nginx', 'rsa', 0, { per_server_core: 1800, reuse_ratio: 1 }),
  );
  runs.push(
    run('rss', 'mtlsgate', 'rsa', 0, {
      earlyPerConnKiB: 60,
      perConnKiB: 50,
      withKiB: 204800,
      baseKiB: 102400,
      withPssKiB: 153600,
    }),
  );
  const servers = ['nginx', 'mtlsgate'];
  const s = summarize(runs, servers, ['rsa', 'ec']);
  const lines = mainTable(s, servers, ['rsa', 'ec'], { idleConns: 12345 }).split('\n');

  assert.equal(lines[0], '| metric | key | nginx | mtlsgate | mtlsgate ÷ nginx |');
  assert.equal(lines[1], '|---|---|---|---|---|');
  const rowOf = (id: string) =>
    lines.filter((l) => l.startsWith(`| ${metric(id).label.replace('{idleConns}', '12,345')} |`));
  assert.deepEqual(rowOf('hs_core'), [
    '| full mTLS handshakes/s per server core | rsa | 1,000 / **1,000** / 1,000 | 700 / **800** / 900 | 0.70 / **0.80** / 0.90 |',
  ]);
  // Percent: the median as "N %", and no ratio (the column is left empty).
  assert.deepEqual(rowOf('resume_ratio'), ['| ... sessions actually resumed | rsa | 100 % | 97 % |  |']);
  assert.deepEqual(rowOf('resume_core'), ['| resumed handshakes/s per server core | rsa | 1,800 | 1,200 | 0.67 |']);
  // The placeholder is filled; only mtlsgate measured, so nginx and the ratio are dashes.
  const early = lines.filter((l) => l.includes('4 s after opening'));
  assert.deepEqual(early, ['| RSS per idle mTLS connection (KiB), 4 s after opening 12,345 | rsa | – | 60.0 | – |']);
  assert.ok(!lines.some((l) => l.includes('{idleConns}')));
  // Omitted: the ec key (no runs at all) and the metrics without data (ka, rate).
  assert.ok(!lines.some((l) => l.includes('| ec |')));
  assert.deepEqual(rowOf('ka_core'), []);
  assert.deepEqual(rowOf('rate_p99'), []);
  // Rows: 3 hs + 2 resume + 5 rss metrics, plus the two header lines.
  assert.equal(lines.length, 2 + 3 + 2 + 5);
});

test('the node forwarder (the ceiling on Node) gets its own ratio and column, paired by round', () => {
  const ka = (server: string, round: number, v: number) => run('ka', server, 'ec', round, { per_server_core: v });
  const runs = [ka('mtlsgate', 0, 3000), ka('mtlsgate', 1, 2000), ka('node', 0, 4000), ka('node', 1, 4000)];
  runs.push(ka('nginx', 0, 10000), ka('nginx', 1, 8000));
  const servers = ['mtlsgate', 'node', 'nginx'];
  const s = summarize(runs, servers, ['ec']);
  assert.deepEqual(s['ka_core']?.['ec']?.ratios['node'], { min: 0.5, med: 0.625, max: 0.75, n: 2 });
  assert.deepEqual(s['ka_core']?.['ec']?.ratios['nginx'], { min: 0.25, med: 0.275, max: 0.3, n: 2 });
  const lines = mainTable(s, servers, ['ec'], { idleConns: 1 }).split('\n');
  assert.equal(lines[0], '| metric | key | mtlsgate | node | nginx | mtlsgate ÷ nginx | mtlsgate ÷ node |');
  const row = lines.find((l) => l.startsWith('| keep-alive req/s per server core'));
  assert.ok(row?.endsWith('| 0.25 / **0.28** / 0.30 | 0.50 / **0.63** / 0.75 |'), row);
});

test('mainTable: without a peer there is no ratio column', () => {
  const s = summarize([run('hs', 'mtlsgate', 'ec', 0, { per_server_core: 1500, rate: 3000 })], ['mtlsgate'], ['ec']);
  const lines = mainTable(s, ['mtlsgate'], ['ec'], { idleConns: 2000 }).split('\n');
  assert.equal(lines[0], '| metric | key | mtlsgate |');
  assert.equal(lines[2], '| full mTLS handshakes/s per server core | ec | 1,500 |');
});

// ---- targets ----------------------------------------------------------------------------------------------------

type Summ = Record<string, Record<string, PartialRow>>;
const med = (v: number) => ({ med: v });

/** One target by the start of its wording and its key. */
function judge(list: Target[], prefix: string, key: string): Target {
  const hits = list.filter((t) => t.target.startsWith(prefix) && t.target.includes(`(${key}`));
  assert.equal(hits.length, 1, `${prefix} (${key}): ${hits.length} matches`);
  return hits[0]!;
}

/** The status of one target when its figure is v; `put` places v where targets() reads it. */
function statusAt(
  put: (v: number) => Parameters<typeof targets>,
  prefix: string,
  key: string,
  v: number,
): Target['status'] {
  const t = judge(targets(...put(v)), prefix, key);
  assert.equal(t.value, v);
  return t.status;
}

const near = (x: number) => [x * (1 - 1e-9), x, x * (1 + 1e-9)] as const;

test('targets: rates (higher is better) are met from the threshold up (≥)', () => {
  const ratio =
    (id: string, peer: string) =>
    (v: number): Parameters<typeof targets> => [{ [id]: { rsa: { ratios: { [peer]: med(v) } } } } as Summ];
  const cases: [string, (v: number) => Parameters<typeof targets>, number][] = [
    ['full mTLS handshakes per core ≥ 1.1 × nginx', ratio('hs_core', 'nginx'), 1.1],
    ['resumed handshakes per core ≥ 1.1 × nginx', ratio('resume_core', 'nginx'), 1.1],
    ['keep-alive req/s per core ≥ 0.6 × nginx', ratio('ka_core', 'nginx'), 0.6],
    ['keep-alive req/s per core ≥ 2 × Caddy', ratio('ka_core', 'caddy'), 2],
    [
      '10,000-cert truststore ≥ 0.9 × the 2-cert handshake rate',
      (v) => [{}, { hsRatio: { mtlsgate: { rsa: med(v) } } }],
      0.9,
    ],
    [
      'full handshakes per core with a 100,000-entry CRL ≥ 0.95 × without',
      (v) => [{}, null, null, { ratios: { 'mtlsgate/crl': { rsa: med(v) } } }],
      0.95,
    ],
    [
      'full handshakes per core with OCSP, warm cache ≥ 0.95 × without',
      (v) => [{}, null, null, { ratios: { 'mtlsgate/ocsp': { rsa: med(v) } } }],
      0.95,
    ],
  ];
  for (const [prefix, put, x] of cases) {
    const [below, at, above] = near(x);
    assert.equal(statusAt(put, prefix, 'rsa', below), 'not met', `${prefix}: just below`);
    assert.equal(statusAt(put, prefix, 'rsa', at), 'met', `${prefix}: exactly at`);
    assert.equal(statusAt(put, prefix, 'rsa', above), 'met', `${prefix}: just above`);
  }
});

test('targets: p99 and idle memory (lower is better) are met up to the threshold (≤)', () => {
  const cases: [string, (v: number) => Parameters<typeof targets>, number][] = [
    [
      "p99 at 5,000 req/s ≤ 1.5 × nginx's",
      (v) => [{ rate_p99: { ec: { servers: { mtlsgate: med(0.4) }, ratios: { nginx: med(v) } } } }],
      1.5,
    ],
    [
      'idle memory per connection ≤ 1.5 × nginx',
      (v) => [{ rss_conn_early: { ec: { ratios: { nginx: med(v) } } } }],
      1.5,
    ],
    [
      'baseline RSS, no connections ≤ 2 × nginx',
      (v) => [{ rss_base: { ec: { servers: { mtlsgate: med(150) }, ratios: { nginx: med(v) } } } }],
      2,
    ],
  ];
  for (const [prefix, put, x] of cases) {
    const [below, at, above] = near(x);
    assert.equal(statusAt(put, prefix, 'ec', below), 'met', `${prefix}: just below`);
    assert.equal(statusAt(put, prefix, 'ec', at), 'met', `${prefix}: exactly at`);
    assert.equal(statusAt(put, prefix, 'ec', above), 'not met', `${prefix}: just above`);
  }
  // p99 is judged as a ratio to nginx's in the same run; mtlsgate's own milliseconds are the note.
  const t = judge(
    targets({ rate_p99: { ec: { servers: { mtlsgate: med(0.4) }, ratios: { nginx: med(4) } } } }),
    'p99',
    'ec',
  );
  assert.deepEqual([t.value, t.unit, t.status, t.note], [4, '×', 'not met', '0.40 ms']);
});

const isDoctor = (t: Target) => t.target.startsWith('doctor');

test('targets: doctor on the 10,000-cert truststore must take strictly less than 1 s', () => {
  const doctorAt = (v: number) =>
    targets({}, null, [
      { key: 'ec', size: 2, wall: med(0.1) },
      { key: 'ec', size: 10000, wall: med(v) },
    ]).find(isDoctor)!;
  assert.equal(doctorAt(0.999).status, 'met');
  assert.equal(doctorAt(1).status, 'not met');
  assert.equal(doctorAt(1.001).status, 'not met');
  assert.deepEqual(
    [doctorAt(0.5).target, doctorAt(0.5).value, doctorAt(0.5).unit],
    ['doctor --json on the 10,000-cert truststore < 1 s', 0.5, 's'],
  );
  // The ec run is the one judged when both were measured (whatever the order); rsa alone is used when ec is missing.
  const both = targets({}, null, [
    { key: 'rsa', size: 10000, wall: med(0.5) },
    { key: 'ec', size: 10000, wall: med(1.5) },
  ]).find(isDoctor)!;
  assert.deepEqual([both.value, both.status], [1.5, 'not met']);
  const rsaOnly = targets({}, null, [
    { key: 'rsa', size: 2, wall: med(5) },
    { key: 'rsa', size: 10000, wall: med(0.5) },
  ]).find(isDoctor)!;
  assert.deepEqual([rsaOnly.value, rsaOnly.status], [0.5, 'met']);
  // Only the 2-cert truststore: the 10,000 one was not measured.
  assert.equal(targets({}, null, [{ key: 'ec', size: 2, wall: med(0.1) }]).find(isDoctor)!.status, 'not measured');
});

test('targets: serve --check on the 10,000-cert truststore must take strictly less than 1 s', () => {
  const checkAt = (v: number) =>
    targets(
      {},
      {
        check: [
          { size: 100, wall: med(0.1) },
          { size: 10000, wall: med(v) },
        ],
      },
    ).find((t) => t.target.startsWith('serve --check'))!;
  assert.equal(checkAt(0.999).status, 'met');
  assert.equal(checkAt(1).status, 'not met');
  assert.deepEqual([checkAt(0.5).value, checkAt(0.5).unit], [0.5, 's']);
});

test("targets: handshakes (full, resumed), keep-alive and memory per connection note the Node forwarder's ratio", () => {
  const row = (g: number, nginx: number, node?: number) => ({
    servers: { mtlsgate: med(g), nginx: med(nginx), ...(node === undefined ? {} : { node: med(node) }) },
    ratios: { nginx: med(g / nginx), ...(node === undefined ? {} : { node: med(g / node) }) },
  });
  const t = targets({
    ka_core: { rsa: row(300, 1000, 400) },
    hs_core: { rsa: row(900, 1000) },
    resume_core: { rsa: row(800, 1000, 1000) },
    resume_ratio: { rsa: { servers: { mtlsgate: med(1) } } },
  });
  assert.equal(
    judge(t, 'keep-alive req/s per core ≥ 0.6', 'rsa').note,
    'Node forwarder 0.40 × nginx; mtlsgate 0.75 × it',
  );
  assert.equal(judge(t, 'full mTLS', 'rsa').note, undefined);
  assert.equal(judge(t, 'resumed', 'rsa').note, 'Node forwarder 1.00 × nginx; mtlsgate 0.80 × it');
});

test('targets: loading the 100,000-entry CRL must add strictly less than 1 s to serve --check', () => {
  const loadAt = (v: number) =>
    targets({}, null, null, { load: { check: { added: v } } }).find((t) => t.target.startsWith('loading'))!;
  assert.equal(loadAt(0.999).status, 'met');
  assert.equal(loadAt(1).status, 'not met');
  assert.deepEqual([loadAt(0.3).value, loadAt(0.3).unit], [0.3, 's']);
  // The CRL ratios are not judged on nginx's: its figure is reference only.
  const t = targets({}, null, null, { ratios: { 'nginx/crl': { rsa: med(1) } } });
  assert.equal(judge(t, 'full handshakes per core with a 100,000-entry CRL', 'rsa').status, 'not measured');
});

test('targets: missing figures (no runs, a null stats, NaN) are "not measured", never "met" or "not met"', () => {
  const empty = targets({}, null, null);
  assert.equal(empty.length, 27);
  for (const t of empty) assert.deepEqual([t.status, t.value], ['not measured', null], t.target);
  const nulls = targets({
    hs_core: { rsa: { ratios: { nginx: null } } },
    rate_p99: { rsa: { ratios: { nginx: med(NaN) } } },
  });
  assert.equal(judge(nulls, 'full mTLS', 'rsa').status, 'not measured');
  assert.equal(judge(nulls, 'p99', 'rsa').status, 'not measured');
  assert.equal(judge(nulls, 'p99', 'rsa').value, null);
});

test('targets: a resumed-handshake figure carries a note when under half the sessions were resumed', () => {
  const at = (reused: number) =>
    judge(
      targets({
        resume_core: { rsa: { ratios: { nginx: med(1.2) } } },
        resume_ratio: { rsa: { servers: { mtlsgate: med(reused) } } },
      }),
      'resumed',
      'rsa',
    );
  assert.equal(at(0.3).note, 'only 30 % of sessions resumed');
  assert.equal(at(0.3).status, 'met'); // the note qualifies the figure, it does not change the verdict
  assert.equal(at(0.5).note, undefined);
});

test('targetsTable: value with unit and note, bold "met", a dash when not measured', () => {
  const lines = targetsTable([
    { target: 'a ≥ 1', value: 1.234, status: 'met', unit: '×' },
    { target: 'b', value: 2, status: 'not met', unit: 'ms', note: 'only 30 % of sessions resumed' },
    { target: 'c', value: null, status: 'not measured', unit: 's' },
  ]).split('\n');
  assert.deepEqual(lines.slice(2), [
    '| a ≥ 1 | 1.23 × | **met** |',
    '| b | 2.00 ms (only 30 % of sessions resumed) | not met |',
    '| c | – | not measured |',
  ]);
});
