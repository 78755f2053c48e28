/* The models page's download card (leads and admins): package a version, then download it.
 *
 * Each version's package is asked for where it stands (GET .../package/). "Package" asks
 * for it (POST, which starts nothing while it runs or once it is ready); while it is
 * queued or running the row shows a moving bar and asks again about every second and a
 * half; once ready it links each file at its signed address: ONNX, TorchScript and the
 * model card (Markdown and JSON). A refusal shows its message in the row.
 */
import { request, errorMessage, rows } from "../lib/api.js";
import { $, el, fill } from "../lib/dom.js";
import { formatSize } from "../lib/format.js";
import { architectureName } from "./tables.js";

const card = $("model-download");
const POLL_MS = 1500;
const WAITING = new Set(["queued", "running"]);
const FILES = [
  ["onnx", "ONNX"],
  ["torchscript", "TorchScript"],
  ["card_md", "Model card"],
  ["card_json", "Card (JSON)"],
];
const packages = new Map(); // version id -> the package's last answer
const errors = new Map(); // version id -> the last refusal's message
let versions = [];
let timer = null;

const packageUrl = (id) => card.dataset.packageUrl.replace("/0/", `/${id}/`);

async function load() {
  const answer = await request("GET", card.dataset.versionsUrl);
  const box = $("download-versions");
  box.classList.remove("loading-box");
  if (!answer.ok) {
    fill(box, el("p", { class: "error", text: `The versions could not be loaded: ${errorMessage(answer)}` }));
    card.dataset.state = "error";
    return;
  }
  versions = rows(answer.body).sort((a, b) => b.version - a.version);
  await Promise.all(versions.map((version) => refresh(version.id)));
  draw();
  card.dataset.state = "ready";
  schedule();
}

async function refresh(id) {
  const answer = await request("GET", packageUrl(id));
  if (answer.ok) {
    packages.set(id, answer.body);
    errors.delete(id);
  } else {
    errors.set(id, errorMessage(answer));
  }
}

async function ask(id, button) {
  button.disabled = true;
  const answer = await request("POST", packageUrl(id));
  if (answer.ok) {
    packages.set(id, answer.body);
    errors.delete(id);
  } else {
    errors.set(id, errorMessage(answer));
  }
  draw();
  schedule();
}

function schedule() {
  clearTimeout(timer);
  const waiting = versions.filter((v) => WAITING.has(packages.get(v.id)?.status));
  if (!waiting.length) return;
  timer = setTimeout(async () => {
    await Promise.all(waiting.map((version) => refresh(version.id)));
    draw();
    schedule();
  }, POLL_MS);
}

function draw() {
  const box = $("download-versions");
  if (!versions.length) {
    fill(box, el("p", { class: "muted", text: "No model yet: train one, then download it here." }));
    return;
  }
  const head = el("tr", {}, ["Version", "Architecture", "Package", "Download"].map((t) => el("th", { scope: "col", text: t })));
  const body = versions.map((version) => row(version));
  const table = el("table", { class: "table download-table", id: "download-table" }, el("thead", {}, head), el("tbody", {}, body));
  fill(box, el("div", { class: "table-wrap" }, table));
}

function row(version) {
  const found = packages.get(version.id);
  const status = found ? found.status : "none";
  const name = el("th", { scope: "row", text: `v${version.version}${version.is_current ? " (current)" : ""}` });
  return el(
    "tr",
    { dataset: { version: String(version.id), status } },
    name,
    el("td", { text: architectureName(version.architecture) }),
    el("td", {}, statusCell(status)),
    el("td", {}, downloadCell(version, status, found)),
  );
}

function statusCell(status) {
  if (status === "none") return el("span", { class: "muted", text: "not packaged" });
  const pill = el("span", { class: "status-pill", dataset: { status }, text: status });
  if (!WAITING.has(status)) return pill;
  const bar = el("span", { class: "progress download-progress", role: "progressbar", "aria-label": "Packaging" }, el("span"));
  return [pill, bar];
}

function downloadCell(version, status, found) {
  const error = errors.get(version.id) || (status === "failed" ? found.message : "");
  const note = error ? el("p", { class: "download-error", role: "alert", text: error }) : null;
  if (status === "ready") {
    const links = FILES.filter(([kind]) => found.files[kind]).map(([kind, label]) => {
      const file = found.files[kind];
      return el("span", {}, el("a", { href: file.url, dataset: { kind }, download: file.name, text: label }), el("span", { class: "size", text: formatSize(file.bytes) }));
    });
    return [el("div", { class: "download-files" }, links), note];
  }
  if (WAITING.has(status)) return el("span", { class: "muted", text: "Links appear here when it is ready." });
  const label = status === "failed" ? "Try again" : "Package";
  const button = el("button", { type: "button", class: "primary", dataset: { action: "package" }, text: label });
  button.addEventListener("click", () => ask(version.id, button));
  return [button, note];
}

if (card) load();
