/* Choosing a label among a few or several hundred: buttons, hotkeys, chords and search.
 *
 * Up to nine labels the box holds one button per label, as it always did. Past that it
 * holds a search box ("/" focuses it), the person's most used labels ("Frequent"), then
 * every label under its group's heading (a heading folds its group away). The buttons are
 * built once; render() only updates which are pressed and the page's tags, and the search
 * filters by hiding buttons and ordering the matches, so a key costs no rebuild.
 *
 * A hotkey is one key or a two-key chord (the server keeps the set prefix-free): the first
 * key of a chord shows "g…" and the labels it leads to, and waits 1.5 s for the second.
 * The picker never takes the arrows, Space, Enter, Escape, Backspace, Delete, ".", "?",
 * "+", "-", "=" or anything pressed with Ctrl, Meta or Alt: those are the pages'.
 */
import { el, fill } from "./dom.js";

export const FEW_LABELS = 9; // up to this many: buttons alone, as before
const FREQUENT = 8; // most used labels shown first
const CHORD_WAIT_MS = 1500;
const KEY = /^[a-z0-9]$/;
// Shift+1 is "!" on most layouts: with Shift held, a digit's key is read from its position,
// so that Shift+hotkey reaches the page (the grid asks its question with it).
const DIGIT = /^(?:Digit|Numpad)([0-9])$/;
const LONE_MODIFIERS = new Set(["Shift", "CapsLock", "AltGraph", "Control", "Alt", "Meta"]);
// Many labels: the stylesheet packs their buttons tighter.
const MANY_LABELS = 6;

/** Lower case without accents: what the search compares. */
export const plain = (text) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

/** The key an event stands for, lower case, or "" for one that is not a single character. */
export function keyOf(event) {
  const digit = event.shiftKey && DIGIT.exec(event.code || "");
  if (digit) return digit[1];
  return event.key && event.key.length === 1 ? event.key.toLowerCase() : "";
}

/**
 * How well a label matches a query: 0 its name starts with it, 1 a word of its name does,
 * 2 its name holds it, 3 its group's name holds it; null when it does not match.
 */
export function matchRank(entry, query) {
  if (entry.name.startsWith(query)) return 0;
  if (entry.words.some((word) => word.startsWith(query))) return 1;
  if (entry.name.includes(query)) return 2;
  if (entry.group.includes(query)) return 3;
  return null;
}

/**
 * The picker in box. labels: [{id, name, color, hotkey, group}] in order; use: label ids,
 * most used first; onChoose(label, event) on a click, a hotkey or a chosen match (event:
 * the click or the key that completed it, so that a page can read Shift); isPressed(label)
 * marks the chosen; decorate(label, button) adds a page's tags; isDisabled() greys all.
 * Returns {render, handleKey, focusSearch, takesKey, pendingChord}.
 */
export function createLabelPicker({ box, labels, multi = false, use = [], onChoose, isPressed, decorate, isDisabled }) {
  const byKey = new Map(labels.filter((l) => l.hotkey).map((l) => [l.hotkey.toLowerCase(), l]));
  const starts = new Map(); // first key of a chord -> its labels
  for (const [key, label] of byKey) {
    if (key.length === 2) starts.set(key[0], [...(starts.get(key[0]) || []), label]);
  }
  const many = labels.length > FEW_LABELS;
  const buttons = new Map(); // label id -> its buttons (a frequent label has two)
  const entries = labels.map((label, index) => ({
    label,
    index,
    name: plain(label.name),
    words: plain(label.name).split(/[^\p{L}\p{N}]+/u).filter(Boolean),
    group: plain(label.group || ""),
  }));
  let decorated = new Set();
  let pending = "";
  let pendingTimer = null;
  let results = []; // the matching entries, best first
  let highlight = 0;
  let returnFocus = null;

  const search = many
    ? el("input", {
        type: "search",
        class: "label-search",
        placeholder: "Search labels  ( / )",
        "aria-label": "Search labels",
        autocomplete: "off",
        spellcheck: "false",
      })
    : null;
  const chordLine = el("div", { class: "chord-pending", role: "status", "aria-live": "polite", hidden: true });
  const list = el("div", { class: "label-list" });

  function button(label, where) {
    const node = el(
      "button",
      {
        type: "button",
        class: "label-button",
        style: { "--label-color": label.color },
        "aria-pressed": "false",
        dataset: { labelId: String(label.id) },
        id: where === "list" && many ? `label-option-${label.id}` : null,
        title: label.group ? `${label.group} › ${label.name}` : null,
      },
      el("kbd", { text: label.hotkey || "" }),
      el("span", { class: "label-name", text: label.name }),
    );
    node.addEventListener("click", (event) => onChoose(label, event));
    if (!buttons.has(label.id)) buttons.set(label.id, []);
    buttons.get(label.id).push(node);
    return node;
  }

  function build() {
    box.classList.add("label-picker");
    box.classList.toggle("many", labels.length > MANY_LABELS);
    box.classList.toggle("picker-many", many);
    if (!many) {
      box.replaceChildren(...labels.map((label) => button(label, "list")), chordLine);
      return;
    }
    const frequent = use.map((id) => labels.find((l) => l.id === id)).filter(Boolean).slice(0, FREQUENT);
    if (frequent.length) {
      list.append(
        el(
          "section",
          { class: "label-section label-frequent", "aria-label": "Frequent" },
          el("h3", { class: "label-heading", text: "Frequent" }),
          el("div", { class: "label-section-buttons" }, frequent.map((label) => button(label, "frequent"))),
        ),
      );
    }
    const groups = new Map();
    for (const label of labels) {
      const group = label.group || "";
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(label);
    }
    const headed = groups.size > 1 || !groups.has("");
    for (const [group, members] of groups) {
      const section = el("section", { class: "label-section label-group", dataset: { group } });
      if (headed) {
        const toggle = el(
          "button",
          { type: "button", class: "label-heading-toggle", "aria-expanded": "true" },
          el("span", { class: "label-heading-name", text: group || "Other" }),
          el("span", { class: "label-heading-count", text: ` ${members.length}` }),
        );
        toggle.addEventListener("click", () => {
          const open = toggle.getAttribute("aria-expanded") !== "true";
          toggle.setAttribute("aria-expanded", String(open));
          section.classList.toggle("collapsed", !open);
        });
        section.append(el("h3", { class: "label-heading" }, toggle));
      }
      section.append(el("div", { class: "label-section-buttons" }, members.map((label) => button(label, "list"))));
      list.append(section);
    }
    search.addEventListener("input", () => filter(search.value));
    search.addEventListener("keydown", searchKey);
    box.replaceChildren(search, chordLine, list);
  }

  // ---- search --------------------------------------------------------------------------
  function filter(text) {
    const query = plain(text.trim());
    list.classList.toggle("searching", query !== "");
    results = [];
    if (query) {
      for (const entry of entries) {
        const rank = matchRank(entry, query);
        if (rank !== null) results.push({ entry, rank });
      }
      results.sort((a, b) => a.rank - b.rank || a.entry.index - b.entry.index);
    }
    const order = new Map(results.map((r, i) => [r.entry.label.id, i]));
    for (const entry of entries) {
      const node = listButton(entry.label);
      const at = order.get(entry.label.id);
      node.hidden = !!query && at === undefined;
      node.style.order = at === undefined ? "" : String(at);
    }
    list.dataset.matches = String(results.length);
    highlight = 0;
    showHighlight();
  }

  const listButton = (label) => buttons.get(label.id).at(-1);

  function showHighlight() {
    for (const node of list.querySelectorAll(".label-button.highlighted")) node.classList.remove("highlighted");
    const match = results[highlight];
    if (!match) {
      search.removeAttribute("aria-activedescendant");
      return;
    }
    const node = listButton(match.entry.label);
    node.classList.add("highlighted");
    search.setAttribute("aria-activedescendant", node.id);
    node.scrollIntoView({ block: "nearest" });
  }

  function searchKey(event) {
    const key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp") {
      if (results.length) highlight = (highlight + (key === "ArrowDown" ? 1 : -1) + results.length) % results.length;
      showHighlight();
    } else if (key === "Enter") {
      const match = results[highlight];
      leaveSearch();
      if (match) onChoose(match.entry.label, event);
    } else if (key === "Escape") {
      leaveSearch();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }

  function leaveSearch() {
    search.value = "";
    filter("");
    const back = returnFocus;
    returnFocus = null;
    search.blur();
    if (back && back.isConnected && back !== search && back !== document.body) back.focus({ preventScroll: true });
  }

  function focusSearch() {
    if (!search) return;
    if (document.activeElement !== search) returnFocus = document.activeElement;
    search.focus();
    search.select();
  }

  // ---- keys ------------------------------------------------------------------------------
  function clearPending() {
    pending = "";
    clearTimeout(pendingTimer);
    chordLine.hidden = true;
    chordLine.textContent = "";
    for (const node of box.querySelectorAll(".label-button.chord-candidate")) node.classList.remove("chord-candidate");
  }

  function startChord(key) {
    pending = key;
    const candidates = starts.get(key);
    chordLine.hidden = false;
    fill(
      chordLine,
      el("kbd", { text: key }),
      el("span", { text: "… then " }),
      ...candidates.flatMap((label, i) => [
        i ? el("span", { text: " · " }) : null,
        el("kbd", { text: label.hotkey[1] }),
        el("span", { text: ` ${label.name}` }),
      ]),
    );
    markCandidates();
    clearTimeout(pendingTimer);
    pendingTimer = setTimeout(clearPending, CHORD_WAIT_MS);
  }

  function markCandidates() {
    for (const label of starts.get(pending) || []) for (const node of buttons.get(label.id)) node.classList.add("chord-candidate");
  }

  /** Whether a key pressed now would be the picker's (a hotkey, a chord's first key). */
  function takesKey(key) {
    const k = key.length === 1 ? key.toLowerCase() : "";
    return !!pending || byKey.has(k) || starts.has(k);
  }

  /** A keydown on the page: says whether the picker took it. */
  function handleKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return false;
    const key = event.key;
    // Shift pressed on its own (between a chord's keys, for Shift+chord) keeps the chord.
    if (LONE_MODIFIERS.has(key)) return false;
    if (key === "/" && search) {
      clearPending();
      focusSearch();
      event.preventDefault();
      return true;
    }
    const k = keyOf(event);
    if (pending) {
      const chord = pending + k;
      clearPending();
      if (!KEY.test(k)) return false; // Escape, Enter...: the chord is dropped, the key is the page's
      const label = byKey.get(chord);
      if (label) onChoose(label, event);
      event.preventDefault();
      return true;
    }
    if (!KEY.test(k)) return false;
    if (byKey.has(k)) {
      event.preventDefault();
      onChoose(byKey.get(k), event);
      return true;
    }
    if (starts.has(k)) {
      event.preventDefault();
      startChord(k);
      return true;
    }
    return false;
  }

  // ---- state -----------------------------------------------------------------------------
  function render() {
    const disabled = isDisabled ? !!isDisabled() : false;
    for (const old of decorated) {
      for (const node of buttons.get(old)) {
        while (node.childNodes.length > 2) node.lastChild.remove();
        node.className = "label-button";
      }
    }
    decorated = new Set();
    for (const label of labels) {
      const pressed = isPressed(label) ? "true" : "false";
      for (const node of buttons.get(label.id)) {
        if (node.getAttribute("aria-pressed") !== pressed) node.setAttribute("aria-pressed", pressed);
        if (node.disabled !== disabled) node.disabled = disabled;
        if (!decorate) continue;
        const before = node.childNodes.length;
        decorate(label, node);
        if (node.childNodes.length !== before || node.classList.length > 1) decorated.add(label.id);
      }
    }
    markCandidates();
    if (many) showHighlight();
  }

  build();
  return {
    render,
    handleKey,
    focusSearch,
    takesKey,
    multi,
    get pendingChord() {
      return pending;
    },
  };
}
