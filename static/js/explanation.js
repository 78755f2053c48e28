/* Why the model chose a label: its heat map (Grad-CAM) drawn over the image on the stage.
 *
 * The control (templates/includes/explanation.html) asks the REST API for the heat map of
 * the top label, or of the label chosen, by the current model version. The worker makes
 * it on the first request (the API answers 202 and a poll hint: "Computing…" shows until
 * it is ready), then it is kept; the overlay replaces the picture on the stage, zoom and
 * all, until the control or H is pressed again, or another image shows.
 */
import { errorMessage, request } from "./lib/api.js";
import { $ } from "./lib/dom.js";

/** The page's explanation control; labelByKey: the labels' hotkeys, which H leaves alone. */
export function createExplanation({ labelByKey = new Map() } = {}) {
  const control = $("explanation");
  if (!control) return { key: () => false, setImage: () => {}, toggle: () => {} };
  const toggleButton = $("explanation-toggle");
  const choice = $("explanation-choice");
  const status = $("explanation-status");
  let imageId = null;
  let shown = null; // {img, src}: the picture the overlay replaced
  let asking = 0; // bumps with every new question: answers to an older one are dropped

  function address() {
    const base = control.dataset.url.replace(/\/images\/0\/explanation\/$/, `/images/${imageId}/explanation/`);
    return choice.value ? `${base}?label=${encodeURIComponent(choice.value)}` : base;
  }

  function setState(state, text) {
    control.dataset.state = state;
    toggleButton.setAttribute("aria-pressed", state === "off" ? "false" : "true");
    status.textContent = text;
  }

  /** Puts the picture the overlay replaced back (on an image the stage may show again). */
  function restore() {
    if (!shown) return;
    shown.img.src = shown.src;
    if (shown.original === undefined) delete shown.img.dataset.original;
    else shown.img.dataset.original = shown.original;
    shown = null;
  }

  function hide() {
    asking += 1;
    restore();
    setState("off", "");
  }

  async function ask(question) {
    const answer = await request("GET", address());
    if (question !== asking) return;
    if (answer.status === 202) {
      setState("computing", "Computing…");
      const wait = (answer.body && answer.body.poll_after) || 1;
      setTimeout(() => question === asking && ask(question), wait * 1000);
      return;
    }
    if (!answer.ok) {
      setState("failed", errorMessage(answer));
      return;
    }
    draw(answer.body);
  }

  function draw(body) {
    const img = $("stage-frame").querySelector("img");
    if (!img) return;
    if (!shown) shown = { img, src: img.getAttribute("src"), original: img.dataset.original };
    // Marked as the stage's own swap to the original is: zooming in keeps the overlay.
    img.dataset.original = "explained";
    img.src = body.overlay_url;
    const probability = body.probability === null ? "" : ` · p = ${body.probability.toFixed(3)}`;
    setState("shown", `Where v${body.version} sees ${body.label_name}${probability}`);
  }

  function show() {
    if (imageId === null) return;
    asking += 1;
    setState("computing", "Computing…");
    ask(asking);
  }

  function toggle() {
    if (control.dataset.state === "off" || control.dataset.state === "failed") show();
    else hide();
  }

  toggleButton.addEventListener("click", toggle);
  choice.addEventListener("change", () => {
    if (control.dataset.state !== "off") show();
    choice.blur(); // H and the page's keys again
  });

  return {
    /** The image now on the stage: any heat map of the one before is taken down. */
    setImage(id) {
      if (id === imageId) return;
      restore();
      asking += 1;
      imageId = id;
      setState("off", "");
    },
    /** H (or h, where no label has it) toggles the heat map; says whether it took the key. */
    key(key) {
      if (key !== "H" && !(key === "h" && !labelByKey.has("h"))) return false;
      toggle();
      return true;
    },
    toggle,
  };
}
