/* The labels chosen on a page's tiles and not yet accepted, kept in the browser so that a
 * reload (or a crash) mid-page loses none of them.
 *
 * Kept per project and person as {imageId: [labelIds]}, for the open tiles whose labels
 * differ from the ones the page started with (a suggestion chosen before the annotator
 * acted). A reload leases the same images again (the page endpoint renews held leases
 * first): a page shown gives its tiles these labels back. A tile accepted or skipped, or
 * undone back to its start, leaves the store; the key goes when nothing is left. Accepted
 * labels are the outbox's to keep, not this store's.
 */
const storageKey = (data) => `labeler:grid-page:${data.user}:${data.project.id}`;

export function createKept(data) {
  const key = storageKey(data);

  function read() {
    try {
      const value = JSON.parse(window.localStorage.getItem(key) || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  }

  function write(store) {
    try {
      if (Object.keys(store).length) window.localStorage.setItem(key, JSON.stringify(store));
      else window.localStorage.removeItem(key);
    } catch {
      // Storage refused or full: the labels stay on screen, only a reload would lose them.
    }
  }

  /** Records these tiles as they are now: kept while open and changed, dropped otherwise. */
  function keep(tiles) {
    const store = read();
    for (const tile of tiles) {
      const id = String(tile.item.image.id);
      if (tile.state === "open" && !sameSet(tile.labels, tile.start)) {
        store[id] = [...tile.labels].sort((a, b) => a - b);
      } else {
        delete store[id];
      }
    }
    write(store);
  }

  /** Gives a page's open tiles the labels kept for their images (only labels it knows). */
  function restore(page, labels) {
    const store = read();
    const known = new Set(labels.map((label) => label.id));
    const open = page.tiles.filter((tile) => tile.state === "open");
    for (const tile of open) {
      const kept = store[String(tile.item.image.id)];
      if (!Array.isArray(kept)) continue;
      const ids = kept.filter((id) => known.has(id));
      if (ids.length || !kept.length) tile.labels = new Set(ids);
    }
    keep(open);
  }

  return { keep, restore };
}

function sameSet(a, b) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
