// The upload page: files (or zip archives, or folders) dropped or chosen are sent to the
// REST API one request per file, three at a time, each with its own progress bar and
// outcome; a summary adds them up. File names are only ever set as textContent.
(function () {
  "use strict";

  const CONCURRENCY = 3;
  const root = document.getElementById("upload");
  if (!root) return;
  const url = root.dataset.uploadUrl;
  const csrfToken = document.querySelector("meta[name='csrf-token']").content;
  const dropzone = document.getElementById("dropzone");
  const input = document.getElementById("file-input");
  const fileList = document.getElementById("file-list");
  const summary = document.getElementById("summary");
  const imageCount = document.getElementById("image-count");

  const queue = [];
  const entries = [];
  const totals = { created: 0, duplicate: 0, rejected: 0, failed: 0 };
  let active = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  // ---- one entry per file: its row, progress bar and outcome ----

  function makeEntry(file) {
    const item = el("li", "file-item");
    const head = el("div", "file-head");
    head.append(el("span", "file-name", file.name), el("span", "file-size", formatSize(file.size)));
    const status = el("span", "file-status", "Waiting");
    head.append(status);
    const bar = el("div", "progress");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", "Upload of " + file.name);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.append(el("span"));
    const details = el("div", "file-details");
    item.append(head, bar, details);
    fileList.append(item);
    const entry = { file: file, item: item, status: status, bar: bar, details: details };
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
    entry.bar.firstChild.style.width = percent + "%";
    entry.bar.setAttribute("aria-valuenow", String(percent));
  }

  function addFiles(files) {
    if (!files.length) return;
    summary.hidden = false;
    document.getElementById("files-section").hidden = false;
    files.forEach(function (file) {
      const entry = makeEntry(file);
      entries.push(entry);
      queue.push(entry);
    });
    updateSummary();
    pump();
  }

  // ---- sending: one XHR per file, CONCURRENCY at a time ----

  function pump() {
    while (active < CONCURRENCY && queue.length) send(queue.shift());
  }

  function send(entry) {
    active += 1;
    setState(entry, "sending", "Uploading…");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      if (!event.lengthComputable) return;
      setProgress(entry, event.loaded / event.total);
      if (event.loaded === event.total) setState(entry, "processing", "Processing…");
    };
    xhr.onload = function () {
      const body = parseJson(xhr.responseText);
      if (body && Array.isArray(body.results)) {
        succeed(entry, body.results);
      } else {
        fail(entry, failureText(xhr, body));
      }
    };
    xhr.onerror = function () {
      fail(entry, "Network error: the file did not reach the server.");
    };
    xhr.onabort = function () {
      fail(entry, "The upload was interrupted.");
    };
    const form = new FormData();
    form.append("files", entry.file, entry.file.name);
    xhr.send(form);
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return null;
    }
  }

  function failureText(xhr, body) {
    if (body && typeof body.detail === "string") return body.detail;
    if (xhr.status === 413) return "The file is too large for the server.";
    return "The server answered " + xhr.status + " " + xhr.statusText + ".";
  }

  function finish() {
    active -= 1;
    updateSummary();
    pump();
  }

  // ---- outcomes ----

  const OUTCOME_TEXT = { created: "Added", duplicate: "Already in the project", rejected: "Rejected" };

  function succeed(entry, results) {
    setProgress(entry, 1);
    results.forEach(function (result) {
      totals[result.status] += 1;
      if (result.status === "rejected") addRejected(result);
    });
    const created = results.filter(function (r) { return r.status === "created"; }).length;
    if (imageCount && created) {
      const count = Number(imageCount.dataset.count) + created;
      imageCount.dataset.count = String(count);
      imageCount.textContent = plural(count, "image", "images");
    }
    const isArchive = results.some(function (r) { return r.archive; }) || results.length !== 1;
    if (isArchive) {
      showArchive(entry, results);
    } else {
      const result = results[0];
      setState(entry, result.status, OUTCOME_TEXT[result.status] || result.status);
      if (result.reason) entry.details.append(el("p", "reason", result.reason));
    }
    finish();
  }

  function showArchive(entry, results) {
    const counts = countByStatus(results);
    const state = counts.created ? "created" : counts.duplicate ? "duplicate" : "rejected";
    setState(entry, state, "Archive: " + countsText(counts));
    const members = el("details", "archive-members");
    members.open = results.length <= 20;
    members.append(el("summary", "", plural(results.length, "file", "files") + " in the archive"));
    const list = el("ul", "member-list");
    results.forEach(function (result) {
      const row = el("li", "member member-" + result.status);
      row.append(el("span", "member-name", result.name));
      row.append(el("span", "member-status", OUTCOME_TEXT[result.status] || result.status));
      if (result.reason) row.append(el("span", "reason", result.reason));
      list.append(row);
    });
    members.append(list);
    entry.details.append(members);
  }

  function countByStatus(results) {
    const counts = { created: 0, duplicate: 0, rejected: 0 };
    results.forEach(function (r) { counts[r.status] += 1; });
    return counts;
  }

  function countsText(counts) {
    return counts.created + " created, " + plural(counts.duplicate, "duplicate", "duplicates") +
      ", " + counts.rejected + " rejected";
  }

  function addRejected(result) {
    document.getElementById("rejected-block").hidden = false;
    const row = el("li");
    const name = result.archive ? result.archive + " › " + result.name : result.name;
    row.append(el("strong", "", name), el("span", "", ": " + (result.reason || "rejected")));
    document.getElementById("rejected-list").append(row);
  }

  function fail(entry, message) {
    totals.failed += 1;
    setState(entry, "failed", "Failed");
    entry.details.replaceChildren(el("p", "reason", message));
    const retry = el("button", "retry", "Retry");
    retry.type = "button";
    retry.setAttribute("aria-label", "Retry " + entry.file.name);
    retry.addEventListener("click", function () {
      totals.failed -= 1;
      entry.details.replaceChildren();
      setProgress(entry, 0);
      setState(entry, "queued", "Waiting");
      queue.push(entry);
      updateSummary();
      pump();
    });
    entry.details.append(retry);
    finish();
  }

  function updateSummary() {
    Object.keys(totals).forEach(function (key) {
      summary.querySelector("[data-count='" + key + "']").textContent = String(totals[key]);
    });
    summary.querySelector("[data-failed-tile]").hidden = totals.failed === 0;
    const open = entries.filter(function (e) {
      return e.state === "queued" || e.state === "sending" || e.state === "processing";
    }).length;
    const done = entries.length - open;
    const status = document.getElementById("summary-status");
    if (open) {
      status.textContent = "Uploading: " + done + " of " + plural(entries.length, "file", "files") + " done…";
    } else if (totals.failed) {
      status.textContent = "Finished, but " + plural(totals.failed, "upload", "uploads") +
        " failed. Retry them below.";
    } else {
      status.textContent = "All " + plural(entries.length, "file", "files") + " processed.";
    }
    summary.dataset.state = open ? "busy" : "done";
    document.getElementById("summary-links").hidden = Boolean(open);
  }

  // ---- choosing and dropping ----

  input.addEventListener("change", function () {
    addFiles(Array.from(input.files));
    input.value = "";
  });

  dropzone.addEventListener("click", function (event) {
    if (event.target === dropzone || event.target.tagName === "P") input.click();
  });

  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (event) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("dragging");
    });
  });
  dropzone.addEventListener("dragleave", function (event) {
    if (!dropzone.contains(event.relatedTarget)) dropzone.classList.remove("dragging");
  });
  dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    droppedFiles(event.dataTransfer).then(addFiles);
  });
  // Leaving the page would cancel the uploads still running.
  window.addEventListener("beforeunload", function (event) {
    if (active || queue.length) event.preventDefault();
  });

  // A file dropped beside the zone would make the browser leave the page to show it.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });

  // Dropped folders are walked for their files; the entries must be read during the event.
  function droppedFiles(dataTransfer) {
    const items = Array.from(dataTransfer.items || []).filter(function (item) {
      return item.kind === "file";
    });
    const pairs = items.map(function (item) {
      return { entry: item.webkitGetAsEntry ? item.webkitGetAsEntry() : null, file: item.getAsFile() };
    });
    if (!pairs.some(function (p) { return p.entry && p.entry.isDirectory; })) {
      return Promise.resolve(Array.from(dataTransfer.files));
    }
    return Promise.all(pairs.map(function (p) {
      return p.entry && p.entry.isDirectory ? walk(p.entry) : Promise.resolve(p.file ? [p.file] : []);
    })).then(flatten);
  }

  function walk(entry) {
    if (entry.name.startsWith(".")) return Promise.resolve([]);
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([file]); }, function () { resolve([]); });
      });
    }
    const reader = entry.createReader();
    const children = [];
    return new Promise(function (resolve) {
      function readBatch() {
        reader.readEntries(function (batch) {
          if (!batch.length) {
            Promise.all(children.map(walk)).then(flatten).then(resolve);
            return;
          }
          children.push.apply(children, batch);
          readBatch();
        }, function () { resolve([]); });
      }
      readBatch();
    });
  }

  function flatten(lists) {
    return lists.reduce(function (all, list) { return all.concat(list); }, []);
  }
})();
