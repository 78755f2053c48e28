/* The dialog that asks why an image is skipped: a reason typed, or one of the ready ones. */
import { $ } from "../lib/dom.js";

/** onSkip(reason) runs once the dialog closes with a skip (the reason may be ""). */
export function createSkipDialog({ onSkip }) {
  const dialog = $("skip-dialog");
  const reason = $("skip-reason");

  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "skip") onSkip(reason.value.trim());
  });
  for (const button of dialog.querySelectorAll("[data-reason]")) {
    button.addEventListener("click", () => {
      reason.value = button.dataset.reason;
      dialog.close("skip");
    });
  }

  return {
    open() {
      reason.value = "";
      dialog.returnValue = "";
      dialog.showModal();
      reason.focus();
    },
  };
}
