/* The export page: start a background export from the form, then follow every export's
 * progress and offer its file once written. The list comes first, and a new export is
 * scrolled to and marked; an identical one the server hands back instead is said so, with
 * a way to build a new one anyway. Names coming from the server are set as textContent only.
 */
import { request, errorMessage, rows } from "./lib/api.js";
import { $, el, fill } from "./lib/dom.js";
import { ago, formatSize, plural, timeTag } from "./lib/format.js";

const POLL_MS = 1500;
// These formats hold one label per image, so they always take the final labels.
const FOLDER_FORMATS = ["imagefolder", "hf-imagefolder"];
const LABEL_STUDIO_FORMATS = ["label-studio", "label-studio-zip"];

const root = $("exports");
if (root) start();

function start() {
  const url = root.dataset.exportsUrl;
  const exportUrlTemplate = root.dataset.exportUrlTemplate;
  const form = $("export-form");
  const formatSelect = $("export-format");
  const errorBox = $("export-error");
  const startButton = $("export-start");
  let timer = null;
  let lastOptions = null;
  let justStarted = null; // the id to mark, and to scroll to once the list shows it
  let scrolledTo = null;

  // ---- the form ----

  function syncFormat() {
    const option = formatSelect.selectedOptions[0];
    $("format-help").textContent = option.dataset.help || "";
    const foldersOnly = FOLDER_FORMATS.includes(formatSelect.value);
    // Each format starts from the server's own default (COCO: final labels).
    const fallback = option.dataset.annotations || "all";
    for (const input of form.querySelectorAll("input[name=annotations]")) {
      input.disabled = foldersOnly;
      input.checked = input.value === fallback;
    }
    $("folder-options").hidden = !foldersOnly;
    syncLabelStudio();
  }

  /** The Label Studio options show for its formats; the links' for signed links only. */
  function syncLabelStudio() {
    const format = formatSelect.value;
    $("label-studio-options").hidden = !LABEL_STUDIO_FORMATS.includes(format);
    const json = format === "label-studio";
    const signed = json && form.elements.image_urls.value === "signed";
    for (const field of form.querySelectorAll("[data-ls-json]")) field.hidden = !json;
    for (const field of form.querySelectorAll("[data-ls-signed]")) field.hidden = !signed;
  }

  function labelStudioOptions(body) {
    if (!LABEL_STUDIO_FORMATS.includes(body.format)) return;
    body.annotators = form.elements.annotators.value;
    if (body.format !== "label-studio") return;
    body.image_urls = form.elements.image_urls.value;
    if (body.image_urls !== "signed") return;
    const days = form.elements.link_expiry_days.value.trim();
    if (days !== "") body.link_expiry_days = Number(days);
    const origin = form.elements.label_studio_origin.value.trim();
    if (origin) body.label_studio_origin = origin;
  }

  /** A field given in percent, as a fraction (null when empty). */
  function share(name) {
    const value = form.elements[name].value.trim();
    return value === "" ? null : Number(value) / 100;
  }

  /** The project's own split replaces the shares and their seed. */
  function syncSplit() {
    const own = form.elements.split_project.checked;
    for (const name of ["split-train", "split-val", "split-test", "seed"]) form.elements[name].disabled = own;
  }

  function splitShares() {
    const shares = ["split-train", "split-val", "split-test"].map(share);
    if (shares.every((s) => s === null)) return null;
    const filled = shares.map((s) => (s === null ? 0 : s));
    if (filled[2] === 0) filled.pop();
    return filled.map((s) => String(Math.round(s * 10000) / 10000)).join(",");
  }

  function options() {
    const body = { format: formatSelect.value };
    const annotations = form.querySelector("input[name=annotations]:checked");
    if (annotations && !annotations.disabled) body.annotations = annotations.value;
    const split = splitShares();
    if (form.elements.split_project.checked) body.split = "project";
    else if (split) {
      body.split = split;
      body.seed = Number(form.elements.seed.value || 0);
    }
    for (const name of ["min_confidence", "min_agreement"]) {
      const value = share(name);
      if (value !== null) body[name] = value;
    }
    for (const name of ["label", "annotator", "since", "until"]) {
      if (form.elements[name].value) body[name] = form.elements[name].value;
    }
    for (const name of ["reviewed_only", "predictions"]) {
      if (form.elements[name].checked) body[name] = true;
    }
    if (FOLDER_FORMATS.includes(body.format)) body.convert_images = form.elements.convert_images.checked;
    labelStudioOptions(body);
    return body;
  }

  function showError(message) {
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  }

  function showReused(exportRow) {
    const box = $("export-reused");
    box.hidden = !exportRow;
    if (!exportRow) return;
    const state = exportRow.status === "done" ? "made" : exportRow.status;
    $("export-reused-text").textContent =
      `Export #${exportRow.id} has these options and nothing in the project changed since it was ${state}: ` +
      "here it is, not a copy.";
  }

  async function startExport(body) {
    showError("");
    showReused(null);
    startButton.disabled = true;
    lastOptions = body;
    const result = await request("POST", url, body);
    if (result.ok) {
      justStarted = result.body.id;
      if (result.body.reused) showReused(result.body);
      await refresh();
      // The list (and the row) may be out of view, above the form: say so where it shows.
      if (result.body.reused) $("export-reused").scrollIntoView({ block: "start" });
    } else showError(errorMessage(result, { otherwise: "The export could not be started." }));
    startButton.disabled = false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    startExport(options());
  });
  $("export-anyway").addEventListener("click", () => {
    if (lastOptions) startExport({ ...lastOptions, reuse: false });
  });

  // ---- the list ----

  function describe(exportRow) {
    const parts = [];
    const opts = exportRow.options || {};
    if (opts.annotations) parts.push(opts.annotations === "final" ? "final labels" : "every annotation");
    if (opts.split === "project") parts.push("the project's own split");
    else if (opts.split) parts.push(`split ${Array.isArray(opts.split) ? opts.split.join("/") : opts.split}, seed ${opts.seed || 0}`);
    if (opts.min_confidence) parts.push(`confidence ≥ ${Math.round(opts.min_confidence * 100)}%`);
    if (opts.min_agreement) parts.push(`agreement ≥ ${Math.round(opts.min_agreement * 100)}%`);
    if (opts.reviewed_only) parts.push("reviewed only");
    if (opts.label) parts.push(`label ${opts.label}`);
    if (opts.annotator) parts.push(`by ${opts.annotator}`);
    if (opts.since) parts.push(`since ${opts.since}`);
    if (opts.until) parts.push(`until ${opts.until}`);
    if (opts.predictions) parts.push("with predictions");
    if (opts.convert_images === false) parts.push("HEIC, AVIF and GIF kept as they are");
    if (opts.annotators === "none") parts.push("annotators left out");
    if (opts.image_urls === "signed") parts.push(`links for ${opts.link_expiry_days} days`);
    if (opts.label_studio_origin) parts.push(`for ${opts.label_studio_origin}`);
    return parts.join(", ") || "everything";
  }

  /** What a split made: each side's images, and a warning for a side empty or far off. */
  function splitMade(split) {
    const sides = split.sides.map((side) => `${side.name} ${side.images}`);
    return [
      el("span", { class: "split-made", text: `Split made: ${sides.join(", ")}` }),
      ...split.warnings.map((warning) => el("span", { class: "split-warning", role: "note", text: warning })),
    ];
  }

  function statusCell(exportRow) {
    const cell = el("td", { class: "export-status" });
    if (exportRow.status === "failed") {
      cell.append(el("span", { class: "field-error", text: `Failed: ${exportRow.error || "no reason given"}` }));
      return cell;
    }
    if (exportRow.status === "done") {
      cell.append(el("span", { text: `Done · ${plural(exportRow.total, "image")}` }));
      if (exportRow.split) cell.append(...splitMade(exportRow.split));
      return cell;
    }
    const total = exportRow.total || 0;
    const percentDone = total ? Math.round((100 * exportRow.done) / total) : 0;
    const bar = el(
      "div",
      {
        class: "progress",
        role: "progressbar",
        "aria-label": `Export ${exportRow.id}`,
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(percentDone),
      },
      el("span", { style: { width: `${percentDone}%` } }),
    );
    cell.append(el("span", { text: activeLabel(exportRow, total) }), bar);
    return cell;
  }

  /** What a queued or running export is doing: what it waits behind, or how far it got. */
  function activeLabel(exportRow, total) {
    if (exportRow.status === "running") return `Running · ${exportRow.done} of ${plural(total, "image")}`;
    const behind = exportRow.queued_behind || 0;
    return behind ? `Queued behind ${plural(behind, "export")}` : "Queued · next to run";
  }

  function madeCell(exportRow) {
    const cell = el("td", { class: "export-made" });
    cell.append(timeTag(exportRow.created_at));
    if (exportRow.finished_at) {
      const verb = exportRow.status === "failed" ? "failed" : "finished";
      cell.append(el("br"), el("span", { class: "muted" }, `${verb} `, timeTag(exportRow.finished_at, ago(exportRow.finished_at))));
    }
    return cell;
  }

  function row(exportRow) {
    const format = formatSelect.querySelector(`option[value='${exportRow.format}']`)?.textContent || exportRow.format;
    const action = el("td", { class: "actions-cell" });
    if (exportRow.status === "done" && exportRow.download_url) {
      action.append(el("a", { class: "button", href: exportRow.download_url, text: "Download" }));
    }
    if (exportRow.status === "done" || exportRow.status === "failed") {
      const remove = el("button", { class: "danger", type: "button", "aria-label": `Delete export ${exportRow.id}`, text: "Delete" });
      remove.addEventListener("click", () => removeExport(exportRow.id));
      action.append(" ", remove);
    }
    return el(
      "tr",
      { dataset: { exportId: exportRow.id, status: exportRow.status }, class: exportRow.id === justStarted ? "just-started" : null },
      el("td", { class: "num", text: String(exportRow.id) }),
      madeCell(exportRow),
      el("td", { text: exportRow.created_by || "" }),
      el("td", { text: format }),
      el("td", { text: describe(exportRow) }),
      statusCell(exportRow),
      el("td", { class: "num", text: formatSize(exportRow.size_bytes) }),
      action,
    );
  }

  async function removeExport(id) {
    if (!window.confirm(`Delete export ${id} and its file?`)) return;
    const result = await request("DELETE", exportUrlTemplate.replace("/0/", `/${id}/`));
    if (result.ok) await refresh();
    else showError(`Export ${id} could not be deleted.`);
  }

  function render(exportsList) {
    fill($("exports-body"), exportsList.map(row));
    $("exports-table").hidden = exportsList.length === 0;
    $("exports-empty").hidden = exportsList.length > 0;
    if (justStarted === null || scrolledTo === justStarted) return;
    const started = $("exports-body").querySelector(`tr[data-export-id='${justStarted}']`);
    if (started) {
      started.scrollIntoView({ block: "center" });
      scrolledTo = justStarted;
    }
  }

  /** The list again, and again every POLL_MS while an export is under way. */
  async function refresh() {
    clearTimeout(timer);
    const result = await request("GET", url);
    // No answer, or one that is not JSON: try again, less often.
    if (result.body === null) {
      timer = setTimeout(refresh, POLL_MS * 4);
      return;
    }
    const list = rows(result.body);
    render(list);
    const busy = list.some((e) => e.status === "queued" || e.status === "running");
    if (busy) timer = setTimeout(refresh, POLL_MS);
  }

  formatSelect.addEventListener("change", syncFormat);
  form.elements.image_urls.addEventListener("change", syncLabelStudio);
  form.elements.split_project.addEventListener("change", syncSplit);
  syncFormat();
  syncSplit();
  refresh();
}
