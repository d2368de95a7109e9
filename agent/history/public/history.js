// edgecam history: counts per interval for each line, direction and class, speeds (V85
// and mean) over time, the speed distribution, and the latest crossings with their
// evidence photos, from the agent's /api/*.json (uPlot draws the charts).
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path, params = {}) => {
    const q = new URLSearchParams(params);
    if (token) q.set('token', token);
    const s = q.toString();
    return s ? `${path}?${s}` : path;
  };
  const $ = (id) => document.getElementById(id);
  const COLOURS = ['#1e88e5', '#e53935', '#43a047', '#fb8c00', '#8e24aa', '#00acc1', '#6d4c41', '#c0ca33', '#d81b60', '#546e7a'];
  let days = 1;
  let charts = [];
  $('live').href = withToken('./');

  const el = (tag, props = {}, children = []) => {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  };
  const width = () => Math.max(320, Math.min(560, document.body.clientWidth - 40));

  /** Sums the rows' counts into buckets of `size` seconds: one series per direction and class. */
  function countSeries(rows, size) {
    const keys = [...new Set(rows.filter((r) => r.class_name !== '*').map((r) => `${r.direction} · ${r.class_name}`))].sort();
    const buckets = new Map();
    for (const r of rows) {
      const t = Math.floor(Date.parse(r.start) / 1000 / size) * size;
      if (!buckets.has(t)) buckets.set(t, new Map());
      if (r.class_name === '*') continue;
      const key = `${r.direction} · ${r.class_name}`;
      const b = buckets.get(t);
      b.set(key, (b.get(key) ?? 0) + r.count);
    }
    const xs = [...buckets.keys()].sort((a, b) => a - b);
    const totals = Object.fromEntries(keys.map((k) => [k, 0]));
    const ys = keys.map((k) =>
      xs.map((x) => {
        const v = buckets.get(x).get(k) ?? 0;
        totals[k] += v;
        return v;
      }),
    );
    return { keys, xs, ys, totals };
  }

  function chart(title, series, data, opts = {}) {
    const box = el('div', { className: 'chart' });
    const u = new uPlot(
      {
        title,
        width: width(),
        height: 220,
        // A time chart spans the whole range asked for, however few intervals are in it yet.
        scales: { x: opts.time === false ? { time: false } : { time: true, range: () => [Math.floor(Date.now() / 1000) - days * 86_400, Math.ceil(Date.now() / 1000)] } },
        axes: [{}, { label: opts.yLabel ?? '' }],
        series: [{ label: opts.xLabel ?? 'time' }, ...series.map((s, i) => ({ stroke: COLOURS[i % COLOURS.length], width: 2, ...s }))],
      },
      data,
      box,
    );
    charts.push(u);
    return box;
  }

  function drawLine(name, rows, unit, bin) {
    // Buckets of 15 min (a day) or an hour (a week), or of the interval when it is longer.
    const interval = rows.reduce((a, r) => Math.max(a, (Date.parse(r.end) - Date.parse(r.start)) / 1000), 0);
    const size = Math.max(days === 1 ? 900 : 3600, Math.ceil(interval));
    const counts = countSeries(rows, size);
    const all = rows.filter((r) => r.class_name === '*');
    const directions = [...new Set(all.map((r) => r.direction))];
    const times = [...new Set(all.map((r) => Math.floor(Date.parse(r.start) / 1000)))].sort((a, b) => a - b);
    const speedOf = (direction, field) => times.map((t) => all.find((r) => r.direction === direction && Math.floor(Date.parse(r.start) / 1000) === t)?.[field] ?? null);
    const speedSeries = directions.flatMap((d) => [
      { label: `${d} V85`, field: 'speed_p85', d },
      { label: `${d} mean`, field: 'speed_mean', d, dash: [4, 4] },
    ]);
    const histogram = new Array(16).fill(0);
    for (const r of all) if (r.speed_histogram) r.speed_histogram.forEach((v, i) => (histogram[i] += v));
    const bars = uPlot.paths.bars({ size: [0.8] });
    const section = el('div', { className: 'line' }, [el('h2', { textContent: `line ${name}` })]);
    const row = el('div', { className: 'charts' });
    row.append(
      chart(
        `${name}: crossings per ${size >= 3600 ? `${size / 3600} h` : `${size / 60} min`}`,
        counts.keys.map((k) => ({ label: k })),
        [counts.xs, ...counts.ys],
        { yLabel: 'crossings' },
      ),
      chart(
        `${name}: speed (${unit})`,
        speedSeries.map((s) => ({ label: s.label, dash: s.dash, spanGaps: false, points: { show: true } })),
        [times, ...speedSeries.map((s) => speedOf(s.d, s.field))],
        {
          yLabel: unit,
        },
      ),
      chart(`${name}: speed distribution`, [{ label: 'crossings', paths: bars, fill: '#1e88e566', points: { show: false } }], [histogram.map((_, i) => i * bin), histogram], {
        time: false,
        xLabel: `from (${unit})`,
        yLabel: 'crossings',
      }),
    );
    section.append(row);
    return { section, summary: { counts: counts.totals, histogram, intervals: times.length } };
  }

  async function getJson(path, params) {
    const res = await fetch(withToken(path, params));
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  async function load() {
    const from = new Date(Date.now() - days * 86_400_000).toISOString();
    const [stats, latest] = await Promise.all([getJson('api/stats.json', { from }), getJson('api/crossings.json', { latest: '20' })]);
    for (const u of charts) u.destroy();
    charts = [];
    const summary = {};
    const lines = [...new Set(stats.map((r) => r.line))].sort();
    const sections = lines.map((name) => {
      const rows = stats.filter((r) => r.line === name);
      const drawn = drawLine(name, rows, rows[0]?.unit ?? '', rows[0]?.speed_bin ?? 10);
      summary[name] = drawn.summary;
      return drawn.section;
    });
    $('lines').replaceChildren(...(sections.length ? sections : [el('p', { className: 'muted', textContent: 'No intervals recorded in this range yet.' })]));
    $('crossings')
      .querySelector('tbody')
      .replaceChildren(
        ...latest.map((c) =>
          el('tr', {}, [
            el('td', { textContent: new Date(c.time).toLocaleString() }),
            el('td', { textContent: c.line }),
            el('td', { textContent: c.direction }),
            el('td', { textContent: `${c.class_name} #${c.track_id}` }),
            el('td', { textContent: c.speed === undefined ? '–' : `${c.speed} ± ${c.error_estimate} ${c.unit}` }),
            el(
              'td',
              {},
              c.evidence
                ? [el('a', { href: withToken(c.evidence.slice(1)) }, [el('img', { src: withToken(c.evidence.slice(1)), alt: `evidence ${c.class_name} #${c.track_id}` })])]
                : [],
            ),
          ]),
        ),
      );
    $('status').textContent = `${stats.length} interval rows, updated ${new Date().toLocaleTimeString()}`;
    // What the charts show, for tests and for anyone reading the page's numbers.
    window.edgecamHistory = { days, lines: summary, crossings: latest.length };
    document.body.dataset.ready = String(Date.now());
  }

  const refresh = () =>
    load().catch((err) => {
      $('status').textContent = String(err.message ?? err);
    });
  for (const b of document.querySelectorAll('[data-days]'))
    b.addEventListener('click', () => {
      days = Number(b.dataset.days);
      for (const x of document.querySelectorAll('[data-days]')) x.classList.toggle('on', x === b);
      void refresh();
    });
  void refresh();
  setInterval(refresh, 60_000);
})();
