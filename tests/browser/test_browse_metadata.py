"""Metadata in Chromium: the Images page filters by a project's fields and a box on the map,
and a lead edits an image's metadata in its File card."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import image_field_values, project_fields
from labeler.images.catalogue.services import images_describe_each
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from tests.browser.conftest import login
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms
SITES = ["north", "south", "east"]


def described_project() -> tuple[Project, list[Image]]:
    """Nine images, each a site (in turn), an age (20, 25... 60) and a position along a line
    from Paris eastwards, and a lead."""
    project = ProjectFactory(name="Field survey", labels=["cat", "dog"])
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    field_create(project=project, name="site", kind="choice", choices=SITES)
    field_create(project=project, name="age", kind="number")
    files = [SimpleUploadedFile(f"photo-{n}.png", image_bytes(seed=n + 1)) for n in range(9)]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    fields = project_fields(project)
    changes = [
        (
            image.pk,
            description_read(
                {
                    "gps": {"latitude": 48.85, "longitude": 2.35 + n},
                    "fields": {"site": SITES[n % 3], "age": 20 + 5 * n},
                },
                fields=fields,
            ),
        )
        for n, image in enumerate(images)
    ]
    images_describe_each(project=project, changes=changes)
    return project, images


def test_the_images_page_filters_by_fields_and_a_box_on_the_map(live_server, page, screenshot):
    project, images = described_project()
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/")
    expect(page.locator(".browse-card")).to_have_count(9)
    fields = page.locator("#filters fieldset[data-group=fields]")
    # A choice applies at once; its option carries the field's name.
    fields.get_by_label("site").select_option("north")
    expect(page).to_have_url(re.compile(r"[?&]field=site%3Anorth(&|$)"))
    expect(page.locator(".browse-card")).to_have_count(3)  # photos 0, 3, 6
    # A number is typed bare: the page puts the field's name before it.
    page.locator("#filter-field_min-age").fill("30")
    page.locator("#filter-field_min-age").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]field_min=age%3A30(&|$)"), timeout=WAIT)
    expect(page.locator(".browse-card")).to_have_count(2)  # ages 35 and 50
    expect(page.locator("#filter-field_min-age")).to_have_value("30")
    # A box on the map three degrees east of Paris, where photo 3 was taken.
    page.locator("#filters input[name=bbox]").fill("48,5,49,6")
    page.locator("#filters input[name=bbox]").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]bbox=48%2C5%2C49%2C6(&|$)"), timeout=WAIT)
    expect(page.locator(".browse-card")).to_have_count(1)
    expect(page.locator(f".browse-card[data-image-id='{images[3].pk}']")).to_have_count(1)
    screenshot("images-page-field-filters", full_page=False)
    # A second site and a file's hash, which the form has no input of their own for (a
    # slice's link, a shared address), stay in the address when another filter changes.
    kept = f"field=site:north&field=site:south&sha256={images[1].sha256}"
    page.goto(f"{live_server.url}/projects/{project.pk}/images/?{kept}")
    expect(page.locator("#filters fieldset[data-group=kept] input")).to_have_count(2)
    page.locator("#filter-field_max-age").fill("60")
    page.locator("#filter-field_max-age").press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]field_max=age%3A60(&|$)"), timeout=WAIT)
    expect(page).to_have_url(re.compile(r"field=site%3Asouth.*sha256="))
    expect(page.locator(".browse-card")).to_have_count(1)  # photo 1: south, 25
    # A field the project lacks, in a hand-made address: the page says which.
    page.goto(f"{live_server.url}/projects/{project.pk}/images/?field=colour:red")
    expect(page.locator("#filter-error")).to_contain_text("no field named 'colour'")


def test_a_lead_edits_an_images_metadata_on_its_page(live_server, page, screenshot):
    project, images = described_project()
    image = images[0]
    login(page, live_server, "lead")
    page.goto(f"{live_server.url}/projects/{project.pk}/images/{image.pk}/")
    page.locator("#metadata-edit summary").click()
    form = page.locator("#metadata-form")
    form.locator("input[name=origin]").fill("Field survey, plot 4")
    form.locator("select[name='field:site']").select_option("east")
    form.locator("input[name='field:age']").fill("")
    form.locator("input[name=captured_at]").fill("2024-05-01T10:00:00+02:00")
    # One coordinate alone is refused, naming the other, and nothing is saved.
    form.locator("input[name=longitude]").fill("")
    form.get_by_role("button", name="Save metadata").click()
    expect(page.locator("#metadata-status")).to_contain_text("longitude is missing")
    assert Image.objects.get(pk=image.pk).origin == ""
    form.locator("input[name=longitude]").fill("2.5")
    form.get_by_role("button", name="Save metadata").click()
    expect(page.locator("#file-origin")).to_have_text("Field survey, plot 4", timeout=WAIT)
    expect(page.locator("#file-facts dd[data-field=site]")).to_have_text("east")
    expect(page.locator("#file-facts dd[data-field=age]")).to_have_count(0)  # cleared
    screenshot("image-page-metadata", full_page=False)
    saved = Image.objects.get(pk=image.pk)
    assert saved.gps_longitude == 2.5
    assert saved.captured_at.isoformat() == "2024-05-01T08:00:00+00:00"
    assert image_field_values(project, "field:age").get(image.pk) is None
    # Emptied, the capture time and the position are cleared: the form sends null for them.
    page.locator("#metadata-edit summary").click()
    for name in ("captured_at", "latitude", "longitude"):
        form.locator(f"input[name={name}]").fill("")
    form.get_by_role("button", name="Save metadata").click()
    expect(page.locator("#file-taken")).to_contain_text("No capture time", timeout=WAIT)
    expect(page.locator("#file-position")).to_contain_text("No position")
    cleared = Image.objects.get(pk=image.pk)
    assert (cleared.captured_at, cleared.gps_latitude, cleared.origin) == (
        None,
        None,
        "Field survey, plot 4",
    )
