/* The served predictions' table: when, which version, the top label and its probability,
 * who asked (a person, or a token by its name) and the image's fingerprint. */
import { el } from "../lib/dom.js";
import { labelChip } from "../lib/labels.js";
import { table } from "../lib/tables.js";
import { percent, timeTag } from "../lib/format.js";

/** The query string of the filters' form: only the filters that are set. */
export function filterQuery(form) {
  const query = new URLSearchParams();
  for (const name of ["version", "label", "below"]) {
    const value = form.elements[name].value.trim();
    if (value) query.set(name, value);
  }
  return query;
}

/** An empty table of served predictions; rows are added with servedRows(). */
export function servedTable() {
  const head = ["Time", "Version", "Top label", "Probability", "Caller", "Image"].map((text) => el("th", { scope: "col", text }));
  return table({ class: "served-table", id: "served-table" }, head, []);
}

/** One row a served prediction. */
export function servedRows(predictions) {
  return predictions.map((served) =>
    el(
      "tr",
      { dataset: { servedId: String(served.id) } },
      el("td", {}, timeTag(served.created_at)),
      el("td", { class: "version", text: served.version === null ? "—" : `v${served.version}` }),
      el("td", { class: "top-label" }, served.top_label === null ? el("span", { class: "muted", text: "—" }) : labelChip(served.top_label)),
      el("td", { class: "probability", title: String(served.probability) }, probabilityBar(served.probability)),
      el("td", { class: "caller" }, caller(served)),
      el("td", {}, el("code", { class: "sha", title: served.image_sha256, text: served.image_sha256.slice(0, 12) })),
    ),
  );
}

function probabilityBar(probability) {
  return el(
    "span",
    { class: "probability-cell" },
    el("span", { class: "probability-track", "aria-hidden": "true" }, el("span", { class: "probability-fill", style: { width: percent(probability) } })),
    el("span", { class: "probability-value", text: probability.toFixed(3) }),
  );
}

function caller(served) {
  if (served.token !== null) return el("span", {}, el("span", { class: "pill pill-muted", text: "token" }), " ", el("span", { text: served.token }));
  return el("span", { text: served.caller ?? "—" });
}
