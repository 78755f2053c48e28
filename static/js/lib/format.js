/* Numbers, sizes and times as the pages write them. */
import { el } from "./dom.js";

export const isNum = (value) => typeof value === "number" && Number.isFinite(value);
// A true minus sign: a hyphen reads as a dash beside the figures.
export const fixed = (value) => (value < 0 ? `−${(-value).toFixed(2)}` : value.toFixed(2));
export const percent = (value) => `${Math.round(value * 100)}%`;
/** A count with thousands separators: 1,000,000 reads at a glance, 1000000 does not. */
export const count = (n) => (isNum(n) ? n.toLocaleString("en-US") : String(n));
export const plural = (n, word, many = `${word}s`) => `${count(n)} ${n === 1 ? word : many}`;

/** A file size in B, KB or MB ("" when unknown). */
export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];

/** How long ago an ISO time was, in the reader's language ("5 minutes ago", "yesterday"). */
export function ago(iso) {
  let value = (new Date(iso).getTime() - Date.now()) / 1000;
  for (const [size, unit] of STEPS) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}

// Dates and times as every page writes them, the server's |when filter's twin
// (labeler/web/when.py): "26 Nov 2026, 13:52", on the reader's clock.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n) => String(n).padStart(2, "0");

/** "26 Nov 2026, 13:52" for an ISO time ("" for none). */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}, ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "26 Nov" for an ISO date (a chart's axis). */
export function day(isoDate) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
}

/** A <time> element: the date as people read it, the ISO time its title. With text (how
 * long ago, where a page is about recency), that text, and the date in the title. */
export function timeTag(iso, text = null) {
  if (!iso) return el("span", { class: "muted", text: "—" });
  return el("time", { datetime: iso, title: text === null ? iso : when(iso), text: text ?? when(iso) });
}
