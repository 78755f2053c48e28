"""Grid labelling and grid review in Chromium on the load benchmark's largest project.

One annotator opens the labelling page in grid mode (the choice kept in the browser, as
the toggle keeps it), waits for the page of tiles, labels two tiles by key, marks the
others and gives them a third label, and accepts the page with Enter; the next page,
leased and decoded while the first was on screen, is timed from the key to its paint.
The database must then hold exactly the page's annotations, each marked as a grid label,
and no image labelled beyond overlap. The lead sends those images to review, opens the
review page in its grid view, confirms the page with Enter, and the decisions API must
list the annotator's labels as the final labels of every one of them.

What is timed, in the page: paints are Chromium's Element Timing (``renderTime``: the
frame that shows an image's pixels) of the tiles' images, keys their ``keydown`` event
time, saves the Resource Timing end of the requests that carry them; all on the page's
clock, from its navigation start. Screenshots go to ``<var dir>/grid-*.png``.

The images are the load benchmark's: a million rows sharing eight small JPEGs
(``load_data.media_files``), without thumbnails, so tiles show the file itself (the
pages fall back to it, as for any image whose thumbnail is not made yet).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load_data import LEAD, PASSWORD, BenchProject, _reset_project, level_check
from bench.load_http import Browser

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
WAIT_MS = 60_000  # for a page at a million images on a loaded machine; never reached when well
FINALS_WAIT_S = 120  # for consensus to write the final labels of the accepted page
KEYS = ("1", "2", "3")  # first tile, second tile, every other tile: cat, dog, bird

# Registered before the page's scripts: key times, tile paints (Element Timing). Tiles of
# the review grid carry no elementtiming of their own: their images are given one as they
# are added, before their first paint.
PROBE = """
(() => {
  const probe = { keys: [], paints: [] };
  window.gridBench = probe;
  const key = (event) => probe.keys.push({ key: event.key, at: event.timeStamp });
  addEventListener("keydown", key, true);
  const tileOf = (element) => element && element.closest(".grid-tile, .rg-tile");
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const tile = tileOf(entry.element);
      const id = tile ? Number(tile.dataset.imageId || tile.dataset.image) : null;
      probe.paints.push({ id, at: entry.renderTime || entry.loadTime });
    }
  }).observe({ type: "element", buffered: true });
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof Element)) continue;
        const images = node.matches("img") ? [node] : [...node.querySelectorAll("img")];
        for (const img of images) {
          if (!img.hasAttribute("elementtiming")) img.setAttribute("elementtiming", "bench-tile");
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""
# The last paint of these tiles' images after a moment (ms on the page's clock), or null.
LAST_PAINT = """([ids, after]) => {
  const want = new Set(ids);
  const seen = new Map();
  for (const paint of window.gridBench.paints) {
    if (paint.at <= after || !want.has(paint.id)) continue;
    seen.set(paint.id, Math.max(seen.get(paint.id) || 0, paint.at));
  }
  return seen.size === want.size ? Math.max(...seen.values()) : null;
}"""
# Requests whose address holds a part, ended after a moment: [{start, end}] (ms).
REQUESTS = """([part, after]) => performance.getEntriesByType("resource")
  .filter((entry) => entry.name.includes(part) && entry.responseEnd > after)
  .map((entry) => ({ start: entry.startTime, end: entry.responseEnd }))"""
LAST_KEY = "(key) => window.gridBench.keys.filter((k) => k.key === key).at(-1).at"


@dataclass(frozen=True)
class GridCheck:
    """What the database and the API hold after the step."""

    annotations: int  # the annotator's annotations in the project
    grid_flagged: int  # of them marked grid
    page_matches: bool  # exactly the accepted page's images, with the labels given
    over_overlap: int  # images with more annotations than overlap
    count_mismatches: int  # images whose maintained count differs
    decided: int  # final labels the review decided
    decisions_match: bool  # exactly the reviewed page's images, with the annotator's labels


def grid_run(
    base_url: str, project: BenchProject, annotator: str, lead: Browser, var_dir: Path
) -> dict[str, Any]:
    """The grid step on a reset project; the figures, the checks, the screenshots' paths.
    Leaves the project reset."""
    from django.contrib.auth.models import User

    _reset_project(project.id)
    try:
        # Django's ORM refuses to run inside Playwright's event loop: the database is read
        # between the two browsers, never while one runs.
        user_id = User.objects.get(username=annotator).pk
        with _chromium() as browser:
            label = _label(browser, base_url, project, annotator, user_id, var_dir)
        finals_s = _send_to_review(lead, project.id, label["page"])
        with _chromium() as browser:
            review = _review(browser, base_url, project, var_dir)
        check = _check(lead, project.id, annotator, label, review)
    finally:
        _reset_project(project.id)
    return {
        "size": project.size,
        "label": {k: v for k, v in label.items() if k not in ("page", "given")},
        "tiles": len(label["page"]),
        "consensus_seconds": finals_s,
        "review": {k: v for k, v in review.items() if k != "page"},
        "reviewed": len(review["page"]),
        "check": check.__dict__,
        "ok": _ok(check, label, review),
        "screenshots": sorted(str(p) for p in var_dir.glob("grid-*.png")),
    }


def _ok(check: GridCheck, label: dict[str, Any], review: dict[str, Any]) -> bool:
    tiles = len(label["page"])
    return (
        check.annotations == tiles
        and check.grid_flagged == tiles
        and check.page_matches
        and check.over_overlap == 0
        and check.count_mismatches == 0
        and check.decided == len(review["page"]) == tiles
        and check.decisions_match
    )


@contextlib.contextmanager
def _chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(browser: Any, base_url: str, username: str) -> Any:
    """A fresh context logged in through the form; its page with the probe."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.add_init_script(PROBE)
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")
    return page


# ---- labelling ------------------------------------------------------------------------------


def _label(
    browser: Any,
    base_url: str,
    project: BenchProject,
    annotator: str,
    user_id: int,
    var_dir: Path,
) -> dict[str, Any]:
    page = _signed_in(browser, base_url, annotator)
    key = f"labeler:grid-mode:{user_id}:{project.id}"
    page.evaluate("(key) => localStorage.setItem(key, 'grid')", key)
    page.goto(f"{base_url}/projects/{project.id}/label/")
    page.wait_for_selector("#grid[data-state=ready]", timeout=WAIT_MS)
    first = _tile_ids(page, "#grid-tiles .grid-tile", "imageId")
    first_paint = _painted(page, first, 0.0)
    # The page ahead is leased and decoded while this one is on screen, as while a person
    # looks at it: Enter is timed against the look-ahead, not a cold fetch.
    page.wait_for_function(
        "() => window.labeler.grid && window.labeler.grid.ahead.length > 0", timeout=WAIT_MS
    )
    given = _label_page(page, first)
    page.screenshot(path=str(var_dir / "grid-label-page.png"))
    shown = page.locator("#grid").get_attribute("data-page")
    page.keyboard.press("Enter")
    enter = page.evaluate(LAST_KEY, "Enter")
    page.wait_for_function(
        "(seq) => document.querySelector('#grid').dataset.page !== seq",
        arg=shown,
        timeout=WAIT_MS,
    )
    second = _tile_ids(page, "#grid-tiles .grid-tile", "imageId")
    next_paint = _painted(page, second, enter)
    page.wait_for_function("() => window.labeler.outbox().length === 0", timeout=WAIT_MS)
    saves = page.evaluate(REQUESTS, ["/annotations/", enter])
    leases = page.evaluate(REQUESTS, ["/queue/page/", 0])
    page.screenshot(path=str(var_dir / "grid-label-next.png"))
    stats = page.evaluate("() => ({ ...window.labeler.grid.stats })")
    page.context.close()
    return {
        "page": first,
        "given": given,
        "first_page_ms": first_paint,
        "enter_to_next_ms": next_paint - enter,
        "enter_to_saved_ms": max(r["end"] for r in saves) - enter,
        "saves": len(saves),
        "page_requests_ms": [r["end"] - r["start"] for r in leases],
        "stalls": stats["stalls"],
    }


def _label_page(page: Any, ids: list[int]) -> dict[int, str]:
    """1 on the first tile, 2 on the second, Space marks the rest, 3 labels them."""
    page.keyboard.press(KEYS[0])
    page.keyboard.press("ArrowRight")
    page.keyboard.press(KEYS[1])
    for _ in ids[2:]:
        page.keyboard.press("ArrowRight")
        page.keyboard.press(" ")
    page.keyboard.press(KEYS[2])
    labelled = page.eval_on_selector_all(
        "#grid-tiles .grid-tile", "tiles => tiles.filter(t => t.dataset.labels).length"
    )
    if labelled != len(ids):
        raise RuntimeError(f"{labelled} of {len(ids)} tiles labelled by the keys")
    order = _tile_ids(page, "#grid-tiles .grid-tile", "imageId")
    keys = [KEYS[0], KEYS[1], *[KEYS[2]] * (len(order) - 2)]
    return dict(zip(order, keys, strict=True))


def _tile_ids(page: Any, selector: str, field: str) -> list[int]:
    return [
        int(value)
        for value in page.eval_on_selector_all(selector, f"ts => ts.map(t => t.dataset.{field})")
    ]


def _painted(page: Any, ids: list[int], after: float) -> float:
    """When the last of these tiles was painted after ``after`` (waits for it)."""
    handle = page.wait_for_function(LAST_PAINT, arg=[ids, after], timeout=WAIT_MS, polling=50)
    return float(handle.json_value())


# ---- review ---------------------------------------------------------------------------------


def _send_to_review(lead: Browser, project_id: int, ids: list[int]) -> float:
    """The lead sends the page's images to review (a bulk action), then waits until
    consensus has written their final labels; the seconds that took."""
    from labeler.annotations.models import FinalLabel

    body = {"action": "review", "selection": {"ids": ids}}
    answer = lead.post_json(f"/api/v1/projects/{project_id}/images/bulk/", body)
    if answer.status != 200:
        raise RuntimeError(f"send to review answered {answer.status}: {answer.body[:300]!r}")
    started = time.monotonic()
    while FinalLabel.objects.filter(image_id__in=ids).count() < len(ids):
        if time.monotonic() - started > FINALS_WAIT_S:
            raise RuntimeError(f"consensus wrote no final labels within {FINALS_WAIT_S} s")
        time.sleep(0.2)
    return time.monotonic() - started


def _review(browser: Any, base_url: str, project: BenchProject, var_dir: Path) -> dict[str, Any]:
    page = _signed_in(browser, base_url, LEAD)
    page.evaluate("(key) => localStorage.setItem(key, 'grid')", f"labeler.review.view.{project.id}")
    page.goto(f"{base_url}/projects/{project.id}/review/")
    page.wait_for_selector("#grid-groups[data-state=ready]", timeout=WAIT_MS)
    ids = _tile_ids(page, "#grid-groups .rg-tile", "image")
    first_paint = _painted(page, ids, 0.0)
    page.screenshot(path=str(var_dir / "grid-review-page.png"))
    summary = page.locator("#grid-summary").inner_text()
    page.keyboard.press("Enter")
    enter = page.evaluate(LAST_KEY, "Enter")
    page.wait_for_function("() => window.reviewer.outbox().length === 0", timeout=WAIT_MS)
    batch = page.evaluate(REQUESTS, ["/decisions/batch/", enter])
    page.wait_for_function(
        "() => document.querySelector('#grid-groups').dataset.state !== 'loading'",
        timeout=WAIT_MS,
    )
    page.screenshot(path=str(var_dir / "grid-review-done.png"))
    page.context.close()
    return {
        "page": ids,
        "summary": summary,
        "first_page_ms": first_paint,
        "enter_to_confirmed_ms": max(r["end"] for r in batch) - enter,
        "batch_request_ms": [r["end"] - r["start"] for r in batch],
    }


# ---- checks ---------------------------------------------------------------------------------


def _check(
    lead: Browser, project_id: int, annotator: str, label: dict[str, Any], review: dict[str, Any]
) -> GridCheck:
    from labeler.annotations.models import Annotation
    from labeler.projects.models import Label

    names = dict(Label.objects.filter(project_id=project_id).values_list("pk", "name"))
    by_key = {str(n + 1): name for n, name in enumerate(_label_names(project_id))}
    expected = {image: by_key[key] for image, key in label["given"].items()}
    stored = Annotation.objects.filter(project_id=project_id)
    mine = stored.filter(annotator__username=annotator)
    labels = {
        a.image_id: sorted(label.name for label in a.labels.all())
        for a in mine.prefetch_related("labels")
    }
    db = level_check(project_id, 1)
    decisions = _decisions(lead, project_id, names)
    reviewed = set(review["page"])
    return GridCheck(
        annotations=stored.count(),
        grid_flagged=mine.filter(grid=True).count(),
        page_matches=labels == {image: [name] for image, name in expected.items()},
        over_overlap=db["over_db"],
        count_mismatches=db["count_mismatches"],
        decided=len(decisions),
        decisions_match=decisions
        == {
            image: ([name], "adjudicated") for image, name in expected.items() if image in reviewed
        },
    )


def _label_names(project_id: int) -> list[str]:
    from labeler.projects.models import Label

    return list(
        Label.objects.filter(project_id=project_id)
        .order_by("position")
        .values_list("name", flat=True)
    )


def _decisions(lead: Browser, project_id: int, names: dict[int, str]) -> dict[int, Any]:
    """Image id -> (label names, method) of every person's decision, through the API."""
    answer = lead.get(f"/api/v1/projects/{project_id}/decisions/?page_size=100")
    if answer.status != 200:
        raise RuntimeError(f"decisions answered {answer.status}: {answer.body[:300]!r}")
    return {
        row["image"]: (sorted(names[pk] for pk in row["label_ids"]), row["method"])
        for row in answer.json()["results"]
    }


# ---- the table ------------------------------------------------------------------------------


def print_grid(result: dict[str, Any]) -> None:
    label, review, check = result["label"], result["review"], result["check"]
    pages = label["page_requests_ms"]
    print(
        f"\nGrid labelling and review in Chromium, {result['size']:,} images "
        f"({result['tiles']} tiles a page)"
    )
    print(f"{'':<50} {'ms':>8}")
    rows = [
        ("labelling: first page painted (from navigation)", label["first_page_ms"]),
        ("labelling: Enter to the next page painted", label["enter_to_next_ms"]),
        (
            f"labelling: Enter to the page's {label['saves']} labels saved",
            label["enter_to_saved_ms"],
        ),
        ("labelling: page/ request (median of its calls)", sorted(pages)[len(pages) // 2]),
        ("review: first page painted (from navigation)", review["first_page_ms"]),
        ("review: Enter to the page of decisions confirmed", review["enter_to_confirmed_ms"]),
    ]
    for name, value in rows:
        print(f"{name:<50} {value:>8.0f}")
    print(
        f"stored: {check['annotations']} annotations ({check['grid_flagged']} grid), "
        f"page matches: {check['page_matches']}, beyond overlap: {check['over_overlap']}, "
        f"count mismatches: {check['count_mismatches']}; decided: {check['decided']}, "
        f"decisions match: {check['decisions_match']}; stalls: {label['stalls']}; "
        f"consensus in {result['consensus_seconds']:.1f} s"
    )
    print("grid step " + ("passed" if result["ok"] else "FAILED"))
