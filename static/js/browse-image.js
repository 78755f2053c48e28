/* An image's page: the image large on the stage (zoom with the wheel, drag, the buttons
 * or + - =), and the previous and next image of the list it was opened from by keyboard
 * (ArrowLeft / ArrowRight, or k / j).
 */
import { $ } from "./lib/dom.js";
import { createStage } from "./workspace/stage.js";

const image = JSON.parse($("image-data").textContent);
const stage = createStage({ isShowing: () => true });

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
  if (stage.zoomKey(event.key)) {
    event.preventDefault();
    return;
  }
  const link = KEYS[event.key] && $(KEYS[event.key]);
  if (link) {
    event.preventDefault();
    window.location.href = link.href;
  }
});
