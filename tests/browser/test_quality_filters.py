"""The label-quality features in Chromium: the Images page's likely_wrong, has_duplicates
and duplicate_group filters show exactly their images, and the review page shows a
near-duplicate group whose final labels differ as thumbnails with their labels."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.agreement.duplicate_labels import duplicate_reviews_request
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.predictions.label_check import label_check_store, likely_wrong_image_ids
from labeler.predictions.models import TrainingRun
from labeler.projects.models import Project, Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.labeler.exports.data import finalise
from tests.labeler.images.scenes import COPIES, encoded, scene

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 20_000  # ms
LOADED = (
    "selector => [...document.querySelectorAll(selector)]"
    ".every(img => img.complete && img.naturalWidth > 0)"
)


def shown_ids(page: Page) -> set[int]:
    """The ids of the images the grid shows."""
    cards = page.locator(".browse-card")
    return {int(cards.nth(i).get_attribute("data-image-id") or 0) for i in range(cards.count())}


def filter_by(page: Page, name: str, value: str) -> None:
    """Choose a value in the filter form, which applies it as it changes."""
    field = page.locator(f"#filters [name={name}]")
    if field.evaluate("node => node.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)
        field.press("Enter")
    expect(page).to_have_url(re.compile(rf"[?&]{name}={value}(&|$)"))


def refused(page: Page, live_server, project: Project, query: str, name: str) -> None:
    """A bad value gives a 400 and a message naming the filter, never a 500."""
    response = page.goto(f"{live_server.url}/projects/{project.pk}/images/{query}")
    assert response is not None and response.status == 400, query
    expect(page.locator("#filter-error")).to_contain_text(name)


def copies_project(names: tuple[str, str] = ("car", "bus")) -> tuple[Project, dict[str, Image]]:
    """A picture with two copies of it (a group) and a picture alone; a lead, lena."""
    project = ProjectFactory(name="Streets", labels=list(names))
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    picture = scene(41, (320, 240))
    files = {
        "street.png": encoded(picture),
        "street-small.jpg": encoded(COPIES["resized"](picture), "JPEG"),
        "street-dull.png": encoded(COPIES["recoloured"](picture)),
        "other.png": encoded(scene(42, (320, 240))),
    }
    flows.images_ingest(project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()])
    return project, {image.original_name: image for image in Image.objects.filter(project=project)}


def test_likely_wrong_shows_exactly_the_flagged_images(live_server, page: Page):
    project = ProjectFactory(name="Pets", overlap=1, labels=["cat", "dog"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    files = [SimpleUploadedFile(f"pet-{i}.png", image_bytes(size=(64, 48))) for i in range(12)]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    cat, dog = (project.labels.get(name=n).pk for n in ("cat", "dog"))
    given = np.array([i % 2 for i in range(12)])
    for image, g in zip(images, given, strict=True):
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.IMPORTED)
        final.labels.set([(cat, dog)[g]])
    p = np.where(given[:, None] == np.arange(2), 0.95, 0.05)
    p[4] = [0.02, 0.98]  # labelled cat; a dog to a model that never saw it
    p[7] = [0.97, 0.03]  # labelled dog; a cat
    run = TrainingRun.objects.create(project=project, status="succeeded", config={})
    label_check_store(
        run_id=run.pk,
        image_ids=[i.pk for i in images],
        label_ids=[cat, dog],
        given=given,
        probabilities=p,
    )
    flagged = set(likely_wrong_image_ids(project))
    assert {images[4].pk, images[7].pk} <= flagged < {i.pk for i in images}

    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/")
    expect(page.locator(".browse-card")).to_have_count(12, timeout=WAIT)
    filter_by(page, "likely_wrong", "true")
    expect(page.locator(".browse-card")).to_have_count(len(flagged), timeout=WAIT)
    assert shown_ids(page) == flagged
    filter_by(page, "likely_wrong", "false")
    expect(page.locator(".browse-card")).to_have_count(12 - len(flagged), timeout=WAIT)
    assert shown_ids(page) == {i.pk for i in images} - flagged
    refused(page, live_server, project, "?likely_wrong=maybe", "likely_wrong")


def test_the_duplicate_filters_show_the_groups_images(live_server, page: Page, settings):
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project, images = copies_project()
    group = {images[n].pk for n in ("street.png", "street-small.jpg", "street-dull.png")}
    group_id = min(group)
    assert set(Image.objects.filter(pk__in=group).values_list("duplicate_group", flat=True)) == {
        group_id
    }

    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/")
    expect(page.locator(".browse-card")).to_have_count(4, timeout=WAIT)
    filter_by(page, "has_duplicates", "true")
    expect(page.locator(".browse-card")).to_have_count(3, timeout=WAIT)
    assert shown_ids(page) == group
    filter_by(page, "has_duplicates", "false")
    expect(page.locator(".browse-card")).to_have_count(1, timeout=WAIT)
    assert shown_ids(page) == {images["other.png"].pk}

    page.goto(f"{live_server.url}/projects/{project.pk}/images/")
    filter_by(page, "duplicate_group", str(group_id))
    expect(page.locator(".browse-card")).to_have_count(3, timeout=WAIT)
    assert shown_ids(page) == group
    page.wait_for_function(LOADED, arg=".browse-card img", timeout=WAIT)
    # The alone picture's id names no group: nothing matches.
    filter_by(page, "duplicate_group", str(images["other.png"].pk))
    expect(page.locator(".browse-card")).to_have_count(0, timeout=WAIT)
    refused(page, live_server, project, "?has_duplicates=maybe", "has_duplicates")
    refused(page, live_server, project, "?duplicate_group=-3", "duplicate_group")


def test_the_review_page_shows_a_groups_thumbnails_and_labels(live_server, page: Page, settings):
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project, images = copies_project()
    finalise(images["street.png"], ["car"], method="adjudicated", confidence=None)
    finalise(images["street-small.jpg"], ["bus"], method="adjudicated", confidence=None)
    ids = [images[n].pk for n in ("street.png", "street-small.jpg", "street-dull.png")]

    login(page, live_server, "lena")
    # Before any request, the Near-duplicates page says only that the labels differ.
    page.goto(f"{live_server.url}/projects/{project.pk}/duplicates/")
    expect(page.locator(".dup-flag")).to_have_text("labels differ")
    assert duplicate_reviews_request(project=project) == 2
    page.reload()
    expect(page.locator(".dup-flag")).to_have_text("labels differ: sent to review")

    page.goto(f"{live_server.url}/projects/{project.pk}/review/")
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    on_screen = int(page.locator("#stage").get_attribute("data-image-id") or 0)
    assert on_screen in ids[:2]
    reason = page.locator("#reason")
    expect(reason).to_contain_text("Near-duplicates of it are labelled differently")
    expect(reason).not_to_contain_text("{")  # no raw JSON of ids
    section = page.locator("#duplicates")
    expect(section).to_be_visible(timeout=WAIT)
    expect(page.locator("#duplicates-title")).to_have_text(f"Near-duplicates (group {ids[0]})")
    copies = page.locator("#duplicate-images li")
    expect(copies).to_have_count(3)
    expect(copies.locator("img")).to_have_count(3)
    page.wait_for_function(LOADED, arg="#duplicate-images img", timeout=WAIT)
    for image_id, text in zip(ids, ("car", "bus", "no final label"), strict=True):
        expect(page.locator(f"#duplicate-images li[data-image='{image_id}']")).to_contain_text(text)
    current = page.locator("#duplicate-images li[aria-current=true]")
    expect(current).to_have_attribute("data-image", str(on_screen))
    expect(current).to_contain_text("this one")
    save_screenshot(page, "review-duplicates", full_page=False)

    # The next image of the queue: the same group, the other copy marked.
    page.locator("#skip-button").click()
    expect(page.locator("#stage")).not_to_have_attribute("data-image-id", str(on_screen))
    expect(page.locator("#duplicate-images li[aria-current=true]")).not_to_have_attribute(
        "data-image", str(on_screen), timeout=WAIT
    )
