/* A version's curves on the held-out test images: ROC and precision-recall per label with
 * their averages, and the reliability diagram. The server stores each curve thinned to at
 * most ~100 points; the areas in the legends come from the full curves.
 *
 * Strings from data (label names) go in as text or attributes, never as markup.
 */
import { el, fill, svg } from "../lib/dom.js";
import { fixed, isNum, percent, plural } from "../lib/format.js";
import { labelName, labelOf } from "../lib/labels.js";

const SIZE = 280;
const MARGIN = { top: 10, right: 12, bottom: 34, left: 40 };
const AVERAGE_COLOURS = { micro: "#1d2330", macro: "#6b7385" };

/** A square plot of [0, 1] x [0, 1] with its grid, ticks and axis names. */
function plot(id, xName, yName, label) {
  const inner = SIZE - MARGIN.left - MARGIN.right;
  const x = (v) => MARGIN.left + v * inner;
  const y = (v) => MARGIN.top + (1 - v) * inner;
  const root = svg("svg", { id, class: "curve-chart", viewBox: `0 0 ${SIZE} ${SIZE}`, width: "100%", role: "img", "aria-label": label });
  for (let i = 0; i <= 4; i += 1) {
    const v = i / 4;
    root.append(svg("line", { x1: x(0), x2: x(1), y1: y(v), y2: y(v), class: i ? "grid" : "axis" }));
    root.append(svg("line", { x1: x(v), x2: x(v), y1: y(0), y2: y(1), class: i ? "grid" : "axis" }));
    root.append(svg("text", { x: MARGIN.left - 5, y: y(v) + 4, class: "tick", "text-anchor": "end" }, v.toFixed(2)));
    root.append(svg("text", { x: x(v), y: y(0) + 14, class: "tick", "text-anchor": "middle" }, v.toFixed(2)));
  }
  root.append(svg("text", { x: x(0.5), y: SIZE - 4, class: "tick axis-name", "text-anchor": "middle" }, xName));
  root.append(svg("text", { x: 11, y: y(0.5), class: "tick axis-name", "text-anchor": "middle", transform: `rotate(-90 11 ${y(0.5)})` }, yName));
  return { root, x, y };
}

function path(xs, ys, x, y) {
  return xs.map((v, i) => `${i ? "L" : "M"}${x(v).toFixed(1)},${y(ys[i]).toFixed(1)}`).join("");
}

/** A precision-recall curve as scikit-learn draws it (steps-post): precision holds until
 * the next threshold, never a straight line between two thresholds' points. */
function stepPath(xs, ys, x, y) {
  let d = `M${x(xs[0]).toFixed(1)},${y(ys[0]).toFixed(1)}`;
  for (let i = 1; i < xs.length; i += 1) d += `H${x(xs[i]).toFixed(1)}V${y(ys[i]).toFixed(1)}`;
  return d;
}

const labelColour = (id) => (labelOf(id) ? labelOf(id).color : "#7f7f7f");
const areaText = (figure) => (figure && isNum(figure.value) ? fixed(figure.value) : "—");

/** The series a chart draws: each label's curve, then the averages (dashed). */
function seriesOf(curves, kind, perLabel, averages) {
  const key = kind === "roc" ? "roc_auc" : "average_precision";
  const byLabel = new Map((perLabel || []).map((row) => [row.label, row]));
  const series = (curves[kind] || []).map((curve) => ({
    key: String(curve.label),
    name: labelName(curve.label),
    colour: labelColour(curve.label),
    curve,
    area: areaText(byLabel.get(curve.label)?.[key]),
  }));
  const average = (name, curve, figure) => (curve ? { key: name, name: `${name}-average`, colour: AVERAGE_COLOURS[name], dashed: true, curve, area: areaText(figure) } : null);
  return [
    ...series,
    average("micro", curves[`micro_${kind}`], averages[key]?.micro),
    kind === "roc" ? average("macro", curves.macro_roc, averages[key]?.macro) : null,
  ].filter(Boolean);
}

/** ROC curves (kind "roc") or precision-recall curves (kind "pr") of a version's test figures. */
export function renderCurves(box, test, kind) {
  const curves = (test && test.curves) || {};
  const series = seriesOf(curves, kind, test && test.per_label, test || {});
  if (!series.length) {
    fill(box, el("p", { class: "muted", text: "No curve: no label has test images both with and without it." }));
    return;
  }
  const roc = kind === "roc";
  const area = roc ? "AUC" : "AP";
  const { root, x, y } = plot(
    roc ? "roc-chart" : "pr-chart",
    roc ? "false positive rate" : "recall",
    roc ? "true positive rate" : "precision",
    `${roc ? "ROC" : "Precision-recall"} curves on the test images: ${series.map((s) => `${s.name} ${area} ${s.area}`).join(", ")}`,
  );
  if (roc) root.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "chance" }, svg("title", { text: "A random ranking" })));
  else if (curves.micro_pr && isNum(curves.micro_pr.base)) {
    const base = curves.micro_pr.base;
    root.append(svg("line", { x1: x(0), y1: y(base), x2: x(1), y2: y(base), class: "chance" }, svg("title", { text: `A random ranking: precision ${fixed(base)}` })));
  }
  for (const s of series) {
    const xs = roc ? s.curve.fpr : s.curve.recall;
    const ys = roc ? s.curve.tpr : s.curve.precision;
    root.append(
      svg(
        "path",
        { d: (roc ? path : stepPath)(xs, ys, x, y), class: "curve", fill: "none", stroke: s.colour, "stroke-width": s.dashed ? "2" : "1.6", "stroke-dasharray": s.dashed ? "5 3" : null, "data-series": s.key, "data-points": String(s.curve.points) },
        svg("title", { text: `${s.name}: ${area} ${s.area} (${plural(s.curve.points, "point")} in full)` }),
      ),
    );
  }
  fill(
    box,
    el(
      "figure",
      { class: "chart curve-figure" },
      root,
      el(
        "ul",
        { class: "chart-legend curve-legend" },
        series.map((s) =>
          el(
            "li",
            { dataset: { series: s.key } },
            el("span", { class: s.dashed ? "legend-line dashed" : "legend-line", style: { borderColor: s.colour }, "aria-hidden": "true" }),
            el("span", { text: `${s.name} ${area} ${s.area}` }),
          ),
        ),
      ),
    ),
  );
}

/** The reliability diagram: per bin, how often the outcome came true against the mean
 * confidence (with its 95% interval), the diagonal perfect calibration, counts beneath. */
export function renderReliability(box, calibration) {
  const bins = ((calibration && calibration.bins) || []).filter((b) => b.count);
  if (!bins.length) {
    fill(box, el("p", { class: "muted", text: "No calibration figures for this version." }));
    return;
  }
  const topLabel = calibration.kind === "top label";
  const { root, x, y } = plot(
    "reliability-chart",
    topLabel ? "confidence in the top label" : "probability given to a label",
    topLabel ? "share right" : "share that has the label",
    `Reliability diagram over ${plural(bins.length, "bin")}`,
  );
  root.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "chance" }, svg("title", { text: "Perfect calibration" })));
  const most = Math.max(...bins.map((b) => b.count));
  for (const b of bins) {
    const height = (b.count / most) * 0.18;
    root.append(svg("rect", { x: x(b.lower) + 1, y: y(height), width: x(b.upper) - x(b.lower) - 2, height: y(0) - y(height), class: "bin-count" }, svg("title", { text: `${plural(b.count, "decision")} from ${fixed(b.lower)} to ${fixed(b.upper)}` })));
  }
  const points = bins.map((b) => `${x(b.confidence).toFixed(1)},${y(b.observed).toFixed(1)}`).join(" ");
  root.append(svg("polyline", { points, class: "reliability-line", fill: "none" }));
  for (const b of bins) {
    const [low, high] = b.interval || [b.observed, b.observed];
    const title = `Confidence ${percent(b.confidence)}: ${percent(b.observed)} came true (95% interval ${percent(low)}–${percent(high)}), ${plural(b.count, "decision")}`;
    root.append(
      svg(
        "g",
        { class: "reliability-bin", "data-count": String(b.count) },
        svg("line", { x1: x(b.confidence), x2: x(b.confidence), y1: y(low), y2: y(high), class: "whisker" }),
        svg("circle", { cx: x(b.confidence), cy: y(b.observed), r: 3.5, class: "reliability-point" }),
        svg("title", { text: title }),
      ),
    );
  }
  fill(
    box,
    el(
      "figure",
      { class: "chart curve-figure" },
      root,
      el("p", {
        class: "muted small",
        text: `${topLabel ? "How often the top label is right" : "How often an image has a label"} at each level of confidence; bars: how many decisions. On the diagonal, the model is as sure as it is right.`,
      }),
    ),
  );
}
