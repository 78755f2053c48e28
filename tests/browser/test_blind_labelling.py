"""Blind labelling in Chromium: the labelling page's DOM (text, attributes, image
addresses) carries no file name; an image's page shows a lead the file's metadata."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.models import Image, ImageTag
from labeler.projects.models import Role
from tests.browser.conftest import ARTIFACTS, login, take_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms


def pets(names: list[str]):
    project = ProjectFactory(name="Pets")
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    files = [SimpleUploadedFile(name, image_bytes(size=(96, 64))) for name in names]
    flows.images_ingest(project=project, files=files)
    Image.objects.filter(project=project).update(source="import", source_key="kitten/x.png")
    return project


def dom_and_addresses(page) -> str:
    """The page's whole DOM as HTML, and every image's address as the browser resolved it."""
    sources = page.eval_on_selector_all("img", "images => images.map(i => i.currentSrc || i.src)")
    return page.content() + "\n" + "\n".join(sources)


def test_the_labelling_page_shows_an_annotator_no_file_name(live_server, page, screenshot):
    project = pets([f"DSC_{n}_kitten.png" for n in range(3)])
    login(page, live_server, "ann")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    image_id = page.locator("#stage").get_attribute("data-image-id")
    info = page.locator("#stage-info").inner_text()
    assert info == f"#{image_id} · 96\N{MULTIPLICATION SIGN}64"  # number and size only
    for _ in range(2):  # label one, then go back to it: the history's image too
        dom = dom_and_addresses(page)
        assert "kitten" not in dom and "DSC_" not in dom
        assert f"/image/{project.pk}/" in dom  # the image's address by id
        page.keyboard.press("1")
        page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
        page.keyboard.press("ArrowLeft")
        page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    screenshot("blind-labelling", full_page=False)


def test_with_names_shown_the_annotator_reads_the_file_name(live_server, page):
    project = pets(["DSC_7_kitten.png"])
    project.annotators_see_file_names = True
    project.save(update_fields=["annotators_see_file_names"])
    login(page, live_server, "ann")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    assert "DSC_7_kitten.png" in page.locator("#stage-info").inner_text()
    assert "kitten/" not in dom_and_addresses(page)  # the folder still not


def test_a_lead_reads_the_files_metadata_on_its_page(live_server, page, screenshot):
    project = pets(["IMG_0042.png", "plain.png"])
    photo, plain = Image.objects.filter(project=project).order_by("pk")
    Image.objects.filter(pk=photo.pk).update(
        camera="Canon EOS 80D",
        captured_at=dt.datetime(2024, 7, 14, 16, 5, tzinfo=dt.UTC),
        gps_latitude=48.858370,
        gps_longitude=2.294481,
        licence="CC-BY-4.0",
    )
    ImageTag.objects.create(image=photo, name="summer")
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{photo.pk}/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    facts = page.locator("#file-facts")
    assert "Canon EOS 80D" in facts.inner_text()
    link = page.locator("#file-position a")
    assert link.get_attribute("href").startswith(
        "https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481"
    )
    screenshot("image-page-metadata")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{plain.pk}/")
    assert "No camera data in this file" in page.locator("#file-camera").inner_text()
    assert "No position in this file" in page.locator("#file-position").inner_text()
    take_screenshot(page.locator("#file-facts"), ARTIFACTS / "image-page-no-metadata.png")
