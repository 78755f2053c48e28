/* The review queue's panel about the item on screen: why it is in the queue, who said
 * what, the consensus, the model's and the final label, and the image's history.
 */
import { request, errorMessage } from "../lib/api.js";
import { $, el, fill } from "../lib/dom.js";
import { ago, percent, timeTag } from "../lib/format.js";
import { chips, labelNames } from "../lib/labels.js";
import { REASON as DUPLICATES, renderDuplicates } from "./duplicates.js";

// Final labels people set; the others are the consensus's or the model's, and may change.
const HUMAN = new Set(["adjudicated", "gold"]);
const CHANGES = {
  annotation_created: "labelled",
  annotation_changed: "changed their label",
  annotation_withdrawn: "took their label back",
  final_set: "set the final label",
  final_cleared: "cleared the final label",
};

export const isHuman = (final) => !!final && HUMAN.has(final.method);

/** The decision on an item: this session's (pending or sent), else a person's final label. */
export function localDecision(item) {
  if (item.decision) return item.decision;
  return isHuman(item.final_label) ? item.final_label : null;
}

const REQUEST_REASONS = {
  requested: "A lead sent it to review",
  model_disagrees: "The model disagrees with the final label",
  duplicate_labels_differ: "Near-duplicates of it are labelled differently",
};

function describeDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  const parts = Object.entries(detail).map(([key, value]) => {
    const shown = typeof value === "object" ? JSON.stringify(value) : String(value);
    return `${key.replaceAll("_", " ")}: ${shown}`;
  });
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** A near-duplicate group's labels in words, when its thumbnails cannot be shown (the
 *  group has changed since the request): "#12: car; #15: bus". */
function describeGroup(request) {
  if (request.group_images && request.group_images.length) return "";
  const labels = request.detail && request.detail.labels;
  if (!labels || typeof labels !== "object") return "";
  const parts = Object.entries(labels).map(([id, names]) => `#${id}: ${[].concat(names).join(", ") || "(none)"}`);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

/** One open review request in words: its reason, who sent it, and its detail (a
 *  near-duplicate group's is shown as thumbnails instead, by duplicates.js). */
export function describeRequest(request) {
  const what = REQUEST_REASONS[request.reason] || request.reason.replaceAll("_", " ");
  const by = request.requested_by ? ` (${request.requested_by})` : "";
  const detail = request.reason === DUPLICATES ? describeGroup(request) : describeDetail(request.detail);
  return `${what}${by}${detail}.`;
}

/**
 * currentItem() is the item on screen (or null); reasons name and explain the queue's
 * reasons (tie, disagreement, low_confidence); historyUrl(id) is where an image's history is.
 */
export function createPanel({ currentItem, reasons, historyUrl }) {
  function renderReason() {
    const box = $("reason");
    const item = currentItem();
    box.replaceChildren();
    box.hidden = !item;
    renderDuplicates(item);
    if (!item) return;
    const decision = localDecision(item);
    // Open requests outlive no decision (a decision resolves them): those still open were
    // filed after a person's final label, so they say more than it, until this session decides.
    const requested = item.reason === "requested" && item.requests && item.requests.length;
    let title;
    let text;
    if (decision && (item.decision || !requested)) {
      box.dataset.reason = "decided";
      title = decision.method === "gold" ? "Gold" : "Decided";
      const by = decision.decided_by ? ` by ${decision.decided_by}` : "";
      text = `${labelNames(decision.label_ids)}${by}${decision.pending ? " (saving…)" : ""}. Enter changes the decision.`;
    } else if (requested) {
      box.dataset.reason = item.reason;
      title = reasons.requested.title;
      text = item.requests.map(describeRequest).join(" ");
    } else if (item.reason) {
      box.dataset.reason = item.reason;
      title = reasons[item.reason].title;
      text = reasons[item.reason].text;
    } else {
      box.dataset.reason = "none";
      title = "Not in the queue";
      text = "The annotators agree, or the image still waits for labels.";
    }
    box.append(el("strong", { text: title }), el("span", { text }));
  }

  function renderVotes() {
    const list = $("votes");
    const item = currentItem();
    if (!item) {
      list.replaceChildren();
      return;
    }
    if (!item.annotations.length) {
      fill(list, el("li", { class: "muted", text: "Nobody labelled this image yet." }));
      return;
    }
    fill(
      list,
      item.annotations.map((a) =>
        el(
          "li",
          {},
          el("span", { class: "rv-user", text: a.username }),
          el("span", { class: "rv-chips" }, chips(a.label_ids)),
          time(a.updated_at),
        ),
      ),
    );
  }

  function renderFacts() {
    const item = currentItem();
    const consensus = $("consensus");
    consensus.replaceChildren();
    if (!item || !item.consensus) {
      consensus.textContent = item && item.annotations.length ? "Not decided yet" : "—";
    } else if (!item.consensus.label_ids.length) {
      consensus.textContent = "No label has a majority";
    } else {
      consensus.append(...chips(item.consensus.label_ids), figure(item.consensus.confidence, methodName(item.consensus.method)));
    }
    const suggestion = item && item.suggestion;
    $("model-row").hidden = !suggestion;
    if (suggestion) {
      fill($("model"), chips(suggestion.label_ids), figure(suggestion.confidence, `model v${suggestion.version}`));
    }
    const final = item && item.final_label;
    $("final-row").hidden = !final;
    if (final) {
      const by = final.decided_by ? ` by ${final.decided_by}` : "";
      fill($("final"), chips(final.label_ids), note(`${final.method}${by}`));
    }
  }

  /** Fetch the item's history once (again after a decision of ours, or after a failure),
   *  then show it; of two requests in flight, only the later one's answer is kept. */
  async function loadHistory(item) {
    if (!item.history || item.history.error) {
      const asked = (item.historyAsked = (item.historyAsked || 0) + 1);
      const result = await request("GET", historyUrl(item.image.id));
      if (asked !== item.historyAsked) return; // a later request answers instead
      item.history = result.ok ? result.body : { error: errorMessage(result, { brief: true }) };
    }
    if (currentItem() === item) renderHistory();
  }

  function renderHistory() {
    const list = $("history");
    const item = currentItem();
    const history = item && item.history;
    list.dataset.state = history ? (history.error ? "error" : "ready") : "loading";
    if (!history || history.error || !history.length) {
      const text = !item ? "" : !history ? "Loading…" : history.error ? `Cannot load the history: ${history.error}` : "No changes yet.";
      fill(list, el("li", { class: "muted", text }));
      return;
    }
    fill(list, history.slice().reverse().map(historyRow));
  }

  return { renderReason, renderVotes, renderFacts, loadHistory, renderHistory };
}

function historyRow(change) {
  const final = change.kind.startsWith("final");
  const how = final ? ` (${methodName(change.method)}${change.model_version ? ", model's labels" : ""})` : "";
  const from = change.from_label_ids.length ? chips(change.from_label_ids) : [note("nothing")];
  const to = change.to_label_ids.length ? chips(change.to_label_ids) : [note("nothing")];
  return el(
    "li",
    { dataset: { kind: change.kind } },
    el(
      "div",
      { class: "rv-history-head" },
      el("span", { class: "rv-user", text: change.changed_by_username || "System" }),
      note(`${CHANGES[change.kind] || change.kind}${how}`),
      time(change.created_at),
    ),
    el("div", { class: "rv-history-change" }, from, el("span", { class: "rv-arrow", text: "→" }), to),
  );
}

/** A time as how long ago it was, the date and time in full on hover. */
function time(iso) {
  return timeTag(iso, ago(iso));
}

function figure(confidence, source) {
  return note(confidence === null || confidence === undefined ? source : `${percent(confidence)} · ${source}`);
}

function note(text) {
  return el("span", { class: "rv-note", text });
}

function methodName(method) {
  return method === "dawid_skene" ? "Dawid-Skene" : method;
}
