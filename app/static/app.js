// Frame Shift: what every page shares — theme toggle, CSRF-aware fetch, messages, formatting.
(function () {
  "use strict";
  const FS = (window.FrameShift = window.FrameShift || {});
  const root = document.documentElement;
  const THEME_KEY = "frameshift-theme";
  const systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function effectiveTheme() {
    if (root.dataset.theme === "light" || root.dataset.theme === "dark") return root.dataset.theme;
    return systemDark && systemDark.matches ? "dark" : "light";
  }

  function paintToggle() {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", "Switch to " + next + " theme");
    button.title = "Switch to " + next + " theme";
    button.dataset.current = effectiveTheme();
  }

  FS.setTheme = function (theme) {
    root.dataset.theme = theme;
    try { localStorage.setItem(THEME_KEY, theme); } catch (e) { /* private mode: not remembered */ }
    paintToggle();
  };

  document.addEventListener("DOMContentLoaded", function () {
    paintToggle();
    const button = document.getElementById("theme-toggle");
    if (button) button.addEventListener("click", () => FS.setTheme(effectiveTheme() === "dark" ? "light" : "dark"));
    if (systemDark && systemDark.addEventListener) systemDark.addEventListener("change", paintToggle);
  });

  FS.csrfToken = function () {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // Show a message in the page's alert area (errors from the server included, never a stack trace).
  FS.flash = function (message, kind) {
    const area = document.getElementById("flash");
    if (!area) return;
    const p = document.createElement("p");
    p.className = "flash flash-" + (kind || "error");
    p.textContent = message;
    area.replaceChildren(p);
    if (kind === "ok") setTimeout(() => { if (p.parentNode) p.remove(); }, 5000);
  };

  // fetch() with JSON, the CSRF header on writes, and a clear Error carrying the server's message.
  FS.api = async function (url, options) {
    const opts = Object.assign({ method: "GET", headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.method !== "GET") opts.headers["X-CSRF-Token"] = FS.csrfToken();
    if (opts.json !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    let response;
    try {
      response = await fetch(url, Object.assign({ credentials: "same-origin" }, opts));
    } catch (e) {
      throw new Error("The server could not be reached; check your connection and try again.");
    }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("application/json")) data = await response.json().catch(() => null);
    if (!response.ok) {
      const message = (data && data.error) || ("The server answered " + response.status + " " + response.statusText);
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return data;
  };

  // Fetch a server-rendered fragment (HTML) for a part of the page.
  FS.fragment = async function (url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error("Could not refresh this part of the page (" + response.status + ").");
    return response.text();
  };

  // Make the children of `box` look like `html` while keeping every element that is still there: a
  // refreshed list changes text and attributes in place instead of swapping its nodes, so a click whose
  // mousedown and mouseup straddle a refresh still lands on its button, and focus, checkbox state and
  // scroll stay. Elements with data-job-id, data-follower or id are matched by that key, the rest by
  // position and tag.
  function keyOf(node) {
    if (node.nodeType !== 1) return null;
    const key = node.getAttribute("data-job-id") || node.getAttribute("data-follower") || node.id;
    return key ? node.nodeName + "#" + key : null;
  }
  function sameKind(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && keyOf(a) === keyOf(b);
  }
  function morphNode(from, to) {
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    for (const attr of Array.from(to.attributes)) {
      if (from.getAttribute(attr.name) !== attr.value) from.setAttribute(attr.name, attr.value);
    }
    for (const attr of Array.from(from.attributes)) {
      if (!to.hasAttribute(attr.name)) from.removeAttribute(attr.name);
    }
    morphChildren(from, to);
  }
  function morphChildren(from, to) {
    const keyed = new Map();
    from.childNodes.forEach(function (node) { const key = keyOf(node); if (key) keyed.set(key, node); });
    let cursor = from.firstChild;
    Array.from(to.childNodes).forEach(function (fresh) {
      const key = keyOf(fresh);
      let match = key ? keyed.get(key) : cursor && !keyOf(cursor) && sameKind(cursor, fresh) ? cursor : null;
      if (match && !sameKind(match, fresh)) match = null;
      if (!match) { from.insertBefore(fresh, cursor); return; }
      if (key) keyed.delete(key);
      if (match === cursor) cursor = cursor.nextSibling;
      else from.insertBefore(match, cursor);
      morphNode(match, fresh);
    });
    while (cursor) { const next = cursor.nextSibling; from.removeChild(cursor); cursor = next; }
  }
  FS.morph = function (box, html) {
    const fresh = document.createElement(box.nodeName);
    fresh.innerHTML = html;
    morphChildren(box, fresh);
  };

  // The queue's pause/resume buttons and banner (queue and followers pages both have them).
  FS.showPaused = function (paused) {
    document.querySelector('[data-action="queue-pause"]').hidden = paused;
    document.querySelector('[data-action="queue-resume"]').hidden = !paused;
    document.getElementById("paused-banner").hidden = !paused;
  };

  FS.format = {
    percent: (v) => (v == null ? "" : Math.floor(v) + "%"),
    fps: (v) => (v == null ? "—" : (v >= 100 ? Math.round(v) : v.toFixed(1)) + " fps"),
    speed: (v) => (v == null ? "—" : v.toFixed(2) + "×"),
    // The one duration formatter (like app/views/ui.py human_seconds): 1h 02m, 3m 05s, 12s.
    eta: function (v) {
      if (v == null) return "—";
      const s = Math.max(0, Math.round(v));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      if (h) return h + "h " + String(m).padStart(2, "0") + "m";
      if (m) return m + "m " + String(sec).padStart(2, "0") + "s";
      return sec + "s";
    },
    // The one size formatter of the browser side (powers of 1000, like app/views/ui.py human_size).
    size: function (v) {
      if (v == null) return "—";
      const units = ["B", "KB", "MB", "GB", "TB"];
      let size = v, i = 0;
      while (Math.abs(size) >= 1000 && i < units.length - 1) { size /= 1000; i++; }
      return i === 0 ? size.toFixed(0) + " B" : size.toFixed(1) + " " + units[i];
    },
  };
})();
