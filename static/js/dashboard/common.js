/* Shared pieces of the agreement dashboard: kappa bands and their colours, figures with
 * their reasons, and the statistics that flag an annotator.
 */
import { el } from "../lib/dom.js";
import { isNum, fixed, percent, plural } from "../lib/format.js";

// Landis & Koch (1977) bands; "centre" places each band's colour on the heat map scale.
export const BANDS = [
  { name: "poor", range: "below 0", centre: -0.2 },
  { name: "slight", range: "0.00–0.20", centre: 0.1 },
  { name: "fair", range: "0.21–0.40", centre: 0.3 },
  { name: "moderate", range: "0.41–0.60", centre: 0.5 },
  { name: "substantial", range: "0.61–0.80", centre: 0.7 },
  { name: "almost perfect", range: "0.81–1.00", centre: 0.9 },
];
export const BAND_EDGES = [0, 0.2, 0.4, 0.6, 0.8];
export const PALETTE = [
  "#2458d6",
  "#d9480f",
  "#2b8a3e",
  "#7048e8",
  "#c2255c",
  "#0b7285",
  "#e67700",
  "#5c940d",
  "#862e9c",
  "#495057",
];

// The band's name as it appears in class names and CSS variables ("almost-perfect").
export const slug = (name) => name.replace(/\s+/g, "-");
export const cssVar = (name) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#999";

// ---- few images ------------------------------------------------------------------------
// A figure over fewer images than this shows its n beside it (the report's rules say how
// many; until a report is read, the server's default).
let fewImages = 20;
export function setFewImages(n) {
  if (isNum(n)) fewImages = n;
}
export const isFew = (n) => isNum(n) && n < fewImages;
export const fewImagesLimit = () => fewImages;

// ---- figures ---------------------------------------------------------------------------
export function bandBadge(band) {
  if (!band) return null;
  return el("span", { class: `band band-${slug(band)}`, text: band });
}

/** A figure's value as text ("—" when undefined), its reason as a tooltip and note. */
export function figureCell(figure, { asPercent = false, withBand = true } = {}) {
  if (!figure || !isNum(figure.value)) {
    const reason = figure && figure.reason ? figure.reason : "not computed";
    return el(
      "span",
      { class: "undefined-figure", title: reason },
      el("span", { "aria-hidden": "true", text: "—" }),
      el("span", { class: "sr-only", text: `undefined: ${reason}` }),
    );
  }
  const title = `${asPercent ? percent(figure.value) : fixed(figure.value)} over ${plural(figure.n_items, "image")}`;
  return el(
    "span",
    { class: "figure", title },
    el("span", {
      class: "figure-number",
      text: asPercent ? percent(figure.value) : fixed(figure.value),
    }),
    withBand ? bandBadge(figure.band) : null,
    isFew(figure.n_items) ? el("span", { class: "n-items", text: `n = ${figure.n_items}` }) : null,
  );
}

/** A figure's value for sorting a table by it; "" (sorted last) when undefined. */
export const sortValue = (figure) => (figure && isNum(figure.value) ? String(figure.value) : "");

// ---- colours -------------------------------------------------------------------------
function hexRgb(hex) {
  const value = hex.replace("#", "");
  const full = value.length === 3 ? [...value].map((c) => c + c).join("") : value;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
}

/** The heat map's colour for a kappa: band colours blended between band centres. */
export function kappaColour(value) {
  const stops = BANDS.map((band) => ({
    at: band.centre,
    rgb: hexRgb(cssVar(`--band-${slug(band.name)}`)),
  }));
  if (value <= stops[0].at) return stops[0].rgb;
  for (let i = 1; i < stops.length; i += 1) {
    if (value <= stops[i].at) {
      const t = (value - stops[i - 1].at) / (stops[i].at - stops[i - 1].at);
      return stops[i].rgb.map((c, k) =>
        Math.round(stops[i - 1].rgb[k] + t * (c - stops[i - 1].rgb[k])),
      );
    }
  }
  return stops[stops.length - 1].rgb;
}

/** Dark text on a light cell, white on a dark one (by the colour's relative luminance). */
export function inkFor(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.3 ? "#1d2330" : "#fff";
}

