/* A project's labels on the page: names, chips and the help's list of hotkeys (the buttons that
 * choose them are lib/label-picker.js's).
 *
 * A page makes its labels ({id, name, color, hotkey, group}) known once, with setLabels() or
 * readPageData(); the helpers below look labels up by id from then on.
 */
import { $, el, fill, pageData } from "./dom.js";
import { FEW_LABELS } from "./label-picker.js";

const byId = new Map();

export function setLabels(labels) {
  byId.clear();
  for (const label of labels) byId.set(label.id, label);
}

/** The page's json_script data, its labels made known, and its labels by (lower-case) hotkey. */
export function readPageData(scriptId) {
  const data = pageData(scriptId);
  const labels = data.labels;
  setLabels(labels);
  return {
    data,
    labels,
    labelByKey: new Map(labels.filter((l) => l.hotkey).map((l) => [l.hotkey.toLowerCase(), l])),
  };
}

/** The label of an id, or undefined for one the page does not know. */
export const labelOf = (id) => byId.get(id);

export function labelName(id) {
  const label = byId.get(id);
  return label ? label.name : `label ${id}`;
}

export const labelNames = (ids) => ids.map(labelName).join(", ");

/** A label as a swatch and its name (tables and cards of the lead's pages). */
export function labelChip(id) {
  const label = byId.get(id);
  return el(
    "span",
    { class: "label-chip" },
    el("span", { class: "swatch", style: { background: label ? label.color : "#ccc" }, "aria-hidden": "true" }),
    el("span", { class: "label-chip-name", text: labelName(id) }),
  );
}

/** Labels as coloured name tags (the review pages). */
export function chips(ids) {
  return ids.map((id) => {
    const label = byId.get(id) || { name: `label ${id}`, color: "#7f7f7f" };
    return el("span", { class: "chip", style: { "--label-color": label.color }, text: label.name });
  });
}

/** The ? button opens the shortcuts dialog, which lists the labels' hotkeys (past nine
 * labels it says where they are: on the buttons, and / searches). */
export function setUpHelp(labels) {
  $("help-button").addEventListener("click", () => $("help-dialog").showModal());
  if (labels.length > FEW_LABELS) {
    fill(
      $("help-label-keys"),
      el("span", { text: "a label's key or two-key chord (on its button), or " }),
      el("kbd", { text: "/" }),
      el("span", { text: " to search, then " }),
      el("kbd", { text: "Enter" }),
    );
    return;
  }
  fill(
    $("help-label-keys"),
    labels.filter((l) => l.hotkey).map((l) => el("kbd", { title: l.name, text: l.hotkey })),
  );
}
