/* Progress bars and colour swatches take their width and colour from data attributes:
 * the Content-Security-Policy refuses inline style attributes, and script-set styles pass.
 */
for (const bar of document.querySelectorAll("[data-width]")) {
  const percent = Number(bar.dataset.width);
  bar.style.width = `${Number.isFinite(percent) ? Math.min(Math.max(percent, 0), 100) : 0}%`;
}
for (const swatch of document.querySelectorAll("[data-color]")) {
  swatch.style.background = swatch.dataset.color;
}
