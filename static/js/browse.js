/* The Images page: the filter form and the sort keep the address clean (no empty
 * parameters, so a link carries only what was chosen), and leads pick images (or everything
 * the filter matches) to act on with one bulk action through the REST API, following a
 * background job's progress.
 */
import { request, errorMessage } from "./lib/api.js";
import { $ } from "./lib/dom.js";

const data = JSON.parse($("browse-data").textContent);

/** Submit a GET form with only its filled-in fields, so the address stays short. */
function submitClean(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim() !== "") params.append(name, String(value).trim());
  }
  window.location.search = params.toString();
}

const filters = $("filters");
filters.addEventListener("submit", (event) => {
  event.preventDefault();
  submitClean(filters);
});

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
  const apply = $("bulk-apply");
  const status = $("bulk-status");

  if (!data.bulk_url) {
    status.textContent = "Bulk actions are not available on this server.";
    apply.disabled = true;
  }

  function refresh() {
    const chosen = picks().filter((box) => box.checked).length;
    if (allMatching.checked) count.textContent = "Everything the filter matches";
    else count.textContent = chosen ? `${chosen} selected` : "None selected";
    apply.disabled = !data.bulk_url || (!allMatching.checked && chosen === 0);
    param.hidden = !["priority", "reserve", "relabel"].includes(action.value);
    param.placeholder = action.value === "priority" ? "Priority (a number)" : "Usernames, comma-separated";
  }

  selectPage.addEventListener("change", () => {
    for (const box of picks()) box.checked = selectPage.checked;
    refresh();
  });
  allMatching.addEventListener("change", refresh);
  action.addEventListener("change", refresh);
  document.addEventListener("change", (event) => {
    if (event.target.classList?.contains("pick")) refresh();
  });
  refresh();

  function body() {
    const selection = allMatching.checked
      ? { filter: data.query }
      : { ids: picks().filter((box) => box.checked).map((box) => Number(box.value)) };
    const names = param.value.split(",").map((name) => name.trim()).filter(Boolean);
    switch (action.value) {
      case "priority":
        return { action: "priority", selection, priority: Number(param.value) };
      case "reserve":
        return { action: "reserve", selection, annotators: names };
      case "relabel":
        return names.length ? { action: "relabel", selection, annotators: names } : { action: "relabel", selection };
      case "gold":
        return { action: "gold", selection, gold: true };
      case "ungold":
        return { action: "gold", selection, gold: false };
      default:
        return { action: action.value, selection };
    }
  }

  apply.addEventListener("click", async () => {
    if (action.value === "delete" && !window.confirm("Delete the selected images and their labels?")) return;
    apply.disabled = true;
    status.textContent = "Working…";
    const answer = await request("POST", data.bulk_url, body());
    if (!answer.ok) {
      status.textContent = errorMessage(answer);
      apply.disabled = false;
      return;
    }
    if (answer.status === 202) await follow(answer.body.url);
    else done(answer.body);
  });

  async function follow(url) {
    const bar = $("bulk-progress");
    bar.hidden = false;
    for (;;) {
      const answer = await request("GET", url);
      if (answer.ok) {
        bar.firstElementChild.style.width = `${Math.round((answer.body.progress || 0) * 100)}%`;
        status.textContent = `${answer.body.done} of ${answer.body.total} images…`;
        if (!["queued", "running"].includes(answer.body.status)) return done(answer.body);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  function done(record) {
    if (record.status === "failed") {
      status.textContent = `The action failed: ${record.error || "unknown error"}. Nothing was changed.`;
      apply.disabled = false;
      return;
    }
    status.textContent = `Done: ${record.changed ?? record.total} image(s) changed. Reloading…`;
    setTimeout(() => window.location.reload(), 800);
  }
}
