/* "Copy link" buttons: each copies the text field its data-copy names, and says so. */
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", () => copy(button));
}

async function copy(button) {
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copyStatus);
  field.select();
  let done;
  try {
    await navigator.clipboard.writeText(field.value);
    done = true;
  } catch {
    // Without the clipboard API (plain http to another host): the field is selected.
    done = document.execCommand("copy");
  }
  if (status) status.textContent = done ? "Copied." : "Selected: press Ctrl+C to copy.";
}
