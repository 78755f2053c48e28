/* The prediction API's page: issue, list and revoke prediction tokens, and read the
 * predictions served, newest first, filtered by version, top label and confidence.
 *
 * A token's key comes back once, in the answer that issued it: it is shown in its box
 * (with copy-link.js's button) and kept nowhere else.
 */
import { request, errorMessage, rows } from "./lib/api.js";
import { $, el, fill, pageData } from "./lib/dom.js";
import { plural } from "./lib/format.js";
import { setLabels } from "./lib/labels.js";
import { filterQuery, servedRows, servedTable } from "./serving/served.js";
import { tokensTable } from "./serving/tokens.js";

const data = pageData("serving-data");
setLabels(data.labels);
let next = null; // the older served predictions' page, when there are more
let shown = 0;

function showError(text) {
  $("load-error").textContent = text;
  $("load-error").hidden = !text;
}

async function loadTokens() {
  const result = await request("GET", data.urls.tokens);
  const box = $("tokens");
  box.classList.remove("loading-box");
  if (!result.ok) {
    fill(box, el("p", { class: "message error", text: `The tokens could not be loaded: ${errorMessage(result)}` }));
    return;
  }
  fill(box, tokensTable(rows(result.body), { onRevoke: revoke }));
}

async function issue(event) {
  event.preventDefault();
  const name = $("token-name").value.trim();
  const error = $("token-error");
  error.hidden = true;
  if (!name) {
    error.textContent = "Give the token a name.";
    error.hidden = false;
    $("token-name").focus();
    return;
  }
  const result = await request("POST", data.urls.tokens, { name });
  if (!result.ok) {
    error.textContent = errorMessage(result);
    error.hidden = false;
    return;
  }
  $("token-name").value = "";
  $("new-token-name").textContent = result.body.name;
  $("new-token-key").value = result.body.key;
  $("new-token-status").textContent = "";
  $("new-token").hidden = false;
  $("new-token-key").focus();
  $("new-token-key").select();
  await loadTokens();
}

async function revoke(token, button) {
  if (!window.confirm(`Revoke the token "${token.name}"? Systems using it can no longer request predictions.`)) return;
  button.disabled = true;
  const url = data.urls.token.replace(String(data.id_slot), String(token.id));
  const result = await request("DELETE", url);
  if (!result.ok) {
    button.disabled = false;
    showError(`The token could not be revoked: ${errorMessage(result)}`);
    return;
  }
  showError("");
  await loadTokens();
}

async function loadServed({ more = false } = {}) {
  const url = more ? next : `${data.urls.served}?${filterQuery($("served-filters"))}`;
  const result = await request("GET", url);
  const box = $("served");
  box.classList.remove("loading-box");
  if (!result.ok) {
    fill(box, el("p", { class: "message error", text: `The served predictions could not be loaded: ${errorMessage(result)}` }));
    $("served-more").hidden = true;
    return;
  }
  const found = rows(result.body);
  next = result.body.next || null;
  if (!more) {
    shown = 0;
    fill(box, found.length ? servedTable() : el("p", { class: "muted empty", id: "no-served", text: emptyText() }));
  }
  if (found.length) $("served-table").tBodies[0].append(...servedRows(found));
  shown += found.length;
  $("served-more").hidden = !next;
  $("served-summary").textContent = shown ? `${plural(shown, "prediction")} shown, newest first${next ? "; older ones below" : ""}.` : "";
}

function emptyText() {
  const filtered = filterQuery($("served-filters")).toString() !== "";
  return filtered ? "No served prediction matches these filters." : "No prediction served yet: they appear here as the API answers.";
}

function setUpFilters() {
  const labels = $("filter-label");
  labels.append(...data.labels.map((label) => el("option", { value: String(label.id), text: label.name })));
  const form = $("served-filters");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loadServed();
  });
  form.addEventListener("reset", () => setTimeout(() => loadServed(), 0)); // after the fields clear
  $("served-more").addEventListener("click", () => loadServed({ more: true }));
}

$("token-form").addEventListener("submit", issue);
setUpFilters();
loadTokens();
loadServed();
