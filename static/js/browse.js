/* The Images page: the filters apply as they change, and they and the sort keep the address
 * clean (no empty parameters, so a link carries only what was chosen), and leads pick images (or everything
 * the filter matches) to act on with one bulk action through the REST API, following a
 * background job's progress.
 */
import { request, errorMessage } from "./lib/api.js";
import { $, el, fill } from "./lib/dom.js";
import { plural } from "./lib/format.js";
import { eraseImages } from "./erasure.js";

const data = JSON.parse($("browse-data").textContent);

/**
 * Submit a GET form with only its filled-in fields, so the address stays short. A field
 * of a project field's filter (data-field="site") sends its value after the field's name:
 * field_min=age:30.
 */
function submitClean(form) {
  const params = new URLSearchParams();
  for (const field of form.elements) {
    if (!field.name || field.disabled) continue;
    if ((field.type === "checkbox" || field.type === "radio") && !field.checked) continue;
    const value = String(field.value).trim();
    if (value === "") continue;
    params.append(field.name, field.dataset.field ? `${field.dataset.field}:${value}` : value);
  }
  window.location.search = params.toString();
}

const filters = $("filters");
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  submitClean(filters);
});

// Filters apply as they change: a select, a tick or a date at once, typed text and numbers
// after a short pause (or on Enter, the form's own submit). Each applies by loading the
// filtered address, so the address always says what is shown and can be shared; the field
// being typed in keeps the focus across the load. The Filter button is for pages without
// this script.
const TYPING_PAUSE_MS = 600;
const FOCUS_KEY = "browse-filter-focus";
let typingTimer = null;
filters.querySelector("button[type=submit]").hidden = true;
const typed = (field) => field.matches("input[type=search], input[type=text], input[type=number]");

function applyFilters(field) {
  clearTimeout(typingTimer);
  if (field && typed(field)) {
    sessionStorage.setItem(FOCUS_KEY, field.id || field.name);
  }
  submitClean(filters);
}

filters.addEventListener("change", (event) => {
  if (!typed(event.target)) applyFilters(event.target);
});
filters.addEventListener("input", (event) => {
  if (!typed(event.target)) return;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => applyFilters(event.target), TYPING_PAUSE_MS);
});
filters.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && typed(event.target)) {
    event.preventDefault();
    applyFilters(event.target);
  }
});

/** Put the caret back in the field typed in before the filtered page loaded. */
function restoreFocus() {
  const name = sessionStorage.getItem(FOCUS_KEY);
  sessionStorage.removeItem(FOCUS_KEY);
  if (!name) return;
  const field = document.getElementById(name) ?? filters.elements.namedItem(name);
  if (!(field instanceof HTMLInputElement)) return;
  field.focus();
  if (field.type !== "number") field.setSelectionRange(field.value.length, field.value.length);
}
restoreFocus();

// The sort keeps the filters: it changes one parameter of the address and starts over.
$("sort").addEventListener("change", (event) => {
  const params = new URLSearchParams(window.location.search);
  params.set("sort", event.target.value);
  params.delete("cursor");
  window.location.search = params.toString();
});

setUpBulk();

function setUpBulk() {
  const bar = $("bulk-bar");
  if (!bar) return;
  const picks = () => [...document.querySelectorAll(".pick")];
  const selectPage = $("select-page");
  const allMatching = $("select-all-matching");
  const count = $("selected-count");
  const action = $("bulk-action");
  const param = $("bulk-param");
  const format = $("bulk-format");
  const apply = $("bulk-apply");
  const status = $("bulk-status");
  let matching = null; // how many images the filter matches, once counted
  let shown = null; // how many images the page said it would act on: sent as expected_count

  if (!data.bulk_url) {
    status.textContent = "Bulk actions are not available on this server.";
    apply.disabled = true;
  }

  /** The ids of this page's images left unticked under "everything the filter matches". */
  const unticked = () => picks().filter((box) => !box.checked).map((box) => Number(box.value));

  function refresh() {
    const chosen = picks().filter((box) => box.checked).length;
    let touched = chosen;
    if (allMatching.checked) {
      const less = unticked().length;
      touched = matching === null ? null : Math.max(matching - less, 0);
      const excluded = less ? ` less ${less} unticked` : "";
      count.textContent =
        matching === null
          ? `Everything the filter matches${excluded} (counting…)`
          : `Everything the filter matches: ${plural(matching, "image")}${excluded}, so ${plural(touched, "image")} will be acted on`;
    } else count.textContent = chosen ? `${chosen} selected` : "None selected";
    shown = touched;
    apply.disabled = !data.bulk_url || touched === null || touched === 0;
    param.hidden = !["priority", "reserve", "relabel", "erase"].includes(action.value);
    param.placeholder =
      action.value === "priority"
        ? "Priority (a number)"
        : action.value === "erase"
          ? "Reason (the person's request)"
          : "Usernames, comma-separated";
    format.hidden = action.value !== "export";
  }

  async function countMatching() {
    matching = null;
    refresh();
    const answer = await request("GET", `${data.bulk_url}?${new URLSearchParams({ filter: data.query })}`);
    if (!allMatching.checked) return;
    if (answer.ok) matching = answer.body.count;
    else status.textContent = errorMessage(answer);
    refresh();
  }

  selectPage.addEventListener("change", () => {
    for (const box of picks()) box.checked = selectPage.checked;
    refresh();
  });
  // Everything the filter matches starts with this page ticked: unticking an image leaves it out.
  allMatching.addEventListener("change", () => {
    for (const box of picks()) box.checked = allMatching.checked;
    selectPage.checked = allMatching.checked;
    if (allMatching.checked && data.bulk_url) countMatching();
    else refresh();
  });
  action.addEventListener("change", refresh);
  document.addEventListener("change", (event) => {
    if (event.target.classList?.contains("pick")) refresh();
  });
  refresh();

  /** The action's request: it carries the count the page showed (the server refuses a
   * selection that now matches another number, so nothing unseen is deleted). */
  const body = () => ({ ...actionBody(), expected_count: shown });

  function actionBody() {
    const selection = allMatching.checked
      ? { filter: data.query, ...(unticked().length ? { exclude_ids: unticked() } : {}) }
      : { ids: picks().filter((box) => box.checked).map((box) => Number(box.value)) };
    const names = param.value.split(",").map((name) => name.trim()).filter(Boolean);
    switch (action.value) {
      case "priority":
        // As typed: the server reads it (an empty field or a word is refused, never 0).
        return { action: "priority", selection, priority: param.value };
      case "reserve":
        return { action: "reserve", selection, annotators: names };
      case "relabel":
        return names.length ? { action: "relabel", selection, annotators: names } : { action: "relabel", selection };
      case "gold":
        return { action: "gold", selection, gold: true };
      case "ungold":
        return { action: "gold", selection, gold: false };
      case "export":
        return { action: "export", selection, format: format.value };
      default:
        return { action: action.value, selection };
    }
  }

  /** An erasure (a request to be forgotten): ticked images, or everything the filter
   * matches; the dry run's counts are confirmed first (erasure.js). */
  async function erase() {
    if (allMatching.checked && unticked().length) {
      status.textContent = "An erasure takes everything the filter matches, or the images ticked: untick “Everything the filter matches” to leave some out.";
      return;
    }
    const query = allMatching.checked
      ? { filter: data.query }
      : { image_ids: picks().filter((box) => box.checked).map((box) => Number(box.value)) };
    apply.disabled = true;
    const setStatus = (text) => (status.textContent = text);
    const report = await eraseImages({ url: data.erasures_url, query, reason: param.value, setStatus });
    if (report) setTimeout(() => window.location.reload(), 1500);
    else apply.disabled = false;
  }

  apply.addEventListener("click", async () => {
    if (action.value === "erase") return erase();
    if (action.value === "delete" && !window.confirm("Delete the selected images and their labels?")) return;
    apply.disabled = true;
    status.textContent = "Working…";
    const answer = await request("POST", data.bulk_url, body());
    if (!answer.ok) {
      status.textContent = errorMessage(answer);
      apply.disabled = false;
      // The images changed since they were counted: count again, so the lead sees what
      // a second press would act on.
      if (answer.status === 409 && allMatching.checked) await countMatching();
      return;
    }
    if (answer.status === 202) await follow(answer.body.url);
    else done(answer.body);
  });

  /** Poll url every second until its status leaves queued and running; the last answer. */
  async function poll(url, onProgress) {
    for (;;) {
      const answer = await request("GET", url);
      if (answer.ok) {
        onProgress(answer.body);
        if (!["queued", "running"].includes(answer.body.status)) return answer.body;
      } else if (answer.status >= 400 && answer.status < 500) {
        return { status: "failed", error: errorMessage(answer) };
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  async function follow(url) {
    const progress = $("bulk-progress");
    progress.hidden = false;
    const record = await poll(url, (job) => {
      progress.firstElementChild.style.width = `${Math.round((job.progress || 0) * 100)}%`;
      status.textContent = `${job.done} of ${job.total} images…`;
    });
    done(record);
  }

  function done(record) {
    if (record.status === "failed") {
      status.textContent = `The action failed: ${record.error || "unknown error"}. Nothing was changed.`;
      apply.disabled = false;
      return;
    }
    if (record.action === "export" && record.result?.export) {
      offerExport(record.result.export, record.total);
      return;
    }
    status.textContent = `Done: ${plural(record.changed ?? record.total, "image")} changed. Reloading…`;
    setTimeout(() => window.location.reload(), 800);
  }

  /** Follow the export the action started, then offer its file (the list stays as it is). */
  async function offerExport(id, total) {
    status.textContent = `Exporting ${plural(total, "image")}…`;
    const url = data.export_url_template.replace(/\/0\/$/, `/${id}/`);
    const exported = await poll(url, (job) => {
      if (job.total) status.textContent = `Exporting: ${job.done} of ${job.total} images…`;
    });
    apply.disabled = false;
    if (exported.status !== "done" || !exported.download_url) {
      status.textContent = `The export failed: ${exported.error || "unknown error"}.`;
      return;
    }
    const link = el("a", { id: "bulk-download-link", class: "button", href: exported.download_url, text: "Download" });
    fill(status, `Export ${id} is ready (${plural(exported.total, "image")}): `, link);
  }
}
