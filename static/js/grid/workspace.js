/* The labelling workspace in grid mode: a page of images at once, keyboard first.
 *
 * A page (page/) is a set of leased images shown as tiles, grouped by the model's
 * suggestion. One tile has the focus (roving tabindex: arrows, Home, End), Space or a click
 * marks tiles (Shift+click a range), a label's key or chord, or a match of the label search
 * ("/"), gives the marked tiles (none marked: the focused one) that label, Shift+key (or
 * Shift+click on a label) asks "Which are <label>?" instead, Enter accepts the
 * page: every tile with a label is submitted, the others stay. Delete skips, "." shows a
 * tile at full size, Ctrl+Z undoes a tile's change or a whole accepted page, Escape clears.
 *
 * Every write goes through the workspace's outbox (label.js: kept in localStorage, sent in
 * order, idempotent), as in single mode; the page's active time is shared equally over the
 * tiles each accept submits. The next page is asked for and decoded while this one is on
 * screen (pages.js), so that Enter puts it up in the next frame. Labels chosen and not yet
 * accepted are kept in the browser (kept.js) and come back to their tiles after a reload.
 */
import { $, el, fill } from "../lib/dom.js";
import { labelName } from "../lib/labels.js";
import { retryDelay, sleep } from "../lib/api.js";
import { createClock } from "../label/clock.js";
import { afterPaint } from "../workspace/paint.js";
import { createPages } from "./pages.js";
import { arrange, drawPage, updateTile } from "./tiles.js";
import { createLabelPicker } from "../lib/label-picker.js";
import { createFullSize } from "./fullsize.js";
import { createGridDeck } from "./deck.js";
import { createKept } from "./kept.js";

const SAVING = { first: 200, max: 2000 }; // waits for labels being saved to free leases
const FLASH_MS = 2500;
const LOOK_AGAIN_MS = 30000; // after the queue ran dry

/** total ms shared over count tiles, in whole ms that add up to total (rounded). */
export function shareTime(total, count) {
  const whole = Math.round(total);
  const base = Math.floor(whole / count);
  return Array.from({ length: count }, (_, i) => base + (i < whole - base * count ? 1 : 0));
}

/**
 * Starts grid mode. The rest comes from the workspace (label.js): outbox and enqueue(op,
 * entry) send writes, progress.bump moves the bars, announce speaks, preselected(suggestion)
 * says whether a suggestion is chosen before the annotator acts.
 */
export function startGrid({ data, labels, outbox, enqueue, progress, announce, preselected }) {
  const multi = data.project.multi_label;
  const binary = !multi && labels.length === 2;
  const area = $("grid");
  const box = $("grid-tiles");
  const message = $("grid-message");
  const state = {
    page: null, // on screen: {seq, tiles, activeMs}
    order: [], // its open tiles as drawn
    ahead: [], // pages leased and decoded, next first
    marks: new Set(),
    focus: null,
    anchor: null, // the last tile clicked: Shift+click marks from it
    question: null, // the label asked about, in question mode
    undo: [],
    exhausted: false,
    fetching: false,
    stats: { pages: 0, swaps: 0, stalls: 0 },
  };
  const clock = createClock({ isRunning: () => !!state.page });
  const pages = createPages({
    url: data.urls.page,
    size: data.project.grid_size, // within its declared bounds, checked when stored
    preselected,
    onRetry: (text) => outbox.renderStatus(text),
  });
  const full = createFullSize({ onClose: () => focusTile() });
  const deck = createGridDeck(area);
  const kept = createKept(data);
  // The single panel's picker (lib/label-picker.js): hotkeys, chords, the search, the
  // annotator's frequent labels first and the labels under their headings.
  const picker = createLabelPicker({
    box: $("grid-labels"),
    labels,
    multi,
    use: data.label_use || [],
    onChoose: chooseLabel,
    isPressed: (label) => {
      const chosen = targets();
      return chosen.length > 0 && chosen.every((tile) => tile.labels.has(label.id));
    },
    isDisabled: () => !state.page,
  });
  let flashTimer = null;

  // ---- pages --------------------------------------------------------------------------
  function show(page) {
    state.page = page;
    state.marks.clear();
    state.question = null;
    state.anchor = null;
    state.focus = null;
    state.stats.pages += 1;
    kept.restore(page, labels);
    for (const tile of page.tiles) tile.item.img.setAttribute("elementtiming", "grid-page");
    area.dataset.page = String(page.seq);
    area.dataset.state = "ready";
    $("grid-done").hidden = true;
    message.textContent = "";
    draw();
    box.scrollTop = 0;
    clock.restart(page.activeMs || 0);
  }

  /** Every image this page holds: on screen, ahead, or in a write on its way. */
  function busyIds() {
    const ids = [];
    for (const page of [state.page, ...state.ahead]) if (page) for (const tile of page.tiles) ids.push(tile.item.image.id);
    for (const op of outbox.ops) if (op.image) ids.push(op.image);
    return ids;
  }

  /** Asks for a page: shown when none is, else kept as the page ahead. */
  async function fetchPage() {
    if (state.fetching || state.exhausted || (state.page && state.ahead.length)) return;
    state.fetching = true;
    let waits = 0;
    let answer;
    try {
      // The page ahead waits for the labels being saved: their leases count against the
      // cap until they are, and would cut the page short.
      while (state.page && outbox.ops.length > 0) {
        waits += 1;
        await sleep(retryDelay(waits, SAVING));
      }
      waits = 0;
      for (;;) {
        const saving = outbox.ops.length;
        answer = await pages.ask(busyIds());
        // At the lease cap while labels were being saved: their leases end once they are.
        if (!answer.cap || (saving === 0 && outbox.ops.length === 0)) break;
        waits += 1;
        await sleep(retryDelay(waits, SAVING));
      }
    } finally {
      state.fetching = false;
    }
    outbox.renderStatus();
    if (answer.page) {
      arrange(answer.page, labels);
      if (state.page) {
        state.ahead.push(answer.page);
        // Drawn out of sight at a tile's size, so that Enter's frame only puts them up.
        const thumb = box.querySelector(".grid-thumb");
        deck.put(answer.page.tiles.map((tile) => tile.item.img), thumb && thumb.getBoundingClientRect().width);
      } else {
        show(answer.page);
        afterPaint().then(fetchPage);
      }
    } else if (answer.done) {
      state.exhausted = true;
      if (!state.page) showDone("Nothing left for you in this project. Thank you!");
    } else if (!state.page) {
      showDone(answer.refusal || "You hold as many images as one may: label or skip some first.");
    }
  }

  function nextPage() {
    const next = state.ahead.shift();
    state.page = null;
    if (next) {
      state.stats.swaps += 1;
      show(next);
      afterPaint().then(fetchPage);
      return;
    }
    clock.pause();
    state.order = [];
    fill(box);
    renderPanel();
    if (state.exhausted) {
      showDone("Nothing left for you in this project. Thank you!");
      return;
    }
    state.stats.stalls += 1;
    area.dataset.state = "loading";
    message.textContent = "Loading…";
    fetchPage();
  }

  function showDone(text) {
    area.dataset.state = "done";
    message.textContent = text;
    $("grid-done").hidden = false;
    renderPanel();
    progress.refresh();
    // Leases of others expire and undone labels reopen images: look again later.
    setTimeout(() => {
      if (!state.page && area.dataset.state === "done") checkAgain();
    }, LOOK_AGAIN_MS);
  }

  function checkAgain() {
    state.exhausted = false;
    $("grid-done").hidden = true;
    area.dataset.state = "loading";
    message.textContent = "Looking for new images…";
    fetchPage();
  }

  /** A page of an undone action back on screen; the one there goes back ahead. */
  function bringBack(page) {
    if (state.page === page) return;
    if (state.page) {
      clock.pause();
      state.page.activeMs = clock.elapsed();
      state.ahead.unshift(state.page);
    }
    show(page);
  }

  // ---- drawing ------------------------------------------------------------------------
  function draw() {
    if (!state.page) return;
    state.order = drawPage(box, state.page, state, onTile);
    if (!state.order.includes(state.focus)) state.focus = state.order[0] || null;
    for (const tile of state.order) updateTile(tile, state);
    renderPanel();
    focusTile();
  }

  function redraw(tiles) {
    for (const tile of tiles) updateTile(tile, state);
    renderPanel();
    if (full.isOpen() && state.focus) full.show(state.focus);
  }

  function focusTile() {
    const button = state.focus && state.focus.button;
    if (button && !full.isOpen()) {
      button.focus({ preventScroll: true });
      button.scrollIntoView({ block: "nearest" });
    }
  }

  function renderPanel() {
    picker.render();
    const open = state.order.length;
    const labelled = state.order.filter((tile) => tile.labels.size).length;
    const marked = state.marks.size;
    area.dataset.question = state.question ? String(state.question.id) : "";
    area.dataset.marked = String(marked);
    $("grid-summary").textContent = state.page
      ? `${open} on this page · ${labelled} labelled${marked ? ` · ${marked} marked` : ""}`
      : "";
    const banner = $("grid-question");
    banner.hidden = !state.question;
    if (state.question) {
      const rest = binary ? ` The rest become ${labelName(labels.find((l) => l.id !== state.question.id).id)}.` : "";
      fill(
        banner,
        el("strong", { text: `Which are ${state.question.name}?` }),
        el("span", { text: ` Mark them (Space or a click), then Enter.${rest} Esc leaves the question.` }),
      );
    }
    const accept = $("grid-accept");
    accept.disabled = !state.page || (!state.question && labelled === 0);
    fill(accept, state.question ? "Answer " : `Accept ${labelled} `, el("kbd", { text: "Enter" }));
    $("grid-skip").disabled = !state.page;
    $("grid-full-button").disabled = !state.focus;
    $("grid-clear").disabled = !marked && !state.question;
    $("grid-undo").disabled = state.undo.length === 0;
  }

  function flash(text) {
    const toast = $("grid-flash");
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => (toast.hidden = true), FLASH_MS);
  }

  // ---- focus and marks ----------------------------------------------------------------
  /** The tiles a label or a skip applies to: the marked ones, else the focused one. */
  function targets() {
    if (state.marks.size) return state.order.filter((tile) => state.marks.has(tile));
    return state.focus ? [state.focus] : [];
  }

  function moveTo(tile) {
    if (!tile) return;
    const before = state.focus;
    state.focus = tile;
    redraw([before, tile].filter(Boolean));
    focusTile();
    if (full.isOpen()) full.show(tile);
  }

  const step = (delta) => {
    const index = state.order.indexOf(state.focus);
    moveTo(state.order[Math.max(0, Math.min(state.order.length - 1, index + delta))]);
  };

  /** Up and down: the nearest tile in the row above or below, across group headings. */
  function moveVertically(direction) {
    const current = state.focus && state.focus.button;
    if (!current) return;
    const box = current.getBoundingClientRect();
    const centre = box.left + box.width / 2;
    let best = null;
    for (const tile of state.order) {
      const rect = tile.button.getBoundingClientRect();
      const beyond = direction > 0 ? rect.top > box.top + 4 : rect.top < box.top - 4;
      if (!beyond) continue;
      const score = Math.abs(rect.top - box.top) * 10000 + Math.abs(rect.left + rect.width / 2 - centre);
      if (best === null || score < best.score) best = { tile, score };
    }
    if (best) moveTo(best.tile);
  }

  function toggleMark(tile = state.focus) {
    if (!tile) return;
    if (state.marks.has(tile)) state.marks.delete(tile);
    else state.marks.add(tile);
    state.anchor = tile;
    redraw([tile]);
  }

  function onTile(tile, event) {
    moveTo(tile);
    if (event.shiftKey && state.anchor && state.order.includes(state.anchor)) {
      const [from, to] = [state.order.indexOf(state.anchor), state.order.indexOf(tile)].sort((a, b) => a - b);
      const range = state.order.slice(from, to + 1);
      for (const each of range) state.marks.add(each);
      redraw(range);
      return;
    }
    toggleMark(tile);
  }

  function clearMarks() {
    const marked = [...state.marks];
    state.marks.clear();
    state.question = null;
    redraw(marked);
  }

  // ---- labels -------------------------------------------------------------------------
  /** A label's key, chord, search match or button; with Shift (event.shiftKey), the question. */
  function chooseLabel(label, event) {
    if (!state.page) return;
    if (event && event.shiftKey) {
      ask(label);
      return;
    }
    if (state.question) {
      flash(`Answer the question with Space and Enter, or Esc to leave it.`);
      return;
    }
    const chosen = targets();
    if (!chosen.length) return;
    const all = chosen.every((tile) => tile.labels.has(label.id));
    change(chosen, (tile) => {
      if (!multi) tile.labels = new Set([label.id]);
      else if (all) tile.labels.delete(label.id);
      else tile.labels.add(label.id);
    });
    state.marks.clear();
    redraw(chosen);
    const what = multi && all ? `without ${label.name}` : label.name;
    announce(`${chosen.length === 1 ? "1 image" : `${chosen.length} images`}: ${what}`);
  }

  /** Applies edit to each tile, kept for Ctrl+Z as one action; only real changes count. */
  function change(tiles, edit) {
    const changes = [];
    for (const tile of tiles) {
      const before = new Set(tile.labels);
      tile.labels = new Set(tile.labels);
      edit(tile);
      if (!sameSet(before, tile.labels)) changes.push({ tile, before });
    }
    if (changes.length) state.undo.push({ type: "labels", page: state.page, changes });
    kept.keep(changes.map(({ tile }) => tile));
    return changes;
  }

  /** Question mode: the tiles that have the label already start marked. */
  function ask(label) {
    const before = [...state.marks];
    state.question = label;
    state.marks = new Set(state.order.filter((tile) => tile.labels.has(label.id)));
    redraw([...before, ...state.order]);
    announce(`Which are ${label.name}? Mark them, then press Enter.`);
  }

  function answer() {
    const label = state.question;
    const other = binary ? labels.find((l) => l.id !== label.id) : null;
    const yes = state.marks;
    change(state.order, (tile) => {
      if (yes.has(tile)) {
        if (multi) tile.labels.add(label.id);
        else tile.labels = new Set([label.id]);
      } else if (multi) {
        tile.labels.delete(label.id);
      } else if (other) {
        tile.labels = new Set([other.id]);
      } else if (tile.labels.has(label.id)) {
        tile.labels = new Set();
      }
    });
    const count = yes.size;
    state.question = null;
    state.marks = new Set();
    redraw(state.order);
    announce(`${count} marked ${label.name}. Enter accepts the page.`);
  }

  // ---- accept, skip, undo ---------------------------------------------------------------
  function accept() {
    if (!state.page) return;
    if (state.question) {
      answer();
      return;
    }
    const page = state.page;
    const ready = state.order.filter((tile) => tile.labels.size);
    if (!ready.length) {
      flash("No image on the page has a label yet: press a label's key first.");
      return;
    }
    clock.pause();
    const total = clock.elapsed();
    const shares = shareTime(total, ready.length);
    ready.forEach((tile, i) => {
      const id = tile.item.image.id;
      const labelIds = [...tile.labels].sort((a, b) => a - b);
      tile.entry = { id: null, kind: "annotation", image_id: id, label_ids: labelIds };
      tile.state = "accepted";
      enqueue({ kind: "annotate", image: id, body: { image: id, labels: labelIds, time_spent_ms: shares[i] } }, tile.entry);
    });
    kept.keep(ready);
    page.activeMs = 0;
    state.undo.push({ type: "accept", page, tiles: ready, ms: total });
    progress.bump(ready.length, 0);
    const left = state.order.length - ready.length;
    announce(`Accepted ${ready.length} image${ready.length === 1 ? "" : "s"}.`);
    if (left) {
      state.marks.clear();
      clock.restart(0);
      draw();
      fetchPage();
      flash(`${left} image${left === 1 ? "" : "s"} without a label stay${left === 1 ? "s" : ""} on the page.`);
    } else {
      nextPage();
    }
  }

  function skip() {
    const chosen = targets();
    if (!state.page || !chosen.length) return;
    for (const tile of chosen) {
      const id = tile.item.image.id;
      tile.entry = { id: null, kind: "skip", image_id: id, label_ids: [], reason: "" };
      tile.state = "skipped";
      enqueue({ kind: "skip", image: id, body: { image: id, reason: "" } }, tile.entry);
    }
    kept.keep(chosen);
    state.undo.push({ type: "skip", page: state.page, tiles: chosen });
    progress.bump(0, chosen.length);
    announce(`Skipped ${chosen.length} image${chosen.length === 1 ? "" : "s"}.`);
    state.marks.clear();
    if (state.order.every((tile) => tile.state !== "open")) {
      clock.pause();
      state.page.activeMs = clock.elapsed();
      nextPage();
    } else {
      draw();
      fetchPage();
    }
  }

  function undo() {
    const action = state.undo.pop();
    if (!action) {
      flash("Nothing to undo.");
      return;
    }
    let extra = 0;
    if (state.page === action.page) {
      clock.pause();
      extra = clock.elapsed();
    } else {
      bringBack(action.page);
    }
    if (action.type === "labels") {
      for (const { tile, before } of action.changes) tile.labels = before;
      clock.restart(extra || action.page.activeMs || 0);
      announce("Undone: the labels are back as they were.");
    } else {
      // An accepted page or a skip: taken back, sent in order after the writes themselves.
      for (const tile of action.tiles) {
        enqueue({ kind: "withdraw", image: tile.item.image.id, what: tile.entry.kind }, tile.entry);
        tile.state = "open";
        tile.entry = null;
      }
      const n = action.tiles.length;
      progress.bump(action.type === "accept" ? -n : 0, action.type === "skip" ? -n : 0);
      action.page.activeMs = (action.ms || 0) + (extra || action.page.activeMs || 0);
      clock.restart(action.page.activeMs);
      announce(`Undone: ${n} image${n === 1 ? " is" : "s are"} back.`);
    }
    kept.keep(action.type === "labels" ? action.changes.map(({ tile }) => tile) : action.tiles);
    state.marks.clear();
    state.question = null;
    area.dataset.state = "ready";
    $("grid-done").hidden = true;
    message.textContent = "";
    draw();
  }

  function toggleFullSize() {
    if (full.isOpen()) full.close();
    else if (state.focus) full.show(state.focus);
  }

  function escape() {
    if (full.isOpen()) full.close();
    else clearMarks();
  }

  // ---- keys and buttons ---------------------------------------------------------------------
  const MOVES = {
    ArrowLeft: () => step(-1),
    ArrowRight: () => step(1),
    ArrowUp: () => moveVertically(-1),
    ArrowDown: () => moveVertically(1),
    Home: () => moveTo(state.order[0]),
    End: () => moveTo(state.order[state.order.length - 1]),
  };

  document.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select")) return;
    if (event.ctrlKey || event.metaKey) {
      if (!event.altKey && event.key.toLowerCase() === "z") {
        event.preventDefault();
        undo();
      }
      return;
    }
    if (event.altKey) return;
    const key = event.key;
    // A chord's second key goes to the picker first; any other key drops the chord and is
    // the grid's, except Escape, which only cancels it.
    if (picker.pendingChord) {
      if (picker.handleKey(event)) return;
      if (key === "Escape") {
        event.preventDefault();
        return;
      }
    }
    if (MOVES[key]) MOVES[key]();
    else if (key === " " || key === "Spacebar") toggleMark();
    else if (key === "Enter") accept();
    else if (key === "Delete" || key === "Backspace") skip();
    else if (key === ".") toggleFullSize();
    else if (key === "Escape") escape();
    else if (key === "?") $("help-dialog").showModal();
    else if (!picker.handleKey(event)) return;
    event.preventDefault();
  });

  $("grid-accept").addEventListener("click", accept);
  $("grid-skip").addEventListener("click", skip);
  $("grid-undo").addEventListener("click", undo);
  $("grid-full-button").addEventListener("click", toggleFullSize);
  $("grid-clear").addEventListener("click", clearMarks);
  $("grid-check-again").addEventListener("click", checkAgain);

  renderPanel();
  fetchPage();
  return state;
}

function sameSet(a, b) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
