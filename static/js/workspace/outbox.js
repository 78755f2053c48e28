/* The outbox of the labelling workspace and the review queue: their writes, sent one at a
 * time, in order, in the background, so that the next image can show while the last one
 * is saved.
 */
import { isRefusal, retryDelay } from "../lib/api.js";

const RETRY = { first: 1000, max: 30000 };

/**
 * A write that gets no answer, a 5xx, 408 or 429 is retried with a growing wait (at once
 * when the browser comes back online), so nothing is dropped silently; one the server
 * refuses (any other 4xx) leaves the queue through onRefused, which shows it. The save
 * status says how many writes are waiting, and leaving the page while any are asks first.
 *
 * deliver(op) makes op's request and resolves to request()'s result; isDone(op, result)
 * says whether it went through. onSent(op, result) and onRefused(op, result) see each op
 * as it leaves; onChange(ops) follows every change to the queue (to keep a copy of it);
 * onIdle() runs when the queue has emptied. stats.sent and stats.retries are counted up.
 * settled() counts the ops that have left, saved or refused: a read that finds it moved
 * while its answer was on the way cannot tell whether the answer saw them.
 */
export function createOutbox({
  ops = [],
  deliver,
  isDone = (op, result) => result.ok,
  onSent,
  onRefused,
  onChange,
  onIdle,
  stats,
  status,
}) {
  let sending = false;
  let retryNow = null; // while waiting to retry: ends the wait
  let settled = 0; // ops that have left the queue, saved or refused

  const changed = () => onChange && onChange(ops);

  function add(op) {
    op.attempts = 0;
    ops.push(op);
    changed();
    renderStatus();
    send();
  }

  async function send() {
    if (sending) return;
    sending = true;
    try {
      while (ops.length) {
        const op = ops[0];
        op.inFlight = true;
        let result;
        try {
          result = await deliver(op);
        } catch {
          result = { status: 0 };
        }
        op.inFlight = false;
        if (isDone(op, result)) {
          ops.shift();
          settled += 1;
          stats.sent += 1;
          if (onSent) onSent(op, result);
          changed();
          renderStatus();
          continue;
        }
        if (isRefusal(result)) {
          ops.shift();
          settled += 1;
          changed();
          if (onRefused) onRefused(op, result);
          renderStatus();
          continue;
        }
        // op.attempts is stored with the op: after a reload its waits go on growing.
        op.attempts += 1;
        stats.retries += 1;
        const wait = retryDelay(op.attempts, RETRY);
        renderStatus(`Not saved yet — retrying in ${Math.round(wait / 1000)} s (${ops.length} waiting)`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, wait);
          retryNow = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        retryNow = null;
      }
    } finally {
      sending = false;
    }
    if (onIdle) onIdle();
  }

  /** The save status: an error text when given, else how many writes are waiting. */
  function renderStatus(text) {
    const waiting = ops.length;
    if (text) {
      status.dataset.state = "error";
      status.textContent = text;
    } else if (waiting === 0) {
      status.dataset.state = "idle";
      status.textContent = "All saved";
    } else {
      status.dataset.state = "saving";
      status.textContent = `Saving ${waiting}…`;
    }
    status.dataset.waiting = String(waiting);
  }

  window.addEventListener("beforeunload", (event) => {
    if (ops.length) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  // Back online: retry now rather than at the end of the wait. (Only clearing the
  // timer would leave the loop waiting for good, and send() returns while it runs.)
  window.addEventListener("online", () => {
    if (retryNow) retryNow();
  });

  return { ops, add, send, renderStatus, settled: () => settled };
}
