/* The grid's label buttons, behind the interface of the label picker
 * (createLabelPicker: render(), handleKey(event), focusSearch(), pendingChord), so that
 * the picker with search, chords and headings can take their place.
 *
 * Until then the buttons are the workspace's own (lib/labels.js) and the keys single
 * hotkeys (labelByKey). A label comes with how it was asked for: {question: true} when
 * Shift was held (Shift+key, Shift+click), which makes it the page's question.
 */
import { renderLabelButtons } from "../lib/labels.js";

// Shift+1 is "!" on most layouts: a digit's key is read from its position instead.
const DIGIT = /^(?:Digit|Numpad)([0-9])$/;

/** The label hotkey an event stands for, lower case, or "" for none. */
export function hotkeyOf(event) {
  const digit = DIGIT.exec(event.code || "");
  if (digit) return digit[1];
  return event.key && event.key.length === 1 ? event.key.toLowerCase() : "";
}

export function createGridLabels({ box, labels, labelByKey, onChoose, isPressed, decorate, isDisabled = () => false }) {
  let shiftClick = false;
  // A button's click handler does not see the event: its Shift is read here first.
  box.addEventListener("click", (event) => (shiftClick = event.shiftKey), true);

  function render() {
    renderLabelButtons(box, labels, {
      isPressed,
      disabled: isDisabled(),
      decorate,
      onChoose: (label) => onChoose(label, { question: shiftClick }),
    });
  }

  /** Takes a label's key (with or without Shift); says whether it did. */
  function handleKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    const label = labelByKey.get(hotkeyOf(event));
    if (!label) return false;
    onChoose(label, { question: event.shiftKey });
    return true;
  }

  return { render, handleKey, focusSearch() {}, pendingChord: null };
}
