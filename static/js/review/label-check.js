/* The model's view of an image sent to review because the model disagrees with its final
 * label: the out-of-sample probability of every label (from a model that never trained on
 * the image), beside the annotators' labels the panel lists. Read from the review
 * request's detail; hidden for every other image. */
import { $, el, fill } from "../lib/dom.js";
import { percent } from "../lib/format.js";
import { chips, labelName } from "../lib/labels.js";

const REASON = "model_disagrees";

/** Show the model's view of the item on screen (or hide the section). */
export function renderLabelCheck(item) {
  const box = $("label-check");
  if (!box) return;
  const found = item && (item.requests || []).find((r) => r.reason === REASON);
  const detail = found && found.detail;
  const view = detail && detail.probabilities;
  box.hidden = !view;
  if (!view) {
    fill($("label-check-bars"));
    return;
  }
  const rows = Object.entries(view)
    .map(([id, p]) => [Number(id), Number(p)])
    .sort((a, b) => b[1] - a[1]);
  const quality = Number(detail.quality);
  // A multi-label check names label sets (given_labels, predicted_labels) and no single label.
  const multi = detail.given_label === null || detail.given_label === undefined;
  const given = multi ? detail.given_labels || [] : [detail.given_label];
  const names = (ids) => (ids.length ? ids.map(labelName).join(", ") : "none");
  const verdict = multi
    ? `Final labels: ${names(given)}; the model gives ${names(detail.predicted_labels || [])}. `
    : `Final label ${labelName(detail.given_label)}; the model says ${labelName(detail.predicted_label)}. `;
  $("label-check-note").textContent =
    verdict + `Label quality ${Number.isFinite(quality) ? quality.toFixed(2) : "?"} (0-1, low: likely wrong).`;
  fill(
    $("label-check-bars"),
    rows.map(([id, p]) =>
      el(
        "li",
        { dataset: { given: String(given.includes(id)) } },
        chips([id]),
        el("meter", { min: "0", max: "1", value: String(p), "aria-label": labelName(id) }),
        el("span", { class: "rv-label-check-p", text: percent(p) }),
      ),
    ),
  );
}
