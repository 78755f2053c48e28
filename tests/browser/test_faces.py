"""Faces in Chromium: on an image's page a lead of a project that blurs faces sees the
boxes over the original, deletes a false one, draws one with the mouse, and the copies
are made again after each change."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from skimage import data as samples

from labeler import flows
from labeler.images.models import FaceRegion, Image
from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.factories import ProjectFactory, UserFactory, add_member

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 15_000  # ms


def astronaut() -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(samples.astronaut()).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_a_lead_deletes_a_box_and_draws_one(live_server, page, screenshot):
    project = ProjectFactory(name="Portraits", labels=["person", "other"], blur_faces=True)
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    (result,) = flows.images_ingest(
        project=project, files=[SimpleUploadedFile("astronaut.jpg", astronaut())]
    )
    image = Image.objects.get(pk=result.image_id)
    assert image.faces_state == "done"
    first_thumbnail = image.thumbnail.name

    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{image.pk}/")
    card = page.locator("#faces")
    boxes = card.locator(".face-box:not(.face-sketch)")
    expect(boxes).to_have_count(1, timeout=WAIT)
    expect(page.locator("#faces-status")).to_have_text("Copies are blurred.", timeout=WAIT)
    page.locator("#faces-image").scroll_into_view_if_needed()
    screenshot("faces-card-found", full_page=False)

    card.get_by_role("button", name="Delete").click()
    expect(boxes).to_have_count(0, timeout=WAIT)
    expect(card.locator("#faces-list")).to_contain_text("No face boxes.")
    image.refresh_from_db()
    assert image.thumbnail.name != first_thumbnail  # made again, unblurred
    assert FaceRegion.objects.get(image=image).removed

    shown = page.locator("#faces-image").bounding_box()
    assert shown is not None
    page.mouse.move(shown["x"] + 10, shown["y"] + 10)
    page.mouse.down()
    page.mouse.move(shown["x"] + 60, shown["y"] + 50, steps=5)
    page.mouse.up()
    expect(boxes).to_have_count(1, timeout=WAIT)
    expect(card.locator(".face-lead")).to_have_count(1)
    expect(page.locator("#faces-status")).to_have_text("Copies are blurred.", timeout=WAIT)
    screenshot("faces-card-drawn", full_page=False)

    drawn = FaceRegion.objects.get(image=image, source="lead")
    scale = image.width / shown["width"]
    assert abs(drawn.left - 10 * scale) <= 2 * scale and abs(drawn.width - 50 * scale) <= 2 * scale
    second = Image.objects.get(pk=image.pk)
    assert second.thumbnail.name != image.thumbnail.name  # made again with the new box
    assert second.faces_state == "done"
