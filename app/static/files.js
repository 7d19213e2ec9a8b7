// Frame Shift file browser: selection (click, shift-click ranges, page, folders) kept on the server,
// and durations fetched for the visible page only.
(function () {
  "use strict";
  const page = document.getElementById("files-page");
  if (!page) return;
  const message = document.getElementById("files-message");
  const countEl = document.getElementById("selected-count");
  const configure = document.getElementById("configure-link");
  let pending = Promise.resolve();
  let lastIndex = null;

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function say(text, kind) {
    if (!message) return;
    message.textContent = text || "";
    message.className = "files-message" + (kind ? " " + kind : "");
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) throw new Error(data.error || "the server answered " + response.status);
    return data;
  }

  function showCount(n) {
    countEl.textContent = String(n);
    if (n > 0) configure.removeAttribute("aria-disabled"); else configure.setAttribute("aria-disabled", "true");
  }

  // Every change goes to the server in order; the Configure link waits for them.
  function change(body, done) {
    pending = pending.then(() => post(page.dataset.selectionUrl, body)).then((data) => {
      showCount(data.count);
      if (done) done(data);
    }).catch((err) => { say(err.message, "error"); });
    return pending;
  }

  const rows = () => Array.from(document.querySelectorAll("#file-list tr.entry.file"));

  function setRow(row, on) {
    row.querySelector("input.pick").checked = on;
    row.classList.toggle("selected", on);
  }

  function pick(row, shift) {
    const all = rows();
    const index = all.indexOf(row);
    const on = row.querySelector("input.pick").checked;
    let range = [row];
    if (shift && lastIndex !== null && lastIndex !== index) {
      const [a, b] = lastIndex < index ? [lastIndex, index] : [index, lastIndex];
      range = all.slice(a, b + 1);
    }
    range.forEach((r) => setRow(r, on));
    syncPageBox();
    lastIndex = index;
    const paths = range.map((r) => r.dataset.path);
    change(on ? { add: paths } : { remove: paths });
  }

  document.getElementById("file-list").addEventListener("click", (event) => {
    const row = event.target.closest("tr.entry.file");
    if (!row || event.target.closest("a, button")) return;
    const box = row.querySelector("input.pick");
    if (event.target !== box) box.checked = !box.checked; // a click anywhere on the row toggles it
    if (event.shiftKey && window.getSelection) window.getSelection().removeAllRanges();
    pick(row, event.shiftKey);
  });

  document.getElementById("file-list").addEventListener("keydown", (event) => {
    // Space on a checkbox is the browser's own toggle; Shift+Space extends a range like shift-click.
    if (event.key === " " && event.shiftKey && event.target.matches("input.pick")) {
      event.preventDefault();
      event.target.checked = !event.target.checked;
      pick(event.target.closest("tr"), true);
    }
  });

  const pageBox = document.getElementById("select-page");
  // The page checkbox acts on the page's videos (other files can still be ticked one by one).
  const videoRows = () => rows().filter((r) => r.dataset.video === "1");
  function syncPageBox() {
    if (!pageBox) return;
    const all = videoRows();
    const on = all.filter((r) => r.querySelector("input.pick").checked).length;
    pageBox.checked = all.length > 0 && on === all.length;
    pageBox.indeterminate = on > 0 && on < all.length;
  }
  document.getElementById("file-list").addEventListener("change", (event) => {
    if (event.target !== pageBox) syncPageBox();
  });
  syncPageBox();
  if (pageBox) pageBox.addEventListener("change", () => {
    const all = videoRows();
    all.forEach((r) => setRow(r, pageBox.checked));
    const paths = all.map((r) => r.dataset.path);
    if (paths.length) change(pageBox.checked ? { add: paths } : { remove: paths });
  });

  function selectFolder(folder, label) {
    say("Selecting the videos in " + label + "…");
    change({ folders: [folder] }, (data) => {
      const chosen = new Set(data.paths || []);
      rows().forEach((r) => { if (chosen.has(r.dataset.path)) setRow(r, true); });
      syncPageBox();
      say(data.count + " selected (videos in " + label + " added)", "ok");
    });
  }
  // Delegated: folder rows added by the tree (files_tree.js) have the same button.
  document.getElementById("file-list").addEventListener("click", (event) => {
    const b = event.target.closest("button.select-dir");
    if (b) selectFolder(b.dataset.folder, b.closest("tr").querySelector(".dir-link").textContent.trim());
  });
  const here = document.getElementById("select-folder");
  if (here) here.addEventListener("click", () => selectFolder(here.dataset.folder, "this folder"));

  const matching = document.getElementById("select-matching");
  if (matching) matching.addEventListener("click", () => {
    const body = { matching: { path: matching.dataset.path, q: matching.dataset.q } };
    change(body, (data) => {
      const chosen = new Set(data.paths || []);
      rows().forEach((r) => { if (chosen.has(r.dataset.path)) setRow(r, true); });
      syncPageBox();
      say(data.count + " selected", "ok");
    });
  });

  const clear = document.getElementById("clear-selection");
  if (clear) clear.addEventListener("click", () => change({ clear: true }, () => {
    rows().forEach((r) => setRow(r, false));
    syncPageBox();
    say("Selection cleared", "ok");
  }));

  configure.addEventListener("click", async (event) => {
    event.preventDefault();
    await pending;
    if (countEl.textContent === "0") { say("Select at least one file first", "error"); return; }
    window.location.href = configure.href;
  });

  // Durations: probe only this page's videos that the cache lacks, a few at a time.
  const formatDuration = (s) => (s === null || s === undefined ? "?" : window.FrameShift.format.eta(s));
  async function fillDurations() {
    const wanting = Array.from(document.querySelectorAll("#file-list tr[data-needs-duration]"));
    for (let i = 0; i < wanting.length; i += 12) {
      const chunk = wanting.slice(i, i + 12);
      try {
        const data = await post(page.dataset.durationsUrl, { paths: chunk.map((r) => r.dataset.path) });
        chunk.forEach((r) => {
          if (r.dataset.path in data.durations) {
            r.querySelector(".duration").textContent = formatDuration(data.durations[r.dataset.path]);
            r.removeAttribute("data-needs-duration");
          }
        });
      } catch (err) {
        return; // durations are a nicety; the listing works without them
      }
    }
  }
  fillDurations();
})();
