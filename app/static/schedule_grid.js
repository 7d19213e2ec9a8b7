// A weekly 7x24 grid of hour toggles (168 flags, Monday 00:00 first), used for a library's hours and the
// whole queue's. Keyboard: Tab reaches the grid once; arrow keys, Home and End move; Space or Enter toggles.
// Mouse or touch: press on an hour and drag to paint more hours the same way. A day or hour heading toggles
// its whole row or column. The summary under it says the hours in words, as the server does.
(function () {
  "use strict";
  const FS = window.FrameShift;
  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const HOURS = 168;
  const pad = (h) => String(h).padStart(2, "0") + ":00";

  // The same words as app/services/schedules.py describe().
  function describe(flags) {
    if (!flags || flags.every(Boolean)) return "any time";
    const groups = new Map();
    for (let d = 0; d < 7; d++) {
      const day = flags.slice(d * 24, d * 24 + 24).map((f) => (f ? 1 : 0));
      if (!day.some(Boolean)) continue;
      const key = day.join("");
      if (!groups.has(key)) groups.set(key, { day: day, days: [] });
      groups.get(key).days.push(d);
    }
    if (!groups.size) return "at no hour";
    const parts = [];
    groups.forEach(function (g) {
      let days;
      if (g.days.length === 7) days = "every day";
      else {
        const runs = [];
        g.days.forEach((d) => { const last = runs[runs.length - 1]; if (last && last[last.length - 1] === d - 1) last.push(d); else runs.push([d]); });
        days = runs.map((r) => (r.length === 1 ? DAYS[r[0]] : DAYS[r[0]] + "-" + DAYS[r[r.length - 1]])).join(" & ");
      }
      let hours;
      if (g.day.every(Boolean)) hours = "all day";
      else {
        const ranges = []; let start = null;
        g.day.concat([0]).forEach(function (f, h) {
          if (f && start === null) start = h;
          else if (!f && start !== null) { ranges.push(pad(start) + "-" + pad(h)); start = null; }
        });
        hours = ranges.join(" & ");
      }
      parts.push(days + " " + hours);
    });
    return parts.join(", ");
  }

  function button(text, label, extra) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    Object.assign(b, extra || {});
    return b;
  }

  // Build the grid inside container; returns { get(), set(flags) }. get() gives 168 booleans.
  FS.scheduleGrid = function (container, options) {
    const opts = options || {};
    let flags = new Array(HOURS).fill(true);
    const cells = [];
    const table = document.createElement("table");
    table.className = "schedule-grid";
    table.setAttribute("role", "grid");
    table.setAttribute("aria-label", opts.label || "Hours of the week");
    const head = table.createTHead().insertRow();
    head.appendChild(document.createElement("td"));
    for (let h = 0; h < 24; h++) {
      const th = document.createElement("th");
      th.scope = "col";
      th.appendChild(button(h % 3 === 0 ? String(h) : "", "Switch " + pad(h) + " on every day", { className: "hour", tabIndex: -1 }));
      th.firstChild.dataset.hour = h;
      head.appendChild(th);
    }
    const body = table.createTBody();
    DAYS.forEach(function (day, d) {
      const row = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.appendChild(button(day, "Switch every hour of " + day, { className: "day", tabIndex: -1 }));
      th.firstChild.dataset.day = d;
      row.appendChild(th);
      for (let h = 0; h < 24; h++) {
        const td = row.insertCell();
        td.setAttribute("role", "gridcell");
        const b = button("", day + " " + pad(h) + "-" + pad(h + 1), { className: "cell", tabIndex: -1 });
        b.dataset.index = d * 24 + h;
        td.appendChild(b);
        cells.push(b);
      }
    });
    const summary = document.createElement("p");
    summary.className = "help schedule-summary";
    summary.setAttribute("aria-live", "polite");
    const tools = document.createElement("div");
    tools.className = "actions schedule-tools";
    const all = button("Any time", null, { className: "button small" });
    const none = button("No hours", null, { className: "button small" });
    tools.append(all, none);
    container.replaceChildren(table, summary, tools);
    cells[0].tabIndex = 0;

    function render() {
      cells.forEach((b, i) => { b.setAttribute("aria-pressed", flags[i] ? "true" : "false"); });
      summary.textContent = "Work may start: " + describe(flags) + (opts.zone ? " (" + opts.zone + ")" : "") + ".";
    }
    function changed() { render(); if (opts.onChange) opts.onChange(flags.slice()); }
    function setMany(indexes) {
      const value = !indexes.every((i) => flags[i]);
      indexes.forEach((i) => { flags[i] = value; });
      changed();
    }
    function focusCell(i) {
      cells.forEach((b) => { b.tabIndex = -1; });
      cells[i].tabIndex = 0;
      cells[i].focus();
    }

    let paint = null;
    table.addEventListener("pointerdown", function (e) {
      const b = e.target.closest("button.cell");
      if (!b || e.button !== 0) return;
      const i = Number(b.dataset.index);
      paint = !flags[i];
      flags[i] = paint;
      changed();
      focusCell(i);
      e.preventDefault();
    });
    table.addEventListener("pointerover", function (e) {
      const b = e.target.closest("button.cell");
      if (!b || paint === null || !e.buttons) return;
      const i = Number(b.dataset.index);
      if (flags[i] !== paint) { flags[i] = paint; changed(); }
      focusCell(i); // the keyboard goes on from where the pointer stopped
    });
    document.addEventListener("pointerup", function () { paint = null; });
    table.addEventListener("click", function (e) {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.classList.contains("cell")) {
        if (e.detail !== 0) return; // a pointer's press already toggled it; detail 0: Space or Enter
        const i = Number(b.dataset.index);
        flags[i] = !flags[i];
        changed();
      } else if (b.dataset.day !== undefined) {
        const d = Number(b.dataset.day);
        setMany(Array.from({ length: 24 }, (_, h) => d * 24 + h));
      } else if (b.dataset.hour !== undefined) {
        const h = Number(b.dataset.hour);
        setMany(Array.from({ length: 7 }, (_, d) => d * 24 + h));
      }
    });
    table.addEventListener("keydown", function (e) {
      const b = e.target.closest("button.cell");
      if (!b) return;
      const i = Number(b.dataset.index);
      const d = Math.floor(i / 24), h = i % 24;
      const moves = {
        ArrowLeft: d * 24 + Math.max(0, h - 1), ArrowRight: d * 24 + Math.min(23, h + 1),
        ArrowUp: Math.max(0, d - 1) * 24 + h, ArrowDown: Math.min(6, d + 1) * 24 + h,
        Home: d * 24, End: d * 24 + 23,
      };
      if (e.key in moves) { e.preventDefault(); focusCell(moves[e.key]); }
    });
    all.addEventListener("click", () => { flags.fill(true); changed(); });
    none.addEventListener("click", () => { flags.fill(false); changed(); });

    render();
    return {
      get: () => flags.slice(),
      set: function (next) {
        flags = next && next.length === HOURS ? next.map(Boolean) : new Array(HOURS).fill(true);
        render();
      },
      describe: describe,
    };
  };
})();
