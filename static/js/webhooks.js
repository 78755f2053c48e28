/* The webhooks page: the project's webhooks with their deliveries, drawn from the REST API
 * (api/webhooks.py); add one, send a test, send a delivery again, turn one off or remove it. */
import { errorMessage, request, rows } from "./lib/api.js";
import { $, el, fill } from "./lib/dom.js";
import { when } from "./lib/format.js";

const list = $("webhooks");
const api = list.dataset.api;
const form = $("webhook-add");
const formError = $("webhook-url-error");
const status = $("webhooks-status");

const hookUrl = (hook, suffix = "") => `${api}${hook.id}/${suffix}`;

function answerText(delivery) {
  if (delivery.error && delivery.http_status === null) return delivery.error;
  const head = delivery.http_status === null ? "" : `HTTP ${delivery.http_status}`;
  // "Answered 410." says again what the status shows; a redirect's or a give-up's words do not.
  const plain = delivery.error === `Answered ${delivery.http_status}.`;
  return [head, delivery.response_excerpt, plain ? "" : delivery.error].filter(Boolean).join(" · ");
}

function deliveryRow(hook, delivery) {
  const again = el("button", { type: "button", text: "Send again" });
  again.addEventListener("click", async () => {
    const result = await request("POST", hookUrl(hook, `deliveries/${delivery.id}/redeliver/`));
    status.textContent = result.ok ? "Sent again." : errorMessage(result);
    await draw();
  });
  return el(
    "tr",
    {},
    el("td", {}, el("code", { text: delivery.event })),
    el("td", {}, el("span", { class: `badge ${delivery.status}`, text: delivery.status })),
    el("td", { text: String(delivery.attempts) }),
    el("td", { class: "answer", text: answerText(delivery) }),
    el("td", { text: delivery.last_attempt_at ? when(delivery.last_attempt_at) : "not yet" }),
    el("td", {}, ["delivered", "failed"].includes(delivery.status) ? again : null),
  );
}

function deliveriesTable(hook, deliveries) {
  if (!deliveries.length) return el("p", { class: "muted", text: "No delivery yet." });
  const head = ["Event", "Status", "Attempts", "Answer", "Last attempt", ""];
  const table = el(
    "table",
    { class: "webhook-deliveries", "aria-label": `Deliveries to ${hook.url}` },
    el("thead", {}, el("tr", {}, head.map((name) => el("th", { scope: "col", text: name })))),
    el("tbody", {}, deliveries.map((delivery) => deliveryRow(hook, delivery))),
  );
  return el("div", { class: "table-wrap" }, table);
}

function button(text, onClick, props = {}) {
  const node = el("button", { type: "button", text, ...props });
  node.addEventListener("click", onClick);
  return node;
}

async function act(method, url, body, done) {
  const result = await request(method, url, body);
  status.textContent = result.ok ? done : errorMessage(result);
  await draw();
}

function hookCard(hook, deliveries) {
  const secret = el("span", { class: "webhook-secret", text: "••••••••" });
  const reveal = button("Show secret", () => {
    secret.textContent = hook.secret;
    reveal.remove();
  });
  return el(
    "article",
    { class: "card webhook", "data-webhook": String(hook.id) },
    el(
      "div",
      { class: "webhook-head" },
      el("h3", { class: "webhook-url", text: hook.url }),
      el("span", { class: `badge ${hook.active ? "delivered" : "failed"}`, text: hook.active ? "active" : "off" }),
    ),
    hook.description ? el("p", { text: hook.description }) : null,
    el("p", { class: "help" }, "Events: ", hook.events.map((name, i) => [i ? ", " : "", el("code", { text: name })])),
    el("p", { class: "help" }, "Secret: ", secret, " ", reveal),
    el(
      "div",
      { class: "row" },
      button("Send a test", () => act("POST", hookUrl(hook, "ping/"), undefined, "Test sent.")),
      button(hook.active ? "Turn off" : "Turn on", () =>
        act("PATCH", hookUrl(hook), { active: !hook.active }, hook.active ? "Turned off." : "Turned on."),
      ),
      button("Remove", () => act("DELETE", hookUrl(hook), undefined, "Removed."), { class: "danger" }),
    ),
    el("h4", { text: "Recent deliveries" }),
    deliveriesTable(hook, deliveries),
  );
}

async function draw() {
  const result = await request("GET", api);
  if (!result.ok) {
    fill(list, el("p", { class: "field-error", text: errorMessage(result) }));
    return;
  }
  const hooks = rows(result.body);
  $("webhooks-empty").hidden = hooks.length > 0;
  const cards = await Promise.all(
    hooks.map(async (hook) => {
      const found = await request("GET", hookUrl(hook, "deliveries/?page_size=10"));
      return hookCard(hook, found.ok ? rows(found.body) : []);
    }),
  );
  fill(list, cards);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = { url: data.get("url").trim(), events: data.getAll("events"), description: data.get("description") };
  const result = await request("POST", api, body);
  formError.hidden = result.ok;
  formError.textContent = result.ok ? "" : errorMessage(result);
  if (result.ok) {
    form.reset();
    status.textContent = "Webhook added.";
    await draw();
  }
});

draw();
