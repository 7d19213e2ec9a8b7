// The job page: live progress, refresh after a status change, cancel/retry/remove.
(function () {
  "use strict";
  const FS = window.FrameShift;
  const box = document.getElementById("job");
  if (!box) return;
  const id = Number(box.dataset.jobId);

  function set(field, text) {
    const el = box.querySelector('[data-field="' + field + '"]');
    if (el) el.textContent = text;
  }

  async function reload() {
    try {
      box.innerHTML = await FS.fragment(box.dataset.panelUrl);
    } catch (e) {
      FS.flash(e.message);
    }
  }

  FS.live.on("progress", function (m) {
    if (m.id !== id) return;
    const head = box.querySelector("[data-status]");
    if (head && head.dataset.status !== m.status) { reload(); return; }
    if (m.percent != null) {
      box.querySelector("progress").setAttribute("value", Number(m.percent).toFixed(1));
      set("percent", FS.format.percent(m.percent));
    }
    if (m.fps != null) set("fps", Number(m.fps).toFixed(1));
    if (m.speed != null) set("speed", Number(m.speed).toFixed(2) + "×");
    if (m.eta != null) set("eta", FS.format.eta(m.eta));
    if (m.out_size != null) set("out_size", FS.format.size(m.out_size));
    if (m.follower) set("follower", m.follower);
  });
  FS.live.on("job", function (m) { if (m.id === id) reload(); });
  FS.live.on("deleted", function (m) {
    if (m.id === id) FS.flash("This job was removed.", "info");
  });
  FS.live.onResync(reload);

  box.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "delete" && !confirm("Remove this job from the list? Files are not touched.")) return;
    button.disabled = true;
    try {
      if (action === "delete") {
        await FS.api("/api/jobs/" + id, { method: "DELETE" });
        window.location.assign("/");
        return;
      }
      await FS.api("/api/jobs/" + id + "/" + action, { method: "POST" });
      await reload();
    } catch (e) {
      FS.flash(e.message);
      button.disabled = false;
    }
  });
})();
