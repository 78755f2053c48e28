/* The review queue as a grid: a page of items at once, grouped under their consensus label.
 *
 * The arrow keys move the focused tile, Space (or a click) marks it, a label's key fixes
 * the marked tiles (none marked: the focused one) with that label, Enter confirms the page:
 * every tile with a consensus and no fix gets its consensus label, every fixed tile its fix,
 * and the tiles with neither stay in the queue for later. The page's decisions go as one
 * batch through the page's outbox (kept in order, retried with the same Idempotency-Key)
 * while the next page shows. Ctrl+Z undoes the last change on the page; with none, a lead
 * takes the last confirmed page's decisions back (reviewers may not take decisions back).
 */
import { request, errorMessage, newIdempotencyKey } from "../lib/api.js";
import { $, el, fill } from "../lib/dom.js";
import { plural } from "../lib/format.js";
import { createLabelPicker } from "../lib/label-picker.js";
import { labelNames } from "../lib/labels.js";
import { MOVING_KEYS, movedIndex, rovingFocus } from "../lib/tile-grid.js";
import { isHuman } from "./panel.js";
import { consensusIds, renderPanel, renderTiles, sortByGroup, tile, votes } from "./grid-view.js";

/**
 * data and labels are the page's; state is the review page's (reason, decided, skipped,
 * generation, counts); outbox sends the decisions (an op with page: true is a batch);
 * setCounts(body, settled) takes a queue answer's counts, bumpCount(reason, by) moves one;
 * announce(text) speaks; emptyText() says why the queue is empty.
 */
export function createReviewGrid({ data, labels, state, outbox, setCounts, bumpCount, announce, emptyText }) {
  // The project's grid_size, within the bounds its declaration sets (checked when stored).
  const size = data.project.grid_size;
  const multi = data.project.multi_label;
  const grid = {
    items: [],
    focus: 0,
    marks: new Set(),
    fixes: new Map(), // image id -> Set of label ids
    refused: new Map(), // image id -> why its decision was refused
    changes: [], // the page's marks and fixes before each change, for Ctrl+Z
    last: null, // the last confirmed page: {op, items, fixes, previous}
    loading: false,
    generation: 0,
    active: false,
  };
  const tiles = () => [...document.querySelectorAll("#grid-groups .rg-tile")];
  // The focused tile's labels (its fix, else its consensus) and votes, for the picker.
  let side = { pressed: new Set(), votes: new Map() };
  // The labelling page's picker (lib/label-picker.js): hotkeys, chords, the search ("/"),
  // the reviewer's frequent labels and the headings; a label fixes the marked tiles.
  const picker = createLabelPicker({
    box: $("grid-labels"),
    labels,
    multi,
    use: data.label_use || [],
    onChoose: (label) => applyLabel(label, { refocus: true }),
    isPressed: (label) => side.pressed.has(label.id),
    isDisabled: () => !grid.items[grid.focus],
    decorate: (label, button) => {
      const n = side.votes.get(label.id);
      if (n) button.append(el("span", { class: "rv-votes-tag", text: `${n} vote${n > 1 ? "s" : ""}` }));
    },
  });
  const handlers = {
    onClick: (index, event) => {
      if (event.shiftKey) markRange(index);
      else {
        moveTo(index);
        toggleMark();
      }
    },
    onDoubleClick: (index) => {
      moveTo(index);
      openFull();
    },
    onFocus: (index) => {
      if (grid.focus !== index) moveTo(index, { focus: false });
    },
  };

  // ---- loading ------------------------------------------------------------------------------
  /** The next page: the queue's items not decided or left for later in this session, walking
   *  the queue's pages until the grid's page is full or the queue ends. */
  async function load() {
    const generation = ++grid.generation;
    grid.loading = true;
    grid.items = [];
    grid.changes = [];
    // New ones, not cleared: the last confirmed page keeps its own for Ctrl+Z.
    grid.marks = new Set();
    grid.fixes = new Map();
    grid.refused = new Map();
    $("grid-groups").dataset.state = "loading";
    $("grid-empty").hidden = true;
    fill($("grid-groups"), el("p", { class: "muted loading", text: "Loading…" }));
    const known = () => new Set([...state.decided, ...state.skipped]);
    const found = [];
    const reason = state.reason ? `&reason=${state.reason}` : "";
    let url = `${data.urls.queue}?page_size=${size}${reason}`;
    while (url && found.length < size) {
      const settled = outbox.settled();
      const result = await request("GET", url);
      if (generation !== grid.generation) return;
      if (!result.ok) {
        fill($("grid-groups"), el("p", { class: "message error", text: `The review queue cannot be loaded: ${errorMessage(result, { brief: true })}` }));
        $("grid-groups").dataset.state = "error";
        grid.loading = false;
        return;
      }
      setCounts(result.body, settled);
      const skip = known();
      const ids = new Set(found.map((item) => item.image.id));
      found.push(...result.body.results.filter((item) => !skip.has(item.image.id) && !ids.has(item.image.id)));
      url = result.body.next;
    }
    grid.loading = false;
    show(sortByGroup(found.slice(0, size), labels));
  }

  function show(items, { fixes = new Map(), refused = new Map() } = {}) {
    grid.items = items;
    grid.focus = 0;
    grid.fixes = fixes;
    grid.refused = refused;
    grid.marks = new Set();
    grid.changes = [];
    $("grid-groups").dataset.state = items.length ? "ready" : "empty";
    $("grid-empty").hidden = items.length > 0;
    if (!items.length) showEmpty();
    render();
    if (grid.active) rovingFocus(tiles(), grid.focus);
  }

  function showEmpty() {
    const left = state.skipped.size;
    $("grid-again").hidden = !left;
    if (left) {
      $("grid-empty-title").textContent = "Only images you left are left";
      $("grid-empty-text").textContent = `${plural(left, "image")} without consensus stayed on confirmed pages. Look at them again, or come back later.`;
    } else {
      const { title, text } = emptyText();
      $("grid-empty-title").textContent = title;
      $("grid-empty-text").textContent = text;
    }
  }

  // ---- drawing --------------------------------------------------------------------------
  function render() {
    renderTiles($("grid-groups"), grid, handlers);
    renderSide();
  }

  function renderSide() {
    const item = grid.items[grid.focus];
    const fix = item && grid.fixes.get(item.image.id);
    side = { pressed: new Set(fix ? [...fix] : item ? consensusIds(item) : []), votes: new Map(item ? votes(item) : []) };
    renderPanel(grid, { picker, sending: false });
    $("grid-undo").disabled = !grid.changes.length && !grid.last;
  }

  function redraw(indexes) {
    const all = tiles();
    for (const index of indexes) {
      const old = all[index];
      if (!old) continue;
      const fresh = tile(grid.items[index], index, grid, handlers);
      old.replaceWith(fresh);
      if (index === grid.focus && grid.active) fresh.focus({ preventScroll: true });
    }
    renderSide();
  }

  // ---- acting on tiles ---------------------------------------------------------------------
  function moveTo(index, { focus = true } = {}) {
    if (!grid.items.length) return;
    grid.focus = Math.max(0, Math.min(grid.items.length - 1, index));
    rovingFocus(tiles(), grid.focus, { focus });
    renderSide();
  }

  function remember() {
    grid.changes.push({ marks: new Set(grid.marks), fixes: new Map([...grid.fixes].map(([id, set]) => [id, new Set(set)])) });
  }

  function toggleMark() {
    const item = grid.items[grid.focus];
    if (!item) return;
    remember();
    const id = item.image.id;
    if (grid.marks.has(id)) grid.marks.delete(id);
    else grid.marks.add(id);
    redraw([grid.focus]);
    announce(grid.marks.has(id) ? `Marked image ${id}.` : `Unmarked image ${id}.`);
  }

  function markRange(index) {
    remember();
    const [from, to] = [Math.min(grid.focus, index), Math.max(grid.focus, index)];
    const changed = [];
    for (let i = from; i <= to; i += 1) {
      grid.marks.add(grid.items[i].image.id);
      changed.push(i);
    }
    grid.focus = index;
    redraw(changed);
    rovingFocus(tiles(), grid.focus);
  }

  /** The tiles a label or Delete acts on: the marked ones, else the focused one. */
  function targets() {
    const marked = grid.items.map((item, i) => [item, i]).filter(([item]) => grid.marks.has(item.image.id));
    if (marked.length) return marked;
    const item = grid.items[grid.focus];
    return item ? [[item, grid.focus]] : [];
  }

  /** A label's key or button: the fix of the marked (or focused) tiles. Single-label, the
   *  label; multi-label, the label toggled in their labels. A fix equal to the consensus is
   *  no fix. The marks are cleared once used, single-label (multi-label: for the next label). */
  function applyLabel(label, { refocus = false } = {}) {
    const chosen = targets();
    if (!chosen.length) return;
    remember();
    for (const [item] of chosen) {
      const id = item.image.id;
      let set = new Set([label.id]);
      if (multi) {
        set = new Set(grid.fixes.get(id) || consensusIds(item));
        if (set.has(label.id)) set.delete(label.id);
        else set.add(label.id);
      }
      const same = [...set].sort((a, b) => a - b).join(",") === [...consensusIds(item)].sort((a, b) => a - b).join(",");
      if (same || !set.size) grid.fixes.delete(id);
      else grid.fixes.set(id, set);
      grid.refused.delete(id);
    }
    if (!multi) grid.marks.clear();
    render();
    if (refocus || grid.active) rovingFocus(tiles(), grid.focus);
    announce(`${plural(chosen.length, "image")}: ${label.name}.`);
  }

  function clearFixes() {
    const chosen = targets().filter(([item]) => grid.fixes.has(item.image.id));
    if (!chosen.length) return;
    remember();
    for (const [item] of chosen) grid.fixes.delete(item.image.id);
    render();
    rovingFocus(tiles(), grid.focus);
    announce(`${plural(chosen.length, "fix", "fixes")} removed: the consensus stands.`);
  }

  function clearMarks() {
    if (!grid.marks.size) return;
    remember();
    grid.marks.clear();
    render();
    rovingFocus(tiles(), grid.focus);
  }

  // ---- confirming and undoing ---------------------------------------------------------
  function confirmPage() {
    const decisions = [];
    const decided = [];
    const left = [];
    for (const item of grid.items) {
      const fix = grid.fixes.get(item.image.id);
      const ids = fix ? [...fix].sort((a, b) => a - b) : consensusIds(item);
      if (!ids.length) {
        left.push(item);
        continue;
      }
      decisions.push({ image: item.image.id, labels: ids, method: "adjudicated" });
      decided.push(item);
    }
    if (!decisions.length) {
      announce("Nothing to confirm: fix the images without consensus with a label key first.");
      $("grid-summary").textContent = "Nothing to confirm: no image has a consensus or a fix.";
      return;
    }
    const counted = decided.filter((item) => item.reason && !isHuman(item.final_label));
    for (const item of decided) state.decided.add(item.image.id);
    for (const item of left) state.skipped.add(item.image.id);
    for (const item of counted) bumpCount(item.reason, -1);
    const op = { page: true, key: newIdempotencyKey(), decisions, items: decided, counted, left };
    grid.last = { op, items: grid.items, fixes: grid.fixes, previous: new Map(decided.map((item) => [item.image.id, item.final_label])) };
    outbox.add(op);
    const fixed = decided.filter((item) => grid.fixes.has(item.image.id)).length;
    announce(`Confirmed ${decided.length - fixed}, fixed ${fixed}${left.length ? `; ${left.length} left for later` : ""}.`);
    load();
  }

  /** The outbox sent a page: its items carry their new final labels. */
  function sent(op, result) {
    op.done = true;
    const finals = (result.body && result.body.decisions) || [];
    for (const [i, item] of op.items.entries()) item.final_label = finals[i] || item.final_label;
  }

  /** The server refused a page (nothing of it was saved): the page comes back as it was,
   *  the refused tiles saying why. */
  function refused(op, result) {
    for (const item of op.items) state.decided.delete(item.image.id);
    for (const item of op.left) state.skipped.delete(item.image.id);
    for (const item of op.counted) bumpCount(item.reason, 1);
    const why = new Map();
    for (const row of (result.body && result.body.items) || []) why.set(row.image, row.detail || "refused");
    const text = `Nothing of the page was saved: ${errorMessage(result, { brief: true })}`;
    failure(text);
    announce(text);
    const page = grid.last && grid.last.op === op ? grid.last : { items: [...op.items, ...op.left], fixes: new Map() };
    if (grid.last && grid.last.op === op) grid.last = null;
    grid.generation += 1; // a page still loading gives way
    show(page.items, { fixes: page.fixes, refused: why });
  }

  async function undo() {
    if (grid.changes.length) {
      const before = grid.changes.pop();
      grid.marks = before.marks;
      grid.fixes = before.fixes;
      render();
      rovingFocus(tiles(), grid.focus);
      announce("Undone.");
      return;
    }
    const last = grid.last;
    if (!last) {
      announce("Nothing to undo.");
      return;
    }
    if (!data.can_gold) {
      failure("The last page's decisions are saved: only the project's leads and admins take decisions back.");
      return;
    }
    if (!last.op.done) {
      failure("The last page is still being saved: undo it once it is saved.");
      return;
    }
    grid.last = null;
    const slot = (id) => data.urls.decision.replace(data.slot, String(id));
    const restore = [];
    for (const item of last.op.items) {
      const result = await request("DELETE", slot(item.image.id));
      if (!result.ok && result.status !== 404) {
        failure(`Image ${item.image.id}'s decision could not be taken back: ${errorMessage(result, { brief: true })}`);
        return;
      }
      const before = last.previous.get(item.image.id);
      if (isHuman(before)) restore.push({ image: item.image.id, labels: before.label_ids, method: before.method });
      item.final_label = isHuman(before) ? before : null;
    }
    if (restore.length) {
      const result = await request("POST", data.urls.decisions_batch, { decisions: restore }, { idempotencyKey: newIdempotencyKey() });
      if (!result.ok) failure(`The earlier decisions could not be put back: ${errorMessage(result, { brief: true })}`);
    }
    for (const item of last.op.items) state.decided.delete(item.image.id);
    for (const item of last.op.left) state.skipped.delete(item.image.id);
    for (const item of last.op.counted) bumpCount(item.reason, 1);
    grid.generation += 1;
    show(last.items, { fixes: last.fixes });
    announce(`The last page is back: ${plural(last.op.items.length, "decision")} taken back.`);
  }

  function failure(text) {
    const box = $("grid-failures");
    box.hidden = false;
    box.append(el("p", { text }));
  }

  // ---- full size ------------------------------------------------------------------------
  function openFull() {
    const item = grid.items[grid.focus];
    if (!item) return;
    const dialog = $("grid-full");
    const consensus = consensusIds(item);
    fill(
      $("grid-full-frame"),
      el("img", { src: item.image.display_url || item.image.file_url, alt: `Image ${item.image.id}` }),
    );
    $("grid-full-caption").textContent = `Image ${item.image.id} · ${consensus.length ? `consensus ${labelNames(consensus)}` : "no consensus"}`;
    dialog.showModal();
  }

  function closeFull() {
    $("grid-full").close();
  }

  // With the dialog open the page's shortcuts rest: "." (as Escape) closes it.
  document.addEventListener("keydown", (event) => {
    if (event.key === "." && $("grid-full").open) {
      event.preventDefault();
      event.stopImmediatePropagation(); // else the page's shortcuts would open it again
      closeFull();
    }
  });
  $("grid-full").addEventListener("click", closeFull);
  $("grid-full").addEventListener("close", () => rovingFocus(tiles(), grid.focus));

  // ---- keys and buttons ------------------------------------------------------------------
  /** The grid's keys; true when one was used. Label keys come through applyLabel. */
  function key(name, event) {
    const onOtherButton = event.target instanceof HTMLElement && event.target.closest("button, a") && !event.target.closest(".rg-tile");
    if (MOVING_KEYS.has(name)) {
      const moved = movedIndex(name, tiles(), grid.focus);
      if (moved !== null) moveTo(moved);
    } else if (name === " " || name === "Spacebar") {
      if (onOtherButton) return false;
      toggleMark();
    } else if (name === "Enter") {
      if (onOtherButton) return false;
      confirmPage();
    } else if (name === ".") openFull();
    else if (name === "Escape") clearMarks();
    else if (name === "Delete" || name === "Backspace") clearFixes();
    else if (name === "+" || name === "-" || name === "=") return true; // no zoom in the grid
    else return false;
    return true;
  }

  $("grid-confirm").addEventListener("click", confirmPage);
  $("grid-undo").addEventListener("click", undo);
  $("grid-full-button").addEventListener("click", openFull);
  $("grid-again").addEventListener("click", () => {
    state.skipped.clear();
    load();
  });

  return {
    get active() {
      return grid.active;
    },
    setActive(on) {
      grid.active = on;
      if (on && !grid.items.length && !grid.loading) load();
      else if (on) rovingFocus(tiles(), grid.focus);
    },
    load,
    key,
    applyLabel,
    picker,
    undo,
    sent,
    refused,
    state: grid,
  };
}
