// Frame Shift file browser: folders expand in place as a tree (each level read from GET /api/files).
(function () {
  "use strict";
  const page = document.getElementById("files-page");
  const table = document.getElementById("file-list");
  if (!page || !table) return;
  const body = table.tBodies[0];
  const here = new URLSearchParams(window.location.search);
  const KEEP = ["sort", "order", "videos", "hidden", "hide_converted"];
  const LIMIT = 1000;

  function cell(row, className) {
    const td = row.insertCell();
    if (className) td.className = className;
    return td;
  }

  function mtime(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
  }

  function folderLink(path) {
    const args = new URLSearchParams({ path: path });
    KEEP.forEach((k) => { if (here.get(k)) args.set(k, here.get(k)); });
    return window.location.pathname + "?" + args.toString();
  }

  // Rows are built with DOM calls and textContent only: a file name is never read as HTML.
  function entryRow(e, depth) {
    const row = document.createElement("tr");
    row.dataset.path = e.path;
    row.dataset.depth = String(depth);
    row.style.setProperty("--depth", String(depth));
    if (e.is_dir) {
      row.className = "entry dir";
      row.dataset.kind = "dir";
      const plus = document.createElement("button");
      plus.type = "button";
      plus.className = "button small select-dir";
      plus.dataset.folder = e.path;
      plus.textContent = "+";
      plus.title = "Select every video inside";
      plus.setAttribute("aria-label", "Select the videos in " + e.name);
      cell(row).appendChild(plus);
      const name = cell(row);
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "tree-toggle";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-label", "Show what is in " + e.name + " here");
      toggle.textContent = "▸";
      const link = document.createElement("a");
      link.className = "dir-link";
      link.href = folderLink(e.path);
      const icon = document.createElement("span");
      icon.setAttribute("aria-hidden", "true");
      icon.textContent = "📁 ";
      link.append(icon, e.name);
      name.append(toggle, link);
      cell(row, "num");
      cell(row, "num");
      cell(row, "codec");
      cell(row, "num resolution");
      cell(row, "num bitrate");
    } else {
      row.className = "entry file" + (e.selected ? " selected" : "");
      row.dataset.kind = "file";
      if (e.video && !e.output) row.dataset.video = "1";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "pick";
      box.checked = !!e.selected;
      box.setAttribute("aria-label", "Select " + e.name);
      cell(row).appendChild(box);
      const name = cell(row, "name");
      const label = document.createElement("span");
      label.className = "file-name";
      label.textContent = e.name;
      name.appendChild(label);
      if (e.converted) {
        const badge = document.createElement("span");
        badge.className = "badge converted";
        badge.textContent = "converted";
        name.append(" ", badge);
      }
      cell(row, "num").textContent = e.size == null ? "" : window.FrameShift.format.size(e.size);
      cell(row, "num duration").textContent = e.duration == null ? "" : window.FrameShift.format.eta(e.duration);
      // From a library's probe (media_facts), blank when not known.
      cell(row, "codec").textContent = e.video_codec || "";
      cell(row, "num resolution").textContent = e.width && e.height ? e.width + "×" + e.height : "";
      cell(row, "num bitrate").textContent = e.bitrate ? Math.round(e.bitrate / 1000).toLocaleString("en") + " kb/s" : "";
    }
    cell(row).textContent = mtime(e.mtime);
    return row;
  }

  function depthOf(row) {
    return Number(row.dataset.depth || 0);
  }

  function collapse(row) {
    const depth = depthOf(row);
    let next = row.nextElementSibling;
    while (next && next.dataset.depth && depthOf(next) > depth) {
      const gone = next;
      next = next.nextElementSibling;
      gone.remove();
    }
  }

  async function expand(row, toggle) {
    const args = new URLSearchParams({ path: row.dataset.path, limit: String(LIMIT) });
    KEEP.forEach((k) => { if (here.get(k)) args.set(k, here.get(k)); });
    const response = await fetch(page.dataset.listUrl + "?" + args.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "the server answered " + response.status);
    const depth = depthOf(row) + 1;
    const rows = data.entries.map((e) => entryRow(e, depth));
    if (!rows.length || data.next_cursor) {
      const note = document.createElement("tr");
      note.className = "tree-note";
      note.dataset.depth = String(depth);
      note.style.setProperty("--depth", String(depth));
      cell(note);
      const td = cell(note, "empty");
      td.colSpan = 7;
      if (rows.length) {
        const more = document.createElement("a");
        more.href = folderLink(row.dataset.path);
        more.textContent = "More in this folder: open it";
        td.appendChild(more);
      } else {
        td.textContent = "Empty";
      }
      rows.push(note);
    }
    row.after(...rows);
    toggle.setAttribute("aria-expanded", "true");
    toggle.textContent = "▾";
  }

  body.addEventListener("click", async (event) => {
    const toggle = event.target.closest("button.tree-toggle");
    if (!toggle) return;
    const row = toggle.closest("tr");
    if (!row.dataset.depth) row.dataset.depth = "0";
    if (toggle.getAttribute("aria-expanded") === "true") {
      collapse(row);
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = "▸";
      return;
    }
    if (toggle.getAttribute("aria-busy") === "true") return;
    toggle.setAttribute("aria-busy", "true");
    try {
      await expand(row, toggle);
    } catch (err) {
      const message = document.getElementById("files-message");
      if (message) { message.textContent = err.message; message.className = "files-message error"; }
    } finally {
      toggle.removeAttribute("aria-busy");
    }
  });
})();
