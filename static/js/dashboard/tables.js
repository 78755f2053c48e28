/* The dashboard's tables: annotators (who may need help) and labels. */
import {
  el,
  fill,
  isNum,
  fixed,
  percent,
  plural,
  median,
  wilsonUpper,
  labelName,
  labelChip,
  figureCell,
  makeSortable,
  sortValue,
} from "./common.js";

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
  const head = el(
    "tr",
    {},
    el("th", { scope: "col", dataset: { sortable: "text" }, text: "Annotator" }),
    el("th", { scope: "col", class: "num", dataset: { sortable: "number" }, text: "Labels" }),
    el("th", { scope: "col", class: "num", dataset: { sortable: "number" }, text: "Labels / h" }),
    el("th", { scope: "col", dataset: { sortable: "number" }, text: "κ with others" }),
    el("th", {
      scope: "col",
      class: "num",
      dataset: { sortable: "number" },
      text: "Agrees with consensus",
    }),
    el("th", {
      scope: "col",
      class: "num",
      dataset: { sortable: "number" },
      text: "Gold accuracy",
    }),
    el("th", { scope: "col", dataset: { sortable: "number" }, text: "Status" }),
  );
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
      el("td", { class: "num", dataset: { sort: String(row.n_rated) }, text: String(row.n_rated) }),
      el(
        "td",
        {
          class: "num",
          dataset: { sort: perHour === null ? "" : String(perHour) },
          title: perHour === null ? "no labelling time recorded" : null,
        },
        perHour === null ? "—" : String(perHour),
      ),
      el(
        "td",
        { dataset: { sort: sortValue(row.kappa_with_others) } },
        figureCell(row.kappa_with_others),
      ),
      el(
        "td",
        { class: "num", dataset: { sort: sortValue(row.consensus_accuracy) } },
        figureCell(row.consensus_accuracy, { asPercent: true }),
      ),
      el(
        "td",
        { class: "num", dataset: { sort: sortValue(gold) } },
        figureCell(gold, { asPercent: true }),
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
  const table = el(
    "table",
    { class: "data-table annotators-table", id: "annotators-table" },
    el("thead", {}, head),
    el("tbody", {}, rows),
  );
  makeSortable(table);
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
    el("div", { class: "table-wrap" }, table),
    el("p", {
      class: "footnote muted",
      text: `“Needs help” means ${Math.round(HELP_GAP * 100)} points or more below the other annotators' median (κ with others, agreement with consensus), or gold accuracy under ${percent(GOLD_FLOOR)} even at the top of its 95% interval.`,
    }),
  );
}

function labelHeadCell() {
  return el("th", { scope: "col", dataset: { sortable: "text" }, text: "Label" });
}

function labelRowHead(id) {
  return el("th", { scope: "row", dataset: { sort: labelName(id).toLowerCase() } }, labelChip(id));
}

/** Each label's figures: one-vs-rest kappa (single label) or Fleiss, alpha, agreement (multi). */
export function renderLabels(box, report) {
  let table;
  if (report.multi_label) {
    table = el(
      "table",
      { class: "data-table labels-table", id: "labels-table" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          labelHeadCell(),
          el("th", { scope: "col", dataset: { sortable: "number" }, text: "Fleiss' κ" }),
          el("th", { scope: "col", dataset: { sortable: "number" }, text: "Krippendorff's α" }),
          el("th", {
            scope: "col",
            class: "num",
            dataset: { sortable: "number" },
            text: "Agreement",
          }),
        ),
      ),
      el(
        "tbody",
        {},
        report.per_label.map((row) =>
          el(
            "tr",
            { dataset: { label: String(row.label) } },
            labelRowHead(row.label),
            el(
              "td",
              { dataset: { sort: sortValue(row.fleiss_kappa) } },
              figureCell(row.fleiss_kappa),
            ),
            el(
              "td",
              { dataset: { sort: sortValue(row.krippendorff_alpha) } },
              figureCell(row.krippendorff_alpha),
            ),
            el(
              "td",
              { class: "num", dataset: { sort: sortValue(row.percent_agreement) } },
              figureCell(row.percent_agreement, { asPercent: true }),
            ),
          ),
        ),
      ),
    );
  } else {
    table = el(
      "table",
      { class: "data-table labels-table", id: "labels-table" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          labelHeadCell(),
          el("th", {
            scope: "col",
            class: "num",
            dataset: { sortable: "number" },
            text: "Ratings",
          }),
          el("th", {
            scope: "col",
            dataset: { sortable: "number" },
            title: "This label against all the others",
            text: "κ (one vs rest)",
          }),
          el("th", {
            scope: "col",
            class: "num",
            dataset: { sortable: "number" },
            title: "When one annotator chose this label, how often another did too",
            text: "Specific agreement",
          }),
        ),
      ),
      el(
        "tbody",
        {},
        report.per_label.map((row) =>
          el(
            "tr",
            { dataset: { label: String(row.label) } },
            labelRowHead(row.label),
            el("td", {
              class: "num",
              dataset: { sort: String(row.n_ratings) },
              text: String(row.n_ratings),
            }),
            el("td", { dataset: { sort: sortValue(row.kappa) } }, figureCell(row.kappa)),
            el(
              "td",
              { class: "num", dataset: { sort: sortValue(row.specific_agreement) } },
              figureCell(row.specific_agreement, { asPercent: true, withBand: false }),
            ),
          ),
        ),
      ),
    );
  }
  makeSortable(table);
  fill(
    box,
    report.multi_label
      ? el("p", {
          class: "muted card-help",
          text: "Each label as a yes/no question: did the annotators agree on whether it applies?",
        })
      : null,
    el("div", { class: "table-wrap" }, table),
  );
}
