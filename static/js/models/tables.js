/* The models page's tables: model versions, training runs, a version's figures per label,
 * its pre-labelling pass and the machine labels' counts.
 */
import { el, fill } from "../lib/dom.js";
import { isNum, fixed, percent, plural, timeTag, when as whenText } from "../lib/format.js";
import { labelChip, labelName } from "../lib/labels.js";
import { table } from "../lib/tables.js";
import { figureBlock, pText, verdictText } from "./evaluation.js";
import { accuracyInterval, intervalText, tooCloseToTell } from "./intervals.js";

/** The architectures' names, as the server gives them (the page's data): "Small CNN". */
const ARCHITECTURES = {};
export function architectureNames(names) {
  Object.assign(ARCHITECTURES, names);
}
const STATUS = {
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
};

export const architectureName = (key) => ARCHITECTURES[key] || key || "—";
const share = (value) => (isNum(value) ? percent(value) : "—");
const two = (value) => (isNum(value) ? fixed(value) : "—");

/** A date and time as every page writes it; the exact moment in the tooltip. */
export const when = (iso) => timeTag(iso);

/** How long a run took (or has been running), as "1 min 05 s". */
export function duration(run) {
  if (!run.started_at) return "—";
  const end = run.finished_at ? new Date(run.finished_at) : new Date();
  const seconds = Math.max(0, Math.round((end - new Date(run.started_at)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

export function statusPill(status) {
  return el("span", { class: "status-pill", dataset: { status }, text: STATUS[status] || status });
}

/** What the new version was measured against, and why it was (or was not) promoted. */
function comparison(version) {
  const baseline = (version.metrics || {}).baseline;
  if (baseline && baseline.split === "test") return testComparison(version, baseline);
  return validationComparison(version);
}

/** Paired on the test images: the verdict in words, the macro-F1 change, the note. */
function testComparison(version, baseline) {
  const text = verdictText(baseline);
  const parts = [];
  if (text) {
    parts.push(el("span", { class: "verdict", dataset: { verdict: baseline.verdict }, title: text, text: `${VERDICT_WORDS[baseline.verdict]} vs v${baseline.version}` }));
    parts.push(
      el("span", {
        class: "paired",
        text: `v${baseline.version} alone right on ${baseline.only_current_right}, this one on ${baseline.only_candidate_right} of ${plural(baseline.images, "test image")}, ${pText(baseline.p_value)}`,
      }),
    );
  }
  if (version.promotion_note) parts.push(el("span", { class: "note", text: version.promotion_note }));
  return parts;
}

const VERDICT_WORDS = { better: "better beyond noise", same: "no difference beyond noise", worse: "worse beyond noise" };

/** Versions trained before the project had a test set: compared on validation images. */
function validationComparison(version) {
  const metrics = version.metrics || {};
  const baseline = metrics.baseline;
  const parts = [];
  // Both figures on the images the older version was not trained on (older records: the
  // new version's figure on its whole validation set).
  const mine = isNum(baseline?.candidate_macro_f1) ? baseline.candidate_macro_f1 : metrics.macro_f1;
  const close = tooCloseToTell(baseline);
  if (baseline && isNum(baseline.macro_f1) && isNum(mine)) {
    const delta = mine - baseline.macro_f1;
    const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
    parts.push(
      el("span", {
        class: close && close.close ? "delta flat" : delta >= 0 ? "delta up" : "delta down",
        title: `Macro-F1 ${mine.toFixed(3)} against version ${baseline.version}'s ${baseline.macro_f1.toFixed(3)} on the same validation images`,
        text: `${sign}${Math.abs(delta).toFixed(3)} vs v${baseline.version}`,
      }),
    );
  }
  const told = (version.promotion_note || "").includes("too small to tell");
  if (close && close.close && close.differing && baseline.images && !told) {
    parts.push(
      el("span", {
        class: "too-close",
        title: `Exact McNemar test on the ${baseline.images} validation images both were measured on: p = ${close.p.toFixed(2)}`,
        text: `too few validation images to tell the two apart (p = ${close.p.toFixed(2)})`,
      }),
    );
  }
  if (version.promotion_note) parts.push(el("span", { class: "note", text: version.promotion_note }));
  if (!parts.length) parts.push(el("span", { class: "muted", text: "no earlier model" }));
  return parts;
}

/** One row per version, newest first: its figures, and "current" or a Promote button. */
export function renderVersions(box, versions, { selected, canManage, onSelect, onPromote, busy }) {
  if (!versions.length) {
    fill(
      box,
      el("p", {
        class: "muted",
        text: "No model yet. Once at least two labels have two final-labelled images each, a lead can train one.",
      }),
    );
    return;
  }
  const head = ["Version", "Architecture", "Labels", "Accuracy", "Macro-F1", "ECE", "Compared with the current model", ""].map(
    (text, i) =>
      el("th", {
        scope: "col",
        class: i >= 2 && i <= 5 ? "num" : null,
        text,
        title:
          i === 5
            ? "Expected calibration error: lower is better"
            : i === 3 || i === 4
              ? "On the held-out test images (versions trained before the project had a test set: on their validation images); under the figure its 95% interval"
              : null,
      }),
  );
  const rows = versions.map((version) => {
    const metrics = version.metrics || {};
    const isSelected = version.id === selected;
    return el(
      "tr",
      { class: isSelected ? "selected" : null, dataset: { version: String(version.id) } },
      el(
        "th",
        { scope: "row" },
        el("button", {
          type: "button",
          class: "link version-link",
          "aria-pressed": isSelected ? "true" : "false",
          title: "Show this version's figures",
          text: `v${version.version}`,
        }),
      ),
      el("td", { text: architectureName(version.architecture) }),
      el("td", { class: "num", text: String(version.label_count ?? "—") }),
      ...headlineCells(metrics),
      el("td", { class: "comparison" }, comparison(version)),
      el("td", { class: "actions-cell" }, currentCell(version, { canManage, onPromote, busy })),
    );
  });
  const versionsTable = table({ class: "data-table versions-table", id: "versions-table" }, head, rows);
  for (const button of versionsTable.querySelectorAll(".version-link")) {
    const id = Number(button.closest("tr").dataset.version);
    button.addEventListener("click", () => onSelect(id));
  }
  fill(box, el("div", { class: "table-wrap" }, versionsTable));
}

/** Accuracy, macro-F1 and ECE: on the test images, or on the validation images for a
 * version trained before the project had a test set. */
function headlineCells(metrics) {
  const test = metrics.test;
  if (!test) {
    return [
      figureWithInterval(metrics, "accuracy", share(metrics.accuracy), accuracyInterval(metrics), percent),
      figureWithInterval(metrics, "macro_f1", two(metrics.macro_f1), metrics.macro_f1_ci, fixed),
      el("td", { class: "num", dataset: { metric: "ece", split: "validation" }, text: two(metrics.ece) }),
    ];
  }
  const cell = (key, figure, show) =>
    el("td", { class: "num figure-cell", dataset: { metric: key, split: "test" } }, figureBlock(figure, show, { brief: true }), el("span", { class: "n", text: `n = ${figure ? figure.n : test.images}` }));
  return [cell("accuracy", test.accuracy, percent), cell("macro_f1", test.macro_f1, fixed), cell("ece", test.calibration && test.calibration.ece, fixed)];
}

/** A figure and, under it, its 95% interval and the number of images it rests on. */
function figureWithInterval(metrics, key, text, interval, show) {
  const range = intervalText(interval, show);
  const method = key === "accuracy" ? "Wilson score interval" : "bootstrap over the validation images";
  const images = isNum(metrics.images) ? ` on ${plural(metrics.images, "validation image")}` : "";
  return el(
    "td",
    { class: "num figure-cell" },
    el("span", { dataset: { metric: key }, text }),
    range
      ? el("span", {
          class: "interval",
          dataset: { interval: key },
          title: `95% interval (${method})${images}`,
          text: range,
        })
      : null,
    // The images it rests on, as the test figures say theirs (here the validation images).
    isNum(metrics.images) ? el("span", { class: "n", title: "validation images", text: `n = ${metrics.images}` }) : null,
  );
}

function currentCell(version, { canManage, onPromote, busy }) {
  if (version.is_current) {
    const since = version.promoted_at ? `current since ${whenText(version.promoted_at)}` : "current";
    return el("span", { class: "current-badge", title: since, text: "current" });
  }
  if (!canManage) return null;
  const button = el("button", {
    type: "button",
    class: "promote-button",
    disabled: busy,
    title: "Make this version pre-label the images and order the queue",
    text: "Promote",
  });
  button.addEventListener("click", () => onPromote(version, button));
  return button;
}

/** Every training run, newest first. */
export function renderRuns(box, runs) {
  if (!runs.length) {
    fill(box, el("p", { class: "muted", text: "No training yet." }));
    return;
  }
  const head = ["Run", "Status", "Reason", "Started", "Duration", "Labels", "Images (train / validation / test)", "Message"].map((text, i) =>
    el("th", { scope: "col", class: i === 5 ? "num" : null, text }),
  );
  const rows = runs.map((run) =>
    el(
      "tr",
      { dataset: { run: String(run.id), status: run.status } },
      el("th", { scope: "row", text: `#${run.id}` }),
      el("td", {}, statusPill(run.status)),
      el("td", { class: "nowrap", text: run.reason === "refresh" ? "new labels" : run.requested_by ? `by ${run.requested_by}` : run.reason }),
      el("td", { class: "nowrap" }, when(run.started_at || run.created_at)),
      el("td", { class: "nowrap", text: duration(run) }),
      el("td", { class: "num", text: String(run.label_count ?? "—") }),
      el("td", { class: "nowrap", text: run.train_count || run.validation_count ? `${run.train_count} / ${run.validation_count} / ${run.test_count || 0}` : "—" }),
      el("td", { class: "run-message", text: runMessage(run) }),
    ),
  );
  fill(box, el("div", { class: "table-wrap" }, table({ class: "data-table runs-table", id: "runs-table" }, head, rows)));
}

function runMessage(run) {
  const parts = [];
  if (run.config && run.config.architecture) parts.push(architectureName(run.config.architecture));
  if (run.epoch && run.epochs) parts.push(`${run.epoch}/${run.epochs} epochs`);
  if (run.message) parts.push(run.message);
  return parts.join(" · ");
}

/** Precision, recall, F1 and support of each label on the validation images. */
export function renderPerLabel(box, perLabel) {
  if (!perLabel || !perLabel.length) {
    fill(box, el("p", { class: "muted", text: "No per-label figures." }));
    return;
  }
  const head = ["Label", "Precision", "Recall", "F1", "Images"].map((text, i) =>
    el("th", { scope: "col", class: i ? "num" : null, text }),
  );
  const rows = perLabel.map((row) =>
    el(
      "tr",
      { dataset: { label: String(row.label) } },
      el("th", { scope: "row", title: row.name || labelName(row.label) }, labelChip(row.label)),
      el("td", { class: "num", text: two(row.precision) }),
      el("td", { class: "num", text: two(row.recall) }),
      el("td", { class: "num" }, f1Bar(row.f1)),
      el("td", { class: "num", text: String(row.support ?? "—") }),
    ),
  );
  fill(box, el("div", { class: "table-wrap" }, table({ class: "data-table per-label-table", id: "per-label-table" }, head, rows)));
}

function f1Bar(value) {
  if (!isNum(value)) return "—";
  return el(
    "span",
    { class: "f1" },
    el("span", { class: "bar-track", "aria-hidden": "true" }, el("span", { class: "bar-fill f1-fill", style: { width: `${Math.round(value * 100)}%` } })),
    el("span", { text: fixed(value) }),
  );
}

/** How far the version's pre-labelling pass over the unlabelled images has come. */
export function renderPrelabel(box, version) {
  const prelabel = version.prelabel || {};
  const total = prelabel.total || 0;
  const done = Math.min(prelabel.done || 0, total);
  const finished = Boolean(prelabel.finished_at);
  const pct = total ? Math.round((100 * done) / total) : finished ? 100 : 0;
  let note;
  if (!version.is_current && !total) note = "Only the current version pre-labels images.";
  else if (finished) note = `Done ${whenText(prelabel.finished_at)}: the queue is ordered by this model.`;
  else if (total) note = "Predicting the unlabelled images…";
  else note = "Waiting for the pre-labelling pass to be planned.";
  fill(
    box,
    el(
      "div",
      { class: "prelabel-figure" },
      el("span", { class: "big-number", id: "prelabel-done", text: String(done) }),
      el("span", { class: "muted", text: ` / ${plural(total, "unlabelled image")}` }),
    ),
    el(
      "div",
      { class: `progress${finished ? " ok" : ""}`, role: "progressbar", "aria-label": "Pre-labelling", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct) },
      el("span", { style: { width: `${pct}%` } }),
    ),
    el("p", { class: "muted small", text: note }),
  );
}

/** Pending, confirmed and corrected machine labels, and how the blind spot checks went. */
export function renderMachineStats(box, stats) {
  const checks = stats.spot_checks || { checked: 0, agreed: 0 };
  const reviewed = (stats.confirmed || 0) + (stats.corrected || 0);
  const item = (key, name, value, note) =>
    el("div", { class: "stat", dataset: { stat: key } }, el("span", { class: "value", text: String(value) }), el("span", { class: "name", text: name }), note ? el("span", { class: "note", text: note }) : null);
  fill(
    box,
    el(
      "div",
      { class: "machine-stats" },
      item("pending", "Pending review", stats.pending || 0),
      item("confirmed", "Confirmed", stats.confirmed || 0, reviewed ? `${percent((stats.confirmed || 0) / reviewed)} of reviewed` : null),
      item("corrected", "Corrected", stats.corrected || 0),
      item("spot_checks", "Spot checks agreed", checks.checked ? `${checks.agreed} / ${checks.checked}` : "—", checks.checked ? `${percent(checks.agreed / checks.checked)} of the blind checks` : "none checked yet"),
    ),
  );
}
