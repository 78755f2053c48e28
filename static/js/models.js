/* The models page: train a model, follow the training live, compare and promote versions.
 *
 * The page arrives with where to ask. It loads the runs, the versions and the machine-label
 * counts, then follows the active run (queued or running) by asking for it about every
 * second until it ends, when versions and runs are loaded again. The page never waits for
 * the answer to POST /train/ before showing progress (a server that runs its tasks inline
 * answers only once the run ended): it looks for the new run in the runs list meanwhile.
 */
import { request, errorMessage, rows, sleep } from "./lib/api.js";
import { $, el, fill, pageData } from "./lib/dom.js";
import { isNum, fixed, percent } from "./lib/format.js";
import { setLabels } from "./lib/labels.js";
import { bestEpoch, renderConfusion, renderCurve } from "./models/charts.js";
import { renderCurves, renderReliability } from "./models/curves.js";
import { renderTestFigures, renderTestPerLabel, renderVerdict, testNote } from "./models/evaluation.js";
import { accuracyInterval, intervalText } from "./models/intervals.js";
import {
  architectureName, architectureNames, duration, renderMachineStats, renderPerLabel, renderPrelabel, renderRuns,
  renderVersions, statusPill,
} from "./models/tables.js";

const data = pageData("models-data");
architectureNames(data.architectures);
const ACTIVE = new Set(["queued", "running"]);
const FOLLOW_MS = 1000; // how often the active run is asked for
const IDLE_MS = 15000; // how often the runs list is looked at for a run started elsewhere
const FIND_MS = 1000; // after pressing Train, how often the runs list is asked for the new run
setLabels(data.labels);

const state = {
  runs: [],
  versions: [],
  selected: null, // id of the version whose figures show
  following: null, // id of the run followed live
  finding: false, // a Train request is out and its run not seen yet
  knownRunIds: new Set(),
  busy: false,
};
const slotted = (template, id) => template.replace(String(data.slot), String(id));
let followTimer = null;
let idleTimer = null;

// ---- loading ---------------------------------------------------------------------------
async function loadAll() {
  const [runs, versions] = await Promise.all([
    request("GET", data.urls.runs),
    request("GET", data.urls.versions),
  ]);
  if (!runs.ok || !versions.ok) {
    showLoadError(errorMessage(runs.ok ? versions : runs));
    return;
  }
  $("load-error").hidden = true;
  state.runs = rows(runs.body);
  for (const run of state.runs) state.knownRunIds.add(run.id);
  state.versions = rows(versions.body);
  if (!state.versions.some((v) => v.id === state.selected)) state.selected = defaultVersion();
  drawRuns();
  drawVersions();
  $("models").dataset.state = "ready";
  const active = state.runs.find((run) => ACTIVE.has(run.status));
  if (active) follow(active.id);
}

function defaultVersion() {
  const current = state.versions.find((v) => v.is_current);
  if (current) return current.id;
  const newest = [...state.versions].sort((a, b) => b.version - a.version)[0];
  return newest ? newest.id : null;
}

async function loadStats() {
  const result = await request("GET", data.urls.machine_stats);
  const box = $("machine-stats");
  box.classList.remove("loading-box");
  if (!result.ok) {
    fill(box, el("p", { class: "error", text: `The machine labels could not be counted (${errorMessage(result)}).` }));
    return;
  }
  renderMachineStats(box, result.body);
  $("pending-count").textContent = String(result.body.pending || 0);
}

function showLoadError(message) {
  const box = $("load-error");
  box.textContent = `The models could not be loaded: ${message} Reload the page to try again.`;
  box.hidden = false;
  $("models").dataset.state = "error";
}

// ---- drawing ---------------------------------------------------------------------------
function drawRuns() {
  const box = $("runs");
  box.classList.remove("loading-box");
  renderRuns(box, state.runs);
}

function drawVersions() {
  const box = $("versions");
  box.classList.remove("loading-box");
  renderVersions(box, state.versions, {
    selected: state.selected,
    canManage: data.can_manage,
    busy: state.busy,
    onSelect: (id) => {
      state.selected = id;
      drawVersions();
      $("version-card").scrollIntoView({ behavior: "smooth", block: "start" });
    },
    onPromote: promote,
  });
  drawSelected();
}

function drawSelected() {
  const version = state.versions.find((v) => v.id === state.selected);
  const card = $("version-card");
  card.hidden = !version;
  if (!version) return;
  const metrics = version.metrics || {};
  const test = metrics.test;
  card.dataset.version = String(version.id);
  $("version-heading").textContent = `Version ${version.version}${version.is_current ? " (current)" : ""}`;
  const facts = [
    architectureName(version.architecture),
    test ? `${test.images} test images` : null,
    isNum(metrics.images) ? `${metrics.images} validation images` : null,
    isNum(metrics.accuracy) ? `validation accuracy ${percent(metrics.accuracy)}${intervalText(accuracyInterval(metrics), percent, " (95% CI ", ")")}` : null,
    isNum(metrics.macro_f1) ? `validation macro-F1 ${fixed(metrics.macro_f1)}${intervalText(metrics.macro_f1_ci, fixed, " (95% CI ", ")")}` : null,
    version.trained_on_erased ? `trained on ${version.trained_on_erased} image${version.trained_on_erased === 1 ? "" : "s"} since erased; retrain` : null,
  ];
  $("version-meta").textContent = facts.filter(Boolean).join(" · ");
  const run = state.runs.find((r) => r.id === version.run);
  drawTest(version, run);
  renderPerLabel($("per-label"), metrics.per_label);
  renderConfusion($("confusion"), metrics.confusion);
  drawCurve(run ? run.history : null, isNum(metrics.kept_epoch) ? metrics.kept_epoch : metrics.best_epoch);
  renderPrelabel($("prelabel"), version);
}

/** The version's figures on the held-out test images, and its comparison in words. */
function drawTest(version, run) {
  const test = (version.metrics || {}).test;
  $("test-set").dataset.state = test ? "scored" : "none";
  $("test-note").textContent = testNote(version, run);
  renderVerdict($("test-verdict"), version);
  $("test-body").hidden = !test;
  if (!test) return;
  renderTestFigures($("test-figures"), test);
  renderCurves($("roc-curves"), test, "roc");
  renderCurves($("pr-curves"), test, "pr");
  renderReliability($("reliability"), test.calibration);
  renderConfusion($("test-confusion"), test.confusion, { id: "test-confusion-table", where: "test" });
  renderTestPerLabel($("test-per-label"), test, data.project.multi_label);
}

function drawCurve(history, kept = null) {
  const box = $("curve");
  renderCurve(box, history, { width: Math.max(320, Math.floor(box.clientWidth || 520)), kept });
}

// ---- the active run, live --------------------------------------------------------------
function follow(runId) {
  if (state.following === runId && followTimer !== null) return;
  state.following = runId;
  state.finding = false;
  clearTimeout(followTimer);
  followTimer = setTimeout(poll, 0);
}

async function poll() {
  const id = state.following;
  const result = await request("GET", slotted(data.urls.run, id));
  if (id !== state.following) return;
  if (!result.ok) {
    // A hiccup: keep following; a run that is gone stops the following.
    if (result.status === 404) {
      stopFollowing();
      return;
    }
    $("run-note").textContent = `Progress could not be read (${errorMessage(result)}); retrying…`;
    followTimer = setTimeout(poll, FOLLOW_MS * 3);
    return;
  }
  const run = result.body;
  drawLive(run);
  upsertRun(run);
  if (ACTIVE.has(run.status)) {
    followTimer = setTimeout(poll, FOLLOW_MS);
    return;
  }
  stopFollowing();
  await loadAll();
  if (run.model_version) state.selected = run.model_version;
  drawVersions();
  drawLive(run); // again, now that its version is known
  loadStats();
}

function stopFollowing() {
  clearTimeout(followTimer);
  followTimer = null;
  state.following = null;
  setTrainEnabled(true);
}

function upsertRun(run) {
  const index = state.runs.findIndex((r) => r.id === run.id);
  if (index >= 0) state.runs[index] = run;
  else state.runs.unshift(run);
  state.knownRunIds.add(run.id);
  drawRuns();
}

/** The progress card: status, epoch x of y, the last epoch's losses and validation figures. */
function drawLive(run) {
  const live = $("run-live");
  live.dataset.state = run.status;
  live.dataset.run = String(run.id);
  $("run-idle").hidden = true;
  $("run-active").hidden = false;
  const architecture = run.config && run.config.architecture;
  $("run-title").textContent = `Run #${run.id}${architecture ? ` · ${architectureName(architecture)}` : ""}`;
  $("run-status").replaceWith(Object.assign(statusPill(run.status), { id: "run-status" }));
  const progress = run.status === "succeeded" ? 1 : run.progress || 0;
  const pct = Math.round(Math.min(1, Math.max(0, progress)) * 100);
  const bar = $("run-progress");
  bar.setAttribute("aria-valuenow", String(pct));
  bar.setAttribute("aria-valuetext", `${pct}%, epoch ${run.epoch || 0} of ${run.epochs || "?"}`);
  bar.dataset.progress = String(run.progress || 0);
  bar.classList.toggle("ok", run.status === "succeeded");
  bar.classList.toggle("stopped", run.status === "failed" || run.status === "cancelled");
  bar.firstElementChild.style.width = `${pct}%`;
  const last = (run.history || [])[run.history.length - 1] || {};
  $("run-epoch").textContent = run.epochs ? `${run.epoch || 0} of ${run.epochs}` : "—";
  $("run-train-loss").textContent = isNum(last.train_loss) ? last.train_loss.toFixed(3) : "—";
  $("run-val-loss").textContent = isNum(last.val_loss) ? last.val_loss.toFixed(3) : "—";
  $("run-val-accuracy").textContent = isNum(last.val_accuracy) ? percent(last.val_accuracy) : "—";
  $("run-val-f1").textContent = isNum(last.val_macro_f1) ? fixed(last.val_macro_f1) : "—";
  $("run-note").textContent = liveNote(run);
  $("run-choice").textContent = choiceNote(run);
  const cancel = $("cancel-button");
  if (cancel) {
    cancel.hidden = !ACTIVE.has(run.status);
    cancel.disabled = Boolean(run.cancel_requested);
    cancel.textContent = run.cancel_requested ? "Cancelling…" : "Cancel";
  }
}

/** What the worker settled the run's "auto" settings to, and why (none until it starts). */
function choiceNote(run) {
  const choice = run.config && run.config.choice;
  if (choice && choice.reason) return choice.reason;
  if (run.status === "queued" && run.config && run.config.architecture === "auto") {
    return "The worker picks the architecture and image size when it starts: a pretrained backbone at 224 pixels for photos when it holds the weights, else the small CNN.";
  }
  return "";
}

/** Whose weights the run keeps so far: the lowest validation loss's epoch, or, with too
 * few validation images to choose by, the last epoch's. */
function keptNote(history) {
  const last = history.at(-1);
  if (!last) return null;
  const best = bestEpoch(history);
  const kept = last.kept_epoch;
  if (!kept) return best ? `lowest validation loss so far: epoch ${best}` : null;
  if (kept === best) return `weights kept so far: epoch ${kept}, the lowest validation loss`;
  return `weights kept: the last epoch's (too few validation images to choose an epoch by; the lowest validation loss was epoch ${best})`;
}

function liveNote(run) {
  const held = run.test_count ? ` (${run.test_count} test images held out)` : "";
  const images = run.train_count ? `${run.train_count} training and ${run.validation_count} validation images${held}` : "";
  if (run.status === "queued") return "Waiting for a worker to start the training…";
  if (run.status === "running") {
    const device = run.device ? ` on ${run.device}` : "";
    const training = `Training${device}${images ? ` with ${images}` : ""} · ${duration(run)}`;
    const now = run.stage && run.stage !== "Training" ? `now: ${run.stage.charAt(0).toLowerCase()}${run.stage.slice(1)}…` : null;
    return [training, keptNote(run.history || []), now].filter(Boolean).join(" · ");
  }
  if (run.status === "succeeded") {
    const version = state.versions.find((v) => v.id === run.model_version);
    const name = version ? `version ${version.version}` : "a new version";
    return `Finished in ${duration(run)}: ${name}.${run.message ? ` ${run.message}` : ""}`;
  }
  if (run.status === "cancelled") return `Cancelled after ${run.epoch || 0} epochs.${run.message ? ` ${run.message}` : ""}`;
  return `Failed: ${run.message || "no reason given"}`;
}

// ---- actions -----------------------------------------------------------------------------
function setTrainEnabled(enabled) {
  const button = $("train-button");
  if (!button) return;
  button.disabled = !enabled;
  button.textContent = enabled ? "Train" : "Training…";
}

function showTrainError(message) {
  const box = $("train-error");
  box.textContent = message;
  box.hidden = !message;
}

async function train(event) {
  event.preventDefault();
  showTrainError("");
  setTrainEnabled(false);
  state.finding = true;
  const architecture = $("architecture").value;
  drawStarting(architecture);
  const posted = request("POST", data.urls.train, { config: { architecture } });
  findNewRun();
  const result = await posted;
  if (result.ok && result.body && result.body.id) {
    follow(result.body.id);
    return;
  }
  state.finding = false;
  if (result.ok) return;
  if (result.status === 409 && result.body && result.body.run) {
    showTrainError(errorMessage(result));
    follow(result.body.run);
    return;
  }
  showTrainError(errorMessage(result));
  if (!state.following) {
    resetLive();
    setTrainEnabled(true);
  }
}

/** While the Train request is out, look in the runs list for the run it started. */
async function findNewRun() {
  while (state.finding) {
    await sleep(FIND_MS);
    if (!state.finding) return;
    const result = await request("GET", data.urls.runs);
    if (!result.ok || !state.finding) continue;
    const fresh = rows(result.body).find((run) => !state.knownRunIds.has(run.id));
    if (fresh) {
      follow(fresh.id);
      return;
    }
  }
}

function drawStarting(architecture) {
  $("run-idle").hidden = true;
  $("run-active").hidden = false;
  $("run-live").dataset.state = "starting";
  $("run-title").textContent = `New run · ${architectureName(architecture)}`;
  $("run-status").replaceWith(Object.assign(statusPill("queued"), { id: "run-status" }));
  $("run-progress").firstElementChild.style.width = "0%";
  for (const id of ["run-epoch", "run-train-loss", "run-val-loss", "run-val-accuracy", "run-val-f1"]) $(id).textContent = "—";
  $("run-note").textContent = "Starting the training…";
  const cancel = $("cancel-button");
  if (cancel) cancel.hidden = true;
}

function resetLive() {
  $("run-live").dataset.state = "idle";
  $("run-idle").hidden = false;
  $("run-active").hidden = true;
}

async function cancel() {
  const id = state.following;
  if (!id) return;
  const button = $("cancel-button");
  button.disabled = true;
  button.textContent = "Cancelling…";
  const result = await request("POST", slotted(data.urls.cancel, id));
  if (!result.ok) {
    showTrainError(`The run could not be cancelled: ${errorMessage(result)}`);
    button.disabled = false;
    button.textContent = "Cancel";
    return;
  }
  drawLive(result.body);
}

async function promote(version, button) {
  state.busy = true;
  button.disabled = true;
  button.textContent = "Promoting…";
  const result = await request("POST", slotted(data.urls.promote, version.id));
  state.busy = false;
  if (!result.ok) {
    showTrainError(`Version ${version.version} could not be promoted: ${errorMessage(result)}`);
    drawVersions();
    return;
  }
  showTrainError("");
  state.selected = version.id;
  await loadAll();
  loadStats();
}

// ---- start -----------------------------------------------------------------------------
function idleCheck() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(async () => {
    if (!state.following && !state.finding && !document.hidden) {
      const result = await request("GET", data.urls.runs);
      const active = result.ok && rows(result.body).find((run) => ACTIVE.has(run.status));
      if (active) {
        setTrainEnabled(false);
        follow(active.id);
      }
    }
    idleCheck();
  }, IDLE_MS);
}

if ($("train-form")) $("train-form").addEventListener("submit", train);
if ($("cancel-button")) $("cancel-button").addEventListener("click", cancel);
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawSelected, 150);
});
// Exposed for the page's own tests and for debugging in the console.
window.modelsPage = { state };

loadAll().then(() => {
  if (state.following) setTrainEnabled(false);
  idleCheck();
});
loadStats();
