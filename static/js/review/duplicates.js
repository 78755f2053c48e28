/* The near-duplicate group of an image sent to review because its copies carry different
 * final labels: each copy's thumbnail and final label, the one on screen marked. Read
 * from the review request's group_images (the API adds them), so no image costs a request
 * of its own; hidden for every other image. */
import { $, el, fill } from "../lib/dom.js";
import { chips } from "../lib/labels.js";

export const REASON = "duplicate_labels_differ";
const THUMB = "72px";

/** The section, made once and placed under the reason box (review.html has no slot for it). */
function section() {
  let box = $("duplicates");
  if (box) return box;
  box = el(
    "section",
    { id: "duplicates", class: "rv-section", "aria-labelledby": "duplicates-title", hidden: true },
    el("h2", { id: "duplicates-title", class: "rv-heading", text: "Near-duplicates" }),
    el("ul", {
      id: "duplicate-images",
      "aria-labelledby": "duplicates-title",
      style: { listStyle: "none", margin: "0", padding: "0", display: "flex", flexWrap: "wrap", gap: ".5rem" },
    }),
  );
  $("reason").after(box);
  return box;
}

/** Show the near-duplicate group of the item on screen (or hide the section). */
export function renderDuplicates(item) {
  const found = item && (item.requests || []).find((r) => r.reason === REASON);
  const images = (found && found.group_images) || [];
  const box = section();
  box.hidden = !images.length;
  const group = found && found.detail ? found.detail.group : null;
  $("duplicates-title").textContent = group ? `Near-duplicates (group ${group})` : "Near-duplicates";
  fill($("duplicate-images"), images.map((image) => copy(image, item.image.id)));
}

function copy(image, onScreen) {
  const here = image.id === onScreen;
  const labels = image.final_label_ids;
  return el(
    "li",
    {
      dataset: { image: String(image.id) },
      "aria-current": here ? "true" : null,
      style: { width: THUMB, fontSize: ".8rem", overflowWrap: "anywhere" },
    },
    image.thumbnail_url
      ? el("img", {
          src: image.thumbnail_url,
          alt: image.original_name,
          width: "72",
          height: "72",
          loading: "lazy",
          style: {
            objectFit: "contain",
            background: "#f4f4f4",
            borderRadius: "4px",
            outline: here ? "3px solid var(--accent)" : "1px solid var(--line)",
          },
        })
      : el("div", {
          text: "No thumbnail yet",
          class: "muted",
          style: { width: THUMB, height: THUMB, background: "#f4f4f4", borderRadius: "4px" },
        }),
    el("div", { class: "muted", text: here ? `#${image.id} · this one` : `#${image.id}` }),
    el(
      "div",
      { class: "rv-chips" },
      labels === null || labels === undefined
        ? el("span", { class: "rv-note", text: "no final label" })
        : labels.length
          ? chips(labels)
          : el("span", { class: "rv-note", text: "(none)" }),
    ),
  );
}
