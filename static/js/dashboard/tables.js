/* The dashboard's tables: annotators (who may need help) and labels. */
import { el, fill } from "../lib/dom.js";
import { isNum, fixed, percent, plural } from "../lib/format.js";
import { labelName, labelChip } from "../lib/labels.js";
import { table, makeSortable } from "../lib/tables.js";
import { figureCell, sortValue, median, wilsonUpper } from "./common.js";

// "Needs help": this far below the median of the other annotators, or gold accuracy
// below GOLD_FLOOR even at the top of its 95% interval (a few gold images prove little).
const HELP_GAP = 0.15;
const GOLD_FLOOR = 0.7;

/** Why each annotator may need help: well below the others, or poor on gold images. */
export function helpReasons(report) {
  const rows = report.per_annotator;
  const checks = [
    { key: "kappa_with_others", what: "κ with others", show: fixed },
    { key: "consensus_accuracy", what: "agrees with consensus", show: percent },
  ];
  const reasons = new Map();
  for (const row of rows) {
    const found = [];
    for (const check of checks) {
      const mine = row[check.key].value;
      const others = rows
        .filter((o) => o !== row)
        .map((o) => o[check.key].value)
        .filter(isNum);
      if (!isNum(mine) || others.length < 2) continue;
      const typical = median(others);
      if (mine < typical - HELP_GAP) {
        found.push(`${check.what} ${check.show(mine)}, others' median ${check.show(typical)}`);
      }
    }
    const gold = row.gold_accuracy;
    if (isNum(gold.value) && wilsonUpper(gold.value, gold.n_items) < GOLD_FLOOR) {
      found.push(`gold accuracy ${percent(gold.value)} on ${plural(gold.n_items, "gold image")}`);
    }
    if (found.length) reasons.set(row.annotator, found);
  }
  return reasons;
}

/** Each annotator's figures, sortable, those who may need help marked and told why. */
export function renderAnnotators(box, report) {
  const name = new Map(report.annotators.map((p) => [p.id, p.username]));
  const reasons = helpReasons(report);
  const head = [
    columnHead("Annotator", { sortable: "text" }),
    columnHead("Labels", { num: true }),
    columnHead("Labels / h", { num: true }),
    columnHead("κ with others"),
    columnHead("Agrees with consensus", { num: true }),
    columnHead("Gold accuracy", { num: true }),
    columnHead("Status"),
  ];
  const rows = report.per_annotator.map((row) => {
    const username = name.get(row.annotator) || `#${row.annotator}`;
    const help = reasons.get(row.annotator);
    const perHour = isNum(row.labels_per_hour) ? Math.round(row.labels_per_hour) : null;
    const gold = row.gold_accuracy;
    return el(
      "tr",
      {
        class: help ? "needs-help" : null,
        dataset: { annotator: String(row.annotator), username },
      },
      el(
        "th",
        { scope: "row", class: "who-cell", dataset: { sort: username.toLowerCase() } },
        el("span", { class: "who-name", text: username }),
        help ? el("span", { class: "needs-help-badge", text: "Needs help" }) : null,
      ),
      countCell(row.n_rated),
      el(
        "td",
        {
          class: "num",
          dataset: { sort: perHour === null ? "" : String(perHour) },
          title: perHour === null ? "no labelling time recorded" : null,
        },
        perHour === null ? "—" : String(perHour),
      ),
      figureTd(row.kappa_with_others),
      figureTd(row.consensus_accuracy, { asPercent: true }),
      figureTd(
        gold,
        { asPercent: true },
        isNum(gold.value) ? el("span", { class: "sub", text: ` of ${gold.n_items}` }) : null,
      ),
      el(
        "td",
        { class: "status-cell", dataset: { sort: help ? "0" : "1" } },
        help
          ? el("span", { class: "help-reason", text: help.join("; ") })
          : el("span", { class: "ok-mark", text: "OK" }),
      ),
    );
  });
  const annotatorsTable = table(
    { class: "data-table annotators-table", id: "annotators-table" },
    head,
    rows,
  );
  makeSortable(annotatorsTable);
  const flagged = reasons.size;
  fill(
    box,
    el(
      "p",
      { class: flagged ? "summary warn" : "summary muted" },
      flagged
        ? `${plural(flagged, "annotator")} may need help: retraining, clearer instructions or a look at their labels in review.`
        : report.per_annotator.length < 3
          ? "Who may need help shows once three annotators have labelled the same images."
          : "Nobody stands out: each annotator agrees about as well as the others.",
    ),
    el("div", { class: "table-wrap" }, annotatorsTable),
    el("p", {
      class: "footnote muted",
      text: `“Needs help” means ${Math.round(HELP_GAP * 100)} points or more below the other annotators' median (κ with others, agreement with consensus), or gold accuracy under ${percent(GOLD_FLOOR)} even at the top of its 95% interval.`,
    }),
  );
}

/** A sortable column header; `num` right-aligns it over a column of numbers. */
function columnHead(text, { sortable = "number", num = false, title = null } = {}) {
  return el("th", { scope: "col", class: num ? "num" : null, dataset: { sortable }, title, text });
}

/** A cell with a figure, sorted by its value; percentages line up as numbers on the right. */
function figureTd(figure, { asPercent = false, withBand = true } = {}, ...extra) {
  return el(
    "td",
    { class: asPercent ? "num" : null, dataset: { sort: sortValue(figure) } },
    figureCell(figure, { asPercent, withBand }),
    ...extra,
  );
}

function countCell(n) {
  return el("td", { class: "num", dataset: { sort: String(n) }, text: String(n) });
}

/** The per-label columns after the label: chance-corrected agreement on each label as a
 * yes/no question (multi-label), or the label against the rest (single label). */
function labelColumns(multiLabel) {
  if (multiLabel) {
    return [
      { head: columnHead("Fleiss' κ"), cell: (row) => figureTd(row.fleiss_kappa) },
      { head: columnHead("Krippendorff's α"), cell: (row) => figureTd(row.krippendorff_alpha) },
      {
        head: columnHead("Agreement", { num: true }),
        cell: (row) => figureTd(row.percent_agreement, { asPercent: true }),
      },
    ];
  }
  return [
    { head: columnHead("Ratings", { num: true }), cell: (row) => countCell(row.n_ratings) },
    {
      head: columnHead("κ (one vs rest)", { title: "This label against all the others" }),
      cell: (row) => figureTd(row.kappa),
    },
    {
      head: columnHead("Specific agreement", {
        num: true,
        title: "When one annotator chose this label, how often another did too",
      }),
      cell: (row) => figureTd(row.specific_agreement, { asPercent: true, withBand: false }),
    },
  ];
}

/** Each label's figures: one-vs-rest kappa (single label) or Fleiss, alpha, agreement (multi). */
export function renderLabels(box, report) {
  const columns = labelColumns(report.multi_label);
  const labelsTable = table(
    { class: "data-table labels-table", id: "labels-table" },
    [columnHead("Label", { sortable: "text" }), columns.map((column) => column.head)],
    report.per_label.map((row) =>
      el(
        "tr",
        { dataset: { label: String(row.label) } },
        el(
          "th",
          { scope: "row", dataset: { sort: labelName(row.label).toLowerCase() } },
          labelChip(row.label),
        ),
        columns.map((column) => column.cell(row)),
      ),
    ),
  );
  makeSortable(labelsTable);
  fill(
    box,
    report.multi_label
      ? el("p", {
          class: "muted card-help",
          text: "Each label as a yes/no question: did the annotators agree on whether it applies?",
        })
      : null,
    el("div", { class: "table-wrap" }, labelsTable),
  );
}
