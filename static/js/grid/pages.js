/* Pages of images from the queue (page/), their thumbnails loaded and decoded before they
 * are shown, and the page after the one on screen asked for ahead (look-ahead), so that
 * accepting a page puts the next one up in the frame that follows the key.
 *
 * What a tile shows is the image's thumbnail (LABELER_THUMBNAIL_SIZE, 256 pixels a side,
 * larger than a tile's box at 1x and about its size at 1.5x); an image without one yet
 * shows its display copy, scaled down. The page ahead holds leases as the one on screen
 * does: the server's cap for grid leases is two pages (LABELER_MAX_LEASES or 2 x
 * grid_size, the larger).
 */
import { request, errorMessage, isRefusal, retryDelay, sleep } from "../lib/api.js";

const RETRY = { first: 500, max: 15000 };

/** The server's answer to one who holds as many images as one may. */
const atLeaseCap = (result) => result.status === 409 && result.body?.code === "lease_limit";

/**
 * A page: {seq, tiles: [{item, labels: Set, start: Set (the labels it started with),
 * state: "open"|"accepted"|"skipped"}], activeMs}. ask(excluded) resolves to {page} (its images decoded), {done: true} when the
 * queue has nothing left, {cap: true} at the lease cap, {refusal: text} when the queue
 * refused; a failure to reach the server is retried, the wait shown by onRetry(text).
 */
export function createPages({ url, size, preselected, onRetry }) {
  let seq = 0;

  async function ask(excluded) {
    let failures = 0;
    for (;;) {
      const query = `?size=${size}&exclude=${[...new Set(excluded)].join(",")}`;
      const result = await request("GET", `${url}${query}`);
      if (result.status === 204) return { done: true };
      if (result.ok && result.body && Array.isArray(result.body.images)) {
        if (!result.body.images.length) return { done: true };
        return { page: await pageOf(result.body.images) };
      }
      if (atLeaseCap(result)) return { cap: true };
      if (isRefusal(result)) return { refusal: `The queue refused: ${errorMessage(result, { brief: true })}` };
      failures += 1;
      onRetry("Cannot reach the server; retrying…");
      await sleep(retryDelay(failures, RETRY));
    }
  }

  async function pageOf(items) {
    await Promise.all(items.map((item) => preload(item)));
    seq += 1;
    return {
      seq,
      activeMs: 0,
      tiles: items.map((item) => {
        const start = new Set(preselected(item.suggestion) ? item.suggestion.label_ids : []);
        return { item, state: "open", labels: new Set(start), start, entry: null };
      }),
    };
  }

  return { ask };
}

/** Loads and decodes a tile's image; one that fails still shows (as a broken image). */
function preload(item) {
  const image = item.image;
  const img = new Image();
  img.alt = "";
  img.draggable = false;
  img.decoding = "sync"; // decoded already: put up in the frame that shows the page
  img.src = image.thumbnail_url || image.display_url;
  item.img = img;
  return img
    .decode()
    .then(() => img.classList.toggle("pixelated", img.naturalWidth < 96))
    .catch(() => undefined);
}
