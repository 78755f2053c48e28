"""Grid against single mode: a scripted annotator labels the same photos in each, at 20 Mbit/s.

    .venv/bin/python bench/grid_label.py            # or: make bench-grid
    .venv/bin/python bench/grid_label.py --photos 96 --mbit 10

240 camera-sized photos (``bench/label_paint.py``'s, 4032 x 3024 JPEGs of about 3 MB,
made once under ``var/bench-label-paint``) are uploaded through the API to one project of
the embedded default (gunicorn, SQLite, tasks in the web process) with four labels and
overlap 2. Each photo has a true label (drawn with a fixed seed) and a current model whose
suggestion is right on 90% of them, at a confidence above the pre-selection line. Two
annotators then label every photo through Chromium with the network throttled (DevTools'
``Network.emulateNetworkConditions``: 20 Mbit/s, 20 ms added to every request): one in
single mode, one in grid mode (pages of ``--page`` tiles).

The scripted annotator knows each photo's truth and acts at a person's pace, the same
pace model in both modes (Card, Moran and Newell's keystroke-level model: a decision takes
a moment of looking, a key about a fifth of a second):

- single mode: each photo is looked at for 600 to 1000 ms after it is painted (as in
  ``bench/label_paint.py``), then Enter accepts the suggestion or the true label's key is
  pressed;
- grid mode: each tile is looked at for 150 to 250 ms once the page is painted (checking a
  suggested label on a thumbnail is a glance, not a decision from scratch); a wrong tile is
  reached with the arrow keys (up or down to its row, then along it) and given its true
  label's key, each key 120 to 200 ms after the one before; Enter accepts the page.

What is measured, not modelled: the time the page takes to show each photo or page (a
photo or page still loading when its key comes is waited for), from the first paint to the
last label saved, so the figure is images labelled per minute of the whole session; the
key press to the next page painted (Element Timing: the last tile of the next page
painted after the key's ``keydown``), and how many labels the server stored equal to the
truth.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.label_paint import (  # noqa: E402
    CHROMIUM,
    PHOTOS_VERSION,
    _load_through,
    _server,
    photos_cached,
    throttled_page,
)
from bench.timing import nearest_rank  # noqa: E402

LABELS = ("cat", "dog", "bird", "fish")
KEYS = ("1", "2", "3", "4")
LEAD, PASSWORD = "bench-grid-lead", "bench-grid-password"
SINGLE, GRID = "bench-single", "bench-grid"
RIGHT = 0.9  # share of suggestions equal to the truth
CONFIDENCE = 0.9  # above the pre-selection line (0.6): Enter accepts a suggestion

# Registered before the page's scripts: key times and the paints (Element Timing) of the
# single stage's image ("label-image") and of the grid's tiles ("grid-page").
PROBE = """
(() => {
  const probe = { keys: [], stage: [], tiles: [] };
  window.gridProbe = probe;
  performance.setResourceTimingBufferSize(20000);
  const onKey = (event) => probe.keys.push({ at: event.timeStamp, key: event.key });
  addEventListener("keydown", onKey, true);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const at = entry.renderTime || entry.loadTime;
      if (entry.identifier === "label-image") probe.stage.push(at);
      else if (entry.identifier === "grid-page") probe.tiles.push({ at, id: entry.id });
    }
  }).observe({ type: "element", buffered: true });
})();
"""


@dataclass(frozen=True)
class Run:
    """One annotator's session: what was labelled, in how long, how fast pages came up."""

    mode: str
    labelled: int
    seconds: float
    correct: int
    latencies: list[float]  # ms: single, key to next photo painted; grid, Enter to next page

    @property
    def per_minute(self) -> float:
        return 60.0 * self.labelled / self.seconds

    def quantile(self, q: float) -> float:
        """The nearest-rank quantile of the latencies."""
        return nearest_rank(self.latencies, q)


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    if not shutil.which(CHROMIUM):
        print(f"needs Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    photo_dir = ROOT / "var" / "bench-label-paint" / f"photos-v{PHOTOS_VERSION}"
    paths = photos_cached(photo_dir, options.photos)
    state = options.var_dir / "state"
    shutil.rmtree(state, ignore_errors=True)
    from bench.load_stack import stack_env, static_collect

    env = stack_env(database_url=f"sqlite:///{state / 'db.sqlite3'}", redis_url="", var_dir=state)
    env["STATIC_ROOT"] = str(options.var_dir / "static")
    os.environ.update(env, DJANGO_SETTINGS_MODULE="labeler.settings")
    project_id, token = _project(options)
    static_collect(env)
    with _server(env, options.var_dir) as base_url:
        _load_through(base_url, project_id, token, paths, display=True)
        truth = _suggest(project_id, options.seed)
        runs = [
            _label(base_url, project_id, SINGLE, "single", truth, options),
            _label(base_url, project_id, GRID, "grid", truth, options),
        ]
    _print(options, runs)
    return 0


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=240)
    parser.add_argument("--page", type=int, default=24, help="tiles per grid page")
    parser.add_argument("--mbit", type=float, default=20.0, help="throughput, Mbit/s")
    parser.add_argument("--latency", type=float, default=20.0, help="ms added per request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var" / "bench-grid")
    return parser.parse_args(argv)


# ---- the project ------------------------------------------------------------------------


def _project(options: argparse.Namespace) -> tuple[int, str]:
    """A fresh database: the project (overlap 2, no gold, no hold-back), the lead's token."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from labeler.projects.models import Project, Role
    from labeler.projects.services import membership_set, project_create

    lead = User.objects.create_user(LEAD, password=PASSWORD)
    labels = [{"name": n, "hotkey": k} for n, k in zip(LABELS, KEYS, strict=True)]
    project = project_create(creator=lead, name="Grid against single", labels=labels)
    Project.objects.filter(pk=project.pk).update(
        overlap=2, gold_rate=0.0, suggestion_holdback=0.0, grid_size=options.page
    )
    for name in (SINGLE, GRID):
        annotator = User.objects.create_user(name, password=PASSWORD)
        membership_set(project=project, user=annotator, role=Role.ANNOTATOR)
    token, _ = Token.objects.get_or_create(user=lead)
    return project.pk, token.key


def _suggest(project_id: int, seed: int) -> dict[int, str]:
    """Each image's true label, and a current model right on RIGHT of them; returns the truth
    by image id."""
    from labeler.images.models import Image
    from labeler.predictions.models import ModelVersion
    from labeler.predictions.prelabel import predictions_store
    from labeler.projects.models import Label

    rng = random.Random(seed)
    ids = list(
        Image.objects.filter(project_id=project_id).order_by("pk").values_list("pk", flat=True)
    )
    labels = list(Label.objects.filter(project_id=project_id).order_by("position"))
    truth = {image_id: rng.randrange(len(labels)) for image_id in ids}
    wrong = set(rng.sample(ids, round(len(ids) * (1 - RIGHT))))
    version = ModelVersion.objects.create(project_id=project_id, version=1, is_current=True)
    rows = np.full((len(ids), len(labels)), (1 - CONFIDENCE) / (len(labels) - 1))
    for row, image_id in enumerate(ids):
        suggested = truth[image_id]
        if image_id in wrong:
            suggested = (suggested + 1 + rng.randrange(len(labels) - 1)) % len(labels)
        rows[row, suggested] = CONFIDENCE
    predictions_store(
        model_version_id=version.pk,
        image_ids=ids,
        probabilities=rows,
        label_ids=[label.pk for label in labels],
    )
    return {image_id: labels[k].name for image_id, k in truth.items()}


# ---- labelling through Chromium ---------------------------------------------------------


def _label(
    base_url: str,
    project_id: int,
    annotator: str,
    mode: str,
    truth: dict[int, str],
    options: argparse.Namespace,
) -> Run:
    from playwright.sync_api import sync_playwright

    pace = random.Random(options.seed)
    key_of = dict(zip(LABELS, KEYS, strict=True))
    user_id = _user_id(annotator)  # the ORM before Playwright's event loop runs
    with sync_playwright() as playwright:
        browser, page = throttled_page(
            playwright, base_url, annotator, PASSWORD, options, probe=PROBE, size=(1440, 900)
        )
        if mode == "grid":  # the annotator's choice, as the page's toggle keeps it
            page.evaluate(
                f"localStorage.setItem('labeler:grid-mode:{user_id}:{project_id}', 'grid')"
            )
        page.goto(f"{base_url}/projects/{project_id}/label/")
        if mode == "single":
            started = _single(page, truth, key_of, pace)
        else:
            started = _grid(page, truth, key_of, pace)
        page.wait_for_function(
            "() => document.getElementById('save-status').dataset.state === 'idle'", timeout=120_000
        )
        seconds = time.monotonic() - started
        probe = page.evaluate("() => window.gridProbe")
        browser.close()
    labelled, correct = _stored(project_id, annotator, truth)
    latencies = _single_latencies(probe) if mode == "single" else _grid_latencies(probe)
    return Run(mode, labelled, seconds, correct, latencies)


def _single(page: Any, truth: dict[int, str], key_of: dict[str, str], pace: random.Random) -> float:
    """One photo at a time: look, then Enter (the suggestion is right) or the true key."""
    stage = page.locator("#stage")
    page.wait_for_function("() => window.gridProbe.stage.length >= 1", timeout=120_000)
    started = time.monotonic()
    while True:
        state = stage.get_attribute("data-state")
        if state == "done":
            return started
        image_id = int(stage.get_attribute("data-image-id") or 0)
        page.wait_for_timeout(pace.uniform(600, 1000))
        suggested = page.evaluate(
            "() => window.labeler.state.current?.suggestion?.label_ids?.[0] ?? null"
        )
        right = suggested is not None and _label_name(page, suggested) == truth[image_id]
        page.keyboard.press("Enter" if right else key_of[truth[image_id]])
        page.wait_for_function(
            "(id) => { const stage = document.getElementById('stage');"
            " return stage.dataset.state === 'done'"
            " || (stage.dataset.imageId && stage.dataset.imageId !== String(id)); }",
            arg=image_id,
            timeout=120_000,
        )


def _grid(page: Any, truth: dict[int, str], key_of: dict[str, str], pace: random.Random) -> float:
    """A page at a time: glance over each tile, reach each wrong one with the arrows and
    give it its true label's key, then Enter."""
    ids_of = page.evaluate(
        "() => Object.fromEntries(JSON.parse(document.getElementById('workspace-data')"
        ".textContent).labels.map((l) => [l.name, l.id]))"
    )
    grid = page.locator("#grid")
    page.wait_for_function(
        "() => ['ready', 'done'].includes(document.getElementById('grid').dataset.state)",
        timeout=120_000,
    )
    started = time.monotonic()
    while grid.get_attribute("data-state") != "done":
        tiles = page.evaluate(
            "() => [...document.querySelectorAll('#grid-tiles .grid-tile')].map((t) => ({"
            " id: Number(t.dataset.imageId), labels: t.dataset.labels,"
            " focused: t.dataset.focused === 'true' }))"
        )
        page.wait_for_timeout(sum(pace.uniform(150, 250) for _ in tiles))
        for tile in tiles:
            if tile["labels"] == str(ids_of[truth[tile["id"]]]):
                continue
            _reach(page, tile["id"], pace)
            page.keyboard.press(key_of[truth[tile["id"]]])
            page.wait_for_timeout(pace.uniform(120, 200))
        first = tiles[0]["id"]
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(first) => { const grid = document.getElementById('grid');"
            " const tile = document.querySelector('#grid-tiles .grid-tile');"
            " return grid.dataset.state === 'done' || (grid.dataset.state === 'ready'"
            " && tile && tile.dataset.imageId !== String(first)); }",
            arg=first,
            timeout=120_000,
        )
    return started


# Where the focused tile is against a target tile: on the same tile, the rows between them
# (by their tops on screen) and the steps between them in the page's order.
WHERE = """(id) => {
  const tiles = [...document.querySelectorAll("#grid-tiles .grid-tile")];
  const focused = tiles.find((t) => t.dataset.focused === "true") || tiles[0];
  const target = tiles.find((t) => t.dataset.imageId === String(id));
  const dy = target.getBoundingClientRect().top - focused.getBoundingClientRect().top;
  return { same: focused === target, at: focused.dataset.imageId, dy,
           steps: tiles.indexOf(target) - tiles.indexOf(focused) };
}"""


def _reach(page: Any, image_id: int, pace: random.Random) -> None:
    """Move the focus to the tile with the arrow keys as a person would: up or down to its
    row, then along it; where that goes round in circles (groups side by side), along the
    page's order."""
    seen: set[str] = set()
    while True:
        where = page.evaluate(WHERE, image_id)
        if where["same"]:
            return
        if abs(where["dy"]) > 4 and where["at"] not in seen:
            seen.add(where["at"])
            key = "ArrowDown" if where["dy"] > 0 else "ArrowUp"
        else:
            key = "ArrowRight" if where["steps"] > 0 else "ArrowLeft"
        page.keyboard.press(key)
        page.wait_for_timeout(pace.uniform(120, 200))


def _user_id(username: str) -> int:
    from django.contrib.auth.models import User

    return User.objects.get(username=username).pk


def _label_name(page: Any, label_id: int) -> str:
    return page.evaluate(
        "(id) => JSON.parse(document.getElementById('workspace-data').textContent)"
        ".labels.find((l) => l.id === id)?.name",
        label_id,
    )


def _stored(project_id: int, annotator: str, truth: dict[int, str]) -> tuple[int, int]:
    """How many labels the annotator has stored, and how many equal the truth."""
    from labeler.annotations.models import Annotation

    rows = Annotation.objects.filter(
        image__project_id=project_id, annotator__username=annotator
    ).prefetch_related("labels")
    labelled = correct = 0
    for row in rows:
        labelled += 1
        names = [label.name for label in row.labels.all()]
        correct += names == [truth[row.image_id]]
    return labelled, correct


def _single_latencies(probe: dict[str, Any]) -> list[float]:
    paints = sorted(probe["stage"])
    out = []
    for key in probe["keys"]:
        after = [at for at in paints if at > key["at"]]
        if after:
            out.append(after[0] - key["at"])
    return out


def _grid_latencies(probe: dict[str, Any]) -> list[float]:
    """Each Enter to the last tile of the next page painted (before the next key)."""
    keys = [key["at"] for key in probe["keys"]]
    out = []
    for index, key in enumerate(probe["keys"]):
        if key["key"] != "Enter":
            continue
        until = keys[index + 1] if index + 1 < len(keys) else float("inf")
        painted = [tile["at"] for tile in probe["tiles"] if key["at"] < tile["at"] < until]
        if painted:
            out.append(max(painted) - key["at"])
    return out


def _print(options: argparse.Namespace, runs: list[Run]) -> None:
    print(
        f"\n{options.photos} photos, suggestions {RIGHT:.0%} right, {options.mbit:g} Mbit/s, "
        f"+{options.latency:g} ms a request, grid pages of {options.page}"
    )
    print(
        f"{'mode':<8} {'labelled':>9} {'minutes':>8} {'per min':>8} {'keys':>5} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'max ms':>8} {'accuracy':>9}"
    )
    for run in runs:
        print(
            f"{run.mode:<8} {run.labelled:>9} {run.seconds / 60:>8.2f} {run.per_minute:>8.1f} "
            f"{len(run.latencies):>5} {run.quantile(0.5):>8.1f} {run.quantile(0.95):>8.1f} "
            f"{run.quantile(1.0):>8.1f} "
            f"{run.correct / max(1, run.labelled):>9.3f}"
        )
    single, grid = runs
    print(f"grid / single: {grid.per_minute / single.per_minute:.1f}x images per minute")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
