"""The new-project page in Chromium: short until a section is opened, keyboard-first, and
a project made with its images in one go."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from labeler.images.models import Image
from labeler.projects.models import Project
from tests.browser.conftest import login
from tests.factories import UserFactory, image_bytes

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SHORT_PAGE_PX = 1150  # the whole page at 1280x800, every section folded: 1,107 (it was 3,775)


def open_new_project_page(page, live_server) -> None:
    lead = UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/new/")


def test_the_page_is_short_until_a_section_is_opened(live_server, page, screenshot):
    open_new_project_page(page, live_server)
    height = page.evaluate("document.documentElement.scrollHeight")
    screenshot("project-new-folded")
    assert height < SHORT_PAGE_PX, height
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    expect(page.get_by_label("People who label each image")).to_have_value("2")

    page.get_by_text("Gold images and qualification").click()
    expect(page.get_by_label("Pass mark (% right)")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollHeight") > height


def test_two_images_chosen_on_the_form_land_on_the_project_page(live_server, page, screenshot):
    """Name, labels and two files, then Enter: the project page shows its two images."""
    open_new_project_page(page, live_server)
    page.get_by_label("Name of label 1").fill("round")
    page.get_by_label("Name of label 2").fill("triangle")
    page.locator("#id_images").set_input_files(
        [
            {"name": f"sign-{n}.png", "mimeType": "image/png", "buffer": image_bytes(seed=n)}
            for n in (1, 2)
        ]
    )
    page.get_by_label("Name", exact=True).fill("Road signs")
    page.get_by_label("Name", exact=True).press("Enter")
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    expect(page.get_by_text("Project “Road signs” created with 2 images.")).to_be_visible()
    expect(page.get_by_text("0 of 2 images complete")).to_be_visible()
    screenshot("project-new-created")

    project = Project.objects.get()
    assert (project.overlap, Image.objects.filter(project=project).count()) == (2, 2)
    assert page.url == f"{live_server.url}/projects/{project.pk}/"


def test_a_value_refused_inside_a_folded_section_opens_it(live_server, page):
    """The browser's own check of a folded input opens its section to show the message."""
    open_new_project_page(page, live_server)
    page.get_by_label("Name", exact=True).fill("Road signs")
    page.get_by_label("Name of label 1").fill("round")
    page.get_by_label("Name of label 2").fill("triangle")
    page.locator("#id_gold_percent").evaluate("(input) => { input.value = '250'; }")
    expect(page.locator("#section-gold")).not_to_have_attribute("open", "")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#section-gold")).to_have_attribute("open", "")
    expect(page.locator("#id_gold_percent")).to_be_visible()
    assert not Project.objects.exists()
