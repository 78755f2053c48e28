/* Label rows of the project form: add a row (next free colour and hotkey), remove a row,
 * keep each input's accessible name numbered. The server checks everything again.
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
    const taken = used("labels-hotkey");
    return hotkeys.split("").find((key) => !taken.has(key)) || "";
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
