/* The grid's page on screen: its tiles grouped under headings by the model's suggestion
 * ("No suggestion" last, for images without one and those it is held back from), each
 * tile with its image, the labels chosen for it and whether it is marked.
 *
 * Strings from data go in as text (lib/dom.js). A tile whose suggestion is held back looks
 * exactly like one the model has nothing for: the server's note is said once, under the
 * "No suggestion" heading, never per tile.
 */
import { el, fill } from "../lib/dom.js";
import { labelOf, labelName } from "../lib/labels.js";

const NONE = "none";

/** The group a tile goes under: its suggested labels' ids, or "none". */
const groupKey = (tile) => {
  const suggestion = tile.item.suggestion;
  return suggestion && suggestion.label_ids.length ? suggestion.label_ids.join(",") : NONE;
};

/**
 * Orders a page's tiles once, as they will stay while it is on screen: the groups in the
 * project's label order, "No suggestion" last, the surest suggestion first in a group.
 */
export function arrange(page, labels) {
  const position = new Map(labels.map((label, i) => [label.id, i]));
  const rank = (tile) => {
    const key = groupKey(tile);
    return key === NONE ? Infinity : Math.min(...tile.item.suggestion.label_ids.map((id) => position.get(id) ?? 999));
  };
  const confidence = (tile) => (tile.item.suggestion ? tile.item.suggestion.confidence : 0);
  page.tiles.sort((a, b) => rank(a) - rank(b) || groupKey(a).localeCompare(groupKey(b)) || confidence(b) - confidence(a));
}

/**
 * Draws the page's open tiles into box; view says what is marked and focused
 * ({marks: Set of tiles, focus: tile, question: label|null}). Returns the tiles in the
 * order drawn, which the arrow keys follow; onTile(tile, event) gets each tile's clicks.
 */
export function drawPage(box, page, view, onTile) {
  const open = page.tiles.filter((tile) => tile.state === "open");
  const groups = [];
  for (const tile of open) {
    const key = groupKey(tile);
    if (!groups.length || groups[groups.length - 1].key !== key) groups.push({ key, tiles: [] });
    groups[groups.length - 1].tiles.push(tile);
  }
  fill(
    box,
    groups.map((group) =>
      el(
        "section",
        { class: "grid-group", dataset: { group: group.key }, "aria-label": headingText(group) },
        heading(group),
        el("ul", { class: "grid-tiles", role: "list" }, group.tiles.map((tile) => el("li", {}, tileButton(tile, view, onTile)))),
      ),
    ),
  );
  return open;
}

function headingText(group) {
  if (group.key === NONE) return "No suggestion";
  const names = group.tiles[0].item.suggestion.label_ids.map(labelName).join(", ");
  return `Suggested: ${names}`;
}

function heading(group) {
  const count = el("span", { class: "grid-count", text: String(group.tiles.length) });
  if (group.key === NONE) {
    const note = group.tiles.map((tile) => tile.item.suggestion_note).find(Boolean);
    return el(
      "h3",
      { class: "grid-group-head" },
      el("span", { class: "grid-chip none", text: "No suggestion" }),
      count,
      note ? el("span", { class: "grid-note", text: note }) : null,
    );
  }
  return el(
    "h3",
    { class: "grid-group-head" },
    el("span", { class: "grid-head-label", text: "Suggested" }),
    group.tiles[0].item.suggestion.label_ids.map((id) => chip(id)),
    count,
  );
}

export function chip(id, extraClass = "") {
  const label = labelOf(id);
  return el("span", {
    class: `grid-chip ${extraClass}`.trim(),
    style: { "--label-color": label ? label.color : "#7f7f7f" },
    text: labelName(id),
  });
}

function tileButton(tile, view, onTile) {
  const button = el("button", {
    type: "button",
    class: "grid-tile",
    dataset: { imageId: String(tile.item.image.id) },
  });
  button.addEventListener("click", (event) => {
    if (event.detail === 0) return; // Enter and Space: the page's keys have them
    onTile(tile, event);
  });
  button.addEventListener("mousedown", (event) => event.shiftKey && event.preventDefault()); // no text selection
  const suggestion = tile.item.suggestion;
  fill(
    button,
    el("span", { class: "grid-thumb" }, tile.item.img),
    suggestion
      ? el("span", { class: "grid-confidence", title: "The model's confidence", text: `${Math.round(suggestion.confidence * 100)}%` })
      : null,
    el("span", { class: "grid-over" }),
  );
  tile.button = button;
  updateTile(tile, view);
  return button;
}

/** Redraws one tile's state: its labels, mark, focus (roving tabindex). */
export function updateTile(tile, view) {
  const button = tile.button;
  if (!button) return;
  const marked = view.marks.has(tile);
  const focused = view.focus === tile;
  const suggestion = tile.item.suggestion;
  const ids = [...tile.labels].sort((a, b) => a - b);
  button.tabIndex = focused ? 0 : -1;
  button.setAttribute("aria-pressed", marked ? "true" : "false");
  Object.assign(button.dataset, {
    marked: String(marked),
    focused: String(focused),
    labels: ids.join(","),
    suggested: suggestion ? suggestion.label_ids.join(",") : "",
  });
  button.setAttribute("aria-label", tileText(tile, ids, marked, view.question));
  // Only the marks and labels are drawn again: the image stays where it is painted.
  fill(
    button.querySelector(".grid-over"),
    marked ? el("span", { class: "grid-mark", "aria-hidden": "true", text: view.question ? "yes" : "✓" }) : null,
    el(
      "span",
      { class: "grid-labels" },
      ids.length ? ids.map((id) => chip(id)) : el("span", { class: "grid-chip empty", text: "no label" }),
    ),
  );
}

function tileText(tile, ids, marked, question) {
  const parts = [`Image ${tile.item.image.id}`];
  parts.push(ids.length ? `labelled ${ids.map(labelName).join(", ")}` : "no label yet");
  const suggestion = tile.item.suggestion;
  if (suggestion) parts.push(`suggested ${suggestion.label_ids.map(labelName).join(", ")} at ${Math.round(suggestion.confidence * 100)}%`);
  if (marked) parts.push(question ? `yes, ${question.name}` : "marked");
  return parts.join("; ");
}
