/* A version's figures on the held-out test images: each with its 95% interval and the
 * number of images it rests on, a missing one with the reason the server gave; and the
 * comparison with the version that was current, in words.
 *
 * Strings from data (label names, reasons) go in as text, never as markup.
 */
import { el, fill } from "../lib/dom.js";
import { fixed, isNum, percent, plural } from "../lib/format.js";
import { labelChip, labelName } from "../lib/labels.js";
import { table } from "../lib/tables.js";

const VERDICTS = {
  better: "better beyond noise",
  same: "no difference beyond noise",
  worse: "worse beyond noise",
};
const HEADS = {
  better: (other) => `Better beyond noise than ${other}`,
  same: (other) => `No difference beyond noise from ${other}`,
  worse: (other) => `Worse beyond noise than ${other}`,
};

/** "87–94%" from an interval, or "" without one; one more digit where the two ends would
 * read the same ("0.999–1.000", never a "1.00–1.00" that claims certainty). */
function range(interval, show) {
  if (!Array.isArray(interval)) return "";
  const [low, high] = interval;
  if (show(low) !== show(high) || low === high) return `${show(low)}–${show(high)}`;
  const finer = show === percent ? (v) => `${(v * 100).toFixed(1)}%` : (v) => v.toFixed(3);
  return `${finer(low)}–${finer(high)}`;
}

/** "p = 0.042", or "p < 0.001" where three decimals would read 0. */
export const pText = (p) => (p < 0.001 ? "p < 0.001" : `p = ${p.toFixed(3)}`);

/** A figure's value, its interval and n under it, or "—" and why. */
export function figureBlock(figure, show, { brief = false } = {}) {
  if (!figure || !isNum(figure.value)) {
    const reason = figure && figure.reason ? figure.reason : "Not computed.";
    return el("span", { class: "figure missing", title: reason }, el("span", { class: "value", text: "—" }), el("span", { class: "figure-reason", text: reason }));
  }
  const interval = range(figure.interval, show);
  return el(
    "span",
    { class: "figure", title: figure.reason || `95% interval ${interval}, on ${plural(figure.n, "image")}` },
    el("span", { class: "value", text: show(figure.value) }),
    interval ? el("span", { class: "interval", text: brief ? interval : `95% CI ${interval}` }) : el("span", { class: "figure-reason no-interval", text: brief ? "no interval" : figure.reason || "no interval" }),
    brief ? null : el("span", { class: "n", text: `n = ${figure.n}` }),
  );
}

/** The headline figures: accuracy, macro- and micro-F1, ROC AUC, average precision, ECE. */
export function renderTestFigures(box, test) {
  const items = [
    ["accuracy", "Accuracy", test.accuracy, percent],
    ["macro_f1", "Macro-F1", test.macro_f1, fixed],
    ["micro_f1", "Micro-F1", test.micro_f1, fixed],
    ["roc_auc_macro", "ROC AUC, macro", test.roc_auc && test.roc_auc.macro, fixed],
    ["roc_auc_micro", "ROC AUC, micro", test.roc_auc && test.roc_auc.micro, fixed],
    ["ap_macro", "Average precision, macro", test.average_precision && test.average_precision.macro, fixed],
    ["ap_micro", "Average precision, micro", test.average_precision && test.average_precision.micro, fixed],
    ["ece", "Calibration error (ECE)", test.calibration && test.calibration.ece, fixed],
  ];
  const leftOut = (test.roc_auc && test.roc_auc.left_out) || [];
  fill(
    box,
    el(
      "dl",
      { class: "test-figures", id: "test-figures-list" },
      items.map(([key, name, figure, show]) => el("div", { class: "test-figure", dataset: { figure: key } }, el("dt", { text: name }), el("dd", {}, figureBlock(figure, show)))),
    ),
    leftOut.length
      ? el("p", { class: "muted small", text: `Averages of ROC AUC and average precision leave out ${leftOut.map(labelName).join(", ")}: no test image has ${leftOut.length === 1 ? "it" : "them"}, or every one has.` })
      : null,
  );
}

/** Per label on the test images: precision, recall, F1, ROC AUC and average precision. */
export function renderTestPerLabel(box, test, multiLabel) {
  const rows = test.per_label || [];
  const columns = [
    ["precision", "Precision"],
    ["recall", "Recall"],
    ["f1", "F1"],
    ["roc_auc", "ROC AUC"],
    ["average_precision", "Avg. precision"],
  ];
  const head = [
    el("th", { scope: "col", text: "Label" }),
    el("th", { scope: "col", class: "num", text: "Test images" }),
    columns.map(([, name]) => el("th", { scope: "col", class: "num", text: name })),
    multiLabel ? el("th", { scope: "col", class: "num", text: "Threshold", title: "Tuned on the validation images" }) : null,
  ];
  const body = rows.map((row) =>
    el(
      "tr",
      { dataset: { label: String(row.label) } },
      el("th", { scope: "row", title: row.name || labelName(row.label) }, labelChip(row.label)),
      el("td", { class: "num", text: String(row.support) }),
      columns.map(([key]) => el("td", { class: "num figure-cell", dataset: { metric: key } }, figureBlock(row[key], fixed, { brief: true }))),
      multiLabel ? el("td", { class: "num", text: isNum(row.threshold) ? fixed(row.threshold) : "—" }) : null,
    ),
  );
  fill(
    box,
    el("p", { class: "muted card-help", text: "Under each figure its 95% interval; hover for how many images it rests on. Precision rests on the images the model gave the label, recall on those that have it." }),
    el("div", { class: "table-wrap" }, table({ class: "data-table test-per-label", id: "test-per-label-table" }, head, body)),
  );
}

/** The comparison with the version that was current, in words; null without one. */
export function verdictText(baseline) {
  if (!baseline || baseline.split !== "test" || !baseline.images || !HEADS[baseline.verdict]) return null;
  const other = `v${baseline.version}`;
  const head = HEADS[baseline.verdict](other);
  const seen = baseline.seen ? ` (${plural(baseline.seen, "image")} ${other} had seen left out)` : "";
  let text = `${head} on ${plural(baseline.images, "test image")} neither was trained on${seen}: ${other} alone right on ${baseline.only_current_right}, this one alone on ${baseline.only_candidate_right} (exact McNemar test, ${pText(baseline.p_value)}).`;
  const gain = baseline.macro_f1_gain;
  if (gain && isNum(gain.value)) {
    const sign = (v) => (v >= 0 ? `+${v.toFixed(3)}` : `−${(-v).toFixed(3)}`);
    text += ` Macro-F1 ${sign(gain.value)}${Array.isArray(gain.interval) ? ` (95% interval ${sign(gain.interval[0])} to ${sign(gain.interval[1])})` : ""}.`;
  }
  return text;
}

/** The comparison as a verdict badge and its sentence (the version card). */
export function renderVerdict(box, version) {
  const baseline = (version.metrics || {}).baseline;
  const text = verdictText(baseline);
  if (!text) {
    fill(box, version.promotion_note ? el("p", { class: "verdict-note muted", text: version.promotion_note }) : null);
    return;
  }
  fill(
    box,
    el(
      "p",
      { class: "verdict-line", dataset: { verdict: baseline.verdict } },
      el("span", { class: "verdict", dataset: { verdict: baseline.verdict }, text: VERDICTS[baseline.verdict] }),
      el("span", { class: "verdict-text", text }),
    ),
    el("p", { class: "muted small decision", text: decision(version) }),
  );
}

/** What the comparison decided when the version was trained (the sentence above says why). */
const DECISIONS = {
  Promoted: "Promoted when it was trained",
  "Not promoted": "Not promoted when it was trained",
  "Nothing changed": "Not promoted when it was trained: nothing changed",
};

function decision(version) {
  const note = version.promotion_note || "";
  const made = DECISIONS[note.split(":")[0]];
  if (!made) return note;
  return `${made}${version.is_current ? "; it is the current version" : ""}.`;
}

/** Below this many test images a figure moves by more than 3 points with one image. */
const FEW_TEST_IMAGES = 30;

/** A warning when the test figures rest on a handful of images, else nothing. */
function fewTestImages(images) {
  if (images >= FEW_TEST_IMAGES) return "";
  return ` Only ${plural(images, "test image")}: one image more or less right moves accuracy by ${Math.round(100 / images)} points, so read these figures as rough until the project has more final labels.`;
}

/** What the test figures rest on, in a sentence; or why there are none. */
export function testNote(version, run) {
  const test = (version.metrics || {}).test;
  if (test) {
    const validation = run && run.validation_count ? ` The epoch kept and the thresholds were chosen on ${plural(run.validation_count, "other image")} (validation).` : "";
    return `Scored on ${plural(test.images, "held-out test image")}: no model of this project trains on them.${validation}${fewTestImages(test.images)}`;
  }
  if (run && run.test_count === 0 && run.status === "succeeded") {
    return "No test image yet: a label gets its share of test images once it has a few more final labels than the two a training needs.";
  }
  return "This version was trained before the project had a test set: it has no test figures; its figures below are on its validation images, which also chose its kept epoch.";
}
