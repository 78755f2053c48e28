/* An image's page: the image large on the stage (zoom with the wheel, drag, the buttons
 * or + - =), the previous and next image of the list it was opened from by keyboard
 * (ArrowLeft / ArrowRight, or k / j), the model's heat map over it (H, explanation.js),
 * and for leads the File card's metadata form, saved
 * through the REST API (PATCH on the image: every value is checked there, and a refusal
 * names the field).
 */
import { errorMessage, request } from "./lib/api.js";
import { $ } from "./lib/dom.js";
import { eraseImages } from "./erasure.js";
import { createExplanation } from "./explanation.js";
import { createStage } from "./workspace/stage.js";

const image = JSON.parse($("image-data").textContent);
const stage = createStage({ isShowing: () => true });
const explanation = createExplanation();
explanation.setImage(image.id);

const img = new Image();
img.alt = image.original_name;
img.src = image.display_url;
img.decode().then(
  () => stage.show(img, image),
  () => stage.showMessage("The image could not be loaded."),
);

const KEYS = { ArrowLeft: "previous-image", k: "previous-image", ArrowRight: "next-image", j: "next-image" };

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("input, select, textarea, [contenteditable]")) return;
  if (stage.zoomKey(event.key) || explanation.key(event.key)) {
    event.preventDefault();
    return;
  }
  const link = KEYS[event.key] && $(KEYS[event.key]);
  if (link) {
    event.preventDefault();
    window.location.href = link.href;
  }
});

/** The PATCH body of the metadata form: every input as the API takes it ("" clears). */
function metadataBody(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const degrees = (name) => (value(name) === "" ? null : Number(value(name)));
  const located = value("latitude") !== "" || value("longitude") !== "";
  const body = {
    captured_at: value("captured_at") || null,
    // One coordinate without the other is sent as it is: the API says which is missing.
    gps: located ? { latitude: degrees("latitude"), longitude: degrees("longitude") } : null,
    origin: value("origin"),
    camera: value("camera"),
    licence: value("licence"),
    tags: value("tags").split(",").map((tag) => tag.trim()).filter(Boolean),
    fields: {},
  };
  for (const input of form.querySelectorAll("[data-field]")) {
    const text = input.value.trim();
    body.fields[input.dataset.field] = text === "" ? null : input.dataset.kind === "number" ? Number(text) : text;
  }
  return body;
}

const metadataForm = $("metadata-form");
if (metadataForm && image.metadata_url) {
  const status = $("metadata-status");
  metadataForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const save = $("metadata-save");
    save.disabled = true;
    status.textContent = "Saving…";
    status.className = "";
    const result = await request("PATCH", image.metadata_url, metadataBody(metadataForm));
    save.disabled = false;
    if (result.ok) {
      status.textContent = "Saved.";
      window.location.reload();
      return;
    }
    status.textContent = errorMessage(result);
    status.className = "field-error";
  });
}

// A lead's erasure of this image (erasure.js): a dry run confirmed, then back to the list.
const eraseButton = $("erase-image");
if (eraseButton && image.erasures_url) {
  eraseButton.addEventListener("click", async () => {
    eraseButton.disabled = true;
    const report = await eraseImages({
      url: image.erasures_url,
      query: { image_ids: [image.id] },
      reason: $("erase-reason").value,
      setStatus: (text) => ($("erase-status").textContent = text),
    });
    if (report) setTimeout(() => (window.location.href = image.back_url), 1200);
    else eraseButton.disabled = false;
  });
}
