/* The slice report's pictures: images per label as bars, and a slice's label mix as one
 * stacked bar. SVG built from data; label names go in as text, never as markup.
 */
import { el, svg } from "../lib/dom.js";
import { percent, plural } from "../lib/format.js";
import { labelName, labelOf } from "../lib/labels.js";
import { PALETTE } from "../dashboard/common.js";

// Labels' own colours, unless two labels share one: then the bars could not be told
// apart, and the dashboard's palette colours them in label order instead.
let colours = new Map();

/** Decide the colour of each label of the report (call before drawing). */
export function setColours(labelIds) {
  const own = labelIds.map((id) => (labelOf(id) ? labelOf(id).color.toLowerCase() : null));
  const distinct = own.every((colour) => colour) && new Set(own).size === own.length;
  colours = new Map(labelIds.map((id, i) => [id, distinct ? own[i] : PALETTE[i % PALETTE.length]]));
}

const colourOf = (id) => colours.get(id) || "#7f7f7f";

/** One horizontal bar per label: its count and share of the final labels, the rarest marked. */
export function labelBars(labelIds, counts, { rarest = null, width = 520 } = {}) {
  const total = counts.reduce((sum, n) => sum + n, 0);
  const largest = Math.max(1, ...counts);
  const row = 26;
  const left = 128;
  const right = 96;
  const height = row * labelIds.length + 6;
  const plot = width - left - right;
  const root = svg("svg", {
    id: "label-bars",
    class: "bar-chart",
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": `Final labels per label, ${plural(total, "image")} in all`,
  });
  labelIds.forEach((id, i) => {
    const y = 3 + i * row;
    const count = counts[i] || 0;
    const share = total ? count / total : 0;
    const barWidth = Math.max(count ? 2 : 0, (plot * count) / largest);
    const group = svg("g", { class: id === rarest ? "bar rarest" : "bar", "data-label": String(id), "data-count": String(count) });
    group.append(
      svg("text", { x: left - 8, y: y + row / 2 + 4, class: "bar-name", "text-anchor": "end" }, clip(labelName(id), 18)),
      svg("rect", { x: left, y: y + 4, width: barWidth, height: row - 8, rx: 3, fill: colourOf(id) }),
      svg("text", { x: left + barWidth + 6, y: y + row / 2 + 4, class: "bar-value" }, `${count} · ${percent(share)}`),
      svg("title", { text: `${labelName(id)}: ${plural(count, "image")}, ${percent(share)} of the final labels` }),
    );
    root.append(group);
  });
  return root;
}

/** A slice's label mix as one bar of its labels' shares (empty without final labels). */
export function mixBar(labelIds, counts, { width = 96, height = 14 } = {}) {
  const total = counts.reduce((sum, n) => sum + n, 0);
  const root = svg("svg", {
    class: "mix-bar",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": total ? mixWords(labelIds, counts, total) : "No final labels",
  });
  if (!total) {
    root.append(svg("rect", { x: 0, y: 0, width, height, rx: 2, class: "mix-empty" }));
    return root;
  }
  let x = 0;
  labelIds.forEach((id, i) => {
    const part = ((counts[i] || 0) / total) * width;
    if (!part) return;
    root.append(
      svg(
        "rect",
        { x, y: 0, width: part, height, fill: colourOf(id) },
        svg("title", { text: `${labelName(id)}: ${counts[i]} (${percent(counts[i] / total)})` }),
      ),
    );
    x += part;
  });
  return root;
}

/** The colours of the mix bars, named. */
export function mixLegend(labelIds) {
  return el(
    "ul",
    { class: "chart-legend mix-legend" },
    labelIds.map((id) =>
      el(
        "li",
        {},
        el("span", { class: "swatch", style: { background: colourOf(id) }, "aria-hidden": "true" }),
        el("span", { text: labelName(id) }),
      ),
    ),
  );
}

function mixWords(labelIds, counts, total) {
  return labelIds
    .map((id, i) => `${labelName(id)} ${percent((counts[i] || 0) / total)}`)
    .join(", ");
}

function clip(text, most) {
  return text.length > most ? `${text.slice(0, most - 1)}…` : text;
}
