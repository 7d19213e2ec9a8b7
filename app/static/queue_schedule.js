// The Followers page's "Queue hours": the whole queue's weekly grid, saved with PUT /api/queue/schedule.
(function () {
  "use strict";
  const FS = window.FrameShift;
  const box = document.getElementById("queue-schedule");
  if (!box) return;
  const grid = FS.scheduleGrid(box, { label: "Hours when the queue may start jobs", zone: box.dataset.zone });
  grid.set(JSON.parse(box.dataset.schedule || "null"));
  const save = document.getElementById("queue-hours-save");
  save.addEventListener("click", async function () {
    save.disabled = true;
    try {
      const state = await FS.api("/api/queue/schedule", { method: "PUT", json: { schedule: grid.get() } });
      document.getElementById("queue-hours-text").textContent = state.text;
      FS.flash("Queue hours saved: " + state.text + ".", "ok");
    } catch (e) {
      FS.flash(e.message, "error");
    }
    save.disabled = false;
  });
})();
