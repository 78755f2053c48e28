/* Grids of thumbnails under headings (machine review, the review grid): grouping, tiles'
 * images, and the keyboard's roving focus over them.
 *
 * One tile holds the tab stop (tabindex 0, the others -1); the arrow keys move it left and
 * right in grid order and up and down by the tiles' places on screen, Home and End to the
 * ends. The pages draw their own tiles (buttons) and keep their own state: these helpers
 * know only the tiles' elements and their order.
 */
import { el } from "./dom.js";

/** Runs of consecutive items that share keyOf(item): [{key, entries: [{item, index}]}]. */
export function groupRuns(items, keyOf) {
  const groups = [];
  for (const [index, item] of items.entries()) {
    const key = keyOf(item);
    if (!groups.length || groups[groups.length - 1].key !== key) groups.push({ key, entries: [] });
    groups[groups.length - 1].entries.push({ item, index });
  }
  return groups;
}

/** A group's section: its heading (head: nodes) over the list of its tiles (buttons). */
export function tileGroup({ className, key, label, head, tiles }) {
  return el(
    "section",
    { class: `tile-group ${className}`, dataset: { group: key }, "aria-label": label },
    el("h3", { class: "tile-group-head" }, head),
    el("ul", { class: "tile-list", role: "list" }, tiles.map((tile) => el("li", {}, tile))),
  );
}

/**
 * A tile's thumbnail: drawn with sharp pixels when smaller than small (a 32-pixel digit
 * blurs when stretched). onError(img) runs once when it fails to load (an expired address
 * fetched again, say).
 */
export function tileImage(src, { onError = null, small = 96 } = {}) {
  const image = el("img", { src, alt: "", loading: "lazy", draggable: "false" });
  image.addEventListener("load", () => image.classList.toggle("pixelated", image.naturalWidth < small), { once: true });
  if (onError) image.addEventListener("error", () => onError(image), { once: true });
  return image;
}

/** Give the tab stop to tiles[index], and the focus too unless focus is false. */
export function rovingFocus(tiles, index, { focus = true } = {}) {
  for (const [i, tile] of tiles.entries()) tile.tabIndex = i === index ? 0 : -1;
  const tile = tiles[index];
  if (focus && tile) {
    tile.focus({ preventScroll: true });
    tile.scrollIntoView({ block: "nearest" });
  }
}

/** Up (-1) and down (1): the index of the tile above or below in the same group's rows,
 *  else the nearest in the next group's; null when there is none. */
export function verticalNeighbour(tiles, index, direction) {
  const current = tiles[index];
  if (!current) return null;
  const box = current.getBoundingClientRect();
  const centre = box.left + box.width / 2;
  let best = null;
  for (const [i, other] of tiles.entries()) {
    const rect = other.getBoundingClientRect();
    const beyond = direction > 0 ? rect.top > box.top + 4 : rect.top < box.top - 4;
    if (!beyond) continue;
    const score = Math.abs(rect.top - box.top) * 10000 + Math.abs(rect.left + rect.width / 2 - centre);
    if (best === null || score < best.score) best = { i, score };
  }
  return best ? best.i : null;
}

/** Where a moving key (arrows, Home, End) takes the focus from index; null for other keys
 *  or where it cannot go. */
export function movedIndex(key, tiles, index) {
  const last = tiles.length - 1;
  if (last < 0) return null;
  switch (key) {
    case "ArrowLeft":
      return Math.max(0, index - 1);
    case "ArrowRight":
      return Math.min(last, index + 1);
    case "ArrowUp":
      return verticalNeighbour(tiles, index, -1);
    case "ArrowDown":
      return verticalNeighbour(tiles, index, 1);
    case "Home":
      return 0;
    case "End":
      return last;
    default:
      return null;
  }
}

export const MOVING_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);
