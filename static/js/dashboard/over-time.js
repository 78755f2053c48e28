/* Agreement over time: inline SVG line charts drawn from the report's over_time points, and
 * the same figures as a table.
 */
import { el, fill, svg } from "../lib/dom.js";
import { day, isNum, fixed, percent, plural } from "../lib/format.js";
import { table } from "../lib/tables.js";
import {
  figureCell,
  fewImagesLimit,
  isFew,
  BANDS,
  BAND_EDGES,
  PALETTE,
  slug,
  cssVar,
} from "./common.js";

// Raw agreement is drawn dashed and written as a percentage.
const RAW = { dashed: true, asPercent: true };

/** Line charts of the figures per day or week: the project's, and each annotator's. */
export function renderOverTime(box, report, { flagged = new Set() } = {}) {
  const overTime = report.over_time;
  if (!overTime) {
    fill(
      box,
      el("p", { class: "muted", text: "Agreement over time is not available for this report." }),
    );
    return;
  }
  const points = overTime.points || [];
  if (!points.length) {
    fill(box, el("p", { class: "muted", text: "No dated labels yet." }));
    return;
  }
  const unit = overTime.bucket === "day" ? "day" : "week";
  const dates = points.map((point) => point.start);
  const series = report.multi_label
    ? [
        { name: "Mean Jaccard", values: points.map((p) => p.jaccard) },
        { name: "Percent agreement", values: points.map((p) => p.percent_agreement), ...RAW },
      ]
    : [
        { name: "Mean Cohen's κ", values: points.map((p) => p.cohen_kappa_mean) },
        { name: "Fleiss' κ", values: points.map((p) => p.fleiss_kappa) },
        { name: "Krippendorff's α", values: points.map((p) => p.krippendorff_alpha) },
        { name: "Percent agreement", values: points.map((p) => p.percent_agreement), ...RAW },
      ];
  series.forEach((s, i) => (s.colour = PALETTE[i]));
  const people = report.annotators.map((person, i) => ({
    name: person.username,
    colour: PALETTE[i % PALETTE.length],
    asPercent: true,
    // Those who may need help stand out; the others step back while anyone is flagged.
    weight: flagged.size ? (flagged.has(person.id) ? "strong" : "faint") : null,
    values: points.map((p) => {
      const row = (p.per_annotator || []).find((r) => r.annotator === person.id);
      return row ? row.agreement_with_others : null;
    }),
  }));
  const perAnnotator = people.some((person) => person.values.some((f) => f && isNum(f.value)));
  const charts = el("div", { class: perAnnotator ? "charts two" : "charts" });
  fill(
    box,
    el("p", {
      class: "muted card-help",
      text: `Per ${unit}: the images whose last label came that ${unit}, with all their labels; n under each point is its number of images. Faded: a point over fewer than ${fewImagesLimit()} images, too few to read much into.${report.multi_label ? "" : " Shaded: the Landis & Koch bands."}`,
    }),
    charts,
    timeTable(points, series, unit),
  );
  // Side by side on wide screens, stacked on narrow ones (the stylesheet decides): draw each
  // chart at the width it gets, so that its text keeps its size.
  const style = getComputedStyle(charts);
  const columns = style.gridTemplateColumns.split(" ").filter(Boolean).length;
  const gap = parseFloat(style.columnGap) || 0;
  const width = Math.max(280, Math.floor((charts.clientWidth - gap * (columns - 1)) / columns));
  charts.append(
    chartBlock(
      "Project",
      lineChart({
        dates,
        series,
        width,
        bands: !report.multi_label,
        id: "chart-project",
        counts: points.map((point) => point.n_images),
      }),
      series,
    ),
  );
  if (perAnnotator) {
    charts.append(
      chartBlock(
        "Each annotator: agreement with the others",
        lineChart({
          dates,
          series: people,
          width,
          bands: false,
          id: "chart-annotators",
          axisPercent: true,
        }),
        people,
      ),
    );
  }
}

/** A chart with its caption and legend; pointing at a legend entry brings its line forward. */
function chartBlock(title, chart, series) {
  const focus = (index) => {
    for (const group of chart.querySelectorAll(".series-group")) {
      group.classList.toggle("faded", index !== null && group.dataset.series !== String(index));
    }
  };
  const legend = el(
    "ul",
    { class: "chart-legend" },
    series.map((s, index) => {
      const item = el(
        "li",
        {},
        el("span", {
          class: s.dashed ? "legend-line dashed" : "legend-line",
          style: { borderColor: s.colour },
          "aria-hidden": "true",
        }),
        el("span", { class: s.weight === "strong" ? "strong" : null, text: s.name }),
      );
      item.addEventListener("mouseenter", () => focus(index));
      item.addEventListener("mouseleave", () => focus(null));
      return item;
    }),
  );
  return el("figure", { class: "chart" }, el("figcaption", { text: title }), chart, legend);
}

const shortDate = day;

/** An inline SVG line chart of figures (or null) per date; gaps where a figure is undefined. */
function lineChart({ dates, series, width, bands, id, axisPercent = false, counts = null }) {
  const height = counts ? 244 : 230;
  const margin = { top: 10, right: 14, bottom: counts ? 40 : 26, left: 40 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = series.flatMap((s) =>
    s.values.filter((f) => f && isNum(f.value)).map((f) => f.value),
  );
  const low = Math.min(0, Math.floor(Math.min(...all, 0) * 5) / 5);
  const x = (i) =>
    margin.left + (dates.length === 1 ? plotW / 2 : (i * plotW) / (dates.length - 1));
  const y = (v) => margin.top + ((1 - v) / (1 - low)) * plotH;
  const root = svg("svg", {
    id,
    class: "line-chart",
    viewBox: `0 0 ${width} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": series.map((s) => s.name).join(", "),
  });
  if (bands) {
    const edges = [low, ...BAND_EDGES.filter((e) => e > low), 1];
    for (let i = 0; i < edges.length - 1; i += 1) {
      const band = BANDS.find((b) => b.centre > edges[i] && b.centre < edges[i + 1]) || BANDS[0];
      root.append(
        svg("rect", {
          x: margin.left,
          width: plotW,
          y: y(edges[i + 1]),
          height: y(edges[i]) - y(edges[i + 1]),
          fill: cssVar(`--band-${slug(band.name)}`),
          "fill-opacity": "0.12",
        }),
      );
    }
  }
  for (let tick = low; tick <= 1.0001; tick += 0.2) {
    const v = Math.round(tick * 10) / 10;
    root.append(
      svg("line", {
        x1: margin.left,
        x2: width - margin.right,
        y1: y(v),
        y2: y(v),
        class: v === 0 ? "axis zero" : "grid",
      }),
    );
    root.append(
      svg(
        "text",
        { x: margin.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" },
        axisPercent ? `${Math.round(v * 100)}%` : v.toFixed(1),
      ),
    );
  }
  const step = Math.max(1, Math.ceil(dates.length / Math.max(2, Math.floor(plotW / 70))));
  dates.forEach((date, i) => {
    const last = dates.length - 1;
    if ((i % step === 0 && (i === last || last - i >= step)) || i === last) {
      const anchor =
        dates.length === 1
          ? "middle"
          : i === 0
            ? "start"
            : i === dates.length - 1
              ? "end"
              : "middle";
      root.append(
        svg(
          "text",
          { x: x(i), y: height - 6, class: "tick", "text-anchor": anchor },
          shortDate(date),
        ),
      );
    }
  });
  if (counts) {
    // Each point's number of images, under it (every other one, or fewer, when crowded).
    const every = Math.max(1, Math.ceil(28 / Math.max(1, plotW / Math.max(1, dates.length - 1))));
    counts.forEach((n, i) => {
      if (i % every !== 0 && i !== counts.length - 1) return;
      root.append(
        svg(
          "text",
          {
            x: x(i),
            y: margin.top + plotH + 13,
            class: isFew(n) ? "tick point-n few" : "tick point-n",
            "text-anchor": "middle",
            "data-n": String(n),
          },
          `n=${n}`,
        ),
      );
    });
  }
  series.forEach((s, index) => {
    const group = svg("g", { class: "series-group", "data-series": String(index) });
    let d = "";
    let open = false;
    s.values.forEach((f, i) => {
      if (f && isNum(f.value)) {
        d += `${open ? "L" : "M"}${x(i).toFixed(1)},${y(f.value).toFixed(1)}`;
        open = true;
      } else open = false;
    });
    group.append(
      svg("path", {
        d,
        fill: "none",
        stroke: s.colour,
        "stroke-width": s.weight === "strong" ? "3" : s.weight === "faint" ? "1.5" : "2",
        "stroke-dasharray": s.dashed ? "5 4" : null,
        "stroke-opacity": s.weight === "faint" ? "0.45" : null,
        class: "series",
      }),
    );
    const show = s.asPercent ? percent : fixed;
    s.values.forEach((f, i) => {
      if (!f || !isNum(f.value)) return;
      const few = isFew(f.n_items);
      const title = `${s.name}, ${shortDate(dates[i])}: ${show(f.value)} over ${plural(f.n_items, "image")}${few ? " (few: faded)" : ""}`;
      group.append(
        svg(
          "circle",
          {
            cx: x(i),
            cy: y(f.value),
            r: dates.length > 20 ? 2.2 : 3.2,
            "fill-opacity": few ? "0.25" : s.weight === "faint" ? "0.45" : null,
            stroke: few ? s.colour : null,
            "stroke-opacity": few ? "0.6" : null,
            fill: s.colour,
            class: few ? "point few" : "point",
            "data-value": f.value,
            "data-n": String(f.n_items),
          },
          svg("title", { text: title }),
        ),
      );
    });
    root.append(group);
  });
  return root;
}

function timeTable(points, series, unit) {
  return el(
    "details",
    { class: "time-table" },
    el("summary", { text: "Show the figures as a table" }),
    el(
      "div",
      { class: "table-wrap" },
      table(
        { class: "data-table" },
        [
          el("th", { scope: "col", text: unit === "day" ? "Day" : "Week of" }),
          el("th", { scope: "col", class: "num", text: "Images" }),
          el("th", { scope: "col", class: "num", text: "Labels" }),
          series.map((s) => el("th", { scope: "col", text: s.name })),
        ],
        points.map((point, i) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", text: point.start }),
            el("td", { class: "num", text: String(point.n_images) }),
            el("td", { class: "num", text: String(point.n_annotations) }),
            series.map((s) =>
              el(
                "td",
                {},
                figureCell(s.values[i], {
                  asPercent: Boolean(s.asPercent),
                  withBand: false,
                }),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
