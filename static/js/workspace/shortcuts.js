/* The keyboard of the labelling workspace and the review queue. */
import { $ } from "../lib/dom.js";

/**
 * The page's keyboard shortcuts. Keys typed into a field, or pressed while a dialog is open
 * (dialogs handle their own Enter and Escape), are not shortcuts. withModifier(event) sees
 * keys pressed with Ctrl, Meta or Alt; pageKey(key, event) takes the page's own keys and
 * says whether it used one; then come the keys both pages share: + - = zoom, ? opens the
 * help, and a label's hotkey: picker.handleKey (lib/label-picker.js: hotkeys, chords and
 * "/" for its search) where the page has a picker, else chooseLabel with labelByKey's.
 * The second key of a chord goes to the picker first; Escape only cancels a pending chord.
 */
export function listenForShortcuts({ stage, labelByKey, chooseLabel, picker, pageKey, withModifier }) {
  document.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    // A field takes its own keys, unless it sits in a dialog that has just closed and
    // still holds the focus for a moment.
    const inField = target instanceof HTMLElement && target.closest("input, textarea, select");
    if (inField && !target.closest("dialog:not([open])")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) {
      if (withModifier) withModifier(event);
      return;
    }
    const key = event.key;
    if (picker && picker.pendingChord) {
      if (picker.handleKey(event)) return;
      // Escape only cancels the chord; another key drops it and is the page's.
      if (key === "Escape") {
        event.preventDefault();
        return;
      }
    }
    let handled = true;
    if (pageKey(key, event)) {
      // the page's own
    } else if (stage.zoomKey(key)) {
      // zoomed
    } else if (key === "?") {
      $("help-dialog").showModal();
    } else if (picker) {
      handled = picker.handleKey(event);
    } else if (key.length === 1 && labelByKey.has(key.toLowerCase())) {
      chooseLabel(labelByKey.get(key.toLowerCase()));
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });
}

/**
 * Clicked buttons in these areas give their focus up at once: Enter and Space belong to
 * the page's shortcuts, not to the last button clicked. A field (the labels' search) keeps it.
 */
export function keepKeysForShortcuts(selector) {
  for (const area of document.querySelectorAll(selector)) {
    area.addEventListener("mouseup", () => {
      if (!document.activeElement.closest("input, textarea, select")) document.activeElement.blur();
    });
  }
}
