// The queue's bulk actions (cancel all, retry all failed, clear finished), each confirmed with the count it
// will act on, and the "Hide finished" toggle remembered per browser (localStorage).
(function () {
  "use strict";
  const FS = window.FrameShift;
  const container = document.getElementById("queue");
  if (!container) return;
  const STORE = "frameshift.queue.hideFinished";
  const plural = (n, one) => n + " " + one + (n === 1 ? "" : "s");

  const BULK = {
    "cancel-all": {
      count: (c) => c.queued + c.dispatched + c.running,
      question: (c) => "Cancel " + plural(c.queued, "waiting job") + " and stop " +
        plural(c.dispatched + c.running, "running job") + "?",
      none: "No waiting or running job to cancel.",
      run: () => FS.api("/api/jobs/cancel-all", { method: "POST", json: {} }),
      done: (d) => "Cancelled " + plural(d.cancelled, "waiting job") + "; stopping " + plural(d.stopping, "running job") + ".",
    },
    "retry-failed": {
      count: (c) => c.failed,
      question: (c) => "Queue " + plural(c.failed, "failed job") + " again?",
      none: "No failed job to retry.",
      run: () => FS.api("/api/jobs/retry-failed", { method: "POST", json: {} }),
      done: (d) => "Queued " + plural(d.retried, "failed job") + " again." +
        (d.skipped ? " " + plural(d.skipped, "job") + " skipped: " + d.skipped_jobs.map((j) => j.name + " (" + j.reason + ")").join("; ") : ""),
    },
    clear: {
      count: (c) => c.succeeded + c.failed + c.cancelled,
      question: (c) => "Remove " + plural(c.succeeded + c.failed + c.cancelled, "finished job") + " from the list (" +
        c.succeeded + " succeeded, " + c.failed + " failed, " + c.cancelled + " cancelled)?",
      none: "No finished job to remove.",
      run: () => FS.api("/api/jobs/clear", { method: "POST", json: {} }),
      done: (d) => "Removed " + d.cleared + " finished jobs.",
    },
  };

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-bulk]");
    if (!button || !BULK[button.dataset.bulk]) return;
    const bulk = BULK[button.dataset.bulk];
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    try {
      // The count comes from the server at the moment of asking, not from a tab that may lag behind.
      const counts = (await FS.api("/api/jobs?per_page=1")).counts;
      if (!bulk.count(counts)) { FS.flash(bulk.none, "ok"); return; }
      if (!window.confirm(bulk.question(counts))) return;
      const data = await bulk.run();
      FS.flash(bulk.done(data), "ok");
      container.dispatchEvent(new CustomEvent("queue:changed"));
    } catch (e) {
      FS.flash(e.message);
    } finally {
      button.removeAttribute("aria-disabled");
    }
  });

  const toggle = document.getElementById("hide-finished");
  if (!toggle) return;
  function stored() {
    try { return window.localStorage.getItem(STORE) === "1"; } catch (e) { return false; }
  }
  // Only the "All" tab mixes finished jobs with the others; a status tab shows what it names.
  const allTab = !new URLSearchParams(container.dataset.query || "").get("status");
  function apply(on, reload) {
    toggle.checked = on;
    container.dataset.hideFinished = on ? "1" : "0";
    container.classList.toggle("hide-finished", on && allTab);
    if (reload) container.dispatchEvent(new CustomEvent("queue:changed"));
  }
  toggle.addEventListener("change", function () {
    try { window.localStorage.setItem(STORE, toggle.checked ? "1" : "0"); } catch (e) { /* private mode: this page only */ }
    apply(toggle.checked, true);
  });
  if (stored()) apply(true, true);
})();
