// The export page: start a background export from the form, then follow every export's
// progress and offer its file once written. Names coming from the server are set as
// textContent only.
(function () {
  "use strict";

  const POLL_MS = 1500;
  const FOLDER_FORMATS = ["imagefolder", "hf-imagefolder"];
  const root = document.getElementById("exports");
  if (!root) return;
  const url = root.dataset.exportsUrl;
  const exportUrlTemplate = root.dataset.exportUrlTemplate;
  const csrf = document.querySelector("meta[name='csrf-token']").content;
  const form = document.getElementById("export-form");
  const formatSelect = document.getElementById("export-format");
  const errorBox = document.getElementById("export-error");
  const startButton = document.getElementById("export-start");
  let timer = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatSize(bytes) {
    if (bytes === null || bytes === undefined) return "";
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  // ---- the form ----

  function syncFormat() {
    const option = formatSelect.selectedOptions[0];
    document.getElementById("format-help").textContent = option.dataset.help || "";
    const foldersOnly = FOLDER_FORMATS.includes(formatSelect.value);
    form.querySelectorAll("input[name=annotations]").forEach(function (input) {
      input.disabled = foldersOnly;
      if (foldersOnly) input.checked = input.value === "final";
    });
  }

  function percent(name) {
    const value = form.elements[name].value.trim();
    return value === "" ? null : Number(value) / 100;
  }

  function splitShares() {
    const shares = ["split-train", "split-val", "split-test"].map(percent);
    if (shares.every(function (share) { return share === null; })) return null;
    const filled = shares.map(function (share) { return share === null ? 0 : share; });
    if (filled[2] === 0) filled.pop();
    return filled.map(function (share) { return String(Math.round(share * 10000) / 10000); }).join(",");
  }

  function options() {
    const body = { format: formatSelect.value };
    const annotations = form.querySelector("input[name=annotations]:checked");
    if (annotations && !annotations.disabled) body.annotations = annotations.value;
    const split = splitShares();
    if (split) {
      body.split = split;
      body.seed = Number(form.elements.seed.value || 0);
    }
    ["min_confidence", "min_agreement"].forEach(function (name) {
      const value = percent(name);
      if (value !== null) body[name] = value;
    });
    ["label", "annotator", "since", "until"].forEach(function (name) {
      if (form.elements[name].value) body[name] = form.elements[name].value;
    });
    ["reviewed_only", "predictions"].forEach(function (name) {
      if (form.elements[name].checked) body[name] = true;
    });
    return body;
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showError("");
    startButton.disabled = true;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(options()),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || "The export could not be started.");
        });
      })
      .then(refresh)
      .catch(function (error) { showError(error.message); })
      .finally(function () { startButton.disabled = false; });
  });

  // ---- the list ----

  function describe(exportRow) {
    const parts = [];
    const opts = exportRow.options || {};
    if (opts.annotations) parts.push(opts.annotations === "final" ? "final labels" : "every annotation");
    if (opts.split) parts.push("split " + (Array.isArray(opts.split) ? opts.split.join("/") : opts.split) + ", seed " + (opts.seed || 0));
    if (opts.min_confidence) parts.push("confidence ≥ " + Math.round(opts.min_confidence * 100) + "%");
    if (opts.min_agreement) parts.push("agreement ≥ " + Math.round(opts.min_agreement * 100) + "%");
    if (opts.reviewed_only) parts.push("reviewed only");
    if (opts.label) parts.push("label " + opts.label);
    if (opts.annotator) parts.push("by " + opts.annotator);
    if (opts.since) parts.push("since " + opts.since);
    if (opts.until) parts.push("until " + opts.until);
    if (opts.predictions) parts.push("with predictions");
    return parts.join(", ") || "everything";
  }

  function statusCell(exportRow) {
    const cell = el("td", "export-status");
    if (exportRow.status === "failed") {
      cell.append(el("span", "field-error", "Failed: " + (exportRow.error || "no reason given")));
      return cell;
    }
    if (exportRow.status === "done") {
      cell.append(el("span", "", "Done · " + exportRow.total + " image" + (exportRow.total === 1 ? "" : "s")));
      return cell;
    }
    const total = exportRow.total || 0;
    const percentDone = total ? Math.round((100 * exportRow.done) / total) : 0;
    const bar = el("div", "progress");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", "Export " + exportRow.id);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(percentDone));
    const fill = el("span");
    fill.style.width = percentDone + "%";
    bar.append(fill);
    const label = exportRow.status === "queued" ? "Queued" : exportRow.done + " of " + total;
    cell.append(el("span", "", label), bar);
    return cell;
  }

  function row(exportRow) {
    const tr = el("tr");
    tr.dataset.exportId = exportRow.id;
    tr.dataset.status = exportRow.status;
    tr.append(
      el("td", "num", String(exportRow.id)),
      el("td", "", new Date(exportRow.created_at).toLocaleString()),
      el("td", "", formatSelect.querySelector("option[value='" + exportRow.format + "']")?.textContent || exportRow.format),
      el("td", "", describe(exportRow)),
      statusCell(exportRow),
      el("td", "num", formatSize(exportRow.size_bytes)),
    );
    const action = el("td", "actions-cell");
    if (exportRow.status === "done" && exportRow.download_url) {
      const link = el("a", "button", "Download");
      link.href = exportRow.download_url;
      action.append(link);
    }
    if (exportRow.status === "done" || exportRow.status === "failed") {
      const remove = el("button", "danger", "Delete");
      remove.type = "button";
      remove.setAttribute("aria-label", "Delete export " + exportRow.id);
      remove.addEventListener("click", function () { removeExport(exportRow.id); });
      action.append(" ", remove);
    }
    tr.append(action);
    return tr;
  }

  function removeExport(id) {
    if (!window.confirm("Delete export " + id + " and its file?")) return;
    fetch(exportUrlTemplate.replace("/0/", "/" + id + "/"), {
      method: "DELETE",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("Export " + id + " could not be deleted.");
      })
      .then(refresh)
      .catch(function (error) { showError(error.message); });
  }

  function render(exportsList) {
    const body = document.getElementById("exports-body");
    body.replaceChildren.apply(body, exportsList.map(row));
    document.getElementById("exports-table").hidden = exportsList.length === 0;
    document.getElementById("exports-empty").hidden = exportsList.length > 0;
  }

  function refresh() {
    clearTimeout(timer);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        const list = Array.isArray(body) ? body : body.results || [];
        render(list);
        const busy = list.some(function (e) { return e.status === "queued" || e.status === "running"; });
        if (busy) timer = setTimeout(refresh, POLL_MS);
      })
      .catch(function () { timer = setTimeout(refresh, POLL_MS * 4); });
  }

  formatSelect.addEventListener("change", syncFormat);
  syncFormat();
  refresh();
})();
