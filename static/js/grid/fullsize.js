/* One tile's image at full size (its display copy) over the grid, and back: "." opens
 * and closes it, Escape closes it. Moving the focus while it is open shows the newly
 * focused tile's image. */
import { $, el, fill } from "../lib/dom.js";
import { labelName } from "../lib/labels.js";

export function createFullSize({ onClose }) {
  const box = $("grid-full");
  const frame = $("grid-full-frame");
  const info = $("grid-full-info");
  let shown = null;

  function show(tile) {
    if (!tile) return;
    const image = tile.item.image;
    if (!shown || shown.item !== tile.item) {
      const img = el("img", { alt: `Image ${image.id}`, draggable: "false" });
      img.src = image.display_url || image.thumbnail_url;
      fill(frame, img);
    }
    shown = tile;
    box.hidden = false;
    box.dataset.imageId = String(image.id);
    const ids = [...tile.labels];
    const parts = [`#${image.id}`, image.original_name, `${image.width}×${image.height}`];
    parts.push(ids.length ? ids.map(labelName).join(", ") : "no label yet");
    info.textContent = parts.filter(Boolean).join(" · ");
  }

  function close() {
    if (box.hidden) return;
    box.hidden = true;
    shown = null;
    delete box.dataset.imageId;
    fill(frame);
    onClose();
  }

  $("grid-full-close").addEventListener("click", close);
  return { show, close, isOpen: () => !box.hidden };
}
