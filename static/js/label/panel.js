/* The labelling workspace's panel: the label buttons, the model's suggestion, the buttons
 * that move through the queue, and the banner shown while looking back. */
import { $, el, fill } from "../lib/dom.js";
import { createLabelPicker } from "../lib/label-picker.js";
import { labelOf } from "../lib/labels.js";

/**
 * state is the page's (current, history, historyIndex, undo); a label button, key, chord or
 * search calls chooseLabel, and canGoBack() says whether there is an earlier image to go
 * back to. use: the annotator's labels, most used first (the picker shows them first).
 */
export function createPanel({ state, labels, multi, use = [], chooseLabel, canGoBack, preselectFrom = 0 }) {
  const suggestionBox = $("suggestion");
  const modeBanner = $("mode-banner");
  const suggested = () => new Set(state.current && state.current.suggestion ? state.current.suggestion.label_ids : []);
  let suggestedNow = new Set();
  const picker = createLabelPicker({
    box: $("labels"),
    labels,
    multi,
    use,
    onChoose: (label) => chooseLabel(label),
    isPressed: (label) => !!state.current && state.current.selected.has(label.id),
    isDisabled: () => !state.current,
    decorate: (label, button) => {
      if (!suggestedNow.has(label.id)) return;
      button.classList.add("suggested");
      button.append(el("span", { class: "tag", text: "suggested" }));
    },
  });

  function renderLabels() {
    const current = state.current;
    suggestedNow = suggested();
    picker.render();
    renderSuggestion();
    // Single-label: a label key submits; the button is there to accept a pre-selected
    // suggestion (one below the project's pre-select confidence is only shown).
    $("submit-button").hidden = !multi && !(current && current.suggestion && current.selected.size);
    $("submit-button").disabled = !current;
    $("skip-button").disabled = !current || (current.entry && current.entry.kind === "annotation");
    $("back-button").disabled = !canGoBack();
    $("forward-button").disabled = !current || current.source !== "history";
    $("undo-button").disabled = state.undo.length === 0;
  }

  function renderSuggestion() {
    const current = state.current;
    const suggestion = current && current.source === "queue" ? current.suggestion : null;
    // Held back on purpose: the server's line says why, so it does not look like a fault.
    const note = current && current.source === "queue" ? current.item.suggestion_note || "" : "";
    suggestionBox.hidden = !suggestion && !note;
    suggestionBox.dataset.heldBack = String(!suggestion && !!note);
    if (!suggestion) {
      if (note) fill(suggestionBox, el("span", { class: "muted", text: note }));
      return;
    }
    const names = suggestion.label_ids.map((id) => labelOf(id)?.name).filter(Boolean);
    const pct = Math.round(suggestion.confidence * 100);
    const selected = suggestion.confidence >= preselectFrom;
    suggestionBox.dataset.preselected = String(selected);
    fill(
      suggestionBox,
      el("strong", { text: "Model suggestion" }),
      el("span", { text: ` ${names.length ? names.join(", ") : "no label"} · ${pct}% confident (model v${suggestion.version}).` }),
      el("span", {
        class: "muted",
        text: selected
          ? " Enter accepts it; any label key overrides it."
          : ` Not pre-selected: below ${Math.round(preselectFrom * 100)}% confidence. Press a label's key to choose.`,
      }),
    );
  }

  function renderMode() {
    const current = state.current;
    if (!current || current.source !== "history") {
      modeBanner.hidden = true;
      return;
    }
    const entry = current.entry;
    modeBanner.hidden = false;
    const position = state.historyIndex + 1;
    modeBanner.textContent =
      entry.kind === "skip"
        ? `Looking back (${position} back): you skipped this image${entry.reason ? ` — “${entry.reason}”` : ""}. A label key labels it.`
        : `Looking back (${position} back): your label is selected. Change it, or press → to go forward.`;
  }

  return { renderLabels, renderMode, picker };
}
