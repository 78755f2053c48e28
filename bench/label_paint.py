"""Key press to the next photo painted on the labelling page, at 20 Mbit/s.

    .venv/bin/python bench/label_paint.py           # or: make bench-label-paint
    .venv/bin/python bench/label_paint.py --photos 20 --mbit 10

Forty camera-sized photos (4032 x 3024 JPEGs of about 3 MB, textured so that they
compress like photos; every fourth one stored sideways with an EXIF turn, as a phone
held upright writes it) are made once and kept under ``var/bench-label-paint/photos-v1``.
They are uploaded through the API to two projects of the embedded default (gunicorn,
SQLite, tasks in the web process), as anyone uploads them, and the web process makes
their thumbnails and display copies:

- ``display copy``: the server as it ships (``LABELER_DISPLAY_SIZE`` 2000), so the page
  shows and looks ahead over 2000-pixel copies;
- ``original``: the reference, the page as it worked before display copies: the same
  photos uploaded while the server made none (``LABELER_DISPLAY_SIZE`` above their size),
  so the page shows and looks ahead over the 3 MB originals.

An annotator then labels each project through Chromium with the network throttled
(DevTools' ``Network.emulateNetworkConditions``: 20 Mbit/s down and up, 20 ms added to
every request), one key per photo, each pressed 600 to 1000 ms after the photo before it
was painted, which is brisk for a person. What is timed, in the page, is from the key's
``keydown`` (its event time) to the paint of the next photo, as Chromium reports it
through Element Timing: the ``renderTime`` of the ``<img elementtiming>`` on the stage,
the time of the first frame that shows its pixels. A photo still loading when its key
comes counts until it is painted, so stalls are in the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import nearest_rank  # noqa: E402

PHOTO_SIZE = (4032, 3024)  # a 12-megapixel phone camera
PHOTOS_VERSION = 1  # of photo_jpeg: a new one makes the photos again
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
LEAD, ANNOTATOR, PASSWORD = "bench-paint-lead", "bench-paint-annotator", "bench-paint-password"
LABEL_KEY = "1"  # the first label's key: one press labels the photo and moves on

# Registered before the page's own scripts: the key's event time and each stage image's
# paint (Element Timing), collected in the page, where the clock is the page's.
PROBE = """
(() => {
  const probe = { keys: [], paints: [] };
  const waiting = [];
  window.labelPaint = probe;
  // Resolves once count stage images have been painted (rejects after a minute).
  probe.painted = (count) => new Promise((resolve, reject) => {
    waiting.push({ count, resolve });
    setTimeout(() => reject(new Error(`image ${count} not painted in 60 s`)), 60000);
    settle();
  });
  function settle() {
    for (const wait of waiting) if (probe.paints.length >= wait.count) wait.resolve();
  }
  performance.setResourceTimingBufferSize(10000);
  addEventListener("keydown", (event) => probe.keys.push(event.timeStamp), true);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.identifier !== "label-image") continue;
      probe.paints.push({ at: entry.renderTime || entry.loadTime, url: entry.url });
    }
    settle();
  }).observe({ type: "element", buffered: true });
})();
"""
FILES_FETCHED = """
performance.getEntriesByType("resource")
  .filter((entry) => entry.name.includes("/files/"))
  .map((entry) => ({
    url: entry.name, bytes: entry.encodedBodySize, cached: entry.transferSize === 0,
  }))
"""


@dataclass(frozen=True)
class Run:
    """One project labelled through the page: key-to-paint times and what was fetched."""

    name: str
    latencies: list[float]  # ms, one per key that brought up a photo
    stalls: int  # keys pressed while the page had no next photo ready
    displays: int  # display copies fetched
    originals: int  # originals fetched
    mean_bytes: float  # per image file fetched
    load: float  # the machine's 1-minute load average at the end (this run included)

    def quantile(self, q: float) -> float:
        """The nearest-rank quantile of the latencies."""
        return nearest_rank(self.latencies, q)


def main(argv: list[str] | None = None) -> int:
    """Make the photos, load the two projects, label each through Chromium, print the table."""
    options = _options(argv)
    if not shutil.which(CHROMIUM):
        print(f"needs Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    paths = photos_cached(options.var_dir / f"photos-v{PHOTOS_VERSION}", options.photos)
    state = options.var_dir / "state"
    shutil.rmtree(state, ignore_errors=True)  # the database and stored files of a last run
    from bench.load_stack import stack_env, static_collect

    env = stack_env(database_url=f"sqlite:///{state / 'db.sqlite3'}", redis_url="", var_dir=state)
    env["STATIC_ROOT"] = str(options.var_dir / "static")  # kept between runs
    os.environ.update(env, DJANGO_SETTINGS_MODULE="labeler.settings")
    reference_id, display_id, token = _projects()
    static_collect(env)
    # The reference first, on a server that makes no display copies of photos this size.
    _load(env, options.var_dir, reference_id, token, paths, display_size=100_000)
    with _server(env, options.var_dir) as base_url:
        _load_through(base_url, display_id, token, paths, display=True)
        runs = [
            _label(base_url, display_id, "display copy, look-ahead", options),
            _label(base_url, reference_id, "original (reference)", options),
        ]
    _print(options, runs)
    return 0


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=40, help="photos per project")
    parser.add_argument("--mbit", type=float, default=20.0, help="throughput, Mbit/s")
    parser.add_argument("--latency", type=float, default=20.0, help="ms added per request")
    parser.add_argument("--pace", default="600-1000", help="ms from a paint to the next key")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var" / "bench-label-paint")
    options = parser.parse_args(argv)
    low, _, high = options.pace.partition("-")
    options.pace = (int(low), int(high or low))
    return options


# ---- the photos -------------------------------------------------------------------------


def photo_jpeg(seed: int, size: tuple[int, int] = PHOTO_SIZE, *, sideways: bool = False) -> bytes:
    """A landscape as a camera writes it: sky over textured ground, with grain.

    Value noise at three scales and a little per-pixel grain make it compress as a photo
    does (about 3 MB at 4032 x 3024, quality 90) in a second or two. ``sideways``: a
    portrait, stored as a phone held upright stores it: the sensor's landscape pixels
    (``size``), with EXIF orientation 6 to turn them upright, sky at the top.
    """
    rng = np.random.default_rng(seed)
    width, height = (size[1], size[0]) if sideways else size
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    columns = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    horizon = 0.55 + 0.04 * np.sin(columns * 6.0 + seed)
    sky = rows < horizon
    sun = (columns - 0.25) ** 2 * (width / height) ** 2 + (rows - 0.2) ** 2 < 0.006
    grain = rng.normal(0.0, 4.0, (height, width)).astype(np.float32)
    channels = []
    for top, low, ground in ((40, 170, 95), (90, 200, 110), (170, 230, 45)):
        texture = _value_noise(rng, width, height)
        sky_part = top + (low - top) * rows / horizon + 0.4 * texture
        ground_part = ground + 0.9 * texture
        channel = np.where(sky, sky_part, ground_part) + grain
        channels.append(np.where(sun, 250.0, channel))
    pixels = np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    if sideways:
        image = image.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back
        exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _value_noise(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Texture about zero: random values at three scales, each smoothly enlarged."""
    total = np.zeros((height, width), dtype=np.float32)
    for step, weight in ((96, 0.55), (16, 0.25), (4, 0.2)):
        small = rng.integers(0, 256, (max(1, height // step), max(1, width // step)))
        layer = Image.fromarray(small.astype(np.uint8)).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        total += weight * (np.asarray(layer, dtype=np.float32) - 128.0)
    return total


def photos_cached(directory: Path, count: int) -> list[Path]:
    """``count`` photos under ``directory``, made on the first run only."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"IMG_{index:04d}.jpg"
        if not path.exists():
            temporary = path.with_suffix(".part")
            temporary.write_bytes(photo_jpeg(index, sideways=index % 4 == 3))
            temporary.rename(path)
        paths.append(path)
    return paths


# ---- the projects and the server --------------------------------------------------------


def _projects() -> tuple[int, int, str]:
    """A fresh database: the two projects, the lead's API token."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from labeler.projects.models import Role
    from labeler.projects.services import membership_set, project_create

    lead = User.objects.create_user(LEAD, password=PASSWORD)
    annotator = User.objects.create_user(ANNOTATOR, password=PASSWORD)
    ids = []
    for name in ("Originals", "Photos"):
        labels = [{"name": "cat", "hotkey": LABEL_KEY}, {"name": "dog", "hotkey": "2"}]
        project = project_create(creator=lead, name=name, labels=labels)
        membership_set(project=project, user=annotator, role=Role.ANNOTATOR)
        ids.append(project.pk)
    token, _ = Token.objects.get_or_create(user=lead)
    return ids[0], ids[1], token.key


@contextlib.contextmanager
def _server(env: dict[str, str], var_dir: Path, **overrides: str) -> Iterator[str]:
    """gunicorn on the embedded default (one process, whose background thread runs the
    tasks), with these settings; yields its address."""
    from bench.load_stack import GunicornSetup, stack_running

    setup = GunicornSetup("gthread", 1, 4)
    with stack_running({**env, **overrides}, setup, var_dir / "logs", workers=False) as stack:
        yield stack.base_url


def _load(
    env: dict[str, str],
    var_dir: Path,
    project_id: int,
    token: str,
    paths: list[Path],
    *,
    display_size: int,
) -> None:
    """Upload the photos on a server of their own that makes copies above display_size."""
    with _server(env, var_dir, LABELER_DISPLAY_SIZE=str(display_size)) as base_url:
        _load_through(base_url, project_id, token, paths, display=False)


def _load_through(
    base_url: str, project_id: int, token: str, paths: list[Path], *, display: bool
) -> None:
    """Upload through the API, four photos a request, and wait for the previews."""
    import requests

    url = f"{base_url}/api/v1/projects/{project_id}/images/"
    headers = {"Authorization": f"Token {token}"}
    for start in range(0, len(paths), 4):
        files = [
            ("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths[start : start + 4]
        ]
        answer = requests.post(url, headers=headers, files=files, timeout=300)
        answer.raise_for_status()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        images = requests.get(url, headers=headers, params={"page_size": 1000}, timeout=30).json()
        rows = images.get("results", images)
        ready = [r for r in rows if r["thumbnail_url"]]
        if len(ready) == len(paths):
            copies = sum(r["display_url"] != r["file_url"] for r in rows)
            if copies != (len(paths) if display else 0):
                raise RuntimeError(
                    f"expected {'a' if display else 'no'} display copy, got {copies}"
                )
            return
        time.sleep(0.5)
    raise RuntimeError("the web process did not make the thumbnails within 600 s")


# ---- labelling through Chromium ---------------------------------------------------------


def _label(base_url: str, project_id: int, name: str, options: argparse.Namespace) -> Run:
    """Label every photo of the project with the keyboard in a fresh, throttled browser."""
    from playwright.sync_api import sync_playwright

    pace = random.Random(options.seed)
    with sync_playwright() as playwright:
        browser, page = throttled_page(
            playwright, base_url, ANNOTATOR, PASSWORD, options, probe=PROBE, size=(1280, 800)
        )
        page.goto(f"{base_url}/projects/{project_id}/label/")
        for shown in range(1, options.photos):
            _wait_painted(page, shown)
            page.wait_for_timeout(pace.uniform(*options.pace))
            page.keyboard.press(LABEL_KEY)
        _wait_painted(page, options.photos)
        probe = page.evaluate("() => ({ keys: labelPaint.keys, paints: labelPaint.paints })")
        fetched = page.evaluate(FILES_FETCHED)
        stalls = page.evaluate("window.labeler.stats.stalls")
        browser.close()
    return _run(name, probe, fetched, stalls)


def throttled_page(
    playwright: Any,
    base_url: str,
    username: str,
    password: str,
    options: argparse.Namespace,
    *,
    probe: str,
    size: tuple[int, int],
) -> tuple[Any, Any]:
    """A fresh headless Chromium logged in as username, ``probe`` run before every page's
    own scripts and the network throttled as ``options`` say; (browser, page)."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.add_init_script(probe)
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")
    _throttle(context.new_cdp_session(page), options)
    return browser, page


def _wait_painted(page: Any, count: int) -> None:
    """Wait in the page, not by polling it from here, until count stage images were
    painted: polling took CPU from the paints it was waiting for."""
    page.evaluate("(count) => window.labelPaint.painted(count)", count)


def _throttle(cdp: Any, options: argparse.Namespace) -> None:
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": options.latency,
            "downloadThroughput": options.mbit * 1_000_000 / 8,
            "uploadThroughput": options.mbit * 1_000_000 / 8,
        },
    )


def _run(name: str, probe: dict[str, Any], fetched: list[dict[str, Any]], stalls: int) -> Run:
    """Each key's time to the first stage image painted after it."""
    paints = sorted(paint["at"] for paint in probe["paints"])
    latencies = []
    for key in probe["keys"]:
        after = [at for at in paints if at > key]
        if after:
            latencies.append(after[0] - key)
    loaded = [entry for entry in fetched if not entry["cached"]]
    return Run(
        name=name,
        latencies=latencies,
        stalls=stalls,
        displays=sum("/displays/" in entry["url"] for entry in loaded),
        originals=sum("/images/" in entry["url"] for entry in loaded),
        mean_bytes=statistics.fmean([e["bytes"] for e in loaded]) if loaded else 0.0,
        load=os.getloadavg()[0],
    )


def _print(options: argparse.Namespace, runs: list[Run]) -> None:
    print(
        f"\nKey press to the next photo painted: {options.photos} photos of "
        f"{PHOTO_SIZE[0]} x {PHOTO_SIZE[1]}, {options.mbit:g} Mbit/s, "
        f"+{options.latency:g} ms a request, a key {options.pace[0]}-{options.pace[1]} ms "
        "after each paint"
    )
    print(
        f"{'shown':<26} {'keys':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'stalls':>7} "
        f"{'copies':>7} {'originals':>10} {'MB/file':>8} {'load':>5}"
    )
    for run in runs:
        print(
            f"{run.name:<26} {len(run.latencies):>5} {run.quantile(0.5):>8.1f} "
            f"{run.quantile(0.95):>8.1f} {max(run.latencies):>8.1f} {run.stalls:>7} "
            f"{run.displays:>7} {run.originals:>10} {run.mean_bytes / 1e6:>8.2f} {run.load:>5.1f}"
        )
    ours, reference = runs
    print(
        f"reference / display copy: p50 {reference.quantile(0.5) / ours.quantile(0.5):.1f}x, "
        f"p95 {reference.quantile(0.95) / ours.quantile(0.95):.1f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
