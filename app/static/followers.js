// The followers page: refresh every few seconds and on job changes; drain/resume/forget; pause/resume the queue.
(function () {
  "use strict";
  const FS = window.FrameShift;
  const box = document.getElementById("followers");
  if (!box) return;
  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    try {
      FS.morph(box, await FS.fragment(box.dataset.listUrl));
    } catch (e) {
      FS.flash(e.message);
    }
    timer = setTimeout(refresh, 5000);
  }
  timer = setTimeout(refresh, 5000);
  let pending = null;
  FS.live.on("job", function () {
    if (!pending) pending = setTimeout(function () { pending = null; refresh(); }, 1000);
  });
  FS.live.on("queue", function (m) { if (typeof m.paused === "boolean") FS.showPaused(m.paused); });
  FS.live.onResync(refresh);

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    const card = button.closest("[data-follower]");
    let url;
    let method = "POST";
    if (action === "drain" || action === "resume") url = "/api/followers/" + encodeURIComponent(card.dataset.follower) + "/" + action;
    else if (action === "forget") {
      if (!window.confirm("Forget " + card.dataset.follower + "? It reappears if it starts again.")) return;
      url = "/api/followers/" + encodeURIComponent(card.dataset.follower);
      method = "DELETE";
    }
    else if (action === "queue-pause" || action === "queue-resume") url = "/api/queue/" + action.slice(6);
    else return;
    button.disabled = true;
    try {
      await FS.api(url, { method: method });
      if (action.startsWith("queue-")) {
        FS.showPaused(action === "queue-pause");
        button.disabled = false;
      }
      await refresh();
    } catch (e) {
      FS.flash(e.message);
      button.disabled = false;
    }
  });
})();
