/* The slices of one dimension as a table, and the flagged slices as a list.
 *
 * Every figure carries its 95% interval and n; a test that was not run says why.
 */
import { el } from "../lib/dom.js";
import { isNum, fixed, percent, plural } from "../lib/format.js";
import { makeSortable, table } from "../lib/tables.js";
import { bandBadge } from "../dashboard/common.js";
import { mixBar } from "./charts.js";

const QUESTION_BADGES = { mix: "Mix differs", labels: "Labelled worse", model: "Model worse" };

/** "p = 0.003", "p < 0.001". */
export function pText(p) {
  if (!isNum(p)) return "";
  if (p < 0.001) return "p < 0.001";
  return `p = ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

/** A figure with its interval and n: "0.62 (0.51–0.70) · n 40", or "—" with the reason. */
export function figureText(figure, { asPercent = false } = {}) {
  if (!figure || !isNum(figure.value)) return null;
  const show = asPercent ? percent : fixed;
  const interval = isNum(figure.ci_low) && isNum(figure.ci_high) ? ` (${show(figure.ci_low)}–${show(figure.ci_high)})` : "";
  return { value: show(figure.value), interval, n: figure.n_items };
}

function figureTd(figure, { asPercent = false, band = false } = {}) {
  const text = figureText(figure, { asPercent });
  if (!text) {
    const reason = figure && figure.reason ? figure.reason : "not computed";
    return el("td", { class: "num undefined-figure", title: reason, dataset: { sort: "" } }, "—");
  }
  return el(
    "td",
    { class: "num", dataset: { sort: String(figure.value) }, title: `95% interval${text.interval || ": none"}, over ${plural(text.n, "image")}` },
    el("span", { class: "figure-number", text: text.value }),
    band ? bandBadge(figure.band) : null,
    el("span", { class: "sub interval", text: `${text.interval ? `${text.interval.trim()} · ` : ""}n ${text.n}` }),
  );
}

function testTd(question, test) {
  if (!test) return el("td", { class: "test-cell muted", dataset: { sort: "" } }, "—");
  if (!test.tested) {
    return el("td", { class: "test-cell untested", title: test.reason || "", dataset: { sort: "" } }, el("span", { class: "muted", text: "not tested" }), el("span", { class: "sub", text: test.reason || "" }));
  }
  return el(
    "td",
    { class: test.flagged ? "test-cell flagged" : "test-cell", dataset: { sort: String(test.p_adjusted) }, title: test.method },
    test.flagged ? el("span", { class: "flag-badge", text: QUESTION_BADGES[question] }) : el("span", { class: "ok-mark", text: "No" }),
    el("span", { class: "sub", text: `${pText(test.p_adjusted)} adjusted` }),
    test.flagged ? el("span", { class: "sub effect", text: test.words }) : null,
  );
}

function sliceName(part, imagesUrl) {
  const query = part.browse ? new URLSearchParams(part.browse).toString() : "";
  return el(
    "th",
    { scope: "row", class: "slice-name", dataset: { sort: part.name } },
    el("span", { class: "name", text: part.name }),
    query ? el("a", { class: "sub images-link", href: `${imagesUrl}?${query}`, text: "Show images" }) : null,
  );
}

function sliceRow(part, labelIds, imagesUrl) {
  const flagged = [part.mix, part.labels.test, part.model].some((t) => t && t.flagged);
  return el(
    "tr",
    { class: flagged ? "flagged" : null, dataset: { slice: part.value, name: part.name } },
    sliceName(part, imagesUrl),
    el("td", { class: "num", dataset: { sort: String(part.n_images) } }, String(part.n_images), el("span", { class: "sub", text: `${part.n_final} final` })),
    el("td", { class: "mix-cell" }, mixBar(labelIds, part.counts)),
    testTd("mix", part.mix),
    figureTd(part.labels.kappa, { band: true }),
    figureTd(part.labels.rest_kappa),
    figureTd(part.labels.final_agreement, { asPercent: true }),
    testTd("labels", part.labels.test),
  );
}

/** The overall row every slice is compared with (its mix, its agreement). */
function overallRow(overall, labelIds) {
  return el(
    "tr",
    { class: "overall-row" },
    el("th", { scope: "row", class: "slice-name" }, el("span", { class: "name", text: "All images" })),
    el("td", { class: "num" }, String(overall.n_images), el("span", { class: "sub", text: `${overall.n_final} final` })),
    el("td", { class: "mix-cell" }, mixBar(labelIds, overall.counts)),
    el("td", { class: "muted" }, "—"),
    figureTd(overall.kappa, { band: true }),
    el("td", { class: "muted" }, "—"),
    figureTd(overall.final_agreement, { asPercent: true }),
    el("td", { class: "muted" }, "—"),
  );
}

/** The table of one dimension's slices, sortable by its figures. */
export function slicesTable(dimension, report, imagesUrl) {
  const labelIds = report.labels.map((label) => label.id);
  const head = [
    ["Slice", "text"],
    ["Images", "num"],
    ["Label mix", null],
    ["Mix differs", "num"],
    ["κ here", "num"],
    ["κ elsewhere", "num"],
    ["Agrees with final label", "num"],
    ["Labelled worse", "num"],
  ].map(([name, sort]) =>
    el("th", { scope: "col", class: sort === "num" ? "num" : null, dataset: sort ? { sortable: sort } : {} }, name),
  );
  const rows = [overallRow(report.overall, labelIds), ...dimension.slices.map((part) => sliceRow(part, labelIds, imagesUrl))];
  const built = table({ class: "data-table slices-table", id: "slices-data-table", dataset: { dimension: dimension.key } }, head, rows);
  makeSortable(built);
  return el("div", { class: "table-wrap" }, built);
}

/** The flagged slices, surest first, each with its question, effect and adjusted p-value. */
export function flagList(report) {
  if (!report.flags.length) {
    const tested = report.dimensions.flatMap((d) => d.slices).filter((s) => s.mix.tested || s.labels.test.tested).length;
    return el("p", {
      class: "muted no-flags",
      text: tested
        ? `No slice differs from the rest beyond chance (${plural(tested, "slice")} tested).`
        : "No slice is large enough to test yet: each needs 20 images, and so does the rest.",
    });
  }
  return el(
    "ol",
    { class: "flag-list" },
    report.flags.map((flag) =>
      el(
        "li",
        { dataset: { question: flag.question, dimension: flag.dimension, name: flag.name } },
        el("span", { class: "flag-badge", text: QUESTION_BADGES[flag.question] }),
        el("strong", { text: ` ${flag.dimension_title}: ${flag.name}` }),
        el("span", { class: "flag-words", text: ` — ${flag.words}; ${pText(flag.p_adjusted)} after correction.` }),
      ),
    ),
  );
}
