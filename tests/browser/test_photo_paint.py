"""Photos on the labelling page over a slow link: the next one is in hand before its key.

Chromium's network is throttled as in bench/label_paint.py (20 Mbit/s, 20 ms a request);
what is checked is what the page fetches and when, never how long it took (the
benchmark times that).
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bench.label_paint import photo_jpeg
from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.browser.test_label import WAIT, open_workspace, shown_image
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PHOTO = (2000, 1500)
SHOWN = "document.querySelector('#stage-frame img')"
# The look-ahead has settled: as many photos ahead as it keeps, each loaded and decoded,
# the next one drawn out of sight on the deck.
SETTLED = """() => {
  const buffer = window.labeler.state.buffer;
  const deck = document.querySelector("#stage > .stage-frame[aria-hidden=true]");
  return buffer.length >= 3
    && buffer.every((item) => item.img.complete && item.img.naturalWidth > 0)
    && deck.firstElementChild === buffer[0].img;
}"""


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    """Textured photos that compress as camera photos do (made once: ~0.3 s each); the
    first one a portrait, stored sideways with an EXIF turn as phones store them."""
    return [photo_jpeg(seed, PHOTO, sideways=seed == 0) for seed in range(8)]


def photo_project(photos: list[bytes]):
    project = ProjectFactory(name="Photos")
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    add_member(project, UserFactory(username="ann"))
    files = [SimpleUploadedFile(f"IMG_{i:04d}.jpg", data) for i, data in enumerate(photos)]
    flows.images_ingest(project=project, files=files)
    assert not Image.objects.filter(project=project, display="").exists()
    return project


class Requests:
    """Every request the page makes, with when it was made."""

    def __init__(self, page) -> None:
        self.seen: list[tuple[float, str]] = []
        page.on("request", lambda request: self.seen.append((time.monotonic(), request.url)))

    def files(self, since: float = 0.0) -> list[str]:
        """Stored files (originals, display copies) asked for since then."""
        return [url for at, url in self.seen if at >= since and "/files/" in url]


def throttle(page) -> None:
    """20 Mbit/s each way and 20 ms more for each request, as DevTools emulates a link."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    conditions = {"offline": False, "latency": 20, "downloadThroughput": 2_500_000}
    cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": 2_500_000})


def label_ready(page, live_server, project):
    login(page, live_server, "ann")
    throttle(page)
    requests = Requests(page)
    open_workspace(page, live_server, project)
    return requests


def test_the_next_photo_needs_no_request_once_its_key_is_pressed(
    live_server, page, settings, photos, screenshot
):
    """After the look-ahead settles, each key shows a photo the page already holds: no
    request for it follows the key, and only display copies are ever asked for."""
    settings.LABELER_DISPLAY_SIZE = 1000
    project = photo_project(photos)
    requests = label_ready(page, live_server, project)
    page.wait_for_function(SETTLED, timeout=WAIT)
    assert page.evaluate(f"[{SHOWN}.naturalWidth, {SHOWN}.naturalHeight]") == [750, 1000]
    screenshot("label-photo", full_page=False)  # upright: docs/img/label-photo.png
    for _ in range(3):
        page.wait_for_function(SETTLED, timeout=WAIT)
        upcoming = page.evaluate("window.labeler.state.buffer[0].image")
        pressed = time.monotonic()
        page.keyboard.press("1")
        page.wait_for_function(
            f"document.querySelector('#stage').dataset.imageId === '{upcoming['id']}'",
            timeout=WAIT,
        )
        longest = f"Math.max({SHOWN}.naturalWidth, {SHOWN}.naturalHeight)"
        assert page.evaluate(f"{SHOWN}.complete && {longest}") == 1000  # the copy
        page.wait_for_function(SETTLED, timeout=WAIT)  # what the key set off has come
        assert upcoming["display_url"] not in requests.files(since=pressed)

    fetched = requests.files()
    assert len(fetched) == 7  # the first, the three after it, three more ahead: each once
    assert len(set(fetched)) == len(fetched)
    # An annotator's links name the image by id (no file name): .../image/<project>/<id>/display
    assert all(url.endswith("/display") for url in fetched), fetched


def test_the_original_is_fetched_only_when_zoomed_past_the_copy(
    live_server, page, settings, photos
):
    """Zoomed in, but not past the copy's own pixels, the page still fetches no original;
    one step further it fetches the original of the photo on screen, and only that."""
    settings.LABELER_DISPLAY_SIZE = 1400  # at fit, the stage draws the copy at about 0.63
    project = photo_project(photos[1:3])  # landscapes
    requests = label_ready(page, live_server, project)
    page.wait_for_function(f"{SHOWN}.complete && {SHOWN}.naturalWidth === 1400", timeout=WAIT)
    on_screen = shown_image(page)

    page.keyboard.press("+")  # 1.35 times (Panzoom's step): still under the copy's pixels
    page.wait_for_function(f"new DOMMatrix(getComputedStyle({SHOWN}).transform).a > 1.3")
    assert page.evaluate(f"{SHOWN}.dataset.original") is None
    assert not [url for url in requests.files() if url.endswith("/file")]

    page.keyboard.press("+")  # 1.82 times: past them
    page.wait_for_function(f"{SHOWN}.naturalWidth === {PHOTO[0]}", timeout=WAIT)
    originals = [url for url in requests.files() if url.endswith("/file")]
    assert len(originals) == 1
    assert originals[0].endswith(f"/image/{project.pk}/{on_screen}/file")
