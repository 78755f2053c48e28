/* The agreement dashboard.
 *
 * The page arrives with the project's progress. This module fetches the agreement report
 * (cached by the server until a label changes) and the head of the review queue, then
 * draws each section from them. Every string that comes from data (usernames, label
 * names, image names) enters the page through textContent or an attribute, never as markup.
 */
import { request, errorMessage } from "./lib/api.js";
import { $, el, fill, pageData } from "./lib/dom.js";
import { isNum, fixed, percent, plural } from "./lib/format.js";
import { setLabels, labelName, labelChip } from "./lib/labels.js";
import { bandBadge, isFew, setFewImages } from "./dashboard/common.js";
import { heatmapIsDense, renderConfusion, renderHeatmap } from "./dashboard/matrices.js";
import { renderOverTime } from "./dashboard/over-time.js";
import { helpReasons, renderAnnotators, renderLabels } from "./dashboard/tables.js";

const data = pageData("dashboard-data");
const REVIEW_PREVIEW = 8;
let report = null;
setLabels(data.labels);

function headlineCard(key, title, figure, { asPercent = false, note = null } = {}) {
  const defined = figure && isNum(figure.value);
  const value = defined ? (asPercent ? percent(figure.value) : fixed(figure.value)) : "—";
  const hasCi = defined && isNum(figure.ci_low) && isNum(figure.ci_high);
  const show = (v) => (asPercent ? percent(v) : fixed(v));
  return el(
    "article",
    { class: `figure-card${defined ? "" : " is-undefined"}`, dataset: { figure: key } },
    el("h3", { class: "figure-name", text: title }),
    el(
      "div",
      { class: "figure-main" },
      el("span", {
        class: "figure-value",
        text: value,
        title: defined ? null : figure && figure.reason,
        dataset: { value: defined ? String(figure.value) : "" },
      }),
      defined && figure.band ? bandBadge(figure.band) : null,
      defined && !figure.band && note ? el("span", { class: "figure-note", text: note }) : null,
    ),
    hasCi
      ? el("p", {
          class: "figure-ci",
          text: `95% CI ${show(figure.ci_low)} – ${show(figure.ci_high)}`,
        })
      : null,
    defined
      ? el("p", {
          class: isFew(figure.n_items) ? "figure-n few" : "figure-n",
          text: `over ${plural(figure.n_items, "image")}${isFew(figure.n_items) ? ": too few to say much" : ""}`,
        })
      : el("p", {
          class: "figure-reason",
          text: figure && figure.reason ? figure.reason : "not computed",
        }),
  );
}

function renderHeadline() {
  const box = $("headline");
  if (report.multi_label) {
    const ranked = report.per_label
      .filter((row) => isNum(row.fleiss_kappa.value))
      .sort((a, b) => b.fleiss_kappa.value - a.fleiss_kappa.value);
    const best = ranked[0];
    const worst = ranked[ranked.length - 1];
    fill(
      box,
      headlineCard("jaccard", "Mean Jaccard of label sets", report.jaccard, {
        note: "overlap of the sets",
      }),
      headlineCard(
        "best_label",
        best ? `Best-agreed label · ${labelName(best.label)}` : "Best-agreed label",
        best ? best.fleiss_kappa : null,
      ),
      headlineCard(
        "worst_label",
        worst ? `Least-agreed label · ${labelName(worst.label)}` : "Least-agreed label",
        worst ? worst.fleiss_kappa : null,
      ),
    );
  } else {
    fill(
      box,
      headlineCard("cohen_kappa", "Mean Cohen's κ", report.cohen_kappa.mean),
      headlineCard("fleiss_kappa", "Fleiss' κ", report.fleiss_kappa),
      headlineCard("krippendorff_alpha", "Krippendorff's α", report.krippendorff_alpha),
      headlineCard("percent_agreement", "Percent agreement", report.percent_agreement, {
        asPercent: true,
        note: "raw, not chance-corrected",
      }),
    );
  }
  box.setAttribute("aria-busy", "false");
  const meta = $("report-meta");
  meta.append(
    ` · ${plural(report.annotators.length, "annotator")} · ${plural(report.n_images, "image")} labelled`,
  );
}

function reviewLink(imageId) {
  return `${data.urls.review_page}?image=${encodeURIComponent(imageId)}`;
}

const REASONS = { tie: "tie", disagreement: "disagreement", low_confidence: "low confidence" };
const REASONS_MANY = {
  tie: "ties",
  disagreement: "disagreements",
  low_confidence: "low confidence",
};

function renderReview(body) {
  const box = $("disagreements");
  const count = Number(body.count) || 0;
  $("review-count").textContent = String(count);
  document.querySelector('[data-stat="to_review"]').textContent = String(count);
  $("review-all").textContent = `Open the review queue (${count})`;
  const parts = Object.entries(body.reasons || {})
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${(n === 1 ? REASONS : REASONS_MANY)[reason] || reason}`);
  if (parts.length) $("review-reasons").textContent = parts.join(" · ");
  const items = (body.results || []).slice(0, REVIEW_PREVIEW);
  if (!items.length) {
    fill(
      box,
      el("p", {
        class: "muted",
        text: "Nothing to review: every labelled image has a clear consensus.",
      }),
    );
    return;
  }
  fill(box, el("ul", { class: "disagreement-grid" }, items.map(reviewCard)));
}

/** One queue item: thumbnail, why it is in the queue, who said what, consensus and model. */
function reviewCard(item) {
  const image = item.image;
  const src = image.thumbnail_url || image.file_url;
  const consensus = item.consensus;
  const suggestion = item.suggestion;
  return el(
    "li",
    {},
    el(
      "a",
      { class: "disagreement", href: reviewLink(image.id), dataset: { image: String(image.id) } },
      el("span", { class: "thumb" }, src ? el("img", { src, alt: "" }) : null),
      el(
        "span",
        { class: "disagreement-body" },
        el(
          "span",
          { class: "disagreement-head" },
          el("span", {
            class: "image-name",
            title: image.original_name,
            text: image.original_name,
          }),
          item.reason
            ? el("span", {
                class: `reason reason-${item.reason}`,
                text: REASONS[item.reason] || item.reason,
              })
            : null,
        ),
        el(
          "span",
          { class: "votes" },
          item.annotations.map((a) =>
            el(
              "span",
              { class: "vote" },
              el("span", { class: "voter", title: a.username, text: a.username }),
              a.label_ids.map(labelChip),
            ),
          ),
        ),
        consensus && item.reason !== "tie"
          ? el("span", { class: "consensus muted", text: consensusText(consensus) })
          : null,
        suggestion
          ? el("span", {
              class: "consensus muted",
              text: `Model: ${suggestion.label_ids.map(labelName).join(", ") || "none"} (${percent(suggestion.confidence)})`,
            })
          : null,
      ),
    ),
  );
}

function consensusText(consensus) {
  if (!consensus.label_ids.length) return "Consensus: tie";
  const confidence = isNum(consensus.confidence) ? ` (${percent(consensus.confidence)})` : "";
  return `Consensus: ${consensus.label_ids.map(labelName).join(", ")}${confidence}`;
}

function reviewUnavailable(message) {
  $("review-count").textContent = "?";
  document.querySelector('[data-stat="to_review"]').textContent = "—";
  $("disagreements").replaceChildren(el("p", { class: "muted", text: message }));
}

/** A GET's JSON answer; throws why it failed, in a few words, for the page's sentence. */
async function getJson(url) {
  const result = await request("GET", url);
  if (!result.ok || result.body === null) throw new Error(errorMessage(result, { brief: true }));
  return result.body;
}

/** The over-time charts, and the day/week switch showing the bucket the report has. */
function drawOverTime() {
  const flagged = report.multi_label ? new Set() : new Set(helpReasons(report).keys());
  renderOverTime($("over-time"), report, { flagged });
  const bucket = report.over_time ? report.over_time.bucket : null;
  $("bucket-switch").hidden = !bucket;
  for (const button of $("bucket-switch").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.bucket === bucket));
  }
}

/** Ask for the report with points per day or per week and redraw the charts. */
async function switchBucket(bucket) {
  const box = $("over-time");
  box.setAttribute("aria-busy", "true");
  try {
    const body = await getJson(`${data.urls.agreement}?bucket=${encodeURIComponent(bucket)}`);
    report.over_time = body.over_time;
    drawOverTime();
  } catch (error) {
    fill(
      box,
      el("p", {
        class: "error",
        text: `The figures per ${bucket} could not be loaded (${error.message}).`,
      }),
    );
  }
  box.setAttribute("aria-busy", "false");
}

/** Whether any image was labelled by two annotators, so that there is agreement to show. */
function anyComparison() {
  if (report.multi_label) return isNum(report.jaccard.value);
  return report.confusion.some((row) => row.some((count) => count > 0));
}

function renderReport() {
  $("report-notice").hidden = anyComparison();
  renderHeadline();
  renderLabels($("per-label"), report);
  if (report.multi_label) {
    // Pairwise kappa, the confusion matrix and per-annotator figures are single-label ones.
    for (const id of ["pairs-card", "annotators-card", "confusion-card"]) $(id).hidden = true;
    $("labels-card").classList.add("wide");
  } else {
    renderAnnotators($("annotators"), report);
    renderHeatmap($("heatmap"), report);
    if (heatmapIsDense(report)) {
      for (const id of ["pairs-card", "labels-card"]) $(id).classList.add("wide");
    }
    renderConfusion($("confusion"), report);
  }
  drawOverTime();
  for (const id of ["heatmap", "annotators", "per-label", "confusion", "over-time"]) {
    $(id).classList.remove("loading-box");
  }
}

async function loadReport() {
  try {
    report = await getJson(data.urls.agreement);
    if (report.needs_help_rules) setFewImages(report.needs_help_rules.few_images);
  } catch (error) {
    const box = $("load-error");
    box.textContent = `The agreement figures could not be loaded (${error.message}). Reload the page to try again.`;
    box.hidden = false;
    fill($("headline"));
    $("headline").setAttribute("aria-busy", "false");
    $("report").dataset.state = "error";
    return;
  }
  renderReport();
  $("report").dataset.state = "ready";
}

async function loadReview() {
  const box = $("disagreements");
  try {
    if (!data.urls.review_api) throw new Error("not available");
    renderReview(await getJson(`${data.urls.review_api}?page_size=${REVIEW_PREVIEW}`));
  } catch (error) {
    reviewUnavailable(`The review queue could not be loaded (${error.message}).`);
  }
  box.classList.remove("loading-box");
  box.dataset.state = "ready";
}

for (const button of document.querySelectorAll("#bucket-switch button")) {
  button.addEventListener("click", () => switchBucket(button.dataset.bucket));
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => report && drawOverTime(), 150);
});

loadReport();
loadReview();
