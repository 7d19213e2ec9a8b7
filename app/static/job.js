// The job page: live progress, refresh after a status change, cancel/retry/remove, undo a library's
// replacement of the original, and a split job's pieces table, each row updated in place by its
// piece's own live message.
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
      FS.morph(box, await FS.fragment(box.dataset.panelUrl));
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
  FS.live.on("job", function (m) {
    if (m.id !== id) return;
    reload();
    const note = document.querySelector('#pieces [data-field="split_note"]');
    if (note && m.split_note != null) { note.textContent = m.split_note; note.hidden = false; }
  });

  // Pieces: a message for a row the table has updates it; one for a row it lacks (pieces just planned,
  // or the first piece of a job that was not split yet) re-reads the table. Messages that arrive while
  // it is read are applied again after, in order, so an older table never hides a newer state.
  let piecesLoading = null;
  let arrived = [];

  function applyPiece(m) {
    const row = document.querySelector('#pieces tr[data-piece-id="' + m.id + '"]');
    if (!row) return false;
    const cell = (col, text) => { const el = row.querySelector('[data-col="' + col + '"]'); if (el) el.textContent = text; };
    row.className = "status-" + m.status;
    cell("status", m.status);
    cell("follower", m.follower || "—");
    cell("percent", Math.floor(Number(m.percent) || 0) + "%");
    cell("fps", m.fps != null ? Number(m.fps).toFixed(1) : "—");
    cell("attempts", String(m.attempts));
    cell("error", m.error || "");
    return true;
  }

  function reloadPieces() {
    if (piecesLoading) return piecesLoading;
    arrived = [];
    piecesLoading = FS.fragment(box.dataset.piecesUrl).then(function (html) {
      const holder = document.createElement("div");
      holder.innerHTML = html;
      const fresh = holder.querySelector("#pieces");
      const old = document.getElementById("pieces");
      if (old && fresh) old.replaceWith(fresh);
      else if (fresh) box.after(fresh);
      else if (old) old.remove();
    }).catch(function (e) {
      FS.flash(e.message);
    }).finally(function () {
      piecesLoading = null;
      const again = arrived;
      arrived = [];
      again.forEach(applyPiece);
    });
    return piecesLoading;
  }

  FS.live.on("piece", function (m) {
    if (m.job_id !== id) return;
    if (piecesLoading) { arrived.push(m); return; }
    if (!applyPiece(m)) reloadPieces();
  });
  FS.live.on("deleted", function (m) {
    if (m.id === id) FS.flash("This job was removed.", "info");
  });
  FS.live.onResync(function () { reload(); reloadPieces(); });

  box.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "delete" && !confirm("Remove this job from the list? Files are not touched.")) return;
    if (action === "undo-replace" &&
        !confirm("Put the original back from the recycle folder? The converted file is kept beside it as NAME_converted.")) return;
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
