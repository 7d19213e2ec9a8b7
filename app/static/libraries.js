// The Libraries page: create, edit, preview, rescan and delete through /api/libraries.
(function () {
  const FS = window.FrameShift;
  const form = document.getElementById("library-form");
  const errorBox = document.getElementById("library-error");
  const words = (v) => v.split(/[\s,]+/).map((w) => w.trim().replace(/^\./, "")).filter(Boolean);
  const number = (name) => { const v = form.elements[name].value; return v === "" ? undefined : Number(v); };
  const hoursBox = document.getElementById("library-schedule");
  const hours = FS.scheduleGrid(hoursBox, { label: "Hours when the library's jobs may start", zone: hoursBox.dataset.zone });

  function values() {
    const f = form.elements;
    const rules = {
      skip_matching: f.skip_matching.checked,
      min_size_mb: number("min_size_mb"), min_bitrate_kbps: number("min_bitrate_kbps"), max_height: number("max_height"),
      include: words(f.include.value), exclude: words(f.exclude.value),
    };
    if (f.extensions.value.trim()) rules.extensions = words(f.extensions.value);
    const data = {
      name: f.name.value, folder: f.folder.value, preset: f.preset.value, rules: rules,
      output_policy: f.output_policy.value, recycle_days: number("recycle_days"),
      min_saving_percent: number("min_saving_percent"), scan_minutes: number("scan_minutes"),
      watch: f.watch.value, enabled: f.enabled.checked, schedule: hours.get(),
    };
    if (f.output_dir.value.trim()) data.output_dir = f.output_dir.value.trim();
    return data;
  }

  function showError(message) { errorBox.textContent = message; errorBox.hidden = !message; }

  function fill(library) {
    const f = form.elements;
    f.id.value = library.id; f.name.value = library.name; f.folder.value = library.folder;
    if (library.preset) f.preset.value = library.preset;
    ["output_policy", "recycle_days", "min_saving_percent", "scan_minutes", "watch"].forEach((k) => { f[k].value = library[k]; });
    f.output_dir.value = library.output_dir || ""; f.enabled.checked = library.enabled;
    const r = library.rules || {};
    f.skip_matching.checked = !!r.skip_matching; f.extensions.value = (r.extensions || []).join(" ");
    f.min_size_mb.value = r.min_size_mb || 0; f.min_bitrate_kbps.value = r.min_bitrate_kbps || 0; f.max_height.value = r.max_height || 0;
    f.include.value = (r.include || []).join(" "); f.exclude.value = (r.exclude || []).join(" ");
    hours.set(library.schedule);
    document.getElementById("form-h").textContent = "Edit " + library.name;
    form.scrollIntoView({ behavior: "smooth" });
  }

  function list(id, items) {
    const ul = document.getElementById(id);
    ul.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      li.textContent = item.path + (item.reason ? " — " + item.reason : "");
      return li;
    }));
  }

  async function preview(url, body) {
    showError("");
    try {
      const result = await FS.api(url, { method: "POST", json: body });
      const c = result.counts;
      document.getElementById("preview-summary").textContent =
        `These ${c.queue} files would be queued, ${c.skip} skipped, ${c.wait} wait for media facts, ${c.done} are already done` +
        (result.truncated ? ` (first ${result.listed} files only)` : "") + ".";
      ["queue", "skip", "wait", "done"].forEach((k) => list("preview-" + k, result[k]));
      const box = document.getElementById("library-preview-result");
      box.hidden = false; box.scrollIntoView({ behavior: "smooth" });
    } catch (e) { showError(e.message); }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const id = form.elements.id.value;
    try {
      await FS.api(id ? `/api/libraries/${id}` : "/api/libraries", { method: id ? "PATCH" : "POST", json: values() });
      window.location.reload();
    } catch (e) { showError(e.message); }
  });
  document.getElementById("library-preview").addEventListener("click", () => preview("/api/libraries/preview", values()));
  document.getElementById("library-reset").addEventListener("click", () => { form.reset(); hours.set(null); form.elements.id.value = ""; document.getElementById("form-h").textContent = "Add a library"; });

  document.querySelectorAll("#library-list tr[data-library]").forEach(function (row) {
    const library = JSON.parse(row.dataset.library);
    row.addEventListener("click", async function (event) {
      const action = event.target.dataset && event.target.dataset.action;
      if (!action) return;
      try {
        if (action === "edit") fill(library);
        if (action === "preview") await preview(`/api/libraries/${library.id}/preview`, {});
        if (action === "rescan") { await FS.api(`/api/libraries/${library.id}/rescan`, { method: "POST", json: {} }); FS.flash("A scan of " + library.name + " was asked for.", "ok"); }
        if (action === "delete" && window.confirm(`Forget the library ${library.name}? Its files and jobs stay.`)) {
          await FS.api(`/api/libraries/${library.id}`, { method: "DELETE" });
          window.location.reload();
        }
      } catch (e) { FS.flash(e.message, "error"); }
    });
  });
})();
