/* A model version's pictures: its confusion (on the validation or the test images) and its
 * learning curve.
 *
 * Strings from data (label names) go in as text or attributes, never as markup.
 */
import { el, fill, svg } from "../lib/dom.js";
import { isNum, fixed, percent, plural } from "../lib/format.js";
import { labelName, labelChip } from "../lib/labels.js";
import { table, shareCell } from "../lib/tables.js";

const LOSS_COLOURS = { train: "#2458d6", val: "#d9480f" };
const METRIC_COLOURS = { accuracy: "#2b8a3e", f1: "#7048e8" };

/** The confusion: true x predicted counts (single label), or tn/fp/fn/tp per label (multi);
 * ``where``: which images ("validation" or "test"), ``id``: the table's id. */
export function renderConfusion(box, confusion, { id = "confusion-table", where = "validation" } = {}) {
  if (!confusion || !Array.isArray(confusion.labels) || !confusion.labels.length) {
    fill(box, el("p", { class: "muted", text: "This version has no confusion figures." }));
    return;
  }
  if (Array.isArray(confusion.per_label)) renderPerLabelCounts(box, confusion, id, where);
  else renderMatrix(box, confusion, id, where);
}

function renderMatrix(box, { labels, matrix }, id, where) {
  const head = [
    el(
      "td",
      { class: "corner", title: "Rows: the final label; columns: the model's prediction" },
      el("span", { class: "corner-text", text: "true ↓ · predicted →" }),
    ),
    labels.map((id) => el("th", { scope: "col", title: labelName(id) }, labelChip(id))),
  ];
  const body = labels.map((rowId, i) => {
    const row = matrix[i] || [];
    const total = row.reduce((sum, n) => sum + n, 0);
    return el(
      "tr",
      { dataset: { label: String(rowId) } },
      el("th", { scope: "row", title: labelName(rowId) }, labelChip(rowId)),
      labels.map((colId, j) => matrixCell(row[j] || 0, total, i === j, rowId, colId, where)),
    );
  });
  const images = matrix.flat().reduce((sum, n) => sum + n, 0);
  fill(
    box,
    el("p", {
      class: "muted card-help",
      text: `${plural(images, `${where} image`)}; each row shaded by its share. Blue: right; orange: confused.`,
    }),
    el("div", { class: "table-wrap plain" }, table({ class: "confusion", id }, head, body)),
  );
}

function matrixCell(count, total, diagonal, rowId, colId, where) {
  const share = total ? count / total : 0;
  const title = total
    ? `“${labelName(rowId)}” predicted as “${labelName(colId)}”: ${count} of ${total} (${percent(share)})`
    : `No ${where} image is “${labelName(rowId)}”.`;
  return shareCell(count, total, diagonal, title);
}

function renderPerLabelCounts(box, { labels, per_label: counts }, id, where) {
  const heads = ["True negative", "False positive", "False negative", "True positive"];
  const body = labels.map((id, i) => {
    const [tn, fp, fn, tp] = counts[i] || [0, 0, 0, 0];
    return el(
      "tr",
      { dataset: { label: String(id) } },
      el("th", { scope: "row" }, labelChip(id)),
      [tn, fp, fn, tp].map((n, k) =>
        el("td", { class: `num count-${["tn", "fp", "fn", "tp"][k]}`, text: String(n) }),
      ),
    );
  });
  fill(
    box,
    el("p", {
      class: "muted card-help",
      text: `Each label as a yes/no decision on the ${where} images, at its tuned threshold.`,
    }),
    el(
      "div",
      { class: "table-wrap" },
      table(
        { class: "data-table confusion-counts", id },
        [el("th", { scope: "col", text: "Label" }), heads.map((h) => el("th", { scope: "col", class: "num", text: h }))],
        body,
      ),
    ),
  );
}

/** Train and validation loss (left axis) and validation accuracy and macro-F1 (right) per epoch. */
export function renderCurve(box, history, { width = 520, kept = null } = {}) {
  const points = (history || []).filter((h) => isNum(h.epoch));
  if (!points.length) {
    fill(box, el("p", { class: "muted", text: "No epochs recorded for this version's run." }));
    return;
  }
  const series = [
    { key: "train_loss", name: "Train loss", colour: LOSS_COLOURS.train, axis: "loss" },
    { key: "val_loss", name: "Validation loss", colour: LOSS_COLOURS.val, axis: "loss" },
    { key: "val_accuracy", name: "Validation accuracy", colour: METRIC_COLOURS.accuracy, axis: "metric", dashed: true },
    { key: "val_macro_f1", name: "Validation macro-F1", colour: METRIC_COLOURS.f1, axis: "metric", dashed: true },
  ].filter((s) => points.some((p) => isNum(p[s.key])));
  const chart = lineChart(points, series, width, kept);
  fill(
    box,
    el(
      "figure",
      { class: "chart" },
      chart,
      el(
        "ul",
        { class: "chart-legend" },
        series.map((s) =>
          el(
            "li",
            {},
            el("span", {
              class: s.dashed ? "legend-line dashed" : "legend-line",
              style: { borderColor: s.colour },
              "aria-hidden": "true",
            }),
            el("span", { text: `${s.name}${s.axis === "metric" ? " (right)" : ""}` }),
          ),
        ),
        epochMark(points, kept),
      ),
    ),
    curveTable(points, series),
  );
}

/** The epoch the chart marks: the one whose weights were kept (from the version's figures),
 * or while training, the lowest validation loss so far. */
function markedEpoch(points, kept) {
  if (isNum(kept)) return { epoch: kept, kept: true, text: `Weights kept: epoch ${kept}` };
  const best = bestEpoch(points);
  return best === null ? null : { epoch: best, kept: false, text: `Lowest validation loss so far: epoch ${best}` };
}

function epochMark(points, kept) {
  const mark = markedEpoch(points, kept);
  if (!mark) return null;
  return el(
    "li",
    { class: "epoch-mark", dataset: { epoch: String(mark.epoch) } },
    el("span", { class: "legend-line epoch-line", "aria-hidden": "true" }),
    el("span", { text: mark.text }),
  );
}

function lineChart(points, series, width, kept = null) {
  const height = 220;
  const margin = { top: 12, right: 44, bottom: 30, left: 44 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const losses = points.flatMap((p) => [p.train_loss, p.val_loss]).filter(isNum);
  const top = niceTop(Math.max(...losses, 0.1));
  const first = points[0].epoch;
  const last = points[points.length - 1].epoch;
  const x = (epoch) => margin.left + (last === first ? plotW / 2 : ((epoch - first) * plotW) / (last - first));
  const yLoss = (v) => margin.top + (1 - v / top) * plotH;
  const yMetric = (v) => margin.top + (1 - v) * plotH;
  const root = svg("svg", {
    id: "learning-curve",
    class: "line-chart",
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": `Learning curve over ${plural(points.length, "epoch")}: ${series.map((s) => s.name).join(", ")}`,
  });
  for (let i = 0; i <= 4; i += 1) {
    const y = margin.top + (i * plotH) / 4;
    root.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y, y2: y, class: i === 4 ? "axis" : "grid" }));
    root.append(svg("text", { x: margin.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, fixed(top * (1 - i / 4))));
    root.append(svg("text", { x: width - margin.right + 6, y: y + 4, class: "tick", "text-anchor": "start" }, `${Math.round(100 * (1 - i / 4))}%`));
  }
  const mark = markedEpoch(points, kept);
  if (mark) {
    root.append(
      svg(
        "line",
        {
          x1: x(mark.epoch),
          x2: x(mark.epoch),
          y1: margin.top,
          y2: margin.top + plotH,
          class: mark.kept ? "best-epoch kept-epoch" : "best-epoch",
          "data-epoch": String(mark.epoch),
        },
        svg("title", { text: mark.text }),
      ),
    );
  }
  const step = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(plotW / 40))));
  points.forEach((p, i) => {
    if (i % step === 0 || i === points.length - 1) {
      root.append(svg("text", { x: x(p.epoch), y: height - 10, class: "tick", "text-anchor": "middle" }, String(p.epoch)));
    }
  });
  root.append(svg("text", { x: margin.left + plotW / 2, y: height, class: "tick axis-name", "text-anchor": "middle" }, "epoch"));
  for (const s of series) root.append(seriesPath(points, s, x, s.axis === "loss" ? yLoss : yMetric));
  return root;
}

function seriesPath(points, s, x, y) {
  const group = svg("g", { class: "series-group", "data-series": s.key });
  let d = "";
  let open = false;
  for (const p of points) {
    if (isNum(p[s.key])) {
      d += `${open ? "L" : "M"}${x(p.epoch).toFixed(1)},${y(p[s.key]).toFixed(1)}`;
      open = true;
    } else open = false;
  }
  group.append(
    svg("path", { d, fill: "none", stroke: s.colour, "stroke-width": "2", "stroke-dasharray": s.dashed ? "5 4" : null, class: "series" }),
  );
  const show = s.axis === "metric" ? percent : (v) => v.toFixed(3);
  for (const p of points) {
    if (!isNum(p[s.key])) continue;
    group.append(
      svg(
        "circle",
        { cx: x(p.epoch), cy: y(p[s.key]), r: points.length > 30 ? 1.8 : 3, fill: s.colour, class: "point", "data-value": p[s.key] },
        svg("title", { text: `${s.name}, epoch ${p.epoch}: ${show(p[s.key])}` }),
      ),
    );
  }
  return group;
}

/** The epoch with the lowest validation loss. The weights kept are not always its: with
 * few validation images training runs every epoch and keeps the last (the version's
 * figures say which, as kept_epoch). */
export function bestEpoch(points) {
  let best = null;
  for (const p of points) if (isNum(p.val_loss) && (best === null || p.val_loss < best.val_loss)) best = p;
  return best ? best.epoch : null;
}

function niceTop(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function curveTable(points, series) {
  return el(
    "details",
    { class: "time-table" },
    el("summary", { text: "Show the figures as a table" }),
    el(
      "div",
      { class: "table-wrap" },
      table(
        { class: "data-table" },
        [el("th", { scope: "col", text: "Epoch" }), series.map((s) => el("th", { scope: "col", class: "num", text: s.name }))],
        points.map((p) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", text: String(p.epoch) }),
            series.map((s) =>
              el("td", {
                class: "num",
                text: isNum(p[s.key]) ? (s.axis === "metric" ? percent(p[s.key]) : p[s.key].toFixed(3)) : "—",
              }),
            ),
          ),
        ),
      ),
    ),
  );
}
