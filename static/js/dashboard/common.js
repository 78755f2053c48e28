/* Shared pieces of the agreement dashboard: DOM builders, number formats, kappa bands and
 * their colours, label chips and sortable tables.
 *
 * Every string from data goes into the page as text (textContent or an attribute), never
 * as markup: el() and svg() have no way to set innerHTML.
 */
export const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
// Landis & Koch (1977) bands; "centre" places each band's colour on the heat map scale.
export const BANDS = [
  { name: "poor", range: "below 0", centre: -0.2 },
  { name: "slight", range: "0.00–0.20", centre: 0.1 },
  { name: "fair", range: "0.21–0.40", centre: 0.3 },
  { name: "moderate", range: "0.41–0.60", centre: 0.5 },
  { name: "substantial", range: "0.61–0.80", centre: 0.7 },
  { name: "almost perfect", range: "0.81–1.00", centre: 0.9 },
];
export const BAND_EDGES = [0, 0.2, 0.4, 0.6, 0.8];
export const PALETTE = [
  "#2458d6",
  "#d9480f",
  "#2b8a3e",
  "#7048e8",
  "#c2255c",
  "#0b7285",
  "#e67700",
  "#5c940d",
  "#862e9c",
  "#495057",
];

// ---- small DOM and number helpers -------------------------------------------------
export function el(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** Replace a node's children, skipping the null ones (replaceChildren would print "null"). */
export function fill(node, ...children) {
  node.replaceChildren(
    ...children.flat().filter((c) => c !== null && c !== undefined && c !== false),
  );
}

export function svg(tag, props = {}, ...children) {
  return build(document.createElementNS(SVG, tag), props, children);
}

/** Set props on node and append its children, leaving out null, undefined and false ones. */
function build(node, props, children) {
  setProps(node, props);
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.setAttribute("class", value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

export const slug = (name) => name.replace(/\s+/g, "-");
export const cssVar = (name) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#999";
export const isNum = (value) => typeof value === "number" && Number.isFinite(value);
export const fixed = (value) => (value < 0 ? `−${(-value).toFixed(2)}` : value.toFixed(2));
export const percent = (value) => `${Math.round(value * 100)}%`;
export const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The upper end of the Wilson 95% interval of a proportion observed over n items. */
export function wilsonUpper(p, n) {
  if (!n) return 1;
  const z = 1.96;
  const centre = p + (z * z) / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return (centre + spread) / (1 + (z * z) / n);
}

const labelById = new Map();

/** Make the project's labels ({id, name, color}) known to labelName and labelChip. */
export function setLabels(labels) {
  labelById.clear();
  for (const label of labels) labelById.set(label.id, label);
}

export function labelName(id) {
  const label = labelById.get(id);
  return label ? label.name : `label ${id}`;
}

export function labelChip(id) {
  const label = labelById.get(id);
  return el(
    "span",
    { class: "label-chip" },
    el("span", {
      class: "swatch",
      style: { background: label ? label.color : "#ccc" },
      "aria-hidden": "true",
    }),
    el("span", { class: "label-chip-name", text: labelName(id) }),
  );
}

export function bandBadge(band) {
  if (!band) return null;
  return el("span", { class: `band band-${slug(band)}`, text: band });
}

/** A figure's value as text ("—" when undefined), its reason as a tooltip and note. */
export function figureCell(figure, { asPercent = false, withBand = true } = {}) {
  if (!figure || !isNum(figure.value)) {
    const reason = figure && figure.reason ? figure.reason : "not computed";
    return el(
      "span",
      { class: "undefined-figure", title: reason },
      el("span", { "aria-hidden": "true", text: "—" }),
      el("span", { class: "sr-only", text: `undefined: ${reason}` }),
    );
  }
  const title = `${asPercent ? percent(figure.value) : fixed(figure.value)} over ${plural(figure.n_items, "image")}`;
  return el(
    "span",
    { class: "figure", title },
    el("span", {
      class: "figure-number",
      text: asPercent ? percent(figure.value) : fixed(figure.value),
    }),
    withBand ? bandBadge(figure.band) : null,
  );
}

// ---- colours -------------------------------------------------------------------------
function hexRgb(hex) {
  const value = hex.replace("#", "");
  const full = value.length === 3 ? [...value].map((c) => c + c).join("") : value;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
}

/** The heat map's colour for a kappa: band colours blended between band centres. */
export function kappaColour(value) {
  const stops = BANDS.map((band) => ({
    at: band.centre,
    rgb: hexRgb(cssVar(`--band-${slug(band.name)}`)),
  }));
  if (value <= stops[0].at) return stops[0].rgb;
  for (let i = 1; i < stops.length; i += 1) {
    if (value <= stops[i].at) {
      const t = (value - stops[i - 1].at) / (stops[i].at - stops[i - 1].at);
      return stops[i].rgb.map((c, k) =>
        Math.round(stops[i - 1].rgb[k] + t * (c - stops[i - 1].rgb[k])),
      );
    }
  }
  return stops[stops.length - 1].rgb;
}

export function inkFor(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.3 ? "#1d2330" : "#fff";
}

// ---- tables --------------------------------------------------------------------------
/** A table with one header row of headCells (cells or lists of cells), then the body's rows. */
export function table(props, headCells, rows) {
  return el("table", props, el("thead", {}, el("tr", {}, ...headCells)), el("tbody", {}, rows));
}

/** Column headers that sort the table's rows by each cell's data-sort value. */
export function makeSortable(table) {
  const headers = [...table.tHead.rows[0].cells];
  headers.forEach((th, column) => {
    if (!th.dataset.sortable) return;
    const button = el("button", { type: "button", class: "sort" }, ...th.childNodes);
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      const descending = th.getAttribute("aria-sort") !== "descending";
      headers.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      sortRows(table, column, descending, th.dataset.sortable === "text");
    });
  });
}

function sortRows(table, column, descending, asText) {
  const body = table.tBodies[0];
  const key = (row) => row.cells[column].dataset.sort;
  const rows = [...body.rows].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (x === "" || x === undefined) return y === "" || y === undefined ? 0 : 1;
    if (y === "" || y === undefined) return -1;
    const order = asText ? x.localeCompare(y) : Number(x) - Number(y);
    return descending ? -order : order;
  });
  body.append(...rows);
}

export const sortValue = (figure) => (figure && isNum(figure.value) ? String(figure.value) : "");

/** A confusion-matrix cell shaded by its share of the row: blue on the diagonal, orange off it. */
export function shareCell(count, total, diagonal, title) {
  const share = total ? count / total : 0;
  const alpha = share ? Math.max(0.08, share ** 0.6) : 0;
  const base = diagonal ? "36, 88, 214" : "217, 72, 15";
  return el(
    "td",
    {
      class: diagonal ? "cell diagonal" : "cell",
      title,
      style: {
        background: alpha ? `rgba(${base}, ${alpha.toFixed(3)})` : "",
        color: alpha > 0.55 ? "#fff" : "",
      },
      dataset: { count: String(count) },
    },
    count ? String(count) : "",
  );
}
