/* Label rows of the project form: add a row (next free colour and, up to nine labels, the
 * next free digit: past that the server chooses a chord), remove a row, offer the groups
 * already typed, keep each input's accessible name numbered. The server checks everything
 * again.
 */
import { $, pageData } from "./lib/dom.js";

const rows = $("label-rows");
const template = $("label-row-template");
const addButton = $("add-label");
if (rows && template && addButton) start();

function start() {
  const palette = pageData("label-palette");
  const hotkeys = pageData("label-hotkeys");

  const rowList = () => Array.from(rows.querySelectorAll(".label-row"));

  function renumber() {
    const all = rowList();
    all.forEach((row, index) => {
      const n = index + 1;
      for (const span of row.querySelectorAll("span[data-label-text]")) {
        span.textContent = `${span.dataset.labelText} ${n}`;
      }
      const remove = row.querySelector("button.remove-label");
      remove.setAttribute("aria-label", `${remove.dataset.labelText} ${n}`);
      remove.disabled = all.length <= 1;
    });
  }

  const used = (name) => new Set(rowList().map((row) => row.querySelector(`input[name='${name}']`).value.toLowerCase()));

  function nextHotkey() {
    if (rowList().length >= hotkeys.length) return "";
    const taken = used("labels-hotkey");
    const starts = new Set([...taken].filter((key) => key.length === 2).map((key) => key[0]));
    return hotkeys.split("").find((key) => !taken.has(key) && !starts.has(key)) || "";
  }

  // The groups typed so far, offered to every group input.
  function offerGroups() {
    const typed = rowList().map((row) => row.querySelector("input[name='labels-group']").value.trim());
    const groups = [...new Set(typed)].filter(Boolean).sort();
    const list = $("label-groups");
    list.replaceChildren(...groups.map((group) => Object.assign(document.createElement("option"), { value: group })));
  }

  function nextColour() {
    const taken = used("labels-color");
    return palette.find((colour) => !taken.has(colour)) || palette[rowList().length % palette.length];
  }

  function addRow() {
    const fragment = template.content.cloneNode(true);
    const row = fragment.querySelector(".label-row");
    row.querySelector("input[name='labels-color']").value = nextColour();
    row.querySelector("input[name='labels-hotkey']").value = nextHotkey();
    rows.appendChild(fragment);
    renumber();
    row.querySelector("input[name='labels-name']").focus();
  }

  function removeRow(button) {
    const row = button.closest(".label-row");
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber();
    const focusTarget = next ? next.querySelector("input[name='labels-name']") : addButton;
    focusTarget.focus();
  }

  addButton.addEventListener("click", addRow);
  rows.addEventListener("focusin", (event) => {
    if (event.target.name === "labels-group") offerGroups();
  });
  rows.addEventListener("click", (event) => {
    const button = event.target.closest("button.remove-label");
    if (button && !button.disabled) removeRow(button);
  });
  renumber();
  // After a refused save, start where the first problem is.
  const invalid = document.querySelector("#project-form [aria-invalid='true'], #labels-error");
  if (invalid) invalid.focus();
}

// A value the browser refuses inside a folded section opens it, so that its message shows.
const form = $("project-form");
if (form) {
  form.addEventListener(
    "invalid",
    (event) => {
      const section = event.target.closest("details");
      if (section) section.open = true;
    },
    true,
  );
}
