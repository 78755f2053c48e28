"""The near-duplicates page in Chromium: a lead sees a group of copies with thumbnails,
the group whose final labels differ marked, and an annotator is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.labeler.exports.data import finalise
from tests.labeler.images.scenes import COPIES, encoded, scene

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 20_000  # ms


def test_a_lead_sees_groups_of_copies_with_their_thumbnails(live_server, page: Page, settings):
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project = ProjectFactory(name="Streets", labels=["car", "bus"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    add_member(project, UserFactory(username="ann"), Role.ANNOTATOR)
    picture = scene(41, (320, 240))
    files = {
        "street.png": encoded(picture),
        "street-small.jpg": encoded(COPIES["resized"](picture), "JPEG"),
        "street-dull.png": encoded(COPIES["recoloured"](picture)),
        "other.png": encoded(scene(42, (320, 240))),
    }
    flows.images_ingest(project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()])
    images = {image.original_name: image for image in Image.objects.filter(project=project)}
    finalise(images["street.png"], ["car"])
    finalise(images["street-small.jpg"], ["bus"])

    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Near-duplicates").click()
    expect(page.get_by_role("heading", name="Near-duplicates")).to_be_visible()
    expect(page.locator("#duplicate-count")).to_contain_text("1 group")
    group = page.locator(".dup-group")
    expect(group).to_have_count(1)
    expect(group).to_have_attribute("data-group", str(images["street.png"].pk))
    # No review request yet (the refresh of final labels files it): not "sent to review".
    expect(group.locator(".dup-flag")).to_have_text("labels differ")
    thumbnails = group.locator("img")
    expect(thumbnails).to_have_count(3)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.dup-group img')]"
        ".every(img => img.complete && img.naturalWidth > 0)",
        timeout=WAIT,
    )
    expect(group).not_to_contain_text("other.png")
    save_screenshot(page, "duplicates")

    page.context.clear_cookies()
    login(page, live_server, "ann")
    response = page.goto(f"{live_server.url}/projects/{project.pk}/duplicates/")
    assert response is not None and response.status in (403, 404)
