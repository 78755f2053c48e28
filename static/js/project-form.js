// Label rows of the project form: add a row (next free colour and hotkey), remove a row,
// keep each input's accessible name numbered. The server checks everything again.
(function () {
  "use strict";

  const rows = document.getElementById("label-rows");
  const template = document.getElementById("label-row-template");
  const addButton = document.getElementById("add-label");
  if (!rows || !template || !addButton) return;

  const palette = JSON.parse(document.getElementById("label-palette").textContent);
  const hotkeys = JSON.parse(document.getElementById("label-hotkeys").textContent);

  function rowList() {
    return Array.from(rows.querySelectorAll(".label-row"));
  }

  function renumber() {
    const all = rowList();
    all.forEach(function (row, index) {
      const n = index + 1;
      row.querySelectorAll("span[data-label-text]").forEach(function (span) {
        span.textContent = span.dataset.labelText + " " + n;
      });
      const remove = row.querySelector("button.remove-label");
      remove.setAttribute("aria-label", remove.dataset.labelText + " " + n);
      remove.disabled = all.length <= 1;
    });
  }

  function nextHotkey() {
    const taken = new Set(
      rowList().map(function (row) {
        return row.querySelector("input[name='labels-hotkey']").value.toLowerCase();
      })
    );
    return hotkeys.split("").find(function (key) { return !taken.has(key); }) || "";
  }

  function nextColour() {
    const used = new Set(
      rowList().map(function (row) {
        return row.querySelector("input[name='labels-color']").value.toLowerCase();
      })
    );
    return palette.find(function (colour) { return !used.has(colour); }) ||
      palette[rowList().length % palette.length];
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
  rows.addEventListener("click", function (event) {
    const button = event.target.closest("button.remove-label");
    if (button && !button.disabled) removeRow(button);
  });
  renumber();
  // After a refused save, start where the first problem is.
  const invalid = document.querySelector("#project-form [aria-invalid='true'], #labels-error");
  if (invalid) invalid.focus();
})();
