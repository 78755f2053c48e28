/* The review queue.
 *
 * Items come from review/ a page at a time, most uncertain first, and the images of the
 * next ones are decoded ahead, so the next item shows at once. A decision (Enter, or G
 * for gold) is sent in the background, in order, while the next item shows: a refused
 * one comes back to the front of the queue with the reason, a failed request is retried
 * with backoff. Skipped items stay in the queue and come back once the rest is done.
 */
import { request, errorMessage } from "./lib/api.js";
import { $, el, createAnnouncer, reportFailure } from "./lib/dom.js";
import { percent } from "./lib/format.js";
import { createLabelPicker } from "./lib/label-picker.js";
import { readPageData, labelNames as names, setUpHelp } from "./lib/labels.js";
import { createOutbox } from "./workspace/outbox.js";
import { createStage } from "./workspace/stage.js";
import { listenForShortcuts, keepKeysForShortcuts } from "./workspace/shortcuts.js";
import { createPanel, isHuman, localDecision } from "./review/panel.js";
import { createQueue } from "./review/queue.js";
import { createReviewGrid } from "./review/grid.js";
import { renderLabelCheck } from "./review/label-check.js";
import { createExplanation } from "./explanation.js";

const { data, labels } = readPageData("review-data");
const multi = data.project.multi_label;
const REASONS = {
  requested: { title: "Requested", one: "requested image", plural: "requested images", text: "Someone asked for a review." },
  tie: { title: "Tie", one: "tie", plural: "ties", text: "The annotators split evenly." },
  disagreement: {
    title: "Disagreement",
    one: "disagreement",
    plural: "disagreements",
    text: "Not every annotator gave the same label.",
  },
  low_confidence: {
    title: "Low confidence",
    one: "low-confidence image",
    plural: "low-confidence images",
    text: `The consensus is below the ${percent(data.project.review_threshold)} threshold.`,
  },
};

const labelBox = $("labels");
const goldButton = $("gold-button");

const state = {
  reason: "",
  items: [], // queue items waiting to be shown, in queue order
  current: null, // {item, selected: Set}
  trail: [], // items shown and left behind (decided or skipped), oldest first
  backIndex: -1, // position in trail while looking back; -1 at the queue
  parked: null, // the queue item set aside while looking back
  skipped: new Set(),
  decided: new Set(), // image ids decided in this session
  count: 0, // items left for the filter, as the server counted them
  counts: null,
  exhausted: false,
  filling: false,
  generation: 0, // bumps when the filter changes: answers for an older one are dropped
  stats: { shown: 0, stalls: 0, sent: 0, retries: 0 },
};
const stage = createStage({ isShowing: () => !!state.current });
// Votes and the model's label of the item on screen, as tags on the label buttons.
let tags = { votes: new Map(), suggested: new Set() };
const picker = createLabelPicker({
  box: labelBox,
  labels,
  multi,
  use: data.label_use || [],
  onChoose: (label) => chooseLabel(label),
  isPressed: (label) => !!state.current && state.current.selected.has(label.id),
  isDisabled: () => !state.current,
  decorate: (label, button) => {
    const n = tags.votes.get(label.id);
    if (n) button.append(el("span", { class: "rv-votes-tag", text: `${n} vote${n > 1 ? "s" : ""}` }));
    if (tags.suggested.has(label.id)) button.append(el("span", { class: "tag", text: "model" }));
  },
});
const explanation = createExplanation({ labelByKey: { has: picker.takesKey } });
const { showMessage, flash } = stage;
const announce = createAnnouncer("visually-hidden");
// Decisions live only in memory: leaving the page with some unsent asks first.
const outbox = createOutbox({
  deliver: (op) =>
    op.page
      ? request("POST", data.urls.decisions_batch, { decisions: op.decisions }, { idempotencyKey: op.key })
      : request("POST", data.urls.decisions, { image: op.item.image.id, labels: op.labelIds, method: op.method }),
  onSent: (op, result) => {
    if (op.page) {
      grid.sent(op, result);
      return;
    }
    op.item.final_label = result.body;
    op.item.decision = null;
    op.item.history = null; // the decision is part of it now
    if (state.current && state.current.item === op.item) {
      render();
      loadHistory(op.item);
    }
  },
  onRefused: (op, result) => (op.page ? grid.refused(op, result) : refused(op, result)),
  stats: state.stats,
  status: $("save-status"),
});
let recheckTimer = null;

const slotted = (url, id) => url.replace(data.slot, String(id));
const panel = createPanel({
  currentItem: () => state.current && state.current.item,
  reasons: REASONS,
  historyUrl: (id) => slotted(data.urls.history, id),
});
const { loadHistory } = panel;
const { fill, runningLow, ensureImage, setCounts } = createQueue({ url: data.urls.queue, state, outbox, showMessage, renderCounts, showNext: advance });
const grid = createReviewGrid({ data, labels, state, outbox, setCounts, bumpCount, announce, emptyText });

// ---- moving through ------------------------------------------------------------------
function advance() {
  if (state.parked) {
    const item = state.parked;
    state.parked = null;
    show(item);
    return;
  }
  let item = state.items.shift();
  while (item && (state.decided.has(item.image.id) || state.skipped.has(item.image.id))) {
    item = state.items.shift();
  }
  if (item) {
    show(item);
    if (runningLow()) fill();
    return;
  }
  state.current = null;
  stage.clear();
  stage.element.dataset.imageId = "";
  if (state.exhausted && !state.filling) {
    showEmpty();
  } else {
    state.stats.stalls += 1;
    stage.element.dataset.state = "loading";
    showMessage("Loading…");
    fill();
  }
  render();
}

function show(item) {
  const decision = localDecision(item);
  let selected = [];
  if (decision) selected = decision.label_ids;
  else if (item.consensus) selected = item.consensus.label_ids;
  state.current = { item, selected: new Set(selected) };
  $("empty").hidden = true;
  const image = item.image;
  stage.show(ensureImage(item), image);
  explanation.setImage(image.id);
  stage.element.dataset.looking = state.backIndex >= 0 ? "back" : "queue";
  state.stats.shown += 1;
  const query = new URLSearchParams(window.location.search);
  query.set("image", String(image.id));
  window.history.replaceState(null, "", `${window.location.pathname}?${query}`);
  render();
  loadHistory(item);
}

function leave() {
  // The item on screen is done with (decided or skipped): keep it to come back to.
  const item = state.current.item;
  if (state.backIndex >= 0) {
    goForward();
    return;
  }
  if (!state.trail.includes(item)) state.trail.push(item);
  advance();
}

function goForward() {
  if (state.backIndex >= 0 && state.backIndex + 1 < state.trail.length) {
    state.backIndex += 1;
    show(state.trail[state.backIndex]);
    return;
  }
  state.backIndex = -1;
  advance();
}

function goBack() {
  const from = state.backIndex >= 0 ? state.backIndex : state.trail.length;
  if (from <= 0) {
    flash("There is nothing further back.");
    return;
  }
  if (state.backIndex < 0 && state.current) state.parked = state.current.item;
  state.backIndex = from - 1;
  show(state.trail[state.backIndex]);
}

function skip() {
  const current = state.current;
  if (!current) return;
  const id = current.item.image.id;
  if (state.backIndex < 0 && !state.decided.has(id)) {
    state.skipped.add(id);
    announce(`Skipped image ${id}; it comes back once the rest is done.`);
  }
  leave();
}

// ---- deciding -----------------------------------------------------------------------
function chooseLabel(label) {
  const current = state.current;
  if (!current) return;
  if (multi) {
    if (current.selected.has(label.id)) current.selected.delete(label.id);
    else current.selected.add(label.id);
  } else {
    current.selected = new Set([label.id]);
  }
  renderLabels();
  announce(`Selected: ${names([...current.selected]) || "nothing"}`);
}

function decide(method) {
  const current = state.current;
  if (!current) return;
  if (method === "gold" && !data.can_gold) return;
  const labelIds = [...current.selected].sort((a, b) => a - b);
  if (!labelIds.length) {
    flash(multi ? "Select at least one label (its key), then Enter." : "Select a label (its key), then Enter.");
    return;
  }
  const item = current.item;
  const id = item.image.id;
  const counted = !!item.reason && !state.decided.has(id) && !isHuman(item.final_label);
  state.decided.add(id);
  state.skipped.delete(id);
  item.decision = { label_ids: labelIds, method, pending: true };
  if (counted) bumpCount(item.reason, -1);
  outbox.add({ item, method, labelIds, counted, reason: item.reason });
  announce(`Decided image ${id}: ${names(labelIds)}${method === "gold" ? " (gold)" : ""}.`);
  leave();
}

function bumpCount(reason, by) {
  state.count = Math.max(0, state.count + (!state.reason || state.reason === reason ? by : 0));
  if (state.counts && reason in state.counts) state.counts[reason] = Math.max(0, state.counts[reason] + by);
  renderCounts();
}

function refused(op, result) {
  const item = op.item;
  const id = item.image.id;
  item.decision = null;
  state.decided.delete(id);
  if (op.counted) bumpCount(op.reason, 1);
  const text = `The decision on image ${id} was refused: ${errorMessage(result, { brief: true })}`;
  reportFailure(text);
  const onScreen = state.current && state.current.item === item;
  if (!onScreen && item.reason) {
    state.items.unshift(item); // back to the front of the queue
    if (!state.current) advance();
  }
  if (onScreen) render();
  announce(text);
}

// ---- rendering ----------------------------------------------------------------------
function render() {
  document.querySelector(".rv-panel").dataset.empty = state.current ? "false" : "true";
  panel.renderReason();
  panel.renderVotes();
  panel.renderFacts();
  renderLabelCheck(state.current && state.current.item);
  renderLabels();
  renderCounts();
  panel.renderHistory();
}

function renderLabels() {
  const current = state.current;
  const item = current && current.item;
  const votes = new Map();
  for (const a of item ? item.annotations : []) for (const id of a.label_ids) votes.set(id, (votes.get(id) || 0) + 1);
  tags = { votes, suggested: new Set(item && item.suggestion ? item.suggestion.label_ids : []) };
  picker.render();
  $("decide-button").disabled = !current;
  if (goldButton) goldButton.disabled = !current;
  $("skip-button").disabled = !current;
  $("skip-button").textContent = state.backIndex >= 0 ? "Forward →" : "Skip →";
  $("back-button").disabled = (state.backIndex >= 0 ? state.backIndex : state.trail.length) <= 0;
}

function renderCounts() {
  const counts = state.counts;
  for (const badge of document.querySelectorAll("[data-count]")) {
    const reason = badge.dataset.count;
    if (!counts) continue;
    badge.textContent = String(reason === "all" ? Object.values(counts).reduce((a, b) => a + b, 0) : counts[reason]);
  }
  const left = state.counts ? state.count : null;
  $("left-count").textContent = left === null ? "…" : String(left);
  const reason = state.reason ? REASONS[state.reason] : { one: "image", plural: "images" };
  const what = left === 1 ? reason.one : reason.plural;
  $("left-text").textContent = `${what} left to review`;
}

function showEmpty() {
  stage.element.dataset.state = "empty";
  showMessage("");
  stage.info.textContent = "";
  const skipped = state.skipped.size;
  $("empty").hidden = false;
  $("again").hidden = !skipped;
  $("show-all").hidden = !state.reason || !!skipped;
  if (skipped) {
    $("empty-title").textContent = "Only skipped images are left";
    $("empty-text").textContent = `You skipped ${skipped} image${skipped > 1 ? "s" : ""}. Look at them again, or come back later.`;
  } else {
    const { title, text } = emptyText();
    $("empty-title").textContent = title;
    $("empty-text").textContent = text;
  }
  $("empty").dataset.state = skipped || state.reason ? "filtered" : data.empty.state;
  const query = new URLSearchParams(window.location.search);
  query.delete("image");
  const rest = query.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${rest ? `?${rest}` : ""}`);
  clearTimeout(recheckTimer);
  recheckTimer = setTimeout(() => {
    if (!state.current && !state.filling) {
      state.exhausted = false;
      fill();
    }
  }, 30000);
}

/** Why the queue (of the reason chosen) is empty, when nothing was skipped. */
function emptyText() {
  if (state.reason) {
    return { title: `No ${REASONS[state.reason].plural} to review`, text: "Other reasons may still have images waiting." };
  }
  // Why the whole queue is empty (nothing labelled yet, not enough annotators yet, all
  // settled) is the server's to say, from the project's progress.
  return { title: data.empty.title, text: data.empty.text };
}

// ---- filter ---------------------------------------------------------------------------
function setReason(reason, { force = false } = {}) {
  if (reason === state.reason && state.current && !force) return;
  state.reason = reason;
  state.generation += 1;
  state.filling = false;
  state.exhausted = false;
  state.items = [];
  state.skipped.clear();
  state.parked = null;
  state.backIndex = -1;
  state.current = null;
  for (const button of document.querySelectorAll(".rv-filter button")) {
    button.setAttribute("aria-pressed", button.dataset.reason === reason ? "true" : "false");
  }
  stage.clear();
  stage.element.dataset.state = "loading";
  $("empty").hidden = true;
  showMessage("Loading…");
  render();
  if (grid.active) grid.load();
  else fill();
}

// ---- one at a time, or a grid ------------------------------------------------------------
// The choice is kept per project in this browser.
const VIEW_KEY = `labeler.review.view.${data.project.id}`;

function setView(view, { save = true } = {}) {
  const gridOn = view === "grid";
  if (gridOn === grid.active && save) return;
  $("single-view").hidden = gridOn;
  $("grid-view").hidden = !gridOn;
  $("view-toggle").setAttribute("aria-pressed", gridOn ? "true" : "false");
  document.querySelector("main").dataset.view = gridOn ? "grid" : "single";
  if (save) {
    try {
      localStorage.setItem(VIEW_KEY, view);
    } catch {
      // storage full or refused: the choice lasts for this page only
    }
  }
  grid.setActive(gridOn);
  if (gridOn) {
    // A link to one image is the single view's: the grid's address names none.
    const query = new URLSearchParams(window.location.search);
    query.delete("image");
    const rest = query.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${rest ? `?${rest}` : ""}`);
  } else {
    // The grid may have decided or left items this view holds: start it again from the queue.
    setReason(state.reason, { force: true });
  }
}

function savedView() {
  try {
    return localStorage.getItem(VIEW_KEY) === "grid" ? "grid" : "single";
  } catch {
    return "single";
  }
}

// ---- keyboard and buttons -----------------------------------------------------------
// Enter decides, G marks as gold, the arrows and Space move along the queue.
// The grid view has its own picker (review/grid.js): its labels fix the marked tiles.
const activePicker = () => (grid.active ? grid.picker : picker);
listenForShortcuts({
  stage,
  picker: {
    handleKey: (event) => activePicker().handleKey(event),
    get pendingChord() {
      return activePicker().pendingChord;
    },
  },
  withModifier: (event) => {
    // Alt+G switches the view; in the grid, Ctrl+Z (Cmd+Z) undoes.
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyG") {
      event.preventDefault();
      setView(grid.active ? "single" : "grid");
    } else if (grid.active && (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "z") {
      event.preventDefault();
      grid.undo();
    }
  },
  pageKey: (key, event) => {
    if (grid.active) return grid.key(key, event);
    // Enter or Space on a focused button or link is for that button or link.
    const activation = key === "Enter" || key === " ";
    if (activation && event.target instanceof HTMLElement && event.target.closest("button, a")) return false;
    if (key === "Enter") decide("adjudicated");
    else if (key === "G" && data.can_gold) decide("gold");
    else if (key === "g" && data.can_gold && !picker.takesKey("g")) decide("gold");
    else if (key === "ArrowRight" || key === " " || key === "Spacebar") skip();
    else if (key === "ArrowLeft" || key === "Backspace") goBack();
    else if (explanation.key(key)) return true;
    else return false;
    return true;
  },
});

$("view-toggle").addEventListener("click", () => setView(grid.active ? "single" : "grid"));
$("decide-button").addEventListener("click", () => decide("adjudicated"));
if (goldButton) goldButton.addEventListener("click", () => decide("gold"));
$("skip-button").addEventListener("click", skip);
$("back-button").addEventListener("click", goBack);
setUpHelp(labels);
$("show-all").addEventListener("click", () => setReason(""));
$("again").addEventListener("click", () => {
  state.skipped.clear();
  state.items = [];
  state.exhausted = false;
  $("empty").hidden = true;
  fill();
});
for (const button of document.querySelectorAll(".rv-filter button")) {
  button.addEventListener("click", () => setReason(button.dataset.reason));
}
keepKeysForShortcuts(".panel, .rv-bar, .rv-empty, .explanation");

// Exposed for the page's own tests and for debugging in the console.
window.reviewer = { state, grid: grid.state, outbox: () => outbox.ops.slice(), stats: state.stats };

async function start() {
  render();
  const linked = new URLSearchParams(window.location.search).get("image");
  if (savedView() === "grid" && !linked) {
    setView("grid", { save: false });
    return;
  }
  if (linked && /^\d{1,18}$/.test(linked)) {
    const result = await request("GET", slotted(data.urls.item, linked));
    if (result.ok) show(result.body);
    else flash(`Image ${linked} cannot be shown: ${errorMessage(result, { brief: true })}`);
  }
  fill();
}

start();
