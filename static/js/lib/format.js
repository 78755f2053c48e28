/* Numbers, sizes and times as the pages write them. */

export const isNum = (value) => typeof value === "number" && Number.isFinite(value);
// A true minus sign: a hyphen reads as a dash beside the figures.
export const fixed = (value) => (value < 0 ? `−${(-value).toFixed(2)}` : value.toFixed(2));
export const percent = (value) => `${Math.round(value * 100)}%`;
export const plural = (n, word, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

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
