/* An image's page, for a lead of a project that blurs faces: the Faces card shows the
 * original with the face boxes over it (in the original's pixels, drawn in percent of
 * the shown picture), deletes a box, draws a new one with a mouse drag, and finds the
 * faces again. Every change goes through the faces API, which makes the copies again.
 */
import { errorMessage, request } from "./lib/api.js";
import { $, el, fill } from "./lib/dom.js";

const data = JSON.parse($("faces-data").textContent);
const frame = $("faces-frame");
const picture = $("faces-image");
const list = $("faces-list");
const status = $("faces-status");
const STATES = {
  pending: "Finding faces… copies are not shown to annotators until it is done.",
  deriving: "Making the copies again with these boxes blurred…",
  done: "Copies are blurred.",
  failed: "The faces could not be found: draw them, or find them again.",
  "": "The faces have not been looked for yet.",
};
const MIN_BOX = 4; // pixels of the shown picture: a click is no box

picture.src = data.image_url;

function place(node, box) {
  node.style.left = `${(100 * box.left) / data.width}%`;
  node.style.top = `${(100 * box.top) / data.height}%`;
  node.style.width = `${(100 * box.width) / data.width}%`;
  node.style.height = `${(100 * box.height) / data.height}%`;
}

function say(text, error = false) {
  status.textContent = text;
  status.className = error ? "small field-error" : "small";
}

async function load() {
  const result = await request("GET", data.faces_url);
  if (!result.ok) {
    say(errorMessage(result), true);
    return;
  }
  show(result.body);
}

function show(state) {
  for (const old of frame.querySelectorAll(".face-box")) old.remove();
  const shown = state.regions.filter((region) => !region.removed);
  const items = shown.map((region, index) => {
    const box = el("div", { class: `face-box face-${region.source}`, title: `Face ${index + 1}` });
    box.dataset.face = region.id;
    place(box, region);
    frame.append(box);
    const remove = el("button", { type: "button", class: "button small", text: "Delete" });
    remove.dataset.deleteFace = region.id;
    remove.addEventListener("click", () => removeFace(region.id));
    const words = region.source === "lead" ? "drawn by a lead" : `found (score ${Math.round(region.score)})`;
    return el("li", {}, `Face ${index + 1}: ${region.width}×${region.height} at ${region.left}, ${region.top}, ${words} `, remove);
  });
  fill(list, ...(items.length ? items : [el("li", { class: "muted" }, "No face boxes.")]));
  say(STATES[state.state] ?? state.state);
}

async function removeFace(id) {
  const result = await request("DELETE", `${data.faces_url}${id}/`);
  if (!result.ok) {
    say(errorMessage(result), true);
    return;
  }
  await load();
}

async function addFace(box) {
  const result = await request("POST", data.faces_url, box);
  if (!result.ok) {
    say(errorMessage(result), true);
    return;
  }
  await load();
}

$("faces-detect").addEventListener("click", async () => {
  say("Finding faces…");
  const result = await request("POST", data.detect_url);
  if (!result.ok) {
    say(errorMessage(result), true);
    return;
  }
  show(result.body);
  await load();
});

// Drawing: a drag over the picture, in its shown pixels, turned into the original's.
let start = null;
let sketch = null;

function point(event) {
  const rect = picture.getBoundingClientRect();
  const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
  const y = Math.min(Math.max(event.clientY - rect.top, 0), rect.height);
  return { x, y, rect };
}

frame.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 || event.target.closest("button")) return;
  event.preventDefault();
  start = point(event);
  sketch = el("div", { class: "face-box face-sketch" });
  frame.append(sketch);
  frame.setPointerCapture(event.pointerId);
});

frame.addEventListener("pointermove", (event) => {
  if (!start) return;
  const now = point(event);
  sketch.style.left = `${Math.min(start.x, now.x)}px`;
  sketch.style.top = `${Math.min(start.y, now.y)}px`;
  sketch.style.width = `${Math.abs(now.x - start.x)}px`;
  sketch.style.height = `${Math.abs(now.y - start.y)}px`;
});

frame.addEventListener("pointerup", (event) => {
  if (!start) return;
  const now = point(event);
  const { rect } = start;
  const drawn = { x: start.x, y: start.y };
  start = null;
  sketch.remove();
  if (Math.abs(now.x - drawn.x) < MIN_BOX || Math.abs(now.y - drawn.y) < MIN_BOX) return;
  const scale = data.width / rect.width;
  const left = Math.round(Math.min(drawn.x, now.x) * scale);
  const top = Math.round(Math.min(drawn.y, now.y) * scale);
  const width = Math.min(Math.round(Math.abs(now.x - drawn.x) * scale), data.width - left);
  const height = Math.min(Math.round(Math.abs(now.y - drawn.y) * (data.height / rect.height)), data.height - top);
  addFace({ left, top, width, height });
});

load();
