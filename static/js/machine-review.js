/* Machine review: confirm the current model's surest labels in bulk, correct the wrong ones.
 *
 * The pending machine labels load a batch at a time, grouped by predicted label, as a grid
 * of thumbnails. One tile has the focus (roving tabindex): the arrow keys move it, Space
 * marks its image wrong (or right again), a label's hotkey picks the correct label (and
 * marks it wrong). Confirm sends the batch: unmarked images are confirmed, the wrong ones
 * corrected with the label picked. Strings from data go in as text, never as markup.
 */
import { request, errorMessage, rows } from "./lib/api.js";
import { $, el, fill, createAnnouncer, reportFailure } from "./lib/dom.js";
import { percent, plural } from "./lib/format.js";
import { createLabelPicker } from "./lib/label-picker.js";
import { readPageData, labelNames, chips as labelChips, setUpHelp } from "./lib/labels.js";
import { MOVING_KEYS, groupRuns, movedIndex, rovingFocus, tileGroup, tileImage } from "./lib/tile-grid.js";

const { data, labels } = readPageData("machine-review-data");
const multi = data.project.multi_label;
const BATCH = 200; // machine labels shown and confirmed at once
const PAGE = 100;

const state = {
  items: [], // the batch on screen, in grid order
  marks: new Map(), // image id -> {labels: Set} for the images marked wrong
  focus: 0, // index into items
  total: null, // pending machine labels, as the server counts them
  sending: false,
};

// ---- loading ---------------------------------------------------------------------------
/** The next batch of pending machine labels, grouped by predicted label (in label order). */
async function loadBatch() {
  const box = $("groups");
  box.dataset.state = "loading";
  box.setAttribute("aria-busy", "true");
  const loaded = [];
  let url = `${data.urls.pending}?status=pending&page_size=${PAGE}`;
  while (url && loaded.length < BATCH) {
    const result = await request("GET", url);
    if (!result.ok) {
      showLoadError(`The pending machine labels could not be loaded: ${errorMessage(result)}`);
      return;
    }
    loaded.push(...rows(result.body));
    if (result.body && typeof result.body.count === "number") state.total = result.body.count;
    url = result.body && result.body.next;
  }
  if (state.total === null || (!url && state.total < loaded.length)) state.total = loaded.length;
  state.items = sortByGroup(loaded.slice(0, BATCH));
  state.marks.clear();
  state.focus = 0;
  $("load-error").hidden = true;
  render();
  box.dataset.state = "ready";
  box.setAttribute("aria-busy", "false");
}

function showLoadError(message) {
  const box = $("load-error");
  box.textContent = message;
  box.hidden = false;
  $("groups").dataset.state = "error";
  $("groups").setAttribute("aria-busy", "false");
  fill($("groups"));
}

const position = new Map(labels.map((l, i) => [l.id, i]));
const groupKey = (item) => item.label_ids.join(",");

function sortByGroup(items) {
  const rank = (item) => (item.label_ids.length ? Math.min(...item.label_ids.map((id) => position.get(id) ?? 999)) : -1);
  return [...items].sort(
    (a, b) => rank(a) - rank(b) || groupKey(a).localeCompare(groupKey(b)) || b.confidence - a.confidence,
  );
}

// ---- drawing ---------------------------------------------------------------------------
function render() {
  const box = $("groups");
  $("pending-count").textContent = state.total === null ? "…" : String(state.total);
  $("empty").hidden = state.items.length > 0;
  $("batch-note").textContent =
    state.total > state.items.length
      ? `showing the first ${state.items.length}; the next ${plural(Math.min(BATCH, state.total - state.items.length), "image")} follow once these are confirmed`
      : "";
  fill(
    box,
    groupRuns(state.items, groupKey).map(({ key, entries }) => {
      const ids = entries[0].item.label_ids;
      return tileGroup({
        className: "mr-group",
        key,
        label: `Predicted ${names(ids)}`,
        head: [...chips(ids), el("span", { class: "muted", text: plural(entries.length, "image") })],
        tiles: entries.map(({ item, index }) => tile(item, index)),
      });
    }),
  );
  renderPanel();
  renderSummary();
}

/** Image addresses last an hour or so: one that expired while the page stayed open is
 * fetched again through the API (the session's own access) instead of staying blank. */
function refetchOnError(image, imageId, kind) {
  image.addEventListener(
    "error",
    () => {
      image.src = data.urls[`image_${kind}`].replace(data.slot, String(imageId));
    },
    { once: true }
  );
  return image;
}

function tile(item, index) {
  const mark = state.marks.get(item.image);
  const kind = item.thumbnail_url ? "thumbnail" : "file";
  const image = tileImage(item.thumbnail_url || item.file_url, {
    onError: (img) => {
      img.src = data.urls[`image_${kind}`].replace(data.slot, String(item.image));
    },
  });
  const button = el(
    "button",
    {
      type: "button",
      class: "tile mr-tile",
      tabindex: index === state.focus ? "0" : "-1",
      "aria-pressed": mark ? "true" : "false",
      "aria-label": tileLabel(item, mark),
      dataset: { image: String(item.image), index: String(index), wrong: mark ? "true" : "false" },
    },
    el("span", { class: "tile-thumb" }, image),
    el("span", { class: "mr-confidence", text: percent(item.confidence) }),
    mark ? el("span", { class: "mr-wrong-tag", text: "wrong" }) : null,
    mark && mark.labels.size ? el("span", { class: "mr-correct" }, chips([...mark.labels])) : null,
    item.spot_check ? el("span", { class: "mr-spot", title: "Also checked blind by an annotator", text: "spot check" }) : null,
  );
  button.addEventListener("click", (event) => {
    if (event.detail === 0) return; // Space and Enter: the key handler has it
    moveTo(index);
    toggleWrong();
  });
  button.addEventListener("focus", () => {
    if (state.focus !== index) moveTo(index, { focus: false });
  });
  return button;
}

function tileLabel(item, mark) {
  const said = `Model: ${names(item.label_ids)}, ${percent(item.confidence)}`;
  if (!mark) return said;
  return `${said}. Marked wrong${mark.labels.size ? `; correct: ${names([...mark.labels])}` : "; no correct label picked yet"}`;
}

function renderPanel() {
  const item = state.items[state.focus];
  const preview = $("preview");
  $("facts").hidden = !item;
  $("wrong-button").disabled = !item;
  if (!item) {
    fill(preview, el("p", { class: "muted", text: "Nothing to review." }));
    renderLabels(null);
    return;
  }
  const big = el("img", { src: item.file_url || item.thumbnail_url, alt: `Image ${item.image}` });
  refetchOnError(big, item.image, "file");
  big.addEventListener("load", () => big.classList.toggle("pixelated", big.naturalWidth < 128), { once: true });
  fill(preview, big);
  fill($("fact-predicted"), chips(item.label_ids));
  $("fact-confidence").textContent = `${percent(item.confidence)} · model v${item.version}`;
  const mark = state.marks.get(item.image);
  const wrong = $("wrong-button");
  wrong.setAttribute("aria-pressed", mark ? "true" : "false");
  fill(wrong, mark ? "Marked wrong " : "Mark wrong ", el("kbd", { text: "Space" }));
  renderLabels(item);
}

let pickerItem = null; // the focused tile's item, whose labels the picker shows
const picker = createLabelPicker({
  box: $("labels"),
  labels,
  multi,
  use: data.label_use || [],
  isPressed: (label) => {
    const mark = pickerItem && state.marks.get(pickerItem.image);
    return !!mark && mark.labels.has(label.id);
  },
  isDisabled: () => !pickerItem,
  decorate: (label, button) => {
    if (pickerItem && pickerItem.label_ids.includes(label.id)) button.append(el("span", { class: "tag", text: "model" }));
  },
  onChoose: (label) => {
    chooseLabel(label);
    // Back to the tile, so that the arrow keys and Space go on from where they were.
    const current = tiles()[state.focus];
    if (current) current.focus({ preventScroll: true });
  },
});

function renderLabels(item) {
  pickerItem = item;
  picker.render();
}

function renderSummary() {
  const wrong = state.marks.size;
  const unpicked = [...state.marks.values()].filter((m) => !m.labels.size).length;
  const confirm = state.items.length - wrong;
  const corrected = wrong - unpicked;
  const parts = [`${plural(confirm, "image")} to confirm`, `${corrected} corrected`];
  if (unpicked) parts.push(`${unpicked} marked wrong without a label stay${unpicked === 1 ? "s" : ""} pending`);
  $("summary").textContent = state.items.length ? parts.join(" · ") : "";
  const button = $("confirm-button");
  button.disabled = state.sending || confirm + corrected === 0;
  button.textContent = state.sending
    ? "Confirming…"
    : `Confirm ${confirm}${corrected ? ` and correct ${corrected}` : ""}`;
}

function chips(ids) {
  return ids.length ? labelChips(ids) : [el("span", { class: "chip none", text: "no label" })];
}

const names = (ids) => labelNames(ids) || "no label";

// ---- acting ------------------------------------------------------------------------------
function tiles() {
  return [...document.querySelectorAll(".mr-tile")];
}

function moveTo(index, { focus = true } = {}) {
  if (!state.items.length) return;
  state.focus = Math.max(0, Math.min(state.items.length - 1, index));
  rovingFocus(tiles(), state.focus, { focus });
  renderPanel();
}

function redrawTile(index) {
  const item = state.items[index];
  const old = tiles()[index];
  if (!old) return;
  const fresh = tile(item, index);
  old.replaceWith(fresh);
  if (index === state.focus) fresh.focus({ preventScroll: true });
  renderPanel();
  renderSummary();
}

function toggleWrong() {
  const item = state.items[state.focus];
  if (!item) return;
  if (state.marks.has(item.image)) state.marks.delete(item.image);
  else state.marks.set(item.image, { labels: new Set() });
  redrawTile(state.focus);
  announce(state.marks.has(item.image) ? "Marked wrong: pick the correct label." : "Right again.");
}

/** A label's key: single label, that is the correct label; multi-label, toggle it in the set. */
function chooseLabel(label) {
  const item = state.items[state.focus];
  if (!item) return;
  const mark = state.marks.get(item.image) || { labels: new Set(multi ? item.label_ids : []) };
  if (multi) {
    if (mark.labels.has(label.id)) mark.labels.delete(label.id);
    else mark.labels.add(label.id);
  } else {
    mark.labels = new Set([label.id]);
  }
  const same = [...mark.labels].sort((a, b) => a - b).join(",") === [...item.label_ids].sort((a, b) => a - b).join(",");
  if (same) state.marks.delete(item.image);
  else state.marks.set(item.image, mark);
  redrawTile(state.focus);
  announce(same ? `The model's ${names(item.label_ids)} kept.` : `Correct: ${names([...mark.labels])}.`);
}

async function confirmBatch() {
  if (state.sending) return;
  const confirm = state.items.filter((item) => !state.marks.has(item.image)).map((item) => item.image);
  const correct = [...state.marks.entries()]
    .filter(([, mark]) => mark.labels.size)
    .map(([image, mark]) => ({ image, labels: [...mark.labels].sort((a, b) => a - b) }));
  if (!confirm.length && !correct.length) return;
  state.sending = true;
  renderSummary();
  const result = await request("POST", data.urls.review, { confirm, correct });
  state.sending = false;
  if (!result.ok) {
    reportFailure(`Nothing was saved: ${errorMessage(result)}`);
    renderSummary();
    return;
  }
  $("failures").hidden = true;
  const body = result.body || {};
  const checked = body.spot_checked ? `; ${body.spot_checked} of them still go to annotators blind as spot checks` : "";
  showResult(`Confirmed ${body.confirmed ?? confirm.length} and corrected ${body.corrected ?? correct.length}${checked}.`, "success");
  state.total = null;
  await loadBatch();
}

async function send(event) {
  event.preventDefault();
  const input = $("min-confidence");
  const value = Number(input.value);
  if (input.value.trim() === "" || !Number.isFinite(value) || value < 0 || value > 1) {
    input.setAttribute("aria-invalid", "true");
    showResult("The confidence is a number from 0 to 1, e.g. 0.9.", "error");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  const body = { min_confidence: value };
  if ($("send-label").value) body.label = Number($("send-label").value);
  const limit = $("send-limit").value.trim();
  if (limit) body.limit = Number(limit);
  const button = $("send-button");
  button.disabled = true;
  const result = await request("POST", data.urls.send, body);
  button.disabled = false;
  if (!result.ok) {
    showResult(errorMessage(result), "error");
    return;
  }
  const sent = result.body ? result.body.sent : 0;
  showResult(
    sent
      ? `Sent ${plural(sent, "image")} to review.`
      : "No unlabelled image has a prediction that sure: lower the confidence, or pre-label the images first.",
    sent ? "success" : "notice",
  );
  state.total = null;
  await loadBatch();
}

function showResult(text, kind) {
  const box = $("send-result");
  box.className = `message ${kind}`;
  box.textContent = text;
  box.hidden = false;
}

const announce = createAnnouncer("sr-only");

// ---- keys ----------------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (document.querySelector("dialog[open]")) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, #send-form")) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  if (picker.pendingChord && picker.handleKey(event)) return;
  // Space and Enter on a button other than a tile are that button's.
  const onButton = target instanceof HTMLElement && target.closest("button, a") && !target.closest(".mr-tile");
  if (MOVING_KEYS.has(key)) {
    const moved = movedIndex(key, tiles(), state.focus);
    if (moved !== null) moveTo(moved);
  } else if (key === " " && !onButton) toggleWrong();
  else if (key === "Enter" && target instanceof HTMLElement && target.closest(".mr-tile")) toggleWrong();
  else if (key === "?") $("help-dialog").showModal();
  else if (picker.handleKey(event)) return;
  else return;
  event.preventDefault();
});

$("send-form").addEventListener("submit", send);
$("confirm-button").addEventListener("click", confirmBatch);
$("wrong-button").addEventListener("click", () => {
  toggleWrong();
  const button = tiles()[state.focus];
  if (button) button.focus({ preventScroll: true });
});
setUpHelp(labels);
// Exposed for the page's own tests and for debugging in the console.
window.machineReview = { state };

loadBatch();
