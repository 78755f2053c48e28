// Progress bars and colour swatches take their width and colour from data attributes:
// the Content-Security-Policy refuses inline style attributes, and script-set styles pass.
"use strict";

document.querySelectorAll("[data-width]").forEach((bar) => {
  const percent = Number(bar.dataset.width);
  bar.style.width = `${Number.isFinite(percent) ? Math.min(Math.max(percent, 0), 100) : 0}%`;
});
document.querySelectorAll("[data-color]").forEach((swatch) => {
  swatch.style.background = swatch.dataset.color;
});
