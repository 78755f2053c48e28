/* Erasing images at a person's request (POST /projects/{id}/erasures/), from the Images
 * page's selection and from an image's page: a dry run first, whose counts the lead
 * confirms, then the erasure with its reason. The server refuses an empty or unknown
 * filter, so "everything" is never erased by mistake.
 */
import { errorMessage, request } from "./lib/api.js";

const many = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** What the dry run says would go, as the confirmation's text. */
export function erasureSummary(plan) {
  const files = Object.values(plan.files || {}).reduce((sum, n) => sum + n, 0);
  const versions = Object.keys(plan.versions || {}).length;
  return [
    `Erase ${many(plan.image_count, "image")} for good?`,
    `${many(files, "stored file")} of them, ${many(plan.exports.length, "export")} holding them,`,
    `${many(plan.served, "served prediction")} and ${many(plan.prediction_jobs, "prediction job")} are deleted;`,
    `${many(versions, "model version")} will be marked for retraining.`,
    "This cannot be undone.",
  ].join(" ");
}

/** Ask the dry run, confirm, erase; reports through setStatus. Returns the report, or null. */
export async function eraseImages({ url, query, reason, setStatus }) {
  if (!reason.trim()) {
    setStatus("Say why (the person's request) in the reason field first.");
    return null;
  }
  setStatus("Counting what would go…");
  const plan = await request("POST", url, { ...query, dry_run: true });
  if (!plan.ok) {
    setStatus(errorMessage(plan));
    return null;
  }
  if (!window.confirm(erasureSummary(plan.body))) {
    setStatus("Nothing was erased.");
    return null;
  }
  setStatus("Erasing…");
  // The count the lead confirmed: the server refuses the erasure if the selection
  // matches another number by now.
  const expected_count = plan.body.image_count;
  const answer = await request("POST", url, { ...query, reason, expected_count });
  if (!answer.ok) {
    setStatus(errorMessage(answer));
    return null;
  }
  setStatus(`Erased ${many(answer.body.image_count, "image")}: report ${answer.body.id}.`);
  return answer.body;
}
