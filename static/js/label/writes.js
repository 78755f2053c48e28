/* The labelling workspace's writes (label, skip, withdraw) as the outbox sends them.
 *
 * op: {kind: annotate|skip|withdraw, image, body?, what?, key, entryRef}. entryRef is the
 * history entry the op writes, whose server id a later withdraw needs; key, the op's
 * Idempotency-Key, goes with every try of it (the outbox's retries, and after a reload
 * from its stored copy): a write whose answer was lost is applied once.
 */
import { request, errorMessage } from "../lib/api.js";

/**
 * The writes of this annotator in this project. They wait in localStorage until the server
 * has them, so that a reload or a crash does not lose them.
 */
export function createWrites(data) {
  const storageKey = `labeler:outbox:${data.user}:${data.project.id}`;
  const url = (name, id) => data.urls[name].replace(data.slot, String(id));

  function load() {
    try {
      const stored = JSON.parse(localStorage.getItem(storageKey) || "[]");
      return Array.isArray(stored) ? stored.map((op) => ({ ...op, inFlight: false, entryRef: null })) : [];
    } catch {
      return [];
    }
  }

  function save(ops) {
    const plain = ops.map(({ entryRef, inFlight, ...op }) => ({
      ...op,
      targetId: op.targetId || (entryRef && entryRef.id) || undefined,
    }));
    try {
      localStorage.setItem(storageKey, JSON.stringify(plain));
    } catch {
      // Storage full or disabled: the outbox still lives in memory.
    }
  }

  async function deliver(op) {
    const entry = op.entryRef;
    const once = { idempotencyKey: op.key };
    if (op.kind === "annotate") return request("POST", data.urls.annotations, op.body, once);
    if (op.kind === "skip") return request("POST", data.urls.skips, op.body, once);
    // withdraw: needs the server's id of what it takes back; after a reload only the
    // image is known, so look the caller's own annotation or skip of it up.
    const name = op.what === "skip" ? "skip" : "annotation";
    let id = op.targetId || (entry && entry.id);
    if (!id) {
      const mine = `?image=${op.image}&annotator=${data.user}`;
      const found = await request("GET", `${data.urls[`${name}s`]}${mine}`);
      if (!found.ok) return found;
      if (!found.body.results.length) return { ok: true, status: 204 };
      id = found.body.results[0].id;
    }
    return request("DELETE", url(name, id), undefined, once);
  }

  return { load, save, deliver };
}

/** A write that went through: its entry learns the server's id, for a later withdraw. */
export function settle(op, result) {
  const entry = op.entryRef;
  if (!entry || !result.body) return;
  if (op.kind === "annotate" || op.kind === "skip") entry.id = result.body.id;
}

/** What a refused write was, and why it was refused. */
export function refusalText(op, result) {
  const what = op.kind === "annotate" ? "label" : op.kind === "skip" ? "skip" : "undo";
  return `Could not save the ${what} of image ${op.image}: ${errorMessage(result, { brief: true })}`;
}
