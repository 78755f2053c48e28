/* What the labelling workspace (label.js) and the review queue (review.js) share.
 *
 * Both pages show one image at a time on the same stage (#stage, #stage-frame, the zoom
 * buttons, #stage-message, #stage-info), choose labels with their hotkeys, and send their
 * writes through an outbox that keeps trying in the background. This classic script is
 * loaded before either page's own; it only defines window.labelerWorkspace and touches the
 * page when a page asks it to.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  // Many labels: the stylesheet packs their buttons tighter.
  const MANY_LABELS = 6;

  // ---- page data and requests ----------------------------------------------------------
  /** The page's json_script data, and its labels by id and by (lower-case) hotkey. */
  function readPageData(scriptId) {
    const data = JSON.parse($(scriptId).textContent);
    const labels = data.labels;
    return {
      data,
      labels,
      labelById: new Map(labels.map((l) => [l.id, l])),
      labelByKey: new Map(labels.filter((l) => l.hotkey).map((l) => [l.hotkey.toLowerCase(), l])),
    };
  }

  /**
   * A JSON request to the API; resolves to {status, ok, body} and rejects only on no answer.
   * A write sent with an idempotencyKey is applied once however often it is sent again.
   */
  async function api(method, path, body, { idempotencyKey } = {}) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...(method !== "GET" ? { "X-CSRFToken": csrf } : {}),
        ...(idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    let payload = null;
    if (response.status !== 204) {
      try {
        payload = await response.json();
      } catch (err) {
        payload = null;
      }
    }
    return { status: response.status, ok: response.ok, body: payload };
  }

  /** A new Idempotency-Key: random, so that no other write of this user (another tab,
   * another device) ever shares it. */
  function newIdempotencyKey() {
    if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Why a request failed, in words: the server's detail, else its status. */
  function detail(result) {
    if (result.body && result.body.detail) return String(result.body.detail);
    return result.status ? `HTTP ${result.status}` : "the server cannot be reached";
  }

  // ---- the outbox ------------------------------------------------------------------------
  /**
   * Writes sent one at a time, in order, in the background, so the next image can show
   * while the last one is saved. A write that gets no answer, a 5xx, 408 or 429 is retried
   * with a growing wait (at once when the browser comes back online), so nothing is dropped
   * silently; one the server refuses (any other 4xx) leaves the queue through onRefused,
   * which shows it. The save status says how many writes are waiting, and leaving the page
   * while any are asks first.
   *
   * deliver(op) makes op's request and resolves to api()'s result; isDone(op, result) says
   * whether it went through. onSent(op, result) and onRefused(op, result) see each op as it
   * leaves; onChange(ops) follows every change to the queue (to keep a copy of it); onIdle()
   * runs when the queue has emptied. stats.sent and stats.retries are counted up.
   */
  function createOutbox({
    ops = [],
    deliver,
    isDone = (op, result) => result.ok,
    onSent,
    onRefused,
    onChange,
    onIdle,
    stats,
    status,
  }) {
    let sending = false;
    let retryNow = null; // while waiting to retry: ends the wait

    const changed = () => onChange && onChange(ops);

    function add(op) {
      op.attempts = 0;
      ops.push(op);
      changed();
      renderStatus();
      send();
    }

    async function send() {
      if (sending) return;
      sending = true;
      try {
        while (ops.length) {
          const op = ops[0];
          op.inFlight = true;
          let result;
          try {
            result = await deliver(op);
          } catch (err) {
            result = { status: 0 };
          }
          op.inFlight = false;
          if (isDone(op, result)) {
            ops.shift();
            stats.sent += 1;
            if (onSent) onSent(op, result);
            changed();
            renderStatus();
            continue;
          }
          if (result.status >= 400 && result.status < 500 && result.status !== 408 && result.status !== 429) {
            ops.shift();
            changed();
            if (onRefused) onRefused(op, result);
            renderStatus();
            continue;
          }
          op.attempts += 1;
          stats.retries += 1;
          const wait = Math.min(1000 * 2 ** (op.attempts - 1), 30000);
          renderStatus(`Not saved yet — retrying in ${Math.round(wait / 1000)} s (${ops.length} waiting)`);
          await new Promise((resolve) => {
            const timer = setTimeout(resolve, wait);
            retryNow = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          retryNow = null;
        }
      } finally {
        sending = false;
      }
      if (onIdle) onIdle();
    }

    /** The save status: an error text when given, else how many writes are waiting. */
    function renderStatus(text) {
      const waiting = ops.length;
      if (text) {
        status.dataset.state = "error";
        status.textContent = text;
      } else if (waiting === 0) {
        status.dataset.state = "idle";
        status.textContent = "All saved";
      } else {
        status.dataset.state = "saving";
        status.textContent = `Saving ${waiting}…`;
      }
      status.dataset.waiting = String(waiting);
    }

    window.addEventListener("beforeunload", (event) => {
      if (ops.length) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    // Back online: retry now rather than at the end of the wait. (Only clearing the
    // timer would leave the loop waiting for good, and send() returns while it runs.)
    window.addEventListener("online", () => {
      if (retryNow) retryNow();
    });

    return { ops, add, send, renderStatus };
  }

  // ---- the stage: the image, its zoom, and messages over it --------------------------------
  const ZOOM_KEYS = new Map([
    ["+", 1],
    ["-", -1],
    ["=", 0],
  ]);

  /**
   * The image on screen in #stage-frame, zoomed and panned with Panzoom (the mouse wheel,
   * drag, the +/−/Fit buttons or the keys + - =), a message over it and a line about it.
   * isShowing() tells flash() whether an image is up, so that its message clears again.
   */
  function createStage({ isShowing }) {
    const stage = $("stage");
    const frame = $("stage-frame");
    const message = $("stage-message");
    const info = $("stage-info");
    let panzoom = null;
    let flashTimer = null;

    function show(img, image) {
      frame.replaceChildren(img);
      // Tiny images scale up with sharp pixels rather than blurred; a loading one once it is in.
      img.classList.toggle("pixelated", img.naturalWidth > 0 && img.naturalWidth < 128);
      if (!img.complete) img.addEventListener("load", () => img.classList.toggle("pixelated", img.naturalWidth < 128), { once: true });
      setUpZoom(img);
      stage.dataset.state = "ready";
      stage.dataset.imageId = String(image.id);
      message.textContent = "";
      info.textContent = `#${image.id} · ${image.original_name || ""} · ${image.width}×${image.height}`;
    }

    function clear() {
      frame.replaceChildren();
    }

    function setUpZoom(img) {
      if (panzoom) panzoom.destroy();
      panzoom = null;
      if (!window.Panzoom) return;
      panzoom = window.Panzoom(img, { maxScale: 12, minScale: 0.5, contain: null, cursor: "grab" });
    }

    /** direction: 1 in, -1 out, 0 back to fit. */
    function zoom(direction) {
      if (!panzoom) return;
      if (direction === 0) panzoom.reset({ animate: false });
      else if (direction > 0) panzoom.zoomIn();
      else panzoom.zoomOut();
    }

    /** Zooms when key is + - or =; says whether it was. */
    function zoomKey(key) {
      if (!ZOOM_KEYS.has(key)) return false;
      zoom(ZOOM_KEYS.get(key));
      return true;
    }

    function showMessage(text) {
      message.textContent = text;
    }

    /** A short message over the image, the stage flashing to catch the eye. */
    function flash(text) {
      showMessage(text);
      stage.classList.add("flash");
      clearTimeout(flashTimer);
      flashTimer = setTimeout(() => {
        stage.classList.remove("flash");
        if (isShowing()) showMessage("");
      }, 1800);
    }

    $("zoom-in").addEventListener("click", () => zoom(1));
    $("zoom-out").addEventListener("click", () => zoom(-1));
    $("zoom-reset").addEventListener("click", () => zoom(0));
    frame.addEventListener("wheel", (event) => panzoom && panzoom.zoomWithWheel(event), { passive: false });

    return { element: stage, info, show, clear, zoom, zoomKey, showMessage, flash };
  }

  // ---- labels, keys, help, messages ----------------------------------------------------------
  /**
   * One button per label in box: its colour, hotkey and name. isPressed(label) marks the
   * chosen ones, decorate(label, button) adds the page's own tags, a click calls onChoose(label).
   */
  function renderLabelButtons(box, labels, { isPressed, disabled, decorate, onChoose }) {
    box.replaceChildren(
      ...labels.map((label) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "label-button";
        button.dataset.labelId = String(label.id);
        button.style.setProperty("--label-color", label.color);
        button.setAttribute("aria-pressed", isPressed(label) ? "true" : "false");
        button.disabled = disabled;
        const key = document.createElement("kbd");
        key.textContent = label.hotkey || "";
        const name = document.createElement("span");
        name.className = "label-name";
        name.textContent = label.name;
        button.append(key, name);
        if (decorate) decorate(label, button);
        button.addEventListener("click", () => onChoose(label));
        return button;
      })
    );
    box.classList.toggle("many", labels.length > MANY_LABELS);
  }

  /**
   * The page's keyboard shortcuts. Keys typed into a field, or pressed while a dialog is open
   * (dialogs handle their own Enter and Escape), are not shortcuts. withModifier(event) sees
   * keys pressed with Ctrl, Meta or Alt; pageKey(key, event) takes the page's own keys and
   * says whether it used one; then come the keys both pages share: + - = zoom, ? opens the
   * help, and a label's hotkey calls chooseLabel with it.
   */
  function listenForShortcuts({ stage, labelByKey, chooseLabel, pageKey, withModifier }) {
    document.addEventListener("keydown", (event) => {
      if (document.querySelector("dialog[open]")) return;
      const target = event.target;
      // A field takes its own keys, unless it sits in a dialog that has just closed and
      // still holds the focus for a moment.
      const inField = target instanceof HTMLElement && target.closest("input, textarea, select");
      if (inField && !target.closest("dialog:not([open])")) return;
      if (event.ctrlKey || event.metaKey || event.altKey) {
        if (withModifier) withModifier(event);
        return;
      }
      const key = event.key;
      let handled = true;
      if (pageKey(key, event)) {
        // the page's own
      } else if (stage.zoomKey(key)) {
        // zoomed
      } else if (key === "?") {
        $("help-dialog").showModal();
      } else if (key.length === 1 && labelByKey.has(key.toLowerCase())) {
        chooseLabel(labelByKey.get(key.toLowerCase()));
      } else {
        handled = false;
      }
      if (handled) event.preventDefault();
    });
  }

  /**
   * Clicked buttons in these areas give their focus up at once: Enter and Space belong to
   * the page's shortcuts, not to the last button clicked.
   */
  function keepKeysForShortcuts(selector) {
    for (const area of document.querySelectorAll(selector)) {
      area.addEventListener("mouseup", () => document.activeElement.blur());
    }
  }

  /** The ? button opens the shortcuts dialog, which lists the labels' hotkeys. */
  function setUpHelp(labels) {
    $("help-button").addEventListener("click", () => $("help-dialog").showModal());
    $("help-label-keys").replaceChildren(
      ...labels.filter((l) => l.hotkey).map((l) => {
        const k = document.createElement("kbd");
        k.textContent = l.hotkey;
        k.title = l.name;
        return k;
      })
    );
  }

  /** A line in #failures, which stays on screen: what could not be saved, and why. */
  function reportFailure(text) {
    const failures = $("failures");
    failures.hidden = false;
    const line = document.createElement("p");
    line.textContent = text;
    failures.append(line);
  }

  /** A function that reads a text out to screen readers (a polite live region). */
  function createAnnouncer() {
    const live = document.createElement("div");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    document.body.append(live);
    return (text) => {
      live.textContent = text;
    };
  }

  window.labelerWorkspace = {
    readPageData,
    api,
    newIdempotencyKey,
    sleep,
    detail,
    createOutbox,
    createStage,
    renderLabelButtons,
    listenForShortcuts,
    keepKeysForShortcuts,
    setUpHelp,
    reportFailure,
    createAnnouncer,
  };
})();
