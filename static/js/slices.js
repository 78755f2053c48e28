/* The slice report: images per label and their imbalance, the flagged slices, and each
 * dimension's slices against the rest.
 *
 * The report is computed by the server (cached until labels, images or the model change)
 * and drawn here; strings from data (label names, cameras, tags, usernames) enter the page
 * through textContent or an attribute, never as markup.
 */
import { request, errorMessage } from "./lib/api.js";
import { $, el, fill, pageData } from "./lib/dom.js";
import { plural, timeTag } from "./lib/format.js";
import { setLabels } from "./lib/labels.js";
import { labelBars, mixLegend, setColours } from "./slices/charts.js";
import { flagList, slicesTable } from "./slices/tables.js";

const data = pageData("slices-data");
setLabels(data.labels);
let report = null;

function renderCounts() {
  const { overall } = report;
  const labelIds = report.labels.map((label) => label.id);
  $("imbalance").textContent = overall.imbalance.words;
  $("imbalance").dataset.level = overall.imbalance.level;
  $("imbalance").classList.toggle("warn", !["balanced", "none"].includes(overall.imbalance.level));
  const box = $("label-chart");
  box.classList.remove("loading-box");
  if (!overall.n_final) {
    $("imbalance").hidden = true; // the box below says it
    fill(box, el("p", { class: "muted", text: "No image has a final label yet: counts appear as images are labelled and agreed on." }));
    return;
  }
  fill(
    box,
    el("figure", { class: "chart" }, labelBars(labelIds, overall.counts, { rarest: overall.imbalance.rarest })),
    el("p", { class: "muted footnote", text: `${plural(overall.n_final, "image")} with a final label of ${plural(overall.n_images, "image")}.` }),
  );
}

function renderFlags() {
  const box = $("flags");
  box.classList.remove("loading-box");
  fill(box, flagList(report));
}

function chosenDimension() {
  const wanted = new URLSearchParams(window.location.search).get("by");
  const found = report.dimensions.find((d) => d.key === wanted);
  if (found) return found;
  // Else the first dimension that cuts the images in more than one slice.
  return report.dimensions.find((d) => d.slices.length > 1) || report.dimensions[0];
}

function renderSwitch(current) {
  fill(
    $("dimension-switch"),
    report.dimensions.map((dimension) => {
      const flags = report.flags.filter((flag) => flag.dimension === dimension.key).length;
      const button = el(
        "button",
        { type: "button", "aria-pressed": dimension.key === current.key ? "true" : "false", dataset: { dimension: dimension.key } },
        dimension.title,
        flags ? el("span", { class: "pill flag-count", text: String(flags), title: plural(flags, "flag") }) : null,
      );
      button.addEventListener("click", () => showDimension(dimension));
      return button;
    }),
  );
}

function showDimension(dimension) {
  renderSwitch(dimension);
  $("dimension-name").textContent = dimension.title.toLowerCase();
  const left = dimension.left_out ? ` The ${plural(dimension.left_out, "smallest value")} of ${dimension.n_values} are left out.` : "";
  $("dimension-help").textContent = `${dimension.help}${left}`;
  const box = $("slices-table");
  box.classList.remove("loading-box");
  if (!dimension.slices.length) {
    fill(box, el("p", { class: "muted", text: `No image has a ${dimension.title.toLowerCase()} yet.` }));
    return;
  }
  fill(box, slicesTable(dimension, report, data.urls.images), mixLegend(report.labels.map((label) => label.id)));
  const url = new URL(window.location.href);
  url.searchParams.set("by", dimension.key);
  window.history.replaceState(null, "", url);
}

function renderMethod() {
  const { settings } = report;
  $("method-note").textContent =
    `Each slice is compared with the rest of the project. Label mix: chi-square test (exact, by simulation, where counts are small). ` +
    `Labelled worse: Fleiss' κ inside against outside, with 95% intervals from its linearised standard error. ` +
    `Agrees with final label: the share of the annotators' labels equal to their image's final label, over the images that have one (those waiting for review have none). ` +
    `Model worse: accuracy on the slice's held-out test images against the other test images, Fisher's exact test; Wilson intervals for accuracy, a bootstrap for macro-F1. ` +
    `P-values are adjusted by ${settings.correction} over every slice tested for each question; a slice is flagged below ${settings.alpha}. ` +
    `Slices with fewer than ${settings.min_tested} images for a question, or whose rest has fewer, are shown but not tested.`;
}

function renderModel() {
  const { model } = report;
  const note = $("model-note");
  if (!model.version) {
    note.textContent = model.reason;
    return;
  }
  const current = model.version.is_current ? " (the current model)" : "";
  note.textContent = `Model v${model.version.version}${current} on its ${plural(model.n_test, "held-out test image")}: the images no version was trained, validated or tuned on.`;
}

function setUpVersions() {
  const select = $("version-select");
  if (!select) return;
  select.addEventListener("change", () => {
    const url = new URL(window.location.href);
    if (select.value) url.searchParams.set("version", select.value);
    else url.searchParams.delete("version");
    window.location.assign(url);
  });
}

/** The report's address with the page's own choices (?version=) passed on. */
function withChoices(address) {
  const version = new URLSearchParams(window.location.search).get("version");
  if (!version) return address;
  const url = new URL(address, window.location.origin);
  url.searchParams.set("version", version);
  return url.pathname + url.search;
}

async function loadReport() {
  const result = await request("GET", withChoices(data.urls.report));
  if (!result.ok || result.body === null) {
    const box = $("load-error");
    box.textContent = `The slice report could not be loaded (${errorMessage(result, { brief: true })}). Reload the page to try again.`;
    box.hidden = false;
    $("slices-report").dataset.state = "error";
    return;
  }
  report = result.body;
  setColours(report.labels.map((label) => label.id));
  $("report-meta").append(" · computed ", timeTag(report.generated_at));
  renderCounts();
  renderModel();
  renderFlags();
  showDimension(chosenDimension());
  renderMethod();
  $("slices-report").dataset.state = "ready";
}

for (const id of ["download-csv", "download-json"]) $(id).href = withChoices($(id).getAttribute("href"));
setUpVersions();
loadReport();
