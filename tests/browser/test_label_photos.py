"""The labelling page with photos: the display copy on screen, the original when zoomed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.browser.test_label import WAIT, open_workspace
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.images import samples

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SHOWN = "document.querySelector('#stage-frame img')"


def photo_project(settings, fmt: str = "JPEG", extension: str = "jpg"):
    settings.LABELER_DISPLAY_SIZE = 1000  # more than the stage's width at fit
    project = ProjectFactory(name="Photos")
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    add_member(project, UserFactory(username="ann"))
    upload = SimpleUploadedFile(f"IMG_0001.{extension}", samples.photo(fmt, (1600, 1200)))
    flows.images_ingest(project=project, files=[upload])
    image = Image.objects.get(project=project)
    assert image.display  # made by the thumbnail task, on commit
    return project


def test_the_page_shows_the_display_copy_and_the_original_once_zoomed_past_it(
    live_server, page, settings, screenshot
):
    project = photo_project(settings)
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    page.wait_for_function(f"{SHOWN}.complete && {SHOWN}.naturalWidth > 0", timeout=WAIT)
    assert page.evaluate(f"{SHOWN}.naturalWidth") == 1000  # the copy, not the 1600-pixel file

    for _ in range(12):  # zoom in until the copy's own pixels are enlarged
        page.keyboard.press("+")
        if page.evaluate(f"{SHOWN}.dataset.original === 'shown'"):
            break
    page.wait_for_function(f"{SHOWN}.naturalWidth === 1600", timeout=WAIT)
    screenshot("label-photo-zoomed")

    page.keyboard.press("=")  # back to fit: the original stays, nothing to load again
    assert page.evaluate(f"{SHOWN}.naturalWidth") == 1600


def test_a_heic_photo_is_seen_through_its_copy_even_when_zoomed(live_server, page, settings):
    """Chromium cannot decode HEIC: the page never swaps in the original."""
    project = photo_project(settings, "HEIF", "heic")
    login(page, live_server, "ann")
    open_workspace(page, live_server, project)
    page.wait_for_function(f"{SHOWN}.complete && {SHOWN}.naturalWidth === 1000", timeout=WAIT)
    for _ in range(8):
        page.keyboard.press("+")
    page.wait_for_timeout(300)
    assert page.evaluate(f"{SHOWN}.naturalWidth") == 1000
    assert page.evaluate(f"{SHOWN}.dataset.original") is None
