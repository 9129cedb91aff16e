// The operator's dashboard: draws the figures of the page's JSON data block (stats-data) with
// uPlot, and draws them again from the API every minute. What is drawn stays reachable as
// window.imgDashboard ({ stats, charts }) for whoever wants to read the figures behind a chart.
(() => {
  'use strict';
  const palette = ['#2e7d32', '#c62828', '#6d6d6d', '#1565c0', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457'];
  const block = document.getElementById('stats-data');
  if (!block || typeof uPlot === 'undefined') return;
  const charts = {};
  window.imgDashboard = { stats: JSON.parse(block.textContent), charts };

  const fmtSeconds = (s) => (s == null ? '–' : s >= 90 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`);
  const pct = (r) => (r == null ? '–' : `${Math.round(r * 100)} %`);
  const text = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };

  /**
   * One chart: x in epoch seconds, then one series per entry of `lines`. Stacked: bars, each
   * series drawn as the sum of itself and those before it, the tallest first so none hides
   * another; the legend shows each series' own count.
   */
  function draw(name, id, xs, lines, opts = {}) {
    const el = document.getElementById(id);
    if (!el) return;
    charts[name]?.destroy();
    el.replaceChildren();
    let values = lines.map((l) => l.values);
    let shown = lines;
    if (opts.stacked) {
      const sums = [];
      values.forEach((v, i) => sums.push(v.map((n, j) => (n ?? 0) + (i > 0 ? sums[i - 1][j] : 0))));
      values = sums.reverse();
      shown = [...lines].reverse();
    }
    const bars = opts.stacked ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
    const series = [{}, ...shown.map((l, i) => ({
      label: l.label,
      stroke: l.color ?? palette[i % palette.length],
      fill: opts.stacked ? l.color : undefined,
      width: opts.stacked ? 1 : 2,
      dash: l.dash,
      spanGaps: !opts.stacked,
      paths: bars,
      points: { show: !opts.stacked, size: 5 },
      value: opts.stacked ? (_u, _v, _s, idx) => (idx == null ? '--' : String(l.values[idx] ?? 0)) : opts.value ? (_u, v) => opts.value(v) : undefined,
    }))];
    const yScale = opts.range ? { range: opts.range } : { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] };
    // Half a step either side, so the first and last bars are whole.
    const step = xs.length > 1 ? xs[1] - xs[0] : 3600;
    const xScale = { time: true, range: () => [xs[0] - step / 2, xs[xs.length - 1] + step / 2] };
    charts[name] = new uPlot({
      width: Math.max(280, el.clientWidth),
      height: 220,
      series,
      scales: { x: xScale, y: yScale },
      axes: [{}, { values: opts.axis ? (_u, ticks) => ticks.map(opts.axis) : undefined, size: 60 }],
      legend: { live: true },
    }, [xs, ...values], el);
  }

  function render(stats) {
    window.imgDashboard.stats = stats;
    const h = stats.hourly;
    const q = stats.queue;
    draw('builds', 'chart-builds', h.t, ['done', 'failed', 'cancelled', 'reused'].map((k, i) => ({ label: k, values: h.builds[k], color: palette[i] })), { stacked: true });
    text('total-builds', Object.entries(stats.totals.builds).map(([k, n]) => `${k} ${n}`).join(' · '));

    const types = Object.keys(h.build_seconds);
    draw('buildTime', 'chart-build-time', h.t, types.flatMap((t, i) => [
      { label: `${t} p50`, values: h.build_seconds[t].p50, color: palette[(i + 3) % palette.length] },
      { label: `${t} p95`, values: h.build_seconds[t].p95, color: palette[(i + 3) % palette.length], dash: [6, 4] },
    ]), { value: fmtSeconds, axis: fmtSeconds });
    text('total-build-time', types.map((t) => { const s = stats.totals.build_seconds[t]; return `${t}: p50 ${fmtSeconds(s.p50)}, p95 ${fmtSeconds(s.p95)} over ${s.count}`; }).join(' · ') || 'no finished build in this range');

    draw('queueDepth', 'chart-queue-depth', q.t, [{ label: 'waiting', values: q.waiting, color: palette[4] }, { label: 'building', values: q.building, color: palette[3] }]);
    draw('queueWait', 'chart-queue-wait', q.t, [{ label: 'p50', values: q.wait_p50, color: palette[5] }, { label: 'p95', values: q.wait_p95, color: palette[5], dash: [6, 4] }], { value: fmtSeconds, axis: fmtSeconds });

    // The six codes that rose most; the list names every code seen.
    const codes = stats.rising_failures.slice(0, 6).map((f) => f.code);
    draw('failures', 'chart-failures', h.t, codes.map((c, i) => ({ label: c, values: h.failures[c], color: palette[(i + 1) % palette.length] })));
    const list = document.getElementById('list-failures');
    if (list) {
      list.replaceChildren(...stats.rising_failures.map((f) => {
        const li = document.createElement('li');
        li.textContent = `${f.code}: ${f.recent} in the last quarter (${f.recent_per_hour.toFixed(2)}/h, before ${f.earlier_per_hour.toFixed(2)}/h)${f.rising ? ' rising' : ''}`;
        if (f.rising) li.className = 'rising';
        return li;
      }));
      if (stats.rising_failures.length === 0) list.textContent = 'no failure in this range';
    }

    draw('cache', 'chart-cache', h.t, [{ label: 'image', values: h.cache_hit_ratio.image, color: palette[3] }, { label: 'root fs', values: h.cache_hit_ratio.rootfs, color: palette[0] }], { range: [0, 1], value: pct, axis: pct });
    text('total-cache', Object.entries(stats.totals.cache).map(([k, c]) => `${k}: ${c.hit} hit, ${c.miss} miss (${pct(c.ratio)})`).join(' · '));

    draw('emails', 'chart-emails', h.t, ['sent', 'rejected', 'failed', 'undeliverable'].map((k, i) => ({ label: k, values: h.emails[k], color: palette[[0, 1, 4, 5][i]] })), { stacked: true });
    text('total-emails', Object.entries(stats.totals.emails).map(([k, n]) => `${k} ${n}`).join(' · '));
    text('dash-updated', `figures of ${new Date(stats.generated_at).toLocaleString()}`);
  }

  render(window.imgDashboard.stats);
  const source = block.dataset.source;
  setInterval(() => {
    fetch(source, { credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(render, () => text('dash-updated', 'the figures could not be refreshed'));
  }, 60_000);
  let resizing;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => render(window.imgDashboard.stats), 200);
  });
})();
