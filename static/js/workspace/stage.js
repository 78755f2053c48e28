/* The stage of the labelling workspace and the review queue: the image on screen in
 * #stage-frame, zoomed and panned with Panzoom (the mouse wheel, drag, the +/−/Fit buttons
 * or the keys + - =), a message over it and a line about it.
 *
 * What is shown is the image's display copy (a photo at most LABELER_DISPLAY_SIZE a side);
 * zoomed in past the copy's own pixels, the full-resolution image (file_url) takes its place,
 * once it has loaded: the original for leads and admins, for everyone else a copy without its
 * metadata, which the server decides (labeler.images.delivery.served), whatever address is
 * followed.
 */
import { $ } from "../lib/dom.js";

// Zooming is a nicety: should the vendored Panzoom be missing (node_modules not
// installed), the pages still work, unzoomed, rather than not at all.
const Panzoom = await import("../../vendor/panzoom/panzoom.es.js").then(
  (module) => module.default,
  () => null,
);

// What a browser shows as it is (the server's BROWSER_FORMATS): other originals (HEIC,
// TIFF) are seen through their display copy only.
const BROWSER_FORMATS = new Set(["JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "AVIF"]);

const ZOOM_KEYS = new Map([
  ["+", 1],
  ["-", -1],
  ["=", 0],
]);

/** isShowing() tells flash() whether an image is up, so that its message clears again. */
export function createStage({ isShowing }) {
  const stage = $("stage");
  const frame = $("stage-frame");
  const message = $("stage-message");
  const info = $("stage-info");
  let panzoom = null;
  let flashTimer = null;
  let shown = null;

  function show(img, image) {
    shown = { img, image };
    frame.replaceChildren(img);
    // Tiny images scale up with sharp pixels rather than blurred; a loading one once it is in.
    img.classList.toggle("pixelated", img.naturalWidth > 0 && img.naturalWidth < 128);
    if (!img.complete) img.addEventListener("load", () => img.classList.toggle("pixelated", img.naturalWidth < 128), { once: true });
    setUpZoom(img);
    stage.dataset.state = "ready";
    stage.dataset.imageId = String(image.id);
    message.textContent = "";
    // The file name only where the server gives it: annotators label blind unless the
    // project shows them names.
    const parts = [`#${image.id}`, image.original_name, `${image.width}×${image.height}`];
    info.textContent = parts.filter(Boolean).join(" · ");
    info.title = info.textContent; // whole where the line is cut short beside the zoom buttons
  }

  /** Takes the image down, with its line: no caption of an image that is gone. */
  function clear() {
    shown = null;
    frame.replaceChildren();
    info.textContent = "";
    info.title = "";
    delete stage.dataset.imageId;
  }

  function setUpZoom(img) {
    if (panzoom) panzoom.destroy();
    panzoom = Panzoom ? Panzoom(img, { maxScale: 12, minScale: 0.5, contain: null, cursor: "grab" }) : null;
    img.addEventListener("panzoomzoom", sharpen);
  }

  /** Zoomed in past the display copy's pixels: load the original and show it instead. */
  function sharpen() {
    if (!shown) return;
    const { img, image } = shown;
    const original = image.file_url;
    if (!original || original === image.display_url || !BROWSER_FORMATS.has(image.format)) return;
    if (img.dataset.original || !img.naturalWidth) return;
    // Screen pixels per pixel of the copy. The image is contained in its box (object-fit),
    // so the tighter of width and height sets its size: the box's width alone took a
    // portrait photo for enlarged at fit, and fetched its original for nothing.
    const fit = Math.min(img.offsetWidth / img.naturalWidth, img.offsetHeight / img.naturalHeight);
    const scale = panzoom ? panzoom.getScale() : 1;
    if (fit * scale * window.devicePixelRatio <= 1.05) return;
    img.dataset.original = "loading";
    const full = new Image();
    full.src = original;
    full.decode().then(
      () => {
        img.src = original;
        img.dataset.original = "shown";
      },
      () => delete img.dataset.original,
    );
  }

  /** direction: 1 in, -1 out, 0 back to fit. */
  function zoom(direction) {
    if (!panzoom) return;
    if (direction === 0) panzoom.reset({ animate: false });
    else if (direction > 0) panzoom.zoomIn();
    else panzoom.zoomOut();
    sharpen();
  }

  /** Zooms when key is + - or =; says whether it was. */
  function zoomKey(key) {
    if (!ZOOM_KEYS.has(key)) return false;
    zoom(ZOOM_KEYS.get(key));
    return true;
  }

  function showMessage(text) {
    message.textContent = text;
  }

  /** A short message over the image, the stage flashing to catch the eye. */
  function flash(text) {
    showMessage(text);
    stage.classList.add("flash");
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => {
      stage.classList.remove("flash");
      if (isShowing()) showMessage("");
    }, 1800);
  }

  $("zoom-in").addEventListener("click", () => zoom(1));
  $("zoom-out").addEventListener("click", () => zoom(-1));
  $("zoom-reset").addEventListener("click", () => zoom(0));
  frame.addEventListener("wheel", (event) => panzoom && panzoom.zoomWithWheel(event), { passive: false });

  return { element: stage, info, show, clear, zoom, zoomKey, showMessage, flash };
}
