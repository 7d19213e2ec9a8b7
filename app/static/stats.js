// Statistics page: draws the charts with uPlot from the figures embedded in the page (the same JSON as
// GET /api/stats). Every chart has its numbers in a table beside it; charts follow the theme and the width.
(function () {
  "use strict";
  const source = document.getElementById("stats-data");
  if (!source || typeof uPlot === "undefined") return;
  const figures = JSON.parse(source.textContent);
  const DAY = 86400;
  let charts = [];

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function theme() {
    return {
      fg: cssVar("--fg"), muted: cssVar("--muted"), grid: cssVar("--border"),
      colors: [cssVar("--accent"), cssVar("--ok"), cssVar("--bad"), cssVar("--warn"), cssVar("--info")],
      ok: cssVar("--ok"), bad: cssVar("--bad"), warn: cssVar("--warn"), accent: cssVar("--accent"),
    };
  }

  function translucent(color, alpha) {
    return /^#[0-9a-f]{6}$/i.test(color) ? color + alpha : color;
  }

  const size = (bytes) => window.FrameShift.format.size(bytes);
  const seconds = (value) => window.FrameShift.format.eta(value);

  function percent(value) {
    const p = value * 100;
    return p.toFixed(Math.abs(p) < 1 && p !== 0 ? 2 : Math.abs(p) < 10 ? 1 : 0) + " %";
  }

  function height(el) {
    return el.clientWidth < 500 ? 190 : 240;
  }

  function axis(t, extra) {
    return Object.assign({ stroke: t.fg, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1 } }, extra);
  }

  function empty(el) {
    el.textContent = "Nothing to chart for this period.";
    el.classList.add("chart-empty");
    return null;
  }

  // Bars over named categories; several series stand side by side (before/after).
  function categoryChart(el, t, labels, series, format) {
    if (!labels.length) return empty(el);
    const width = el.clientWidth;
    const crowded = labels.length * 70 > width;
    const n = series.length;
    const short = (text) => (crowded && text.length > 14 ? text.slice(0, 13) + "…" : text);
    return new uPlot({
      width, height: height(el) + (crowded ? 40 : 0),
      legend: { show: n > 1 },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: () => [-0.5, labels.length - 0.5] },
        y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        axis(t, {
          grid: { show: false },
          splits: () => labels.map((_, i) => i),
          values: (u, splits) => splits.map((i) => short(labels[i] || "")),
          rotate: crowded ? -45 : 0,
          size: crowded ? 80 : 40,
        }),
        axis(t, { values: (u, splits) => splits.map(format), size: 70 }),
      ],
      series: [
        { value: (u, i) => (i == null ? "" : labels[i] || "") },
        ...series.map((s, k) => ({
          label: s.label,
          stroke: s.color,
          fill: translucent(s.color, "cc"),
          width: 1,
          points: { show: false },
          value: (u, v) => (v == null ? "—" : format(v)),
          paths: uPlot.paths.bars({ size: [n > 1 ? 0.4 : 0.6, 80], align: n > 1 ? (k === 0 ? -1 : 1) : 0 }),
        })),
      ],
    }, [labels.map((_, i) => i), ...series.map((s) => s.values)], el);
  }

  // One point per UTC day; bars per day, optionally stacked (drawn tallest first) and a line on a second scale.
  function dayChart(el, t, bars, line) {
    const days = figures.days;
    if (!days.length) return empty(el);
    const x = days.map((d) => Date.parse(d.day + "T00:00:00Z") / 1000);
    const stacked = bars.map((_, k) => days.map((_, i) => bars.slice(0, k + 1).reduce((sum, b) => sum + b.values[i], 0)));
    const order = bars.map((_, k) => k).reverse();
    const series = [{ value: (u, ts) => (ts == null ? "" : new Date(ts * 1000).toISOString().slice(0, 10)) }];
    const data = [x];
    for (const k of order) {
      const b = bars[k];
      series.push({
        label: b.label, stroke: b.color, fill: translucent(b.color, "cc"), width: 1, scale: "y",
        points: { show: false },
        value: (u, v, si, i) => (i == null ? "—" : b.format(b.values[i])),
        paths: uPlot.paths.bars({ size: [0.8, 40] }),
      });
      data.push(stacked[k]);
    }
    const axes = [
      axis(t, { grid: { show: false } }),
      axis(t, { values: (u, splits) => splits.map(bars[0].format), size: 70 }),
    ];
    const scales = {
      x: { time: true, range: (u, min, max) => [min - DAY / 2, max + DAY / 2] },
      y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
    };
    if (line) {
      series.push({
        label: line.label, stroke: line.color, width: 2, scale: "line", points: { show: days.length < 40 },
        value: (u, v) => (v == null ? "—" : line.format(v)),
      });
      data.push(line.values);
      scales.line = { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] };
      axes.push(axis(t, { scale: "line", side: 1, grid: { show: false }, values: (u, splits) => splits.map(line.format), size: 70 }));
    }
    return new uPlot({
      width: el.clientWidth, height: height(el),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: false, y: false } },
      scales, axes, series,
    }, data, el);
  }

  function beforeAfter(kind, t) {
    const names = [];
    for (const row of figures[kind].before.concat(figures[kind].after)) if (!names.includes(row.name)) names.push(row.name);
    const count = (list, name) => (list.find((r) => r.name === name) || { jobs: 0 }).jobs;
    return categoryChart(document.getElementById("chart-" + kind), t, names, [
      { label: "Before", color: t.muted, values: names.map((n) => count(figures[kind].before, n)) },
      { label: "After", color: t.accent, values: names.map((n) => count(figures[kind].after, n)) },
    ], (v) => String(Math.round(v)));
  }

  function histogram(key, t) {
    const rows = figures.durations[key].histogram;
    return categoryChart(document.getElementById("chart-" + key), t, rows.map((h) => seconds(h.from) + "–" + seconds(h.to)),
      [{ label: "Jobs", color: key === "wait" ? t.warn : t.accent, values: rows.map((h) => h.jobs) }], (v) => String(Math.round(v)));
  }

  function draw() {
    charts.forEach((c) => c && c.destroy());
    document.querySelectorAll(".chart").forEach((el) => { el.textContent = ""; el.classList.remove("chart-empty"); });
    const t = theme();
    const days = figures.days;
    const count = (v) => String(Math.round(v));
    charts = [
      dayChart(document.getElementById("chart-saved"), t,
        [{ label: "Saved that day", color: t.ok, values: days.map((d) => d.saved_bytes), format: size }],
        { label: "Saved so far", color: t.accent, values: days.map((d) => d.saved_cumulative), format: size }),
      categoryChart(document.getElementById("chart-folders"), t, figures.folders.map((f) => f.folder),
        [{ label: "Saved", color: t.ok, values: figures.folders.map((f) => f.saved_bytes) }], size),
      dayChart(document.getElementById("chart-outcomes"), t, [
        { label: "Succeeded", color: t.ok, values: days.map((d) => d.succeeded), format: count },
        { label: "Failed", color: t.bad, values: days.map((d) => d.failed), format: count },
        { label: "Cancelled", color: t.warn, values: days.map((d) => d.cancelled), format: count },
      ]),
      categoryChart(document.getElementById("chart-followers"), t, figures.followers.map((f) => f.name),
        [{ label: "Busy share", color: t.accent, values: figures.followers.map((f) => f.busy_share || 0) }], percent),
      beforeAfter("codecs", t),
      beforeAfter("containers", t),
      categoryChart(document.getElementById("chart-ratio"), t, figures.size_ratio.map((r) => r.codec + " " + r.preset),
        [{ label: "Output ÷ input", color: t.accent, values: figures.size_ratio.map((r) => r.ratio || 0) }], percent),
      histogram("wait", t),
      histogram("conversion", t),
    ];
    // Tests and scripts can tell a redraw happened (after a theme change) from this counter.
    document.documentElement.dataset.chartsDrawn = String(Number(document.documentElement.dataset.chartsDrawn || 0) + 1);
  }

  let pending = null;
  function redrawSoon() {
    clearTimeout(pending);
    pending = setTimeout(draw, 150);
  }

  draw();
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth !== lastWidth) { lastWidth = window.innerWidth; redrawSoon(); }
  });
  // Colours come from the theme's variables: draw again when the theme changes (toggle or system).
  new MutationObserver(redrawSoon).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawSoon);
})();
