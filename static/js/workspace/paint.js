/* Waiting for the paint of what was just put up, before work that would slow it down
 * (asking for more images, decoding them, drawing the next one out of sight). */

// After the frame that shows new images, their raster and draw still take tens of ms in
// software; a hidden page gets no frames at all, so a timer stands in for one.
const PAINT_MS = 50;
const NO_FRAME_MS = 250;

/** Resolves once what was just put up has most likely been painted. */
export function afterPaint() {
  return new Promise((resolve) => {
    const fallback = setTimeout(resolve, NO_FRAME_MS);
    requestAnimationFrame(() => {
      clearTimeout(fallback);
      setTimeout(resolve, PAINT_MS);
    });
  });
}
