/* The slices of one dimension as a table, and the flagged slices as a list.
 *
 * Every figure carries its 95% interval and n; a test that was not run says why.
 */
import { el } from "../lib/dom.js";
import { isNum, fixed, percent, plural } from "../lib/format.js";
import { makeSortable, table } from "../lib/tables.js";
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

function figureTd(figure, { asPercent = false, band = false, rest = null } = {}) {
  const text = figureText(figure, { asPercent });
  const restText = rest ? figureText(rest, { asPercent }) : null;
  const elsewhere = rest ? el("span", { class: "sub rest", text: `elsewhere ${restText ? restText.value : "—"}` }) : null;
  if (!text) {
    const reason = figure && figure.reason ? figure.reason : "not computed";
    return el("td", { class: "num undefined-figure", title: reason, dataset: { sort: "" } }, "—", elsewhere);
  }
  return el(
    "td",
    { class: "num", dataset: { sort: String(figure.value) }, title: `95% interval${text.interval || ": none"}, over ${plural(text.n, "image")}` },
    el("span", { class: "figure-number", text: text.value }),
    band && figure.band ? el("span", { class: `band-dot band-${figure.band.replace(/\s+/g, "-")}`, title: figure.band, "aria-label": figure.band }) : null,
    el("span", { class: "sub interval", text: `${text.interval ? `${text.interval.trim()} · ` : ""}n ${text.n}` }),
    elsewhere,
  );
}

function testTd(question, test) {
  if (!test) return el("td", { class: "test-cell muted", dataset: { sort: "" } }, "—");
  if (!test.tested) {
    return el("td", { class: "test-cell untested", title: test.reason || "", dataset: { sort: "" } }, el("span", { class: "muted", text: "not tested" }), el("span", { class: "sub", text: test.reason || "" }));
  }
  return el(
    "td",
    {
      class: test.flagged ? "test-cell flagged" : "test-cell",
      dataset: { sort: String(test.p_adjusted) },
      title: `${test.words ? `${test.words}. ` : ""}${test.method}; ${pText(test.p_value)} before adjusting.`,
    },
    test.flagged ? el("span", { class: "flag-badge", text: QUESTION_BADGES[question] }) : el("span", { class: "ok-mark", text: "No" }),
    el("span", { class: "sub", text: `adj. ${pText(test.p_adjusted)}` }),
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

function modelCells(model) {
  if (!model) return [];
  return [
    figureTd(model.accuracy, { asPercent: true, rest: model.rest_accuracy }),
    figureTd(model.macro_f1, { rest: model.rest_macro_f1 }),
    testTd("model", model.test),
  ];
}

function sliceRow(part, labelIds, imagesUrl, withModel) {
  const flagged = [part.mix, part.labels.test, part.model && part.model.test].some((t) => t && t.flagged);
  return el(
    "tr",
    { class: flagged ? "flagged" : null, dataset: { slice: part.value, name: part.name } },
    sliceName(part, imagesUrl),
    el("td", { class: "num", dataset: { sort: String(part.n_images) } }, String(part.n_images), el("span", { class: "sub", text: `${part.n_final} final` })),
    el("td", { class: "mix-cell" }, mixBar(labelIds, part.counts)),
    testTd("mix", part.mix),
    figureTd(part.labels.kappa, { band: true, rest: part.labels.rest_kappa }),
    figureTd(part.labels.final_agreement, { asPercent: true }),
    testTd("labels", part.labels.test),
    withModel ? modelCells(part.model) : null,
  );
}

/** The overall row every slice is compared with (its mix, its agreement, its model). */
function overallRow(report, labelIds, withModel) {
  const { overall, model } = report;
  const none = () => el("td", { class: "muted" }, "—");
  return el(
    "tr",
    { class: "overall-row" },
    el("th", { scope: "row", class: "slice-name" }, el("span", { class: "name", text: "All images" })),
    el("td", { class: "num" }, String(overall.n_images), el("span", { class: "sub", text: `${overall.n_final} final` })),
    el("td", { class: "mix-cell" }, mixBar(labelIds, overall.counts)),
    none(),
    figureTd(overall.kappa, { band: true }),
    figureTd(overall.final_agreement, { asPercent: true }),
    none(),
    withModel ? [figureTd(model.accuracy, { asPercent: true }), figureTd(model.macro_f1), none()] : null,
  );
}

/** The table of one dimension's slices, sortable by its figures. */
export function slicesTable(dimension, report, imagesUrl) {
  const labelIds = report.labels.map((label) => label.id);
  const withModel = Boolean(report.model.version);
  const columns = [
    ["Slice", "text"],
    ["Images", "num"],
    ["Label mix", null],
    ["Mix differs", "num"],
    ["Fleiss' κ", "num"],
    ["Agrees with final", "num"],
    ["Labelled worse", "num"],
    ...(withModel ? [["Test accuracy", "num"], ["Test macro-F1", "num"], ["Model worse", "num"]] : []),
  ];
  const head = columns.map(([name, sort]) =>
    el("th", { scope: "col", class: sort === "num" ? "num" : null, dataset: sort ? { sortable: sort } : {} }, name),
  );
  const rows = [overallRow(report, labelIds, withModel), ...dimension.slices.map((part) => sliceRow(part, labelIds, imagesUrl, withModel))];
  const built = table({ class: "data-table slices-table", id: "slices-data-table", dataset: { dimension: dimension.key } }, head, rows);
  makeSortable(built);
  return el("div", { class: "table-wrap" }, built);
}

/** The flagged slices, surest first, each with its question, effect and adjusted p-value. */
export function flagList(report) {
  if (!report.flags.length) {
    const tested = report.dimensions
      .flatMap((d) => d.slices)
      .filter((s) => s.mix.tested || s.labels.test.tested || (s.model && s.model.test.tested)).length;
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
