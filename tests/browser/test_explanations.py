"""The heat map of why the model chose a label, in Chromium: the review page and an image's."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data as photos

from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.browser.conftest import login, take_screenshot
from tests.browser.test_review import open_review, pets_with_ties, shown_image, wait_image_decoded
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.worker.ml.versions import fitted_version, version_with_weights

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 30_000  # ms: the first heat map loads torch in the server's process here
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def stage_src(page) -> str:
    return page.locator("#stage-frame img").get_attribute("src")


def test_a_reviewer_draws_the_heat_map_by_key_and_picks_a_label(live_server, page):
    """H asks for the top label's heat map: "Computing…", then the overlay over the image
    with the label and its probability; another label is drawn when chosen, H takes it
    down, and the next image shows without one."""
    project, _, _ = pets_with_ties(2)
    version_with_weights(project)
    login(page, live_server, "rita")
    open_review(page, live_server, project)
    wait_image_decoded(page)
    first = shown_image(page)
    picture = stage_src(page)
    control, status = page.locator("#explanation"), page.locator("#explanation-status")
    expect(control).to_have_attribute("data-state", "off")

    page.keyboard.press("H")
    expect(status).to_have_text("Computing…")
    expect(control).to_have_attribute("data-state", "shown", timeout=WAIT)
    expect(status).to_contain_text("Where v1 sees")
    expect(status).to_contain_text("p = 0.")
    assert "explanations" in stage_src(page) and stage_src(page) != picture
    expect(page.locator("#explanation-toggle")).to_have_attribute("aria-pressed", "true")

    page.select_option("#explanation-choice", label="bird")
    expect(status).to_contain_text("sees bird", timeout=WAIT)

    page.keyboard.press("H")
    expect(control).to_have_attribute("data-state", "off")
    assert stage_src(page) == picture

    page.keyboard.press("H")
    expect(control).to_have_attribute("data-state", "shown", timeout=WAIT)
    page.keyboard.press("ArrowRight")  # skip: the next image, without a heat map
    page.wait_for_function(
        f"document.querySelector('#stage').dataset.imageId !== '{first}'", timeout=WAIT
    )
    expect(control).to_have_attribute("data-state", "off")
    assert "explanations" not in stage_src(page)


def photo_crops(photo: np.ndarray, n: int, seed: int, size: int) -> list[np.ndarray]:
    """``n`` random square crops of a photo, each a third to the whole of its shorter side."""
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    crops = []
    for _ in range(n):
        side = int(rng.integers(min(height, width) // 3, min(height, width)))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = PILImage.fromarray(photo[top : top + side, left : left + side]).resize((size, size))
        crops.append(np.asarray(crop).transpose(2, 0, 1))
    return crops


def photo_project():
    """A lead's project of three photos' classes, a model trained on crops of them, and
    the whole cat photo uploaded."""
    project = ProjectFactory(name="Photos", labels=["cat", "coffee", "rocket"])
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    sources = [photos.chelsea(), photos.coffee(), photos.rocket()]
    x, y = [], []
    for k, photo in enumerate(sources):
        crops = photo_crops(photo, 48, seed=k, size=64)
        x += crops
        y += [k] * len(crops)
    fitted_version(project, np.stack(x), y, image_size=64)
    buffer = io.BytesIO()
    PILImage.fromarray(photos.chelsea()).save(buffer, format="JPEG", quality=92)
    files = [SimpleUploadedFile("chelsea.jpg", buffer.getvalue())]
    [result] = flows.images_ingest(project=project, files=files)
    return project, Image.objects.get(pk=result.image_id)


def test_a_lead_sees_why_on_the_image_page(live_server, page):
    project, image = photo_project()
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{image.pk}/")
    wait_image_decoded(page)
    control, status = page.locator("#explanation"), page.locator("#explanation-status")

    page.get_by_role("button", name="Heat map").click()
    expect(control).to_have_attribute("data-state", "computing")
    expect(control).to_have_attribute("data-state", "shown", timeout=WAIT)
    expect(status).to_contain_text("Where v1 sees cat · p = ")
    wait_image_decoded(page)
    take_screenshot(page.locator("#stage"), DOCS_IMG / "explanation.png")

    page.keyboard.press("h")
    expect(control).to_have_attribute("data-state", "off")
    page.select_option("#explanation-choice", label="coffee")
    page.keyboard.press("h")
    expect(status).to_contain_text("sees coffee", timeout=WAIT)
