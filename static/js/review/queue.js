/* The review queue ahead of the screen: items asked for a page at a time, the images of the
 * next ones decoded before they are shown. */
import { request, errorMessage, retryDelay, sleep } from "../lib/api.js";

const PAGE = 50; // items per request
const AHEAD = 2; // images decoded beyond the one on screen
const RETRY = { first: 500, max: 15000 };

/**
 * Fills state.items from url (the queue, filtered by state.reason). state is the page's;
 * the counts of its reasons go to state.counts and state.count, less the decisions still
 * in the outbox, and renderCounts() shows them. showMessage(text) says the queue refused,
 * outbox.renderStatus(text) that the server cannot be reached; showNext() puts the next
 * item up when none is.
 */
export function createQueue({ url: queueBase, state, outbox, showMessage, renderCounts, showNext }) {
  function queueUrl() {
    const reason = state.reason ? `&reason=${state.reason}` : "";
    return `${queueBase}?page_size=${PAGE}${reason}`;
  }

  function knownIds() {
    // Items left behind are decided or skipped: once skips are cleared they come back.
    const ids = new Set([...state.decided, ...state.skipped]);
    for (const item of state.items) ids.add(item.image.id);
    if (state.current) ids.add(state.current.item.image.id);
    if (state.parked) ids.add(state.parked.image.id);
    return ids;
  }

  function waiting() {
    return state.items.filter((item) => !state.decided.has(item.image.id) && !state.skipped.has(item.image.id));
  }

  /* Decided items leave the server's queue, so pages shift: walk from the first page
   * until a page brings items not seen yet, or the queue ends. */
  async function fill() {
    if (state.filling || state.exhausted) return;
    state.filling = true;
    const generation = state.generation;
    let failures = 0;
    try {
      let url = queueUrl();
      while (url) {
        const settled = outbox.settled();
        const result = await request("GET", url);
        if (generation !== state.generation) return;
        if (!result.ok) {
          // Unlike the outbox, any 4xx here (408 and 429 too) ends the filling.
          if (result.status >= 400 && result.status < 500) {
            showMessage(`The review queue refused: ${errorMessage(result, { brief: true })}`);
            state.exhausted = true;
            return;
          }
          outbox.renderStatus("Cannot reach the server; retrying…");
          failures += 1;
          await sleep(retryDelay(failures, RETRY));
          continue;
        }
        setCounts(result.body, settled);
        const known = knownIds();
        const fresh = result.body.results.filter((item) => !known.has(item.image.id));
        state.items.push(...fresh);
        url = result.body.next;
        if (fresh.length) break;
      }
      if (!url) state.exhausted = true;
    } finally {
      if (generation === state.generation) state.filling = false;
    }
    outbox.renderStatus();
    preloadAhead();
    if (!state.current) showNext();
  }

  /** The counts of a queue answer asked for when ``settled`` writes had left the outbox.
   * Where one more left while the answer was on its way, the answer may have been counted
   * before or after it was saved: the counts kept here (moved with each decision) stand
   * until the next answer. */
  function setCounts(body, settled) {
    if (state.counts && settled !== outbox.settled()) return;
    // Decisions still on their way are not in the server's counts yet.
    // A page of the grid counts each of its items; a single decision, itself.
    const pending = outbox.ops.flatMap((op) => (op.page ? op.counted : op.counted ? [op] : []));
    state.counts = { ...body.reasons };
    for (const op of pending) if (state.counts[op.reason] > 0) state.counts[op.reason] -= 1;
    const mine = pending.filter((op) => !state.reason || op.reason === state.reason).length;
    state.count = Math.max(0, body.count - mine);
    renderCounts();
  }

  /** Whether so few items wait that the next page should be asked for already. */
  function runningLow() {
    return waiting().length < AHEAD + 2;
  }

  function preloadAhead() {
    for (const item of waiting().slice(0, AHEAD)) ensureImage(item);
  }

  function ensureImage(item) {
    if (item.img) return item.img;
    const img = new Image();
    img.alt = `Image ${item.image.id}${item.image.original_name ? `: ${item.image.original_name}` : ""}`;
    img.draggable = false;
    img.src = item.image.display_url;
    img.decode().catch(() => undefined);
    item.img = img;
    return img;
  }

  return { fill, runningLow, ensureImage, setCounts };
}
