/* The dashboard's tables: annotators (who may need help) and labels. */
import { el, fill } from "../lib/dom.js";
import { isNum, percent, plural } from "../lib/format.js";
import { labelName, labelChip } from "../lib/labels.js";
import { table, makeSortable } from "../lib/tables.js";
import { figureCell, isFew, sortValue } from "./common.js";

/** Why each annotator may need help, as the server judged it: only on enough images, and
 * for shares only when even the top of their 95% interval is below the acceptable level
 * (labeler/agreement/needs_help.py holds the rules and their rationale). */
export function helpReasons(report) {
  const reasons = new Map();
  for (const row of report.per_annotator) {
    if (row.needs_help && row.needs_help.length) reasons.set(row.annotator, row.needs_help);
  }
  return reasons;
}

/** The fewest images an annotator's figure needs before it can flag them. */
function fewestImages(row, rules) {
  const shared = [row.kappa_with_others, row.consensus_accuracy].map((f) => f.n_items);
  return Math.max(...shared, 0) < rules.min_shared_images ? Math.max(...shared, 0) : null;
}

/** Each annotator's figures, sortable, those who may need help marked and told why. */
export function renderAnnotators(box, report) {
  const name = new Map(report.annotators.map((p) => [p.id, p.username]));
  const reasons = helpReasons(report);
  const rules = report.needs_help_rules;
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
      consensusTd(row),
      figureTd(
        gold,
        { asPercent: true },
        // Over few gold images the figure carries its n already.
        isNum(gold.value) && !isFew(gold.n_items)
          ? el("span", { class: "sub", text: ` of ${gold.n_items}` })
          : null,
      ),
      el(
        "td",
        { class: "status-cell", dataset: { sort: help ? "0" : row.too_few_images ? "1" : "2" } },
        help
          ? el("span", { class: "help-reason", text: help.join("; ") })
          : row.too_few_images
            ? el(
                "span",
                {
                  class: "few-mark",
                  title: `Judged once ${rules.min_shared_images} of this annotator's images are shared with others (or ${rules.min_gold_images} gold images)`,
                },
                "Too few images to judge ",
                el("span", {
                  class: "n-items",
                  text: `(n = ${fewestImages(row, rules) ?? row.n_rated})`,
                }),
              )
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
      text: `“Needs help” needs evidence: at least ${rules.min_shared_images} images shared with others, and then κ with others more than ${Math.round(rules.gap * 100)} points below the other annotators' median, or agreement with the consensus below that even at the top of its 95% interval; or, on at least ${rules.min_gold_images} gold images, gold accuracy under ${percent(rules.gold_floor)} even at the top of its 95% interval. “n = …” marks a figure over fewer than ${rules.few_images} images.`,
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

/** Agreement with the consensus and what it is over: images whose raters tied have no
 * consensus and count as not agreeing, so their number is said beside the figure's n. */
function consensusTd(row) {
  const figure = row.consensus_accuracy;
  const ties = row.consensus_ties || 0;
  const shown = isNum(figure.value);
  const over = isFew(figure.n_items) ? "" : ` of ${figure.n_items}`;
  const tied = ties ? `${over ? "," : ""} ${ties} tied` : "";
  return figureTd(
    figure,
    { asPercent: true },
    shown && (over || tied)
      ? el("span", {
          class: "sub consensus-n",
          title: ties
            ? `${plural(ties, "image")} of these ${figure.n_items} tied among their annotators: no consensus, counted as not agreeing`
            : null,
          text: `${over}${tied}`,
        })
      : null,
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
