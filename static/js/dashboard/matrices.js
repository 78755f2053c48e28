/* The dashboard's two matrices: Cohen's kappa for each pair of annotators, and which labels
 * two annotators gave the same image (the confusion between labels), counted in images.
 */
import { el, fill } from "../lib/dom.js";
import { isNum, fixed, percent, plural } from "../lib/format.js";
import { labelName, labelChip } from "../lib/labels.js";
import { table, shareCell } from "../lib/tables.js";
import { BANDS, kappaColour, inkFor, isFew } from "./common.js";

const TOP_CONFUSIONS = 6;
// From this many annotators on, the heat map's cells shrink and its column names turn upright.
const DENSE_FROM = 7;
// A pair whose 95% interval is wider than this is hatched: its kappa rests on few images.
const WIDE_INTERVAL = 0.4;
// So is a pair sharing fewer images than this, whatever its interval says: the asymptotic
// interval collapses to a point when a few images happen to agree perfectly.
const FEW_SHARED = 30;
// Light stripes over a cell's colour; the colour (the kappa) stays readable beneath.
const HATCH =
  "repeating-linear-gradient(135deg, rgba(255, 255, 255, 0.5) 0 2px, transparent 2px 6px)";

/** Whether the heat map has so many annotators that it needs small cells and a wide card. */
export function heatmapIsDense(report) {
  return report.annotators.length >= DENSE_FROM;
}

/** The annotators x annotators grid of pairwise kappas, coloured by value, with the band legend. */
export function renderHeatmap(box, report) {
  const people = report.annotators;
  if (people.length < 2) {
    fill(
      box,
      el("p", { class: "muted", text: "Pairs appear once a second annotator labels images." }),
    );
    return;
  }
  const pairs = new Map();
  for (const pair of report.cohen_kappa.pairs) {
    const [a, b] = pair.annotators;
    pairs.set(`${a}:${b}`, pair);
    pairs.set(`${b}:${a}`, pair);
  }
  const name = new Map(people.map((p) => [p.id, p.username]));
  // Small cells (many annotators) keep n in the tooltip only.
  const showN = !heatmapIsDense(report);
  const head = [
    el("td", { class: "corner" }),
    people.map((p) =>
      el("th", { scope: "col", title: p.username }, el("span", { text: p.username })),
    ),
  ];
  const rows = people.map((row) =>
    el(
      "tr",
      {},
      el("th", { scope: "row", title: row.username, text: row.username }),
      people.map((col) => heatCell(row, col, pairs.get(`${row.id}:${col.id}`), name, showN)),
    ),
  );
  const grid = table(
    { class: heatmapIsDense(report) ? "heatmap dense" : "heatmap", id: "heatmap-table" },
    head,
    rows,
  );
  const shared = report.cohen_kappa.pairs.some((pair) => pair.n_items > 0);
  fill(
    box,
    el("div", { class: "heatmap-wrap" }, grid),
    shared
      ? null
      : el("p", { class: "muted", text: "No two annotators have labelled the same image yet." }),
    bandLegend(),
    report.cohen_kappa.pairs.some(isWide) ? wideNote() : null,
  );
}

/** Whether a pair's kappa is uncertain: a 95% interval wider than WIDE_INTERVAL, or few images. */
function isWide(pair) {
  if (pair.n_items > 0 && pair.n_items < FEW_SHARED) return true;
  return isNum(pair.ci_low) && isNum(pair.ci_high) && pair.ci_high - pair.ci_low > WIDE_INTERVAL;
}

function interval(pair) {
  if (!isNum(pair.ci_low) || !isNum(pair.ci_high)) return "";
  return `, 95% CI ${fixed(pair.ci_low)} – ${fixed(pair.ci_high)}`;
}

function heatCell(row, col, pair, name, showN = true) {
  if (row.id === col.id)
    return el("td", { class: "cell self", title: `${row.username} (same annotator)` });
  const between = `${name.get(row.id)} × ${name.get(col.id)}`;
  const attrs = { dataset: { a: String(row.id), b: String(col.id) } };
  if (!pair || pair.n_items === 0) {
    return el("td", { ...attrs, class: "cell empty", title: `${between}: no shared images` });
  }
  const shared = plural(pair.n_items, "shared image");
  if (!isNum(pair.value)) {
    return el(
      "td",
      {
        ...attrs,
        class: "cell undefined",
        title: `${between}: κ undefined, ${pair.reason} (${shared})`,
      },
      "—",
    );
  }
  const rgb = kappaColour(pair.value);
  const agreement = isNum(pair.agreement) ? `, ${percent(pair.agreement)} identical` : "";
  const wide = isWide(pair);
  return el(
    "td",
    {
      ...attrs,
      class: "cell",
      title: `${between}: κ ${fixed(pair.value)} (${pair.band}), ${shared}${interval(pair)}${agreement}${wide ? "; wide interval: few shared images" : ""}`,
      style: {
        backgroundColor: `rgb(${rgb.join(",")})`,
        backgroundImage: wide ? HATCH : "",
        color: inkFor(rgb),
      },
      dataset: {
        ...attrs.dataset,
        value: String(pair.value),
        n: String(pair.n_items),
        ...(wide ? { wide: "true" } : {}),
      },
    },
    fixed(pair.value),
    showN && isFew(pair.n_items) ? el("span", { class: "cell-n", text: `n = ${pair.n_items}` }) : null,
  );
}

function wideNote() {
  return el(
    "p",
    {
      class: "band-legend wide-note",
      title: `The pair's 95% confidence interval for kappa is wider than ${WIDE_INTERVAL}, or they share fewer than ${FEW_SHARED} images`,
    },
    el("span", {
      class: "legend-swatch",
      style: { backgroundColor: "#8d96a8", backgroundImage: HATCH },
      "aria-hidden": "true",
    }),
    el("span", { class: "legend-name", text: "± wide interval: few shared images" }),
  );
}

function bandLegend() {
  return el(
    "ul",
    { class: "band-legend", "aria-label": "Kappa bands (Landis & Koch)" },
    BANDS.map((band) => {
      const rgb = kappaColour(band.centre);
      return el(
        "li",
        {},
        el("span", {
          class: "legend-swatch",
          style: { background: `rgb(${rgb.join(",")})` },
          "aria-hidden": "true",
        }),
        el("span", { class: "legend-name", text: band.name }),
        el("span", { class: "legend-range", text: band.range }),
      );
    }),
  );
}

/** The labels x labels matrix of images by two annotators' labels, and the pairs most confused. */
export function renderConfusion(box, report) {
  const ids = report.labels;
  const matrix = report.confusion;
  if (!matrix.some((row) => row.some((count) => count > 0))) {
    fill(
      box,
      el("p", { class: "muted", text: "No two annotators have labelled the same image yet." }),
    );
    return;
  }
  const head = [
    el(
      "td",
      { class: "corner", title: "Rows: one annotator's label; columns: another's" },
      el("span", { class: "corner-text", text: "one said ↓ · other said →" }),
    ),
    ids.map((id) => el("th", { scope: "col", title: labelName(id) }, labelChip(id))),
  ];
  const rows = ids.map((rowId, i) => {
    const total = matrix[i].reduce((sum, count) => sum + count, 0);
    return el(
      "tr",
      {},
      el("th", { scope: "row", title: labelName(rowId) }, labelChip(rowId)),
      ids.map((colId, j) => confusionCell(matrix[i][j], total, i === j, rowId, colId)),
    );
  });
  const grid = table({ class: "confusion", id: "confusion-table" }, head, rows);
  fill(
    box,
    el(
      "div",
      { class: "confusion-layout" },
      el(
        "div",
        { class: "confusion-matrix" },
        el("p", {
          class: "muted card-help",
          text: "In images: each cell counts the images where one annotator gave the row's label and another the column's; each row shaded by its share. Blue: agreed; orange: confused.",
        }),
        el("div", { class: "table-wrap plain" }, grid),
      ),
      topConfusions(ids, matrix),
    ),
  );
}

function confusionCell(count, total, diagonal, rowId, colId) {
  const images = plural(count, "image");
  let title = `No image has “${labelName(rowId)}” from one annotator and another's label.`;
  if (total && diagonal) title = `${images} where two annotators both chose “${labelName(rowId)}”.`;
  else if (total) title = `${images} where one annotator chose “${labelName(rowId)}” and another “${labelName(colId)}”.`;
  return shareCell(count, total, diagonal, title);
}

function topConfusions(ids, matrix) {
  const pairs = [];
  let disagreements = 0;
  for (let i = 0; i < ids.length; i += 1) {
    for (let j = i + 1; j < ids.length; j += 1) {
      disagreements += matrix[i][j];
      if (matrix[i][j] > 0) pairs.push({ a: ids[i], b: ids[j], count: matrix[i][j] });
    }
  }
  pairs.sort((x, y) => y.count - x.count);
  const top = pairs.slice(0, TOP_CONFUSIONS);
  const most = top.length ? top[0].count : 1;
  return el(
    "div",
    { class: "top-confusions" },
    el("h3", { text: "Most often confused" }),
    top.length
      ? el(
          "ol",
          { id: "top-confusions" },
          top.map((pair) =>
            el(
              "li",
              { dataset: { a: String(pair.a), b: String(pair.b) } },
              el(
                "span",
                { class: "pair" },
                labelChip(pair.a),
                el("span", { class: "arrow", "aria-label": "and", text: "↔" }),
                labelChip(pair.b),
              ),
              el(
                "span",
                { class: "bar-track", "aria-hidden": "true" },
                el("span", {
                  class: "bar-fill",
                  style: { width: `${(100 * pair.count) / most}%` },
                }),
              ),
              el("span", {
                class: "pair-count",
                text: `${plural(pair.count, "image")} · ${percent(pair.count / disagreements)}`,
              }),
            ),
          ),
        )
      : el("p", { class: "muted", text: "No disagreements between labels yet." }),
    top.length
      ? el("p", {
          class: "footnote muted",
          text: `In images given both labels by two annotators; shares of all ${disagreements}.`,
        })
      : null,
  );
}
