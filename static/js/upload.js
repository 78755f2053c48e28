/* The upload page: files (or zip archives, or folders) dropped or chosen are sent to the
 * REST API one request per file, three at a time, each with its own progress bar and
 * outcome; a summary adds them up. File names are only ever set as textContent.
 */
import { upload, errorMessage } from "./lib/api.js";
import { $, el, fill } from "./lib/dom.js";
import { formatSize, plural } from "./lib/format.js";

// A few at a time: each file's progress stays readable, and the server is not flooded.
const CONCURRENCY = 3;
const OUTCOME_TEXT = { created: "Added", duplicate: "Already in the project", rejected: "Rejected" };

const root = $("upload");
if (root) start();

function start() {
  const url = root.dataset.uploadUrl;
  const dropzone = $("dropzone");
  const input = $("file-input");
  const fileList = $("file-list");
  const summary = $("summary");
  const imageCount = $("image-count");

  const queue = [];
  const entries = [];
  const totals = { created: 0, duplicate: 0, rejected: 0, failed: 0 };
  let active = 0;

  // ---- one entry per file: its row, progress bar and outcome ----

  function makeEntry(file) {
    const status = el("span", { class: "file-status", text: "Waiting" });
    const bar = el(
      "div",
      {
        class: "progress",
        role: "progressbar",
        "aria-label": `Upload of ${file.name}`,
        "aria-valuemin": "0",
        "aria-valuemax": "100",
      },
      el("span"),
    );
    const details = el("div", { class: "file-details" });
    const item = el(
      "li",
      { class: "file-item" },
      el(
        "div",
        { class: "file-head" },
        el("span", { class: "file-name", text: file.name }),
        el("span", { class: "file-size", text: formatSize(file.size) }),
        status,
      ),
      bar,
      details,
    );
    fileList.append(item);
    const entry = { file, item, status, bar, details };
    setState(entry, "queued");
    setProgress(entry, 0);
    return entry;
  }

  function setState(entry, state, text) {
    entry.state = state;
    entry.item.dataset.status = state;
    if (text !== undefined) entry.status.textContent = text;
  }

  function setProgress(entry, fraction) {
    const percent = Math.round(fraction * 100);
    entry.bar.firstChild.style.width = `${percent}%`;
    entry.bar.setAttribute("aria-valuenow", String(percent));
  }

  function addFiles(files) {
    if (!files.length) return;
    summary.hidden = false;
    $("files-section").hidden = false;
    for (const file of files) {
      const entry = makeEntry(file);
      entries.push(entry);
      queue.push(entry);
    }
    updateSummary();
    pump();
  }

  // ---- sending: one request per file, CONCURRENCY at a time ----

  function pump() {
    while (active < CONCURRENCY && queue.length) send(queue.shift());
  }

  async function send(entry) {
    active += 1;
    setState(entry, "sending", "Uploading…");
    const form = new FormData();
    form.append("files", entry.file, entry.file.name);
    const result = await upload(url, form, {
      onProgress: (loaded, total) => {
        setProgress(entry, loaded / total);
        if (loaded === total) setState(entry, "processing", "Processing…");
      },
    });
    // An archive, or a file refused for its content, still answers with one result per file.
    if (result.body && Array.isArray(result.body.results)) succeed(entry, result.body.results);
    else fail(entry, failureText(result));
  }

  function failureText(result) {
    if (result.aborted) return "The upload was interrupted.";
    if (!result.status) return "Network error: the file did not reach the server.";
    return errorMessage(result, {
      otherwise: ({ status, statusText }) =>
        status === 413 ? "The file is too large for the server." : `The server answered ${status} ${statusText}.`,
    });
  }

  function finish() {
    active -= 1;
    updateSummary();
    pump();
  }

  // ---- outcomes ----

  function succeed(entry, results) {
    setProgress(entry, 1);
    for (const result of results) {
      totals[result.status] += 1;
      if (result.status === "rejected") addRejected(result);
    }
    const created = results.filter((r) => r.status === "created").length;
    if (imageCount && created) {
      const count = Number(imageCount.dataset.count) + created;
      imageCount.dataset.count = String(count);
      imageCount.textContent = plural(count, "image");
    }
    const isArchive = results.some((r) => r.archive) || results.length !== 1;
    if (isArchive) {
      showArchive(entry, results);
    } else {
      const result = results[0];
      setState(entry, result.status, OUTCOME_TEXT[result.status] || result.status);
      if (result.reason) entry.details.append(el("p", { class: "reason", text: result.reason }));
    }
    finish();
  }

  function showArchive(entry, results) {
    const counts = { created: 0, duplicate: 0, rejected: 0 };
    for (const r of results) counts[r.status] += 1;
    const state = counts.created ? "created" : counts.duplicate ? "duplicate" : "rejected";
    setState(entry, state, `Archive: ${counts.created} created, ${plural(counts.duplicate, "duplicate")}, ${counts.rejected} rejected`);
    const members = el(
      "details",
      { class: "archive-members" },
      el("summary", { text: `${plural(results.length, "file")} in the archive` }),
      el(
        "ul",
        { class: "member-list" },
        results.map((result) =>
          el(
            "li",
            { class: `member member-${result.status}` },
            el("span", { class: "member-name", text: result.name }),
            el("span", { class: "member-status", text: OUTCOME_TEXT[result.status] || result.status }),
            result.reason ? el("span", { class: "reason", text: result.reason }) : null,
          ),
        ),
      ),
    );
    // A long archive starts folded: its summary line says enough.
    members.open = results.length <= 20;
    entry.details.append(members);
  }

  function addRejected(result) {
    $("rejected-block").hidden = false;
    const name = result.archive ? `${result.archive} › ${result.name}` : result.name;
    $("rejected-list").append(el("li", {}, el("strong", { text: name }), el("span", { text: `: ${result.reason || "rejected"}` })));
  }

  function fail(entry, message) {
    totals.failed += 1;
    setState(entry, "failed", "Failed");
    const retry = el("button", { class: "retry", type: "button", "aria-label": `Retry ${entry.file.name}`, text: "Retry" });
    retry.addEventListener("click", () => {
      totals.failed -= 1;
      entry.details.replaceChildren();
      setProgress(entry, 0);
      setState(entry, "queued", "Waiting");
      queue.push(entry);
      updateSummary();
      pump();
    });
    fill(entry.details, el("p", { class: "reason", text: message }), retry);
    finish();
  }

  function updateSummary() {
    for (const key of Object.keys(totals)) {
      summary.querySelector(`[data-count='${key}']`).textContent = String(totals[key]);
    }
    summary.querySelector("[data-failed-tile]").hidden = totals.failed === 0;
    const open = entries.filter((e) => e.state === "queued" || e.state === "sending" || e.state === "processing").length;
    const done = entries.length - open;
    const status = $("summary-status");
    if (open) {
      status.textContent = `Uploading: ${done} of ${plural(entries.length, "file")} done…`;
    } else if (totals.failed) {
      status.textContent = `Finished, but ${plural(totals.failed, "upload")} failed. Retry them below.`;
    } else {
      status.textContent = entries.length === 1 ? "The file was processed." : `All ${plural(entries.length, "file")} processed.`;
    }
    summary.dataset.state = open ? "busy" : "done";
    $("summary-links").hidden = Boolean(open);
  }

  // ---- choosing and dropping ----

  input.addEventListener("change", () => {
    addFiles(Array.from(input.files));
    input.value = "";
  });

  dropzone.addEventListener("click", (event) => {
    if (event.target === dropzone || event.target.tagName === "P") input.click();
  });

  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("dragging");
    });
  }
  dropzone.addEventListener("dragleave", (event) => {
    if (!dropzone.contains(event.relatedTarget)) dropzone.classList.remove("dragging");
  });
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    droppedFiles(event.dataTransfer).then(addFiles);
  });
  // Leaving the page would cancel the uploads still running.
  window.addEventListener("beforeunload", (event) => {
    if (active || queue.length) event.preventDefault();
  });

  // A file dropped beside the zone would make the browser leave the page to show it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

// Dropped folders are walked for their files; the entries must be read during the event.
function droppedFiles(dataTransfer) {
  const items = Array.from(dataTransfer.items || []).filter((item) => item.kind === "file");
  const pairs = items.map((item) => ({
    entry: item.webkitGetAsEntry ? item.webkitGetAsEntry() : null,
    file: item.getAsFile(),
  }));
  if (!pairs.some((p) => p.entry && p.entry.isDirectory)) {
    return Promise.resolve(Array.from(dataTransfer.files));
  }
  return Promise.all(
    pairs.map((p) => (p.entry && p.entry.isDirectory ? walk(p.entry) : Promise.resolve(p.file ? [p.file] : []))),
  ).then((lists) => lists.flat());
}

function walk(entry) {
  if (entry.name.startsWith(".")) return Promise.resolve([]);
  if (entry.isFile) {
    return new Promise((resolve) => {
      entry.file((file) => resolve([file]), () => resolve([]));
    });
  }
  // A directory reader hands its entries over in batches, until an empty one.
  const reader = entry.createReader();
  const children = [];
  return new Promise((resolve) => {
    function readBatch() {
      reader.readEntries(
        (batch) => {
          if (!batch.length) {
            Promise.all(children.map(walk)).then((lists) => resolve(lists.flat()));
            return;
          }
          children.push(...batch);
          readBatch();
        },
        () => resolve([]),
      );
    }
    readBatch();
  });
}
