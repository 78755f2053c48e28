/* The labelling workspace.
 *
 * Images come from the queue (next/) a few ahead of the one on screen, already decoded,
 * so the next one shows at once. Every write (label, skip, undo) goes into an outbox
 * kept in localStorage and sent in order in the background: a failed request is
 * retried with backoff and shown, never dropped silently. Going back walks the
 * annotator's own history; nothing of other annotators is ever fetched.
 */
import { newIdempotencyKey } from "./lib/api.js";
import { $, createAnnouncer, reportFailure } from "./lib/dom.js";
import { readPageData, labelName, setUpHelp } from "./lib/labels.js";
import { createOutbox } from "./workspace/outbox.js";
import { createStage } from "./workspace/stage.js";
import { listenForShortcuts, keepKeysForShortcuts } from "./workspace/shortcuts.js";
import { createClock } from "./label/clock.js";
import { createPanel } from "./label/panel.js";
import { createProgress } from "./label/progress.js";
import { createQueue } from "./label/queue.js";
import { createSkipDialog } from "./label/skip-dialog.js";
import { fetchHistory, renewAddress, imageOf } from "./label/history.js";
import { createWrites, settle, refusalText } from "./label/writes.js";
import { workspaceMode, setUpModeToggle } from "./grid/mode.js";

const { data, labels } = readPageData("workspace-data");
const multi = data.project.multi_label;
// A suggestion at least this confident is pre-selected (Enter accepts it); a less
// confident one is only shown, so that Enter never accepts a coin flip.
const preselectFrom = data.project.suggestion_preselect;
const preselected = (suggestion) => !!suggestion && suggestion.confidence >= preselectFrom;
const HISTORY_SIZE = 200;
// One image at a time, or a page of them (grid/): as the project allows and the annotator chose.
const mode = workspaceMode(data);

// ---- state -------------------------------------------------------------------
const state = {
  buffer: [], // queue items ready to show: {image, suggestion, img}
  current: null, // {source: "queue"|"history", item, entry, selected:Set, suggestion}
  parked: null, // the queue item set aside while looking back
  historyIndex: -1, // position in history while looking back
  history: [], // newest first: {kind, id, image_id, label_ids, reason, item}
  undo: [],
  exhausted: false,
  filling: false,
  stats: { shown: 0, stalls: 0, sent: 0, retries: 0, queued: [] },
};
const stage = createStage({ isShowing: () => !!state.current });
const { showMessage, flash } = stage;
const announce = createAnnouncer("visually-hidden");
const progress = createProgress({ url: data.urls.progress, isSaving: () => outbox.ops.length > 0 });
const writes = createWrites(data);
// A withdraw whose target is gone already counts as done.
const outbox = createOutbox({
  ops: writes.load(),
  deliver: writes.deliver,
  isDone: (op, result) => result.ok || (op.kind === "withdraw" && result.status === 404),
  onSent: settle,
  onRefused: (op, result) => reportFailure(refusalText(op, result)),
  onChange: writes.save,
  onIdle: progress.refresh,
  stats: state.stats,
  status: $("save-status"),
});
const { fill, take } = createQueue({ url: data.urls.next, state, outbox, showMessage, showNext: () => advanceFromQueue(false) });
const { renderLabels, renderMode, picker } = createPanel({
  state,
  labels,
  multi,
  use: data.label_use || [],
  chooseLabel,
  canGoBack,
  preselectFrom,
});
const clock = createClock({ isRunning: () => !!state.current });
const skipDialog = createSkipDialog({ onSkip: skip });

// ---- showing an image ----------------------------------------------------------
function show(current) {
  $("done").hidden = true;
  state.current = current;
  clock.restart(current.activeMs || 0);
  stage.show(current.item.img, current.item.image);
  stage.element.dataset.mode = current.source;
  state.stats.shown += 1;
  renderMode();
  renderLabels();
}

function advanceFromQueue(countStall = true) {
  if (state.parked) {
    const item = state.parked;
    state.parked = null;
    show(queueCurrent(item));
    return;
  }
  const item = take();
  if (item) {
    state.stats.queued.push(item.image.id);
    show(queueCurrent(item));
    fill();
    return;
  }
  state.current = null;
  stage.clear();
  stage.element.dataset.imageId = "";
  if (state.exhausted) {
    stage.element.dataset.state = "done";
    // A queue that refused (a failed qualification test, a pause) says why, not "done".
    showMessage(state.refusal || doneMessage());
    $("done").hidden = false;
    // The notices the page arrived with ("Welcome to …: you joined") are past: the page
    // now says what is next, and nothing above it says otherwise.
    for (const notice of document.querySelectorAll(".messages")) notice.hidden = true;
    renderLabels();
    // The project's counts say whether "nothing left" means no images at all.
    progress.refresh().then(() => {
      if (!state.current && state.exhausted && !state.refusal) showMessage(doneMessage());
    });
    // Leases of others expire and undone labels reopen images: look again later.
    setTimeout(() => {
      if (!state.current && state.exhausted) checkAgain();
    }, 30000);
  } else {
    if (countStall) state.stats.stalls += 1;
    stage.element.dataset.state = "loading";
    showMessage("Loading…");
    fill();
  }
}

function doneMessage() {
  if (progress.projectImages() === 0) {
    return "This project has no images yet: labelling starts once a lead uploads them.";
  }
  return "Nothing left for you in this project. Thank you!";
}

/** Asks the queue again after it ran dry: others' leases expire, new images arrive. */
function checkAgain() {
  $("done").hidden = true;
  state.exhausted = false;
  stage.element.dataset.state = "loading";
  showMessage("Looking for new images…");
  fill();
}

function queueCurrent(item) {
  const selected = new Set(preselected(item.suggestion) ? item.suggestion.label_ids : []);
  return {
    source: "queue",
    item,
    entry: null,
    selected,
    suggestion: item.suggestion,
    activeMs: item.activeMs || 0,
  };
}

// ---- actions ------------------------------------------------------------------------
function chooseLabel(label) {
  const current = state.current;
  if (!current) return;
  if (multi) {
    const had = current.selected.has(label.id);
    if (had) current.selected.delete(label.id);
    else current.selected.add(label.id);
    state.undo.push({ type: "toggle", current, labelId: label.id, had });
    renderLabels();
    return;
  }
  current.selected = new Set([label.id]);
  commit();
}

function commit() {
  const current = state.current;
  if (!current) return;
  const labelIds = [...current.selected].sort((a, b) => a - b);
  if (labelIds.length === 0) {
    flash(
      current.suggestion && !preselected(current.suggestion)
        ? "The suggestion is not confident enough to accept with Enter: press a label's key."
        : "Choose at least one label, or skip the image."
    );
    return;
  }
  const imageId = current.item.image.id;
  const previous = current.entry ? { ...current.entry } : null;
  if (previous && previous.kind === "annotation" && sameIds(previous.label_ids, labelIds)) {
    goForward(); // unchanged: nothing to save
    return;
  }
  clock.pause();
  const entry = current.entry || { id: null, item: current.item };
  Object.assign(entry, { kind: "annotation", image_id: imageId, label_ids: labelIds, reason: "" });
  enqueue(
    {
      kind: "annotate",
      image: imageId,
      body: {
        image: imageId,
        labels: labelIds,
        time_spent_ms: Math.round(clock.elapsed()),
      },
    },
    entry
  );
  if (!previous) {
    remember(entry);
    progress.bump(1, 0);
  } else if (previous.kind === "skip") {
    progress.bump(1, -1);
  }
  state.undo.push({ type: "commit", entry, previous, item: current.item });
  announce(`Labelled image ${imageId}: ${labelIds.map(labelName).join(", ")}`);
  goForward();
}

function remember(entry) {
  state.history.unshift(entry);
  state.history.length = Math.min(state.history.length, HISTORY_SIZE);
}

function skip(reason) {
  const current = state.current;
  if (!current) return;
  if (current.entry && current.entry.kind === "annotation") {
    flash("You labelled this image already: change its label instead of skipping it.");
    return;
  }
  if (current.entry && current.entry.kind === "skip") {
    goForward();
    return;
  }
  const imageId = current.item.image.id;
  clock.pause();
  const entry = { id: null, kind: "skip", image_id: imageId, label_ids: [], reason, item: current.item };
  enqueue({ kind: "skip", image: imageId, body: { image: imageId, reason } }, entry);
  remember(entry);
  state.undo.push({ type: "commit", entry, previous: null, item: current.item });
  progress.bump(0, 1);
  announce(`Skipped image ${imageId}`);
  goForward();
}

function goForward() {
  const current = state.current;
  if (current && current.source === "history" && state.historyIndex > 0) {
    showHistory(state.historyIndex - 1);
    return;
  }
  state.historyIndex = -1;
  advanceFromQueue();
}

function canGoBack() {
  const index = state.current && state.current.source === "history" ? state.historyIndex : -1;
  return index + 1 < state.history.length;
}

function goBack() {
  if (!canGoBack()) {
    flash("There is nothing further back.");
    return;
  }
  const current = state.current;
  if (current && current.source === "queue") {
    clock.pause();
    current.item.activeMs = clock.elapsed();
    state.parked = current.item;
  }
  const index = current && current.source === "history" ? state.historyIndex + 1 : 0;
  showHistory(index);
}

function showHistory(index) {
  const entry = state.history[index];
  state.historyIndex = index;
  const item = entry.item || { image: imageOf(entry), suggestion: null };
  if (!item.img) {
    item.img = new Image();
    item.img.alt = `Image ${entry.image_id}`;
    item.img.src = entry.display_url;
    item.img.addEventListener("load", () => {
      if (state.current && state.current.item === item) show(state.current);
    }, { once: true });
    item.img.addEventListener("error", () => renewAddress(data.urls.history, entry, item), { once: true });
  }
  entry.item = item;
  show({ source: "history", item, entry, selected: new Set(entry.label_ids), suggestion: null, activeMs: 0 });
}

function undo() {
  const action = state.undo.pop();
  if (!action) {
    flash("Nothing to undo.");
    return;
  }
  if (action.type === "toggle") {
    if (action.had) action.current.selected.add(action.labelId);
    else action.current.selected.delete(action.labelId);
    if (state.current === action.current) renderLabels();
    return;
  }
  const entry = action.entry;
  if (action.previous) {
    // An edit of an earlier image: put its earlier labels (or skip) back.
    restorePrevious(entry, action.previous);
    announce(`Undone: image ${entry.image_id} is back as it was.`);
    if (state.current && state.current.entry === entry) {
      state.current.selected = new Set(entry.label_ids);
      renderMode();
    }
    renderLabels();
    return;
  }
  // A fresh label or skip: take it back and show that image again.
  withdraw(entry);
  state.history = state.history.filter((e) => e !== entry);
  progress.bump(entry.kind === "annotation" ? -1 : 0, entry.kind === "skip" ? -1 : 0);
  const current = state.current;
  if (current && current.source === "queue") {
    clock.pause();
    current.item.activeMs = clock.elapsed();
    state.buffer.unshift(current.item);
  } else if (current && current.source === "history" && state.parked) {
    state.buffer.unshift(state.parked);
    state.parked = null;
  }
  state.historyIndex = -1;
  const item = action.item;
  const again = queueCurrent(item);
  if (entry.kind === "annotation") again.selected = new Set(entry.label_ids);
  show(again);
  announce(`Undone: image ${entry.image_id} is back.`);
}

function restorePrevious(entry, previous) {
  if (previous.kind === "annotation") {
    enqueue({ kind: "annotate", image: entry.image_id, body: { image: entry.image_id, labels: previous.label_ids } });
  } else {
    withdraw(entry);
    enqueue({ kind: "skip", image: entry.image_id, body: { image: entry.image_id, reason: previous.reason } }, entry);
    progress.bump(-1, 1);
  }
  Object.assign(entry, { kind: previous.kind, label_ids: previous.label_ids, reason: previous.reason });
}

function withdraw(entry) {
  // Sent in order after the write it takes back, so that write is on the server by then.
  enqueue({ kind: "withdraw", image: entry.image_id, what: entry.kind }, entry);
}

// ---- the outbox ---------------------------------------------------------------------
/** Sends op (label/writes.js) in order after the writes before it; entry is what it writes. */
function enqueue(op, entry) {
  op.key = newIdempotencyKey();
  op.entryRef = entry;
  outbox.add(op);
}

function sameIds(a, b) {
  return JSON.stringify([...a].sort((x, y) => x - y)) === JSON.stringify([...b].sort((x, y) => x - y));
}

// ---- history from earlier sessions -------------------------------------------------
async function loadHistory() {
  const earlier = await fetchHistory(data.urls.history);
  if (!earlier) return;
  const known = new Set(state.history.map((e) => e.image_id));
  for (const entry of earlier) {
    if (!known.has(entry.image_id)) state.history.push({ ...entry });
  }
  renderLabels();
}

// ---- instructions ---------------------------------------------------------------------
/** Opens the project's instructions the first time this person labels it here (and again
 * once they change: the key carries their digest); the button opens them at any time. */
function showInstructionsFirstTime() {
  const key = data.instructions;
  if (!key) return;
  try {
    if (window.localStorage.getItem(key)) return;
    window.localStorage.setItem(key, new Date().toISOString());
  } catch {
    return; // storage refused (private mode, full): the button still opens them
  }
  $("instructions-dialog").showModal();
}

// ---- keyboard and buttons -----------------------------------------------------------
function openSkip() {
  if (!state.current) return;
  if (state.current.entry && state.current.entry.kind === "annotation") {
    flash("You labelled this image already: change its label instead of skipping it.");
    return;
  }
  skipDialog.open();
}

// ---- starting -------------------------------------------------------------------------
function startSingle() {
  // Enter, Space and the arrows drive the queue; Ctrl+Z undoes.
  listenForShortcuts({
    stage,
    picker,
    withModifier: (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "z") {
        event.preventDefault();
        undo();
      }
    },
    pageKey: (key) => {
      if (key === "Enter") {
        commit();
      } else if (key === " " || key === "Spacebar") {
        openSkip();
      } else if (key === "ArrowLeft" || key === "Backspace") {
        goBack();
      } else if (key === "ArrowRight") {
        if (state.current && state.current.source === "history") goForward();
      } else {
        return false;
      }
      return true;
    },
  });

  $("submit-button").addEventListener("click", commit);
  $("skip-button").addEventListener("click", openSkip);
  $("back-button").addEventListener("click", goBack);
  $("forward-button").addEventListener("click", goForward);
  $("undo-button").addEventListener("click", undo);
  $("check-again").addEventListener("click", checkAgain);
  renderLabels();
}

/** Grid mode: the single mode's stage and panel give way to the grid's (grid/workspace.js). */
async function startGrid() {
  $("stage").hidden = true;
  $("single-panel").hidden = true;
  $("grid").hidden = false;
  $("grid-panel").hidden = false;
  $("grid-panel").append($("failures"));
  $("help-single").hidden = true;
  $("help-grid").hidden = false;
  document.body.dataset.mode = "grid";
  const { startGrid: start } = await import("./grid/workspace.js");
  window.labeler.grid = start({ data, labels, outbox, enqueue, progress, announce, preselected });
}

$("instructions-button").addEventListener("click", () => $("instructions-dialog").showModal());
showInstructionsFirstTime();
setUpHelp(labels);
setUpModeToggle(data, mode, { pending: () => outbox.ops.length });
keepKeysForShortcuts(".panel");

// Exposed for the page's own tests and for debugging in the console.
window.labeler = { state, outbox: () => outbox.ops.slice(), stats: state.stats, mode, picker };

if (mode === "grid") startGrid();
else startSingle();
outbox.renderStatus();
progress.refresh();
if (mode !== "grid") {
  loadHistory();
  fill();
}
outbox.send();
