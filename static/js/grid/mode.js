/* Single or grid: which way the labelling page works, as the project allows and the
 * annotator chose.
 *
 * The project's grid_mode says "off" (one image at a time only), "choice" (the annotator
 * switches; one at a time until they do) or "always" (grid only). The choice is kept in
 * the browser per project and person: it only decides how the page looks, the queue's
 * rules are the same either way.
 */
import { $, el, fill } from "../lib/dom.js";

const storageKey = (data) => `labeler:grid-mode:${data.user}:${data.project.id}`;
const SAVE_WAIT_MS = 10000; // the longest a switch waits for the outbox before reloading

/** "grid" or "single": what the page shows now. */
export function workspaceMode(data) {
  const setting = data.project.grid_mode;
  if (setting === "always") return "grid";
  if (setting !== "choice") return "single";
  try {
    return window.localStorage.getItem(storageKey(data)) === "grid" ? "grid" : "single";
  } catch {
    return "single";
  }
}

/**
 * The toggle (a button, and Alt+G) where the project leaves the choice to the annotator.
 * A switch keeps the choice and reloads the page once the writes waiting in the outbox
 * are saved (pending() says how many): what each mode leased comes back to the other, as
 * after any reload.
 */
export function setUpModeToggle(data, mode, { pending }) {
  const button = $("mode-toggle");
  if (!button || data.project.grid_mode !== "choice") return;
  button.hidden = false;
  button.setAttribute("aria-pressed", mode === "grid" ? "true" : "false");
  fill(button, mode === "grid" ? "One at a time " : "Grid ", el("kbd", { text: "Alt G" }));
  button.title = mode === "grid" ? "Label one image at a time (Alt+G)" : "Label a page of images at once (Alt+G)";
  let switching = false;

  async function toggle() {
    if (switching) return;
    switching = true;
    button.disabled = true;
    try {
      window.localStorage.setItem(storageKey(data), mode === "grid" ? "single" : "grid");
    } catch {
      // Storage refused: the page cannot remember a choice, so it stays as it is.
      switching = false;
      button.disabled = false;
      return;
    }
    const until = performance.now() + SAVE_WAIT_MS;
    while (pending() > 0 && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    window.location.reload();
  }

  button.addEventListener("click", toggle);
  document.addEventListener("keydown", (event) => {
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyG") {
      if (document.querySelector("dialog[open]")) return;
      event.preventDefault();
      toggle();
    }
  });
}
