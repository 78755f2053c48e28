/* The labelling queue ahead of the screen: images asked for from next/, loaded and decoded
 * before their turn, the next one drawn out of sight (deck.js), so that a key puts it up
 * in the frame that follows.
 *
 * What is fetched ahead is each image's display copy (display_url), never the original: a
 * phone's photo is 3 MB, its copy a sixth of that. Three ahead are enough: at 20 Mbit/s a
 * copy comes in about 0.3 s, twice as fast as a brisk annotator labels, and three take a
 * burst of quick keys; more would hold leases that other annotators could use. Once an
 * image is put up, the look-ahead waits for it to be painted before it asks for more or
 * puts the next one on the deck: a download, a decode or the deck's drawing beside that
 * paint slow it down (docs/benchmarks.md, "Labelling page with photos"). */
import { request, errorMessage, isRefusal, retryDelay, sleep } from "../lib/api.js";
import { $ } from "../lib/dom.js";
import { afterPaint } from "../workspace/paint.js";
import { createDeck } from "./deck.js";

const AHEAD = 3; // images loaded ahead of the one on screen
const RETRY = { first: 500, max: 15000 };
const SAVING = { first: 200, max: 2000 }; // waits for labels being saved to free leases

/** The server's answer to one who holds as many images as one may (LABELER_MAX_LEASES). */
function atLeaseCap(result) {
  return result.status === 409 && result.body?.code === "lease_limit";
}

/**
 * Fills state.buffer from url. state is the page's (buffer, current, parked, exhausted,
 * filling, refusal: why the queue last refused, until it answers again); the images of the outbox's writes are not asked for again. showMessage(text)
 * says the queue refused, outbox.renderStatus(text) that the server cannot be reached;
 * showNext() puts the next image up when none is, after each answer; it takes it with
 * take().
 */
export function createQueue({ url, state, outbox, showMessage, showNext }) {
  const deck = createDeck($("stage"));

  function busyImageIds() {
    const ids = state.buffer.map((item) => item.image.id);
    if (state.current) ids.push(state.current.item.image.id);
    if (state.parked) ids.push(state.parked.image.id);
    for (const op of outbox.ops) if (op.image) ids.push(op.image);
    return [...new Set(ids)];
  }

  async function fill() {
    if (state.filling) return;
    state.filling = true;
    let failures = 0; // in a row: the wait before the next try grows with them
    try {
      if (state.current) await afterPaint();
      deck.put(state.buffer[0]?.img);
      while (!state.exhausted && state.buffer.length < AHEAD + (state.current ? 0 : 1)) {
        // The images held when the request went out (on screen, ahead, being saved) are
        // excluded from it: their leases may have held its answer back even if they are
        // labelled and saved by the time it comes.
        const excluded = busyImageIds();
        const result = await request("GET", `${url}?exclude=${excluded.join(",")}`);
        if (result.status === 204) {
          state.exhausted = true;
        } else if (result.ok) {
          failures = 0;
          state.refusal = "";
          const item = result.body;
          item.img = await preload(item.image);
          state.buffer.push(item);
          if (state.buffer.length === 1) deck.put(item.img);
        } else if (atLeaseCap(result) && state.buffer.length + (state.current ? 1 : 0) > 0) {
          break; // holding as many images as one may: ask again once one is labelled
        } else if (atLeaseCap(result) && (excluded.length > 0 || outbox.ops.length > 0)) {
          // Nothing to show, but the leases of images excluded from the request, or of
          // labels still being saved, held the answer back (a slow server, a last test
          // label): ask again without them, rather than give up. A request that excluded
          // nothing and is still at the cap is a refusal.
          failures += 1;
          await sleep(retryDelay(failures, SAVING));
        } else if (isRefusal(result)) {
          state.refusal = `The queue refused: ${errorMessage(result, { brief: true })}`;
          showMessage(state.refusal);
          state.exhausted = true;
        } else {
          outbox.renderStatus("Cannot reach the server; retrying…");
          failures += 1;
          await sleep(retryDelay(failures, RETRY));
        }
        if (!state.current) showNext();
      }
    } finally {
      state.filling = false;
    }
    if (!state.current) showNext();
  }

  /** The next image to show, out of the buffer. Its first paint on the stage can be
   * observed (Element Timing, "label-image"): bench/label_paint.py times it. */
  function take() {
    const item = state.buffer.shift();
    if (item) item.img.setAttribute("elementtiming", "label-image");
    return item;
  }

  return { fill, take };
}

function preload(image) {
  const img = new Image();
  img.alt = `Image ${image.id}`;
  img.draggable = false;
  img.src = image.display_url;
  return img
    .decode()
    .catch(() => undefined)
    .then(() => img);
}
