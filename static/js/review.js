/* The review queue.
 *
 * Items come from review/ a page at a time, most uncertain first, and the images of the
 * next ones are decoded ahead, so the next item shows at once. A decision (Enter, or G
 * for gold) is sent in the background, in order, while the next item shows: a refused
 * one comes back to the front of the queue with the reason, a failed request is retried
 * with backoff. Skipped items stay in the queue and come back once the rest is done.
 */
(() => {
  "use strict";

  const workspace = window.labelerWorkspace;
  const { api, sleep, detail } = workspace;
  const { data, labels, labelById, labelByKey } = workspace.readPageData("review-data");
  const multi = data.project.multi_label;
  const PAGE = 50; // items per request
  const AHEAD = 2; // images decoded beyond the one on screen
  const HUMAN = new Set(["adjudicated", "gold"]);
  const REASONS = {
    tie: { title: "Tie", plural: "ties", text: "The annotators split evenly." },
    disagreement: {
      title: "Disagreement",
      plural: "disagreements",
      text: "Not every annotator gave the same label.",
    },
    low_confidence: {
      title: "Low confidence",
      plural: "low-confidence images",
      text: `The consensus is below the ${pct(data.project.review_threshold)} threshold.`,
    },
  };

  const $ = (id) => document.getElementById(id);
  const labelBox = $("labels");
  const goldButton = $("gold-button");

  const state = {
    reason: "",
    items: [], // queue items waiting to be shown, in queue order
    current: null, // {item, selected: Set}
    trail: [], // items shown and left behind (decided or skipped), oldest first
    backIndex: -1, // position in trail while looking back; -1 at the queue
    parked: null, // the queue item set aside while looking back
    skipped: new Set(),
    decided: new Set(), // image ids decided in this session
    count: 0, // items left for the filter, as the server counted them
    counts: null,
    exhausted: false,
    filling: false,
    generation: 0, // bumps when the filter changes: answers for an older one are dropped
    stats: { shown: 0, stalls: 0, sent: 0, retries: 0 },
  };
  const stage = workspace.createStage({ isShowing: () => !!state.current });
  const { showMessage, flash } = stage;
  const announce = workspace.createAnnouncer();
  // Decisions live only in memory: leaving the page with some unsent asks first.
  const outbox = workspace.createOutbox({
    deliver: (op) => api("POST", data.urls.decisions, { image: op.item.image.id, labels: op.labelIds, method: op.method }),
    onSent: (op, result) => {
      op.item.final_label = result.body;
      op.item.decision = null;
      op.item.history = null; // the decision is part of it now
      if (state.current && state.current.item === op.item) {
        render();
        loadHistory(op.item);
      }
    },
    onRefused: refused,
    stats: state.stats,
    status: $("save-status"),
  });
  let recheckTimer = null;

  const itemUrl = (id) => data.urls.item.replace(data.slot, String(id));

  // ---- the queue ---------------------------------------------------------------------
  function queueUrl() {
    const reason = state.reason ? `&reason=${state.reason}` : "";
    return `${data.urls.queue}?page_size=${PAGE}${reason}`;
  }

  function knownIds() {
    // Items left behind are decided or skipped: once skips are cleared they come back.
    const ids = new Set([...state.decided, ...state.skipped]);
    for (const item of state.items) ids.add(item.image.id);
    if (state.current) ids.add(state.current.item.image.id);
    if (state.parked) ids.add(state.parked.image.id);
    return ids;
  }

  function waiting() {
    return state.items.filter((item) => !state.decided.has(item.image.id) && !state.skipped.has(item.image.id));
  }

  /* Decided items leave the server's queue, so pages shift: walk from the first page
   * until a page brings items not seen yet, or the queue ends. */
  async function fill() {
    if (state.filling || state.exhausted) return;
    state.filling = true;
    const generation = state.generation;
    let delay = 500;
    try {
      let url = queueUrl();
      while (url) {
        let result;
        try {
          result = await api("GET", url);
        } catch (err) {
          result = { status: 0 };
        }
        if (generation !== state.generation) return;
        if (!result.ok) {
          if (result.status >= 400 && result.status < 500) {
            showMessage(`The review queue refused: ${detail(result)}`);
            state.exhausted = true;
            return;
          }
          outbox.renderStatus("Cannot reach the server; retrying…");
          await sleep(delay);
          delay = Math.min(delay * 2, 15000);
          continue;
        }
        setCounts(result.body);
        const known = knownIds();
        const fresh = result.body.results.filter((item) => !known.has(item.image.id));
        state.items.push(...fresh);
        url = result.body.next;
        if (fresh.length) break;
      }
      if (!url) state.exhausted = true;
    } finally {
      if (generation === state.generation) state.filling = false;
    }
    outbox.renderStatus();
    preloadAhead();
    if (!state.current) advance();
  }

  function setCounts(body) {
    // Decisions still on their way are not in the server's counts yet.
    const pending = outbox.ops.filter((op) => op.counted);
    state.counts = { ...body.reasons };
    for (const op of pending) if (state.counts[op.reason] > 0) state.counts[op.reason] -= 1;
    const mine = pending.filter((op) => !state.reason || op.reason === state.reason).length;
    state.count = Math.max(0, body.count - mine);
    renderCounts();
  }

  function preloadAhead() {
    for (const item of waiting().slice(0, AHEAD)) ensureImage(item);
  }

  function ensureImage(item) {
    if (item.img) return item.img;
    const img = new Image();
    img.alt = `Image ${item.image.id}${item.image.original_name ? `: ${item.image.original_name}` : ""}`;
    img.draggable = false;
    img.src = item.image.file_url;
    img.decode().catch(() => undefined);
    item.img = img;
    return img;
  }

  // ---- moving through ------------------------------------------------------------------
  function advance() {
    if (state.parked) {
      const item = state.parked;
      state.parked = null;
      show(item);
      return;
    }
    let item = state.items.shift();
    while (item && (state.decided.has(item.image.id) || state.skipped.has(item.image.id))) {
      item = state.items.shift();
    }
    if (item) {
      show(item);
      if (waiting().length < AHEAD + 2) fill();
      return;
    }
    state.current = null;
    stage.clear();
    stage.element.dataset.imageId = "";
    if (state.exhausted && !state.filling) {
      showEmpty();
    } else {
      state.stats.stalls += 1;
      stage.element.dataset.state = "loading";
      showMessage("Loading…");
      fill();
    }
    render();
  }

  function show(item) {
    const decision = localDecision(item);
    let selected = [];
    if (decision) selected = decision.label_ids;
    else if (item.consensus) selected = item.consensus.label_ids;
    state.current = { item, selected: new Set(selected) };
    $("empty").hidden = true;
    const image = item.image;
    stage.show(ensureImage(item), image);
    stage.element.dataset.looking = state.backIndex >= 0 ? "back" : "queue";
    state.stats.shown += 1;
    const query = new URLSearchParams(window.location.search);
    query.set("image", String(image.id));
    window.history.replaceState(null, "", `${window.location.pathname}?${query}`);
    render();
    loadHistory(item);
  }

  function leave() {
    // The item on screen is done with (decided or skipped): keep it to come back to.
    const item = state.current.item;
    if (state.backIndex >= 0) {
      goForward();
      return;
    }
    if (!state.trail.includes(item)) state.trail.push(item);
    advance();
  }

  function goForward() {
    if (state.backIndex >= 0 && state.backIndex + 1 < state.trail.length) {
      state.backIndex += 1;
      show(state.trail[state.backIndex]);
      return;
    }
    state.backIndex = -1;
    advance();
  }

  function goBack() {
    const from = state.backIndex >= 0 ? state.backIndex : state.trail.length;
    if (from <= 0) {
      flash("There is nothing further back.");
      return;
    }
    if (state.backIndex < 0 && state.current) state.parked = state.current.item;
    state.backIndex = from - 1;
    show(state.trail[state.backIndex]);
  }

  function skip() {
    const current = state.current;
    if (!current) return;
    const id = current.item.image.id;
    if (state.backIndex < 0 && !state.decided.has(id)) {
      state.skipped.add(id);
      announce(`Skipped image ${id}; it comes back once the rest is done.`);
    }
    leave();
  }

  // ---- deciding -----------------------------------------------------------------------
  function chooseLabel(label) {
    const current = state.current;
    if (!current) return;
    if (multi) {
      if (current.selected.has(label.id)) current.selected.delete(label.id);
      else current.selected.add(label.id);
    } else {
      current.selected = new Set([label.id]);
    }
    renderLabels();
    announce(`Selected: ${names([...current.selected]) || "nothing"}`);
  }

  function decide(method) {
    const current = state.current;
    if (!current) return;
    if (method === "gold" && !data.can_gold) return;
    const labelIds = [...current.selected].sort((a, b) => a - b);
    if (!labelIds.length) {
      flash(multi ? "Select at least one label (its key), then Enter." : "Select a label (its key), then Enter.");
      return;
    }
    const item = current.item;
    const id = item.image.id;
    const counted = !!item.reason && !state.decided.has(id) && !isHuman(item.final_label);
    state.decided.add(id);
    state.skipped.delete(id);
    item.decision = { label_ids: labelIds, method, pending: true };
    if (counted) bumpCount(item.reason, -1);
    outbox.add({ item, method, labelIds, counted, reason: item.reason });
    announce(`Decided image ${id}: ${names(labelIds)}${method === "gold" ? " (gold)" : ""}.`);
    leave();
  }

  function bumpCount(reason, by) {
    state.count = Math.max(0, state.count + (!state.reason || state.reason === reason ? by : 0));
    if (state.counts && reason in state.counts) state.counts[reason] = Math.max(0, state.counts[reason] + by);
    renderCounts();
  }

  function refused(op, result) {
    const item = op.item;
    const id = item.image.id;
    item.decision = null;
    state.decided.delete(id);
    if (op.counted) bumpCount(op.reason, 1);
    const text = `The decision on image ${id} was refused: ${detail(result)}`;
    workspace.reportFailure(text);
    const onScreen = state.current && state.current.item === item;
    if (!onScreen && item.reason) {
      state.items.unshift(item); // back to the front of the queue
      if (!state.current) advance();
    }
    if (onScreen) render();
    announce(text);
  }

  function localDecision(item) {
    if (item.decision) return item.decision;
    return isHuman(item.final_label) ? item.final_label : null;
  }

  function isHuman(final) {
    return !!final && HUMAN.has(final.method);
  }

  // ---- rendering ----------------------------------------------------------------------
  function render() {
    document.querySelector(".rv-panel").dataset.empty = state.current ? "false" : "true";
    renderReason();
    renderVotes();
    renderFacts();
    renderLabels();
    renderCounts();
    renderHistory();
  }

  function renderReason() {
    const box = $("reason");
    const item = state.current && state.current.item;
    box.replaceChildren();
    box.hidden = !item;
    if (!item) return;
    const decision = localDecision(item);
    const title = document.createElement("strong");
    const text = document.createElement("span");
    if (decision) {
      box.dataset.reason = "decided";
      title.textContent = decision.method === "gold" ? "Gold" : "Decided";
      const by = decision.decided_by ? ` by ${decision.decided_by}` : "";
      text.textContent = `${names(decision.label_ids)}${by}${decision.pending ? " (saving…)" : ""}. Enter changes the decision.`;
    } else if (item.reason) {
      box.dataset.reason = item.reason;
      title.textContent = REASONS[item.reason].title;
      text.textContent = REASONS[item.reason].text;
    } else {
      box.dataset.reason = "none";
      title.textContent = "Not in the queue";
      text.textContent = "The annotators agree, or the image still waits for labels.";
    }
    box.append(title, text);
  }

  function renderVotes() {
    const list = $("votes");
    const item = state.current && state.current.item;
    if (!item) {
      list.replaceChildren();
      return;
    }
    if (!item.annotations.length) {
      const none = document.createElement("li");
      none.className = "muted";
      none.textContent = "Nobody labelled this image yet.";
      list.replaceChildren(none);
      return;
    }
    list.replaceChildren(
      ...item.annotations.map((a) => {
        const row = document.createElement("li");
        const who = document.createElement("span");
        who.className = "rv-user";
        who.textContent = a.username;
        const chips = document.createElement("span");
        chips.className = "rv-chips";
        chips.append(...chipsFor(a.label_ids));
        const when = document.createElement("time");
        when.dateTime = a.updated_at;
        when.title = new Date(a.updated_at).toLocaleString();
        when.textContent = ago(a.updated_at);
        row.append(who, chips, when);
        return row;
      })
    );
  }

  // ---- the image's history ------------------------------------------------------------------
  const CHANGES = {
    annotation_created: "labelled",
    annotation_changed: "changed their label",
    annotation_withdrawn: "took their label back",
    final_set: "set the final label",
    final_cleared: "cleared the final label",
  };
  const historyUrl = (id) => data.urls.history.replace(data.slot, String(id));

  /** Fetch the item's history once (again after a decision of ours, or after a failure),
   *  then show it; of two requests in flight, only the later one's answer is kept. */
  async function loadHistory(item) {
    if (!item.history || item.history.error) {
      const asked = (item.historyAsked = (item.historyAsked || 0) + 1);
      const result = await api("GET", historyUrl(item.image.id)).catch(() => ({ status: 0 }));
      if (asked !== item.historyAsked) return; // a later request answers instead
      item.history = result.ok ? result.body : { error: detail(result) };
    }
    if (state.current && state.current.item === item) renderHistory();
  }

  function renderHistory() {
    const list = $("history");
    const item = state.current && state.current.item;
    const history = item && item.history;
    list.dataset.state = history ? (history.error ? "error" : "ready") : "loading";
    if (!history || history.error || !history.length) {
      const line = document.createElement("li");
      line.className = "muted";
      line.textContent = !item ? "" : !history ? "Loading…" : history.error ? `Cannot load the history: ${history.error}` : "No changes yet.";
      list.replaceChildren(line);
      return;
    }
    list.replaceChildren(...history.slice().reverse().map(historyRow));
  }

  function historyRow(change) {
    const row = document.createElement("li");
    row.dataset.kind = change.kind;
    const head = document.createElement("div");
    head.className = "rv-history-head";
    const final = change.kind.startsWith("final");
    const who = tag(change.changed_by_username || "System", "rv-user");
    const how = final ? ` (${methodName(change.method)}${change.model_version ? ", model's labels" : ""})` : "";
    const when = document.createElement("time");
    when.dateTime = change.created_at;
    when.title = new Date(change.created_at).toLocaleString();
    when.textContent = ago(change.created_at);
    head.append(who, note(`${CHANGES[change.kind] || change.kind}${how}`), when);
    const labelsChange = document.createElement("div");
    labelsChange.className = "rv-history-change";
    const from = change.from_label_ids.length ? chipsFor(change.from_label_ids) : [note("nothing")];
    const to = change.to_label_ids.length ? chipsFor(change.to_label_ids) : [note("nothing")];
    labelsChange.append(...from, tag("→", "rv-arrow"), ...to);
    row.append(head, labelsChange);
    return row;
  }

  function renderFacts() {
    const item = state.current && state.current.item;
    const consensus = $("consensus");
    consensus.replaceChildren();
    if (!item || !item.consensus) {
      consensus.textContent = item && item.annotations.length ? "Not decided yet" : "—";
    } else if (!item.consensus.label_ids.length) {
      consensus.textContent = "No label has a majority";
    } else {
      consensus.append(...chipsFor(item.consensus.label_ids), figure(item.consensus.confidence, methodName(item.consensus.method)));
    }
    const suggestion = item && item.suggestion;
    $("model-row").hidden = !suggestion;
    if (suggestion) {
      $("model").replaceChildren(...chipsFor(suggestion.label_ids), figure(suggestion.confidence, `model v${suggestion.version}`));
    }
    const final = item && item.final_label;
    $("final-row").hidden = !final;
    if (final) {
      const by = final.decided_by ? ` by ${final.decided_by}` : "";
      $("final").replaceChildren(...chipsFor(final.label_ids), note(`${final.method}${by}`));
    }
  }

  function renderLabels() {
    const current = state.current;
    const item = current && current.item;
    const votes = new Map();
    for (const a of item ? item.annotations : []) for (const id of a.label_ids) votes.set(id, (votes.get(id) || 0) + 1);
    const suggested = new Set(item && item.suggestion ? item.suggestion.label_ids : []);
    workspace.renderLabelButtons(labelBox, labels, {
      isPressed: (label) => current && current.selected.has(label.id),
      disabled: !current,
      decorate: (label, button) => {
        const n = votes.get(label.id);
        if (n) button.append(tag(`${n} vote${n > 1 ? "s" : ""}`, "rv-votes-tag"));
        if (suggested.has(label.id)) button.append(tag("model", "tag"));
      },
      onChoose: chooseLabel,
    });
    $("decide-button").disabled = !current;
    if (goldButton) goldButton.disabled = !current;
    $("skip-button").disabled = !current;
    $("skip-button").textContent = state.backIndex >= 0 ? "Forward →" : "Skip →";
    $("back-button").disabled = (state.backIndex >= 0 ? state.backIndex : state.trail.length) <= 0;
  }

  function renderCounts() {
    const counts = state.counts;
    for (const badge of document.querySelectorAll("[data-count]")) {
      const reason = badge.dataset.count;
      if (!counts) continue;
      badge.textContent = String(reason === "all" ? Object.values(counts).reduce((a, b) => a + b, 0) : counts[reason]);
    }
    const left = state.counts ? state.count : null;
    $("left-count").textContent = left === null ? "…" : String(left);
    const what = state.reason ? REASONS[state.reason].plural : "images";
    $("left-text").textContent = `${what} left to review`;
  }

  function showEmpty() {
    stage.element.dataset.state = "empty";
    showMessage("");
    stage.info.textContent = "";
    const skipped = state.skipped.size;
    $("empty").hidden = false;
    $("again").hidden = !skipped;
    $("show-all").hidden = !state.reason || !!skipped;
    if (skipped) {
      $("empty-title").textContent = "Only skipped images are left";
      $("empty-text").textContent = `You skipped ${skipped} image${skipped > 1 ? "s" : ""}. Look at them again, or come back later.`;
    } else if (state.reason) {
      $("empty-title").textContent = `No ${REASONS[state.reason].plural} to review`;
      $("empty-text").textContent = "Other reasons may still have images waiting.";
    } else {
      $("empty-title").textContent = "All agreed — nothing to review";
      $("empty-text").textContent = "New disagreements show up here as annotators label.";
    }
    const query = new URLSearchParams(window.location.search);
    query.delete("image");
    const rest = query.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${rest ? `?${rest}` : ""}`);
    clearTimeout(recheckTimer);
    recheckTimer = setTimeout(() => {
      if (!state.current && !state.filling) {
        state.exhausted = false;
        fill();
      }
    }, 30000);
  }

  function chipsFor(ids) {
    return ids.map((id) => {
      const label = labelById.get(id) || { name: `label ${id}`, color: "#7f7f7f" };
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.style.setProperty("--label-color", label.color);
      chip.textContent = label.name;
      return chip;
    });
  }

  function figure(confidence, source) {
    return note(confidence === null || confidence === undefined ? source : `${pct(confidence)} · ${source}`);
  }

  function note(text) {
    const span = document.createElement("span");
    span.className = "rv-note";
    span.textContent = text;
    return span;
  }

  function tag(text, className) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  }

  function names(ids) {
    return ids.map((id) => (labelById.get(id) || { name: `label ${id}` }).name).join(", ");
  }

  function methodName(method) {
    return method === "dawid_skene" ? "Dawid-Skene" : method;
  }

  function pct(value) {
    return `${Math.round(value * 100)}%`;
  }

  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  function ago(iso) {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    const steps = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];
    let value = seconds;
    for (const [size, unit] of steps) {
      if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
      value /= size;
    }
    return "";
  }

  // ---- filter ---------------------------------------------------------------------------
  function setReason(reason) {
    if (reason === state.reason && state.current) return;
    state.reason = reason;
    state.generation += 1;
    state.filling = false;
    state.exhausted = false;
    state.items = [];
    state.skipped.clear();
    state.parked = null;
    state.backIndex = -1;
    state.current = null;
    for (const button of document.querySelectorAll(".rv-filter button")) {
      button.setAttribute("aria-pressed", button.dataset.reason === reason ? "true" : "false");
    }
    stage.clear();
    stage.element.dataset.state = "loading";
    $("empty").hidden = true;
    showMessage("Loading…");
    render();
    fill();
  }

  // ---- keyboard and buttons -----------------------------------------------------------
  // Enter decides, G marks as gold, the arrows and Space move along the queue.
  workspace.listenForShortcuts({
    stage,
    labelByKey,
    chooseLabel,
    pageKey: (key, event) => {
      // Enter or Space on a focused button or link is for that button or link.
      const activation = key === "Enter" || key === " ";
      if (activation && event.target instanceof HTMLElement && event.target.closest("button, a")) return false;
      if (key === "Enter") decide("adjudicated");
      else if (key === "G" && data.can_gold) decide("gold");
      else if (key === "g" && data.can_gold && !labelByKey.has("g")) decide("gold");
      else if (key === "ArrowRight" || key === " " || key === "Spacebar") skip();
      else if (key === "ArrowLeft" || key === "Backspace") goBack();
      else return false;
      return true;
    },
  });

  $("decide-button").addEventListener("click", () => decide("adjudicated"));
  if (goldButton) goldButton.addEventListener("click", () => decide("gold"));
  $("skip-button").addEventListener("click", skip);
  $("back-button").addEventListener("click", goBack);
  workspace.setUpHelp(labels);
  $("show-all").addEventListener("click", () => setReason(""));
  $("again").addEventListener("click", () => {
    state.skipped.clear();
    state.items = [];
    state.exhausted = false;
    $("empty").hidden = true;
    fill();
  });
  for (const button of document.querySelectorAll(".rv-filter button")) {
    button.addEventListener("click", () => setReason(button.dataset.reason));
  }
  workspace.keepKeysForShortcuts(".panel, .rv-bar, .rv-empty");

  // Exposed for the page's own tests and for debugging in the console.
  window.reviewer = { state, outbox: () => outbox.ops.slice(), stats: state.stats };

  async function start() {
    render();
    const linked = new URLSearchParams(window.location.search).get("image");
    if (linked && /^\d{1,18}$/.test(linked)) {
      const result = await api("GET", itemUrl(linked)).catch(() => ({ status: 0 }));
      if (result.ok) show(result.body);
      else flash(`Image ${linked} cannot be shown: ${detail(result)}`);
    }
    fill();
  }

  start();
})();
