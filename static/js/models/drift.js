/* The Models page's drift card: each check's three p-values over time (log scale) with the
 * line below which a check alarms, and a lead's "Check now".
 *
 * A check alarms when its smallest p-value is at most the false-alarm rate divided by the
 * three tests (Holm's first step), so one line serves every test. Strings from data go in
 * as text, never as markup (lib/dom.js).
 */
import { $, el, fill, svg } from "../lib/dom.js";
import { request, errorMessage } from "../lib/api.js";
import { when } from "../lib/format.js";

const TESTS = [
  { key: "embeddings", name: "Embeddings (MMD)", colour: "#2458d6" },
  { key: "confidence", name: "Confidence (Kolmogorov-Smirnov)", colour: "#2b8a3e" },
  { key: "labels", name: "Predicted labels (chi-square)", colour: "#7048e8" },
];
const FLOOR = 1e-4; // p-values below are drawn on the chart's floor
const DECADES = -Math.log10(FLOOR);

/** The p-value chart of ``series`` (checks, oldest first) with the alarm line at ``rate`` / 3. */
export function renderDriftChart(box, series, rate, { width = 760 } = {}) {
  if (!series.length) {
    fill(box, el("p", { class: "muted", text: "No checks to draw yet." }));
    return;
  }
  const threshold = rate / TESTS.length;
  const chart = pChart(series, threshold, width);
  const legend = el(
    "ul",
    { class: "chart-legend" },
    TESTS.map((t) =>
      el("li", {}, el("span", { class: "legend-line", style: { borderColor: t.colour }, "aria-hidden": "true" }), el("span", { text: t.name })),
    ),
    el(
      "li",
      {},
      el("span", { class: "legend-line drift-threshold-key", "aria-hidden": "true" }),
      el("span", { text: `Alarm below p = ${threshold.toPrecision(2)} (${(rate * 100).toPrecision(2)}% ÷ 3 tests)` }),
    ),
  );
  fill(box, el("figure", { class: "chart" }, chart, legend));
}

function pChart(series, threshold, width) {
  const height = 240;
  const margin = { top: 12, right: 20, bottom: 34, left: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const n = series.length;
  const x = (i) => margin.left + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (p) => margin.top + (Math.min(DECADES, -Math.log10(Math.max(p, FLOOR))) / DECADES) * plotH;
  const root = svg("svg", {
    id: "drift-p-values",
    class: "line-chart",
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": `p-values of ${n} drift check${n === 1 ? "" : "s"}, with the alarm line`,
  });
  for (let d = 0; d <= DECADES; d += 1) {
    const p = 10 ** -d;
    root.append(svg("line", { x1: margin.left, x2: width - margin.right, y1: y(p), y2: y(p), class: d === DECADES ? "axis" : "grid" }));
    root.append(svg("text", { x: margin.left - 6, y: y(p) + 4, class: "tick", "text-anchor": "end" }, d === 0 ? "p = 1" : `${p}`));
  }
  series.forEach((check, i) => {
    if (check.alarm) {
      root.append(svg("rect", { x: x(i) - 6, y: margin.top, width: 12, height: plotH, class: "drift-alarm-mark", "data-check": String(check.id) }));
    }
  });
  root.append(
    svg("line", { x1: margin.left, x2: width - margin.right, y1: y(threshold), y2: y(threshold), class: "drift-threshold" }),
    svg("text", { x: width - margin.right, y: y(threshold) - 5, class: "drift-threshold-text", "text-anchor": "end" }, "alarm"),
  );
  const step = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(plotW / 110))));
  series.forEach((check, i) => {
    if (i % step === 0 || i === n - 1) {
      const anchor = n > 1 && i === 0 ? "start" : n > 1 && i === n - 1 ? "end" : "middle";
      root.append(svg("text", { x: x(i), y: height - 14, class: "tick", "text-anchor": anchor }, when(check.created_at)));
    }
  });
  for (const test of TESTS) root.append(testPath(series, test, x, y));
  return root;
}

function testPath(series, test, x, y) {
  const group = svg("g", { class: "series-group", "data-series": test.key });
  const d = series.map((check, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(check.tests[test.key].p_value).toFixed(1)}`).join("");
  group.append(svg("path", { d, fill: "none", stroke: test.colour, "stroke-width": "2", class: "series" }));
  series.forEach((check, i) => {
    const p = check.tests[test.key].p_value;
    group.append(
      svg(
        "circle",
        { cx: x(i), cy: y(p), r: series.length > 30 ? 2 : 3.5, fill: test.colour, class: "point", "data-value": p },
        svg("title", { text: `${test.name}, ${when(check.created_at)}: p = ${p.toPrecision(2)} (${check.n_recent} served)` }),
      ),
    );
  });
  return group;
}

async function runCheck(data) {
  const button = $("drift-run");
  button.disabled = true;
  const result = await request("POST", data.url);
  button.disabled = false;
  const error = $("drift-error");
  const note = $("drift-note");
  error.hidden = result.ok;
  note.hidden = !result.ok;
  if (!result.ok) {
    error.textContent = errorMessage(result);
    return;
  }
  if (result.status === 202) {
    note.textContent = result.body.detail;
    return;
  }
  window.location.reload(); // the banner and the card are drawn by the server
}

function start() {
  const data = JSON.parse($("drift-data").textContent);
  renderDriftChart($("drift-chart"), data.series, data.rate);
  const button = $("drift-run");
  if (button) button.addEventListener("click", () => runCheck(data));
}

start();
