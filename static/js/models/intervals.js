/* How sure a model's figures are: the 95% intervals the worker stored beside accuracy and
 * macro-F1 (Wilson for accuracy, a seeded bootstrap for macro-F1), and whether two
 * versions can be told apart on the same validation images (exact McNemar test).
 */
import { isNum } from "../lib/format.js";

// Two versions differ by more than chance below this two-sided p-value (as the server).
export const APART_P_VALUE = 0.05;

/** The 95% Wilson score interval of a share observed over n items. */
export function wilson(share, n) {
  if (!n) return null;
  const z = 1.959963984540054;
  const centre = share + (z * z) / (2 * n);
  const spread = z * Math.sqrt((share * (1 - share)) / n + (z * z) / (4 * n * n));
  const scale = 1 + (z * z) / n;
  return [Math.max(0, (centre - spread) / scale), Math.min(1, (centre + spread) / scale)];
}

/** A version's accuracy interval: stored, or for versions trained before intervals were
 * stored, the Wilson interval from its accuracy and number of validation images. */
export function accuracyInterval(metrics) {
  if (Array.isArray(metrics.accuracy_ci)) return metrics.accuracy_ci;
  if (isNum(metrics.accuracy) && isNum(metrics.images)) return wilson(metrics.accuracy, metrics.images);
  return null;
}

/** "76–99%" from an interval, or "" without one. */
export function intervalText(interval, show, before = "", after = "") {
  if (!Array.isArray(interval) || !isNum(interval[0]) || !isNum(interval[1])) return "";
  return `${before}${show(interval[0])}–${show(interval[1])}${after}`;
}

/** The exact two-sided McNemar p-value from the images only one of two models gets right. */
export function mcnemarP(onlyA, onlyB) {
  const n = onlyA + onlyB;
  if (!n) return 1;
  const k = Math.min(onlyA, onlyB);
  let term = 0.5 ** n; // C(n, 0) / 2^n
  let tail = term;
  for (let i = 1; i <= k; i += 1) {
    term = (term * (n - i + 1)) / i;
    tail += term;
  }
  return Math.min(1, 2 * tail);
}

/** Whether a version's comparison with the model before it is within chance: null when it
 * was not measured per image. */
export function tooCloseToTell(baseline) {
  if (!baseline || !isNum(baseline.only_current_right)) return null;
  const differing = baseline.only_current_right + (baseline.only_candidate_right || 0);
  const p = mcnemarP(baseline.only_current_right, baseline.only_candidate_right || 0);
  return { p, close: p >= APART_P_VALUE, differing };
}
