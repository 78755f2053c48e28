/* The review grid's drawing: a page's tiles grouped under their consensus label, and the
 * panel beside them. Strings from data go in as text, never as markup.
 */
import { $, el, fill } from "../lib/dom.js";
import { percent, plural } from "../lib/format.js";
import { chips, labelNames } from "../lib/labels.js";
import { groupRuns, tileGroup, tileImage } from "../lib/tile-grid.js";

export const NO_CONSENSUS = "none";
const REASON_WORDS = { tie: "tie", disagreement: "split", low_confidence: "low conf.", requested: "requested" };

/** The consensus's labels of an item (none for a tie, or a requested image without one). */
export const consensusIds = (item) => (item.consensus ? item.consensus.label_ids : []);
export const groupKey = (item) => (consensusIds(item).length ? [...consensusIds(item)].sort((a, b) => a - b).join(",") : NO_CONSENSUS);

/** Items in their groups' order (the labels' order, no consensus last), else as queued. */
export function sortByGroup(items, labels) {
  const position = new Map(labels.map((l, i) => [l.id, i]));
  const rank = (item) => {
    const ids = consensusIds(item);
    return ids.length ? Math.min(...ids.map((id) => position.get(id) ?? 999)) : 1e6;
  };
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => rank(a.item) - rank(b.item) || groupKey(a.item).localeCompare(groupKey(b.item)) || a.i - b.i)
    .map(({ item }) => item);
}

/** Each label's votes on an item: [[label id, count]], most votes first. */
export function votes(item) {
  const counts = new Map();
  for (const a of item.annotations) for (const id of a.label_ids) counts.set(id, (counts.get(id) || 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
}

function voteChips(item) {
  return votes(item).map(([id, n]) => {
    const [chip] = chips([id]);
    chip.append(el("span", { class: "rg-n", text: String(n) }));
    chip.title = `${labelNames([id])}: ${plural(n, "vote")}`;
    return chip;
  });
}

const noConsensus = () => el("span", { class: "chip none", text: "no consensus" });

/**
 * grid: {items, focus, marks: Set of image ids, fixes: Map image id -> Set of label ids,
 * refused: Map image id -> message}; handlers: onClick(index, event), onDoubleClick(index),
 * onFocus(index).
 */
export function renderTiles(box, grid, handlers) {
  fill(
    box,
    groupRuns(grid.items, groupKey).map(({ key, entries }) => {
      const ids = consensusIds(entries[0].item);
      const count = el("span", { class: "muted", text: plural(entries.length, "image") });
      return tileGroup({
        className: "rg-group",
        key,
        label: key === NO_CONSENSUS ? "No consensus" : `Consensus ${labelNames(ids)}`,
        head:
          key === NO_CONSENSUS
            ? [noConsensus(), count, el("span", { class: "muted", text: "· a label key fixes them, else they stay" })]
            : [...chips(ids), count],
        tiles: entries.map(({ item, index }) => tile(item, index, grid, handlers)),
      });
    }),
  );
}

export function tile(item, index, grid, { onClick, onDoubleClick, onFocus }) {
  const id = item.image.id;
  const marked = grid.marks.has(id);
  const fix = grid.fixes.get(id);
  const refused = grid.refused.get(id);
  const consensus = consensusIds(item);
  const outcome = fix
    ? el("span", { class: "rg-outcome rg-fixed" }, el("span", { class: "rg-arrow", text: "fix →" }), chips([...fix]))
    : el("span", { class: "rg-outcome" }, consensus.length ? chips(consensus) : noConsensus());
  const button = el(
    "button",
    {
      type: "button",
      class: "tile rg-tile",
      tabindex: index === grid.focus ? "0" : "-1",
      "aria-pressed": marked ? "true" : "false",
      "aria-label": tileLabel(item, fix, marked),
      title: refused || null,
      dataset: {
        image: String(id),
        index: String(index),
        marked: marked ? "true" : "false",
        fixed: fix ? "true" : "false",
        refused: refused ? "true" : "false",
        stays: !fix && !consensus.length ? "true" : "false",
      },
    },
    el("span", { class: "tile-thumb" }, tileImage(item.image.thumbnail_url || item.image.display_url)),
    item.reason ? el("span", { class: "rg-reason", text: REASON_WORDS[item.reason] || item.reason }) : null,
    marked ? el("span", { class: "rg-mark", "aria-hidden": "true", text: "✓" }) : null,
    el("span", { class: "rg-caption" }, outcome, el("span", { class: "rg-votes" }, voteChips(item))),
  );
  button.addEventListener("click", (event) => {
    if (event.detail === 0) return; // Space and Enter: the key handler has them
    onClick(index, event);
  });
  button.addEventListener("dblclick", () => onDoubleClick(index));
  button.addEventListener("focus", () => onFocus(index));
  return button;
}

function tileLabel(item, fix, marked) {
  const consensus = consensusIds(item);
  const said = consensus.length ? `Consensus ${labelNames(consensus)}` : "No consensus";
  const voted = votes(item)
    .map(([id, n]) => `${labelNames([id])} ${n}`)
    .join(", ");
  const fixed = fix ? `; fixed to ${labelNames([...fix])}` : "";
  return `Image ${item.image.id}. ${said} (votes: ${voted || "none"})${fixed}${marked ? "; marked" : ""}`;
}

/** The panel: the focused image's votes, the label buttons, the page's summary. */
export function renderPanel(grid, { picker, sending }) {
  const item = grid.items[grid.focus];
  picker.render();
  const focused = $("grid-focused");
  if (!item) {
    fill(focused, el("p", { class: "muted", text: "No image on this page." }));
  } else {
    const consensus = item.consensus;
    fill(
      focused,
      el("p", { class: "rg-focused-title", text: `Image ${item.image.id}${item.image.original_name ? ` · ${item.image.original_name}` : ""}` }),
      el(
        "ul",
        { class: "rv-votes" },
        item.annotations.map((a) => el("li", {}, el("span", { class: "rv-user", text: a.username }), el("span", { class: "rv-chips" }, chips(a.label_ids)))),
      ),
      consensus && consensus.label_ids.length && consensus.confidence !== null
        ? el("p", { class: "muted", text: `Consensus ${labelNames(consensus.label_ids)}, ${percent(consensus.confidence)}` })
        : null,
      grid.refused.get(item.image.id) ? el("p", { class: "rg-refused-text", text: grid.refused.get(item.image.id) }) : null,
    );
  }
  renderSummary(grid, sending);
}

/** What Enter would do with the page, in words, and the confirm button's state. */
export function renderSummary(grid, sending) {
  let confirm = 0;
  let fixed = 0;
  let stay = 0;
  for (const item of grid.items) {
    if (grid.fixes.has(item.image.id)) fixed += 1;
    else if (consensusIds(item).length) confirm += 1;
    else stay += 1;
  }
  const parts = [`${confirm} to confirm`, `${fixed} fixed`];
  if (stay) parts.push(`${stay} without consensus stay${stay === 1 ? "s" : ""}`);
  if (grid.marks.size) parts.push(`${grid.marks.size} marked`);
  $("grid-summary").textContent = grid.items.length ? parts.join(" · ") : "";
  const button = $("grid-confirm");
  button.disabled = sending || confirm + fixed === 0;
  fill(button, `Confirm page${confirm + fixed ? ` (${confirm + fixed})` : ""} `, el("kbd", { text: "Enter" }));
}
