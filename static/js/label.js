/* The labelling workspace.
 *
 * Images come from the queue (next/) a few ahead of the one on screen, already decoded,
 * so the next one shows at once. Every write (label, skip, undo) goes into an outbox
 * kept in localStorage and sent in order in the background: a failed request is
 * retried with backoff and shown, never dropped silently. Going back walks the
 * annotator's own history; nothing of other annotators is ever fetched.
 */
(() => {
  "use strict";

  const workspace = window.labelerWorkspace;
  const { data, labels, labelById, labelByKey } = workspace.readPageData("workspace-data");
  const { api, sleep, detail, newIdempotencyKey } = workspace;
  const multi = data.project.multi_label;
  const AHEAD = 3; // images prefetched beyond the one on screen
  const HISTORY_SIZE = 200;
  const outboxKey = `labeler:outbox:${data.user}:${data.project.id}`;

  const $ = (id) => document.getElementById(id);
  const labelBox = $("labels");
  const suggestionBox = $("suggestion");
  const modeBanner = $("mode-banner");
  const skipDialog = $("skip-dialog");

  const url = (name, id) => data.urls[name].replace(data.slot, String(id));

  // ---- state -------------------------------------------------------------------
  const state = {
    buffer: [], // queue items ready to show: {image, suggestion, img}
    current: null, // {source: "queue"|"history", item, entry, selected:Set, suggestion}
    parked: null, // the queue item set aside while looking back
    historyIndex: -1, // position in history while looking back
    history: [], // newest first: {kind, id, image_id, label_ids, reason, item}
    undo: [],
    exhausted: false,
    filling: false,
    progress: null,
    stats: { shown: 0, stalls: 0, sent: 0, retries: 0, queued: [] },
  };
  const stage = workspace.createStage({ isShowing: () => !!state.current });
  const { showMessage, flash } = stage;
  const announce = workspace.createAnnouncer();
  // Saved work waits in localStorage until the server has it, so that a reload or a crash
  // does not lose it. A withdraw whose target is gone already counts as done.
  const outbox = workspace.createOutbox({
    ops: loadOutbox(),
    deliver,
    isDone: (op, result) => result.ok || (op.kind === "withdraw" && result.status === 404),
    onSent: settle,
    onRefused: fail,
    onChange: saveOutbox,
    onIdle: refreshProgress,
    stats: state.stats,
    status: $("save-status"),
  });
  let shownAt = 0;
  let activeMs = 0;

  // ---- the queue: prefetching ----------------------------------------------------
  function busyImageIds() {
    const ids = state.buffer.map((item) => item.image.id);
    if (state.current) ids.push(state.current.item.image.id);
    if (state.parked) ids.push(state.parked.image.id);
    for (const op of outbox.ops) if (op.image) ids.push(op.image);
    return [...new Set(ids)];
  }

  async function fill() {
    if (state.filling) return;
    state.filling = true;
    let delay = 500;
    try {
      while (!state.exhausted && state.buffer.length < AHEAD + (state.current ? 0 : 1)) {
        let result;
        try {
          result = await api("GET", `${data.urls.next}?exclude=${busyImageIds().join(",")}`);
        } catch (err) {
          result = { status: 0 };
        }
        if (result.status === 204) {
          state.exhausted = true;
        } else if (result.ok) {
          delay = 500;
          const item = result.body;
          item.img = await preload(item.image);
          state.buffer.push(item);
        } else if (result.status === 409 && state.buffer.length + (state.current ? 1 : 0) > 0) {
          break; // holding as many images as one may: ask again once one is labelled
        } else if (result.status >= 400 && result.status < 500 && result.status !== 408 && result.status !== 429) {
          showMessage(`The queue refused: ${detail(result)}`);
          state.exhausted = true;
        } else {
          outbox.renderStatus("Cannot reach the server; retrying…");
          await sleep(delay);
          delay = Math.min(delay * 2, 15000);
        }
        if (!state.current) advanceFromQueue(false);
      }
    } finally {
      state.filling = false;
    }
    if (!state.current) advanceFromQueue(false);
  }

  function preload(image) {
    const img = new Image();
    img.alt = `Image ${image.id}`;
    img.draggable = false;
    img.src = image.file_url;
    return img
      .decode()
      .catch(() => undefined)
      .then(() => img);
  }

  // ---- showing an image ----------------------------------------------------------
  function show(current) {
    pauseClock();
    state.current = current;
    activeMs = current.activeMs || 0;
    startClock();
    stage.show(current.item.img, current.item.image);
    stage.element.dataset.mode = current.source;
    state.stats.shown += 1;
    renderMode();
    renderLabels();
  }

  function advanceFromQueue(countStall = true) {
    if (state.parked) {
      const item = state.parked;
      state.parked = null;
      show(queueCurrent(item));
      return;
    }
    const item = state.buffer.shift();
    if (item) {
      state.stats.queued.push(item.image.id);
      show(queueCurrent(item));
      fill();
      return;
    }
    state.current = null;
    stage.clear();
    stage.element.dataset.imageId = "";
    if (state.exhausted) {
      stage.element.dataset.state = "done";
      showMessage("Nothing left for you in this project. Thank you!");
      renderLabels();
      refreshProgress();
      // Leases of others expire and undone labels reopen images: look again later.
      setTimeout(() => {
        if (!state.current && state.exhausted) {
          state.exhausted = false;
          fill();
        }
      }, 30000);
    } else {
      if (countStall) state.stats.stalls += 1;
      stage.element.dataset.state = "loading";
      showMessage("Loading…");
      fill();
    }
  }

  function queueCurrent(item) {
    const selected = new Set(item.suggestion ? item.suggestion.label_ids : []);
    return {
      source: "queue",
      item,
      entry: null,
      selected,
      suggestion: item.suggestion,
      activeMs: item.activeMs || 0,
    };
  }

  // ---- labels panel ----------------------------------------------------------------
  function renderLabels() {
    const current = state.current;
    const selected = current ? current.selected : new Set();
    const suggested = new Set(current && current.suggestion ? current.suggestion.label_ids : []);
    workspace.renderLabelButtons(labelBox, labels, {
      isPressed: (label) => selected.has(label.id),
      disabled: !current,
      decorate: (label, button) => {
        if (!suggested.has(label.id)) return;
        button.classList.add("suggested");
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = "suggested";
        button.append(tag);
      },
      onChoose: chooseLabel,
    });
    renderSuggestion();
    // Single-label: a label key submits; the button is there to accept a suggestion.
    $("submit-button").hidden = !multi && !(current && current.suggestion);
    $("submit-button").disabled = !current;
    $("skip-button").disabled = !current || (current.entry && current.entry.kind === "annotation");
    $("back-button").disabled = !canGoBack();
    $("forward-button").disabled = !current || current.source !== "history";
    $("undo-button").disabled = state.undo.length === 0;
  }

  function renderSuggestion() {
    const current = state.current;
    const suggestion = current && current.source === "queue" ? current.suggestion : null;
    suggestionBox.hidden = !suggestion;
    if (!suggestion) return;
    const names = suggestion.label_ids.map((id) => (labelById.get(id) || {}).name).filter(Boolean);
    const pct = Math.round(suggestion.confidence * 100);
    suggestionBox.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = "Model suggestion";
    const body = document.createElement("span");
    body.textContent = ` ${names.length ? names.join(", ") : "no label"} · ${pct}% confident (model v${suggestion.version}).`;
    const hint = document.createElement("span");
    hint.className = "muted";
    hint.textContent = " Enter accepts it; any label key overrides it.";
    suggestionBox.append(title, body, hint);
  }

  function renderMode() {
    const current = state.current;
    if (!current || current.source !== "history") {
      modeBanner.hidden = true;
      return;
    }
    const entry = current.entry;
    modeBanner.hidden = false;
    const position = state.historyIndex + 1;
    modeBanner.textContent =
      entry.kind === "skip"
        ? `Looking back (${position} back): you skipped this image${entry.reason ? ` — “${entry.reason}”` : ""}. A label key labels it.`
        : `Looking back (${position} back): your label is selected. Change it, or press → to go forward.`;
  }

  // ---- actions ------------------------------------------------------------------------
  function chooseLabel(label) {
    const current = state.current;
    if (!current) return;
    if (multi) {
      const had = current.selected.has(label.id);
      if (had) current.selected.delete(label.id);
      else current.selected.add(label.id);
      state.undo.push({ type: "toggle", current, labelId: label.id, had });
      renderLabels();
      return;
    }
    current.selected = new Set([label.id]);
    commit();
  }

  function commit() {
    const current = state.current;
    if (!current) return;
    const labelIds = [...current.selected].sort((a, b) => a - b);
    if (labelIds.length === 0) {
      flash("Choose at least one label, or skip the image.");
      return;
    }
    const imageId = current.item.image.id;
    const previous = current.entry ? { ...current.entry } : null;
    if (previous && previous.kind === "annotation" && sameIds(previous.label_ids, labelIds)) {
      goForward(); // unchanged: nothing to save
      return;
    }
    pauseClock();
    const entry = current.entry || { id: null, item: current.item };
    Object.assign(entry, { kind: "annotation", image_id: imageId, label_ids: labelIds, reason: "" });
    enqueue(
      {
        kind: "annotate",
        image: imageId,
        body: {
          image: imageId,
          labels: labelIds,
          time_spent_ms: Math.round(activeMs),
        },
      },
      entry
    );
    if (!previous) {
      remember(entry);
      bumpMine(1, 0);
    } else if (previous.kind === "skip") {
      bumpMine(1, -1);
    }
    state.undo.push({ type: "commit", entry, previous, item: current.item });
    announce(`Labelled image ${imageId}: ${labelIds.map((id) => labelById.get(id).name).join(", ")}`);
    goForward();
  }

  function remember(entry) {
    state.history.unshift(entry);
    state.history.length = Math.min(state.history.length, HISTORY_SIZE);
  }

  function skip(reason) {
    const current = state.current;
    if (!current) return;
    if (current.entry && current.entry.kind === "annotation") {
      flash("You labelled this image already: change its label instead of skipping it.");
      return;
    }
    if (current.entry && current.entry.kind === "skip") {
      goForward();
      return;
    }
    const imageId = current.item.image.id;
    pauseClock();
    const entry = { id: null, kind: "skip", image_id: imageId, label_ids: [], reason, item: current.item };
    enqueue({ kind: "skip", image: imageId, body: { image: imageId, reason } }, entry);
    remember(entry);
    state.undo.push({ type: "commit", entry, previous: null, item: current.item });
    bumpMine(0, 1);
    announce(`Skipped image ${imageId}`);
    goForward();
  }

  function goForward() {
    const current = state.current;
    if (current && current.source === "history" && state.historyIndex > 0) {
      showHistory(state.historyIndex - 1);
      return;
    }
    state.historyIndex = -1;
    advanceFromQueue();
  }

  function canGoBack() {
    const index = state.current && state.current.source === "history" ? state.historyIndex : -1;
    return index + 1 < state.history.length;
  }

  function goBack() {
    if (!canGoBack()) {
      flash("There is nothing further back.");
      return;
    }
    const current = state.current;
    if (current && current.source === "queue") {
      pauseClock();
      current.item.activeMs = activeMs;
      state.parked = current.item;
    }
    const index = current && current.source === "history" ? state.historyIndex + 1 : 0;
    showHistory(index);
  }

  function showHistory(index) {
    const entry = state.history[index];
    state.historyIndex = index;
    const item = entry.item || { image: imageOf(entry), suggestion: null };
    if (!item.img) {
      item.img = new Image();
      item.img.alt = `Image ${entry.image_id}`;
      item.img.src = entry.file_url;
      item.img.addEventListener("load", () => {
        if (state.current && state.current.item === item) show(state.current);
      }, { once: true });
      item.img.addEventListener("error", () => renewAddress(entry, item), { once: true });
    }
    entry.item = item;
    show({ source: "history", item, entry, selected: new Set(entry.label_ids), suggestion: null, activeMs: 0 });
  }

  function imageOf(entry) {
    return {
      id: entry.image_id,
      original_name: entry.image_name,
      width: entry.width,
      height: entry.height,
      file_url: entry.file_url,
    };
  }

  function undo() {
    const action = state.undo.pop();
    if (!action) {
      flash("Nothing to undo.");
      return;
    }
    if (action.type === "toggle") {
      if (action.had) action.current.selected.add(action.labelId);
      else action.current.selected.delete(action.labelId);
      if (state.current === action.current) renderLabels();
      return;
    }
    const entry = action.entry;
    if (action.previous) {
      // An edit of an earlier image: put its earlier labels (or skip) back.
      restorePrevious(entry, action.previous);
      announce(`Undone: image ${entry.image_id} is back as it was.`);
      if (state.current && state.current.entry === entry) {
        state.current.selected = new Set(entry.label_ids);
        renderMode();
      }
      renderLabels();
      return;
    }
    // A fresh label or skip: take it back and show that image again.
    withdraw(entry);
    state.history = state.history.filter((e) => e !== entry);
    bumpMine(entry.kind === "annotation" ? -1 : 0, entry.kind === "skip" ? -1 : 0);
    const current = state.current;
    if (current && current.source === "queue") {
      pauseClock();
      current.item.activeMs = activeMs;
      state.buffer.unshift(current.item);
    } else if (current && current.source === "history" && state.parked) {
      state.buffer.unshift(state.parked);
      state.parked = null;
    }
    state.historyIndex = -1;
    const item = action.item;
    const again = queueCurrent(item);
    if (entry.kind === "annotation") again.selected = new Set(entry.label_ids);
    show(again);
    announce(`Undone: image ${entry.image_id} is back.`);
  }

  function restorePrevious(entry, previous) {
    if (previous.kind === "annotation") {
      enqueue({ kind: "annotate", image: entry.image_id, body: { image: entry.image_id, labels: previous.label_ids } });
    } else {
      withdraw(entry);
      enqueue({ kind: "skip", image: entry.image_id, body: { image: entry.image_id, reason: previous.reason } }, entry);
      bumpMine(-1, 1);
    }
    Object.assign(entry, { kind: previous.kind, label_ids: previous.label_ids, reason: previous.reason });
  }

  function withdraw(entry) {
    // Sent in order after the write it takes back, so that write is on the server by then.
    enqueue({ kind: "withdraw", image: entry.image_id, what: entry.kind }, entry);
  }

  // ---- the outbox ---------------------------------------------------------------------
  /* op: {kind: annotate|skip|withdraw, image, body?, what?}; entry: the history entry it
   * writes, whose server id a later withdraw needs. op.key, its Idempotency-Key, goes with
   * every try of it (the outbox's retries, and after a reload from its stored copy): a
   * write whose answer was lost is applied once. */
  function enqueue(op, entry) {
    op.key = newIdempotencyKey();
    op.entryRef = entry;
    outbox.add(op);
  }

  async function deliver(op) {
    const entry = op.entryRef;
    const once = { idempotencyKey: op.key };
    if (op.kind === "annotate") return api("POST", data.urls.annotations, op.body, once);
    if (op.kind === "skip") return api("POST", data.urls.skips, op.body, once);
    // withdraw: needs the server's id of what it takes back; after a reload only the
    // image is known, so look the caller's own annotation or skip of it up.
    const name = op.what === "skip" ? "skip" : "annotation";
    let id = op.targetId || (entry && entry.id);
    if (!id) {
      const mine = `?image=${op.image}&annotator=${data.user}`;
      const found = await api("GET", `${data.urls[`${name}s`]}${mine}`);
      if (!found.ok) return found;
      if (!found.body.results.length) return { ok: true, status: 204 };
      id = found.body.results[0].id;
    }
    return api("DELETE", url(name, id), undefined, once);
  }

  function settle(op, result) {
    const entry = op.entryRef;
    if (!entry || !result.body) return;
    if (op.kind === "annotate" || op.kind === "skip") {
      entry.id = result.body.id;
    }
  }

  function fail(op, result) {
    const what = op.kind === "annotate" ? "label" : op.kind === "skip" ? "skip" : "undo";
    workspace.reportFailure(`Could not save the ${what} of image ${op.image}: ${detail(result)}`);
  }

  function loadOutbox() {
    try {
      const stored = JSON.parse(localStorage.getItem(outboxKey) || "[]");
      return Array.isArray(stored) ? stored.map((op) => ({ ...op, inFlight: false, entryRef: null })) : [];
    } catch (err) {
      return [];
    }
  }

  function saveOutbox(ops) {
    const plain = ops.map(({ entryRef, inFlight, ...op }) => ({
      ...op,
      targetId: op.targetId || (entryRef && entryRef.id) || undefined,
    }));
    try {
      localStorage.setItem(outboxKey, JSON.stringify(plain));
    } catch (err) {
      // Storage full or disabled: the outbox still lives in memory.
    }
  }

  // ---- time, progress, messages ------------------------------------------------------
  function startClock() {
    shownAt = document.hidden ? 0 : performance.now();
  }

  function pauseClock() {
    if (shownAt) activeMs += performance.now() - shownAt;
    shownAt = 0;
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) pauseClock();
    else if (state.current) startClock();
  });

  function bumpMine(labelled, skipped) {
    if (!state.progress) return;
    const mine = state.progress.mine;
    mine.labelled += labelled;
    mine.skipped += skipped;
    mine.remaining = Math.max(0, mine.remaining - labelled - skipped);
    renderProgress();
  }

  let progressTimer = null;
  async function refreshProgress() {
    clearTimeout(progressTimer);
    progressTimer = setTimeout(refreshProgress, 20000);
    if (outbox.ops.length) return; // counts would lag behind what is on screen
    try {
      const result = await api("GET", data.urls.progress);
      if (result.ok && !outbox.ops.length) {
        state.progress = result.body;
        renderProgress();
      }
    } catch (err) {
      // The next refresh will try again.
    }
  }

  function renderProgress() {
    const { mine, project } = state.progress;
    const myTotal = mine.labelled + mine.skipped + mine.remaining;
    $("mine-bar").style.width = `${myTotal ? (100 * (mine.labelled + mine.skipped)) / myTotal : 100}%`;
    $("mine-text").textContent = `${mine.labelled} labelled${mine.skipped ? `, ${mine.skipped} skipped` : ""}`;
    $("mine-left").textContent = `${mine.remaining} left`;
    $("project-bar").style.width = `${project.images ? (100 * project.complete) / project.images : 0}%`;
    $("project-text").textContent = `${project.complete} of ${project.images} complete`;
  }

  function sameIds(a, b) {
    return JSON.stringify([...a].sort((x, y) => x - y)) === JSON.stringify([...b].sort((x, y) => x - y));
  }

  // ---- history from earlier sessions -------------------------------------------------
  // Image addresses work for an hour at most (the server's LABELER_FILE_LINK_SECONDS): an
  // earlier image looked at long after the page opened is asked for again, at a new one.
  async function renewAddress(entry, item) {
    try {
      const result = await api("GET", data.urls.history);
      const fresh = result.ok && result.body.find((e) => e.image_id === entry.image_id);
      if (!fresh || fresh.file_url === entry.file_url) return;
      entry.file_url = fresh.file_url;
      item.image.file_url = fresh.file_url;
      item.img.src = fresh.file_url;
    } catch (err) {
      // The image stays missing until the page is reloaded.
    }
  }

  async function loadHistory() {
    try {
      const result = await api("GET", data.urls.history);
      if (!result.ok) return;
      const known = new Set(state.history.map((e) => e.image_id));
      for (const entry of result.body) {
        if (!known.has(entry.image_id)) state.history.push({ ...entry });
      }
      renderLabels();
    } catch (err) {
      // Going back only reaches this session's images then.
    }
  }

  // ---- keyboard and buttons -----------------------------------------------------------
  function openSkip() {
    if (!state.current) return;
    if (state.current.entry && state.current.entry.kind === "annotation") {
      flash("You labelled this image already: change its label instead of skipping it.");
      return;
    }
    $("skip-reason").value = "";
    skipDialog.returnValue = "";
    skipDialog.showModal();
    $("skip-reason").focus();
  }

  skipDialog.addEventListener("close", () => {
    if (skipDialog.returnValue === "skip") skip($("skip-reason").value.trim());
  });
  for (const button of skipDialog.querySelectorAll("[data-reason]")) {
    button.addEventListener("click", () => {
      $("skip-reason").value = button.dataset.reason;
      skipDialog.close("skip");
    });
  }

  // Enter, Space and the arrows drive the queue; Ctrl+Z undoes.
  workspace.listenForShortcuts({
    stage,
    labelByKey,
    chooseLabel,
    withModifier: (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "z") {
        event.preventDefault();
        undo();
      }
    },
    pageKey: (key) => {
      if (key === "Enter") {
        commit();
      } else if (key === " " || key === "Spacebar") {
        openSkip();
      } else if (key === "ArrowLeft" || key === "Backspace") {
        goBack();
      } else if (key === "ArrowRight") {
        if (state.current && state.current.source === "history") goForward();
      } else {
        return false;
      }
      return true;
    },
  });

  $("submit-button").addEventListener("click", commit);
  $("skip-button").addEventListener("click", openSkip);
  $("back-button").addEventListener("click", goBack);
  $("forward-button").addEventListener("click", goForward);
  $("undo-button").addEventListener("click", undo);
  $("instructions-button").addEventListener("click", () => $("instructions-dialog").showModal());
  workspace.setUpHelp(labels);
  workspace.keepKeysForShortcuts(".panel");

  // Exposed for the page's own tests and for debugging in the console.
  window.labeler = { state, outbox: () => outbox.ops.slice(), stats: state.stats };

  renderLabels();
  outbox.renderStatus();
  refreshProgress();
  loadHistory();
  fill();
  outbox.send();
})();
