/* The labelling queue ahead of the screen: images asked for from next/ and decoded before
 * they are shown, so that the next one shows at once. */
import { request, errorMessage, isRefusal, retryDelay, sleep } from "../lib/api.js";

const AHEAD = 3; // images prefetched beyond the one on screen
const RETRY = { first: 500, max: 15000 };
const SAVING = { first: 200, max: 2000 }; // waits for labels being saved to free leases

/** The server's answer to one who holds as many images as one may (LABELER_MAX_LEASES). */
function atLeaseCap(result) {
  return result.status === 409 && result.body?.code === "lease_limit";
}

/**
 * Fills state.buffer from url. state is the page's (buffer, current, parked, exhausted,
 * filling); the images of the outbox's writes are not asked for again. showMessage(text)
 * says the queue refused, outbox.renderStatus(text) that the server cannot be reached;
 * showNext() puts the next image up when none is, after each answer.
 */
export function createQueue({ url, state, outbox, showMessage, showNext }) {
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
      while (!state.exhausted && state.buffer.length < AHEAD + (state.current ? 0 : 1)) {
        const result = await request("GET", `${url}?exclude=${busyImageIds().join(",")}`);
        if (result.status === 204) {
          state.exhausted = true;
        } else if (result.ok) {
          failures = 0;
          const item = result.body;
          item.img = await preload(item.image);
          state.buffer.push(item);
        } else if (atLeaseCap(result) && state.buffer.length + (state.current ? 1 : 0) > 0) {
          break; // holding as many images as one may: ask again once one is labelled
        } else if (atLeaseCap(result) && outbox.ops.length > 0) {
          // Nothing to show, but labels still being saved hold their images' leases (a
          // slow server): ask again once they are in, rather than give up.
          failures += 1;
          await sleep(retryDelay(failures, SAVING));
        } else if (isRefusal(result)) {
          showMessage(`The queue refused: ${errorMessage(result, { brief: true })}`);
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

  return { fill };
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
