/* The labelling workspace's progress bars: the annotator's own share and the project's. */
import { request } from "../lib/api.js";
import { $ } from "../lib/dom.js";
import { count } from "../lib/format.js";

const REFRESH_MS = 20000;

/**
 * Counts from the server (refresh(), and every REFRESH_MS), moved on at once by bump() as
 * the annotator labels and skips. isSaving() says whether writes are still on their way:
 * the server's counts would lag behind what is on screen then, so they are not asked for.
 */
export function createProgress({ url, isSaving }) {
  let progress = null;
  let timer = null;

  function bump(labelled, skipped) {
    if (!progress) return;
    const mine = progress.mine;
    mine.labelled += labelled;
    mine.skipped += skipped;
    mine.remaining = Math.max(0, mine.remaining - labelled - skipped);
    render();
  }

  async function refresh() {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS);
    if (isSaving()) return;
    const result = await request("GET", url);
    // A failed refresh leaves the bars as they are: the next one tries again.
    if (result.ok && !isSaving()) {
      progress = result.body;
      render();
    }
  }

  function render() {
    const { mine, project } = progress;
    const myTotal = mine.labelled + mine.skipped + mine.remaining;
    // Nothing to label (no images yet, or others did them all) is not a full bar.
    $("mine-bar").style.width = `${myTotal ? (100 * (mine.labelled + mine.skipped)) / myTotal : 0}%`;
    $("mine-text").textContent = `${count(mine.labelled)} labelled${mine.skipped ? `, ${count(mine.skipped)} skipped` : ""}`;
    $("mine-left").textContent = `${count(mine.remaining)} left`;
    $("project-bar").style.width = `${project.images ? (100 * project.complete) / project.images : 0}%`;
    $("project-text").textContent = project.images
      ? `${count(project.complete)} of ${count(project.images)} complete`
      : "no images yet";
  }

  /** The project's number of images as last counted; null before the first count. */
  function projectImages() {
    return progress ? progress.project.images : null;
  }

  return { bump, refresh, projectImages };
}
