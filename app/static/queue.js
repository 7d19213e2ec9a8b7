// The queue page: live progress in place, actions, refresh of the list after changes, drag to reorder.
(function () {
  "use strict";
  const FS = window.FrameShift;
  const container = document.getElementById("queue");
  if (!container) return;
  // The "Hide finished" toggle (queue_bulk.js) sets data-hide-finished; the list is then read without them.
  const listUrl = () => {
    const args = new URLSearchParams(container.dataset.query || "");
    if (container.dataset.hideFinished === "1") args.set("hide_finished", "1");
    const query = args.toString();
    return container.dataset.listUrl + (query ? "?" + query : "");
  };
  const latest = {}; // job id -> last live progress message (newer than what the database had)
  const FINAL = ["succeeded", "failed", "cancelled"];

  function row(id) {
    return container.querySelector('li.job[data-job-id="' + id + '"]');
  }

  function setText(li, field, text) {
    const el = li.querySelector('[data-field="' + field + '"]');
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setStatus(li, status) {
    if (!status || li.dataset.status === status) return;
    li.classList.remove("status-" + li.dataset.status);
    li.classList.add("status-" + status);
    li.dataset.status = status;
    setText(li, "status", status);
  }

  // Apply a live message to a job's row: bar, numbers, follower, status.
  function paint(li, m) {
    if (m.percent != null) {
      const bar = li.querySelector("progress");
      bar.setAttribute("value", Number(m.percent).toFixed(1));
      setText(li, "percent", FS.format.percent(m.percent));
    }
    const stats = li.querySelector(".stats");
    if (m.status === "running" && stats) stats.hidden = false;
    if (m.fps !== undefined) setText(li, "fps", m.fps == null ? "—" : Number(m.fps).toFixed(1));
    if (m.speed !== undefined) setText(li, "speed", m.speed == null ? "—" : Number(m.speed).toFixed(2) + "×");
    if (m.eta !== undefined) setText(li, "eta", FS.format.eta(m.eta));
    if (m.out_size !== undefined) setText(li, "out_size", FS.format.size(m.out_size));
    if (m.follower) setText(li, "follower", m.follower);
    setStatus(li, m.status);
  }

  // Re-read the list from the server at most about once a second (counts, order, new and gone jobs).
  let refreshing = false, again = false, lastRefresh = 0, timer = null;
  function refresh() {
    if (refreshing) { again = true; return; }
    const wait = Math.max(0, 1000 - (Date.now() - lastRefresh));
    clearTimeout(timer);
    timer = setTimeout(async function () {
      refreshing = true;
      lastRefresh = Date.now();
      try {
        const html = await FS.fragment(listUrl());
        if (dragging) { again = true; return; }
        // Rows are updated in place (FS.morph); a control whose row was rebuilt gets keyboard focus back.
        const focused = document.activeElement && container.contains(document.activeElement) ? document.activeElement : null;
        const focusLi = focused && focused.closest("li.job");
        const focusKey = focusLi && focused.dataset.action
          ? 'li.job[data-job-id="' + focusLi.dataset.jobId + '"] [data-action="' + focused.dataset.action + '"]' +
            (focused.dataset.where ? '[data-where="' + focused.dataset.where + '"]' : "")
          : null;
        FS.morph(container, html);
        if (focusKey && !container.contains(document.activeElement)) {
          const target = container.querySelector(focusKey);
          if (target) target.focus();
        }
        Object.keys(latest).forEach(function (id) {
          const li = row(id);
          if (!li || li.dataset.status !== "running") { delete latest[id]; return; }
          const bar = li.querySelector("progress");
          if (Number(latest[id].percent) >= Number(bar.getAttribute("value"))) paint(li, latest[id]);
        });
        container.dispatchEvent(new CustomEvent("queue:refreshed"));
      } catch (e) {
        FS.flash(e.message);
      } finally {
        refreshing = false;
        if (again) { again = false; refresh(); }
      }
    }, wait);
  }

  FS.live.on("progress", function (m) {
    const li = row(m.id);
    if (!li) return;
    latest[m.id] = m;
    const changed = li.dataset.status !== m.status;
    paint(li, m);
    if (changed) refresh();
  });
  FS.live.on("job", function (m) {
    const li = row(m.id);
    if (li) {
      const changed = li.dataset.status !== m.status;
      if (!FINAL.includes(m.status)) paint(li, m);
      else setStatus(li, m.status);
      if (!changed && m.status !== "queued") return;
    }
    refresh();
  });
  FS.live.on("queue", function (m) { if (typeof m.paused === "boolean") FS.showPaused(m.paused); });
  FS.live.on("deleted", refresh);
  FS.live.on("cleared", refresh);
  container.addEventListener("queue:changed", refresh);
  FS.live.onResync(refresh);

  const ACTIONS = {
    cancel: (id) => FS.api("/api/jobs/" + id + "/cancel", { method: "POST" }),
    retry: (id) => FS.api("/api/jobs/" + id + "/retry", { method: "POST" }),
    delete: (id) => FS.api("/api/jobs/" + id, { method: "DELETE" }),
    move: (id, button) => FS.api("/api/jobs/" + id + "/move", { method: "POST", json: { where: button.dataset.where } }),
    "queue-pause": () => FS.api("/api/queue/pause", { method: "POST" }),
    "queue-resume": () => FS.api("/api/queue/resume", { method: "POST" }),
  };

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !ACTIONS[button.dataset.action]) return;
    const action = button.dataset.action;
    const li = button.closest("li.job");
    // aria-disabled, not disabled: a disabled button drops keyboard focus, and the list keeps it.
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    try {
      await ACTIONS[action](li ? li.dataset.jobId : null, button);
      if (action.startsWith("queue-")) FS.showPaused(action === "queue-pause");
      refresh();
    } catch (e) {
      FS.flash(e.message);
    } finally {
      button.removeAttribute("aria-disabled");
    }
  });

  // Drag and drop in the Waiting tab: drop a job on another to place it before that one.
  let dragging = null;
  container.addEventListener("dragstart", function (event) {
    const li = event.target.closest('li.job[draggable="true"]');
    if (!li) return;
    dragging = li;
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.dataset.jobId);
  });
  container.addEventListener("dragover", function (event) {
    const target = event.target.closest('li.job[draggable="true"]');
    if (!dragging || !target || target === dragging) return;
    event.preventDefault();
    container.querySelectorAll(".drop-before").forEach((el) => el.classList.remove("drop-before"));
    target.classList.add("drop-before");
  });
  container.addEventListener("dragend", function () {
    if (dragging) dragging.classList.remove("dragging");
    container.querySelectorAll(".drop-before").forEach((el) => el.classList.remove("drop-before"));
    dragging = null;
  });
  container.addEventListener("drop", async function (event) {
    const target = event.target.closest('li.job[draggable="true"]');
    const moved = dragging;
    if (!moved || !target || target === moved) return;
    event.preventDefault();
    dragging = null;
    target.parentNode.insertBefore(moved, target);
    try {
      await FS.api("/api/jobs/" + moved.dataset.jobId + "/move", { method: "POST", json: { where: "before", before: Number(target.dataset.jobId) } });
    } catch (e) {
      FS.flash(e.message);
    }
    refresh();
  });
})();
