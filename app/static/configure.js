// Frame Shift configure page: presets, mode switch, output rule, and a live preview of the FFmpeg command.
(function () {
  "use strict";
  const page = document.getElementById("configure-page");
  if (!page) return;
  const form = document.getElementById("configure-form");
  const picker = document.getElementById("preset-picker");
  const nameInput = document.getElementById("preset-name");
  const presetMessage = document.getElementById("preset-message");
  const preview = document.getElementById("command-preview");
  const generalErrors = document.getElementById("form-errors");
  let presets = JSON.parse(document.getElementById("presets-data").textContent || "[]");

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const field = form.querySelector('input[name="csrf_token"]');
    return (meta && meta.content) || (field && field.value) || "";
  }

  async function send(url, method, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrf() };
    const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) { const err = new Error(data.error || "the server answered " + response.status); err.field = data.field; throw err; }
    return data;
  }
  const formBody = () => new URLSearchParams(new FormData(form));

  // Errors next to their field; anything without a field goes to the summary at the top.
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach((p) => { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    generalErrors.hidden = true;
    generalErrors.textContent = "";
  }
  function showError(err) {
    const slot = err.field && form.querySelector('[data-error-for="' + err.field + '"]');
    if (slot) {
      const prefix = err.field + ": ";
      slot.textContent = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
      slot.hidden = false;
      const input = document.getElementById("f-" + err.field);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      generalErrors.textContent = err.message;
      generalErrors.hidden = false;
    }
  }

  function syncVisibility() {
    const custom = form.querySelector('input[name="mode"]:checked').value === "custom";
    document.getElementById("basic-settings").hidden = custom;
    document.getElementById("audio-settings").hidden = custom;
    document.getElementById("custom-settings").hidden = !custom;
    const folder = form.querySelector('input[name="output_location"]:checked').value === "folder";
    const dir = document.getElementById("f-output_dir");
    dir.disabled = !folder;
    dir.closest(".field").hidden = !folder;
    // Constant quality uses the CRF, a target bitrate the bitrate: show only the one that applies.
    const bitrate = form.elements.rate_mode.value === "bitrate";
    form.querySelector('[data-field="crf"]').hidden = bitrate;
    form.querySelector('[data-field="video_bitrate"]').hidden = !bitrate;
    document.getElementById("bit-depth-warning").hidden =
      !(form.elements.video_codec.value === "libx264" && form.elements.bit_depth.value === "10");
  }

  // Bit depth follows the codec (8-bit for H.264, 10-bit otherwise) until the person picks one.
  let depthChosen = false;
  form.elements.bit_depth.addEventListener("change", () => { depthChosen = true; });
  form.elements.video_codec.addEventListener("change", () => {
    if (!depthChosen) form.elements.bit_depth.value = form.elements.video_codec.value === "libx264" ? "8" : "10";
  });

  // Show argv the way a shell would need it, so it can be copied and run by hand.
  function quote(arg) {
    return /^[A-Za-z0-9_\-+=.,:/@%]+$/.test(arg) ? arg : "'" + arg.replace(/'/g, "'\\''") + "'";
  }
  let timer = null, seq = 0;
  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(runPreview, 200);
  }
  async function runPreview() {
    if (!document.getElementById("selected-files")) return;
    const mine = ++seq;
    try {
      const data = await send(page.dataset.previewUrl, "POST", formBody());
      if (mine !== seq) return;
      clearErrors();
      preview.textContent = data.argv.map(quote).join(" ");
      preview.dataset.state = "ok";
    } catch (err) {
      if (mine !== seq) return;
      clearErrors();
      showError(err);
      preview.textContent = "Cannot build the command: " + err.message;
      preview.dataset.state = "error";
    }
  }

  function applySpec(spec) {
    Object.entries(spec).forEach(([key, value]) => {
      const controls = form.querySelectorAll('[name="' + key + '"]');
      controls.forEach((el) => {
        if (el.type === "radio") el.checked = String(el.value) === String(value);
        else el.value = value === null || value === undefined ? "" : String(value);
      });
    });
    syncVisibility();
    schedulePreview();
  }

  function selectedPreset() {
    return presets.find((p) => String(p.id) === picker.value) || null;
  }
  function syncPresetButtons() {
    const p = selectedPreset();
    document.getElementById("preset-update").disabled = !p || p.builtin;
    document.getElementById("preset-delete").disabled = !p || p.builtin;
  }
  function rebuildPicker(selectId) {
    const keep = picker.options[0];
    picker.replaceChildren(keep);
    presets.forEach((p) => {
      const o = document.createElement("option");
      o.value = String(p.id);
      o.textContent = p.name + (p.builtin ? " (built in)" : "");
      picker.appendChild(o);
    });
    picker.value = selectId ? String(selectId) : "";
    syncPresetButtons();
  }
  function saySaved(text, bad) {
    presetMessage.textContent = text;
    presetMessage.classList.toggle("field-error", !!bad);
  }

  picker.addEventListener("change", () => {
    const p = selectedPreset();
    syncPresetButtons();
    if (!p) return;
    applySpec(p.spec);
    if (!p.builtin) nameInput.value = p.name;
    saySaved("Loaded preset " + p.name);
  });

  document.getElementById("preset-save").addEventListener("click", async () => {
    try {
      const p = await send(page.dataset.presetsUrl, "POST", formBody());
      presets.push(p);
      presets.sort((a, b) => (b.builtin - a.builtin) || a.name.localeCompare(b.name));
      rebuildPicker(p.id);
      saySaved("Saved preset " + p.name);
    } catch (err) { saySaved(err.message, true); }
  });
  document.getElementById("preset-update").addEventListener("click", async () => {
    const current = selectedPreset();
    if (!current) return;
    const body = formBody();
    if (!nameInput.value.trim()) body.set("preset_name", current.name);
    try {
      const p = await send(page.dataset.presetsUrl + "/" + current.id, "PUT", body);
      presets = presets.map((x) => (x.id === p.id ? p : x));
      rebuildPicker(p.id);
      saySaved("Updated preset " + p.name);
    } catch (err) { saySaved(err.message, true); }
  });
  document.getElementById("preset-delete").addEventListener("click", async () => {
    const current = selectedPreset();
    if (!current || !window.confirm("Delete the preset " + current.name + "?")) return;
    try {
      await send(page.dataset.presetsUrl + "/" + current.id, "DELETE");
      presets = presets.filter((x) => x.id !== current.id);
      rebuildPicker(null);
      nameInput.value = "";
      saySaved("Deleted preset " + current.name);
    } catch (err) { saySaved(err.message, true); }
  });

  form.addEventListener("change", (event) => {
    if (event.target === picker || event.target === nameInput) return;
    syncVisibility();
    schedulePreview();
  });
  form.addEventListener("input", (event) => {
    if (event.target === nameInput) return;
    schedulePreview();
  });
  form.addEventListener("submit", () => { document.getElementById("submit-jobs").disabled = true; });

  syncVisibility();
  syncPresetButtons();
  runPreview();
})();
