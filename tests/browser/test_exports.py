"""The export page in Chromium: a lead starts an export, follows it and downloads the file.

Tasks run in-process here (no broker), so the export is written inside the POST request
and the list shows it done on its next refresh.
"""

from __future__ import annotations

import re
import zipfile
from typing import TYPE_CHECKING

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows, jobs
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.exports.models import Export
from labeler.projects.models import Project, Role
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 20_000  # ms


def labelled_project(per_label: int = 4) -> Project:
    project = ProjectFactory(name="Pets <b>", labels=["cat", "dog"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    add_member(project, UserFactory(username="ann"), Role.ANNOTATOR)
    labels = {label.name: label for label in project.labels.all()}
    seed = 0
    for name in labels:
        files = []
        for index in range(per_label):
            seed += 1
            files.append(SimpleUploadedFile(f"{name}-{index}.png", image_bytes(seed=seed)))
        for result in flows.images_ingest(project=project, files=files):
            final = FinalLabel.objects.create(
                image_id=result.image_id, method=FinalLabelMethod.CONSENSUS, confidence=1.0
            )
            final.labels.set([labels[name]])
    return project


def test_a_lead_exports_a_split_imagefolder_zip_and_downloads_it(
    live_server, page: Page, tmp_path: Path
):
    project = labelled_project()
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", name="Export Pets <b>")).to_be_visible()
    expect(page.get_by_text("No exports yet")).to_be_visible()

    convert = page.get_by_label("Convert HEIC and AVIF photos to JPEG, GIF to PNG")
    expect(convert).to_be_hidden()  # JSON keeps every image as it is
    page.get_by_label("Format").select_option("imagefolder")
    expect(page.get_by_label("Every annotation")).to_be_disabled()
    expect(page.get_by_label("Final labels only")).to_be_checked()
    expect(convert).to_be_checked()
    page.get_by_label("Train %").fill("50")
    page.get_by_label("Validation %").fill("50")
    page.get_by_role("button", name="Start export").click()

    row = page.locator("#exports-body tr").first
    expect(row).to_have_attribute("data-status", "done", timeout=WAIT)
    expect(row).to_contain_text("ImageFolder zip")
    expect(row).to_contain_text("split 0.5/0.5, seed 0")
    expect(row).to_contain_text("Done · 8 images")
    expect(row.locator(".split-made")).to_have_text("Split made: train 4, val 4")
    expect(row.locator(".split-warning")).to_have_count(0)
    save_screenshot(page, "exports")
    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    target = tmp_path / "download.zip"
    download_info.value.save_as(target)
    with zipfile.ZipFile(target) as bundle:
        names = bundle.namelist()
        assert bundle.read("val/classes.txt") == b"cat\ndog\n"
    images = [name for name in names if name.endswith(".png")]
    assert sorted({name.rsplit("/", 1)[0] for name in images}) == [
        "train/cat",
        "train/dog",
        "val/cat",
        "val/dog",
    ]
    assert len(images) == 8

    stored = Export.objects.get().file.name
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete export").click()
    expect(page.get_by_text("No exports yet")).to_be_visible(timeout=WAIT)
    assert not Export.objects.exists()

    # Shares 8 images cannot give: what was made is said, and the empty sides warned of.
    page.get_by_label("Train %").fill("90")
    page.get_by_label("Validation %").fill("5")
    page.get_by_label("Test %").fill("5")
    page.get_by_role("button", name="Start export").click()
    expect(row).to_have_attribute("data-status", "done", timeout=WAIT)
    expect(row.locator(".split-made")).to_have_text("Split made: train 7, val 1, test 0")
    expect(row.locator(".split-warning")).to_have_text(
        [re.compile("^The test side is empty: 8 images cannot give it 5%")]
    )
    save_screenshot(page, "exports-split-warning", full_page=False)
    assert not default_storage.exists(stored)


def test_a_bad_option_is_shown_and_nothing_is_started(live_server, page: Page):
    project = labelled_project(per_label=1)
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/export/")
    page.get_by_label("Train %").fill("90")
    page.get_by_label("Validation %").fill("30")
    page.get_by_role("button", name="Start export").click()
    expect(page.get_by_role("alert")).to_contain_text("split")
    assert not Export.objects.exists()


@pytest.fixture
def tasks_in_background():
    """As the server runs them: the POST answers at once and the export runs on its lane."""
    assert jobs.run_in_background()
    yield
    assert jobs.wait_for_background(30)
    jobs.stop_background()


def test_a_new_export_shows_at_the_top_with_its_state_until_done(
    live_server, page: Page, tasks_in_background
):
    project = labelled_project()
    login(page, live_server, "lena")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/projects/{project.pk}/export/")
    expect(page.get_by_text("No exports yet")).to_be_in_viewport()
    page.get_by_label("Format").select_option("coco")
    # COCO takes the final labels unless asked otherwise, as the API does.
    expect(page.get_by_label("Final labels only")).to_be_checked()
    # The project's own train/validation/test split takes the place of shares and seed.
    page.get_by_label("Train %").fill("80")
    page.get_by_label("The project's own split").check()
    expect(page.get_by_label("Train %")).to_be_disabled()
    expect(page.get_by_label("Seed")).to_be_disabled()
    page.get_by_role("button", name="Start export").click()

    row = page.locator("#exports-body tr").first
    expect(row).to_be_in_viewport(timeout=WAIT)
    expect(row.locator(".export-status")).to_have_text(
        re.compile(r"Queued|Running|Done"), timeout=WAIT
    )
    expect(row).to_have_attribute("data-status", "done", timeout=WAIT)
    expect(row).to_contain_text("COCO")
    expect(row).to_contain_text("final labels")
    expect(row).to_contain_text("the project's own split")
    expect(row).to_contain_text("lena")
    expect(row).to_contain_text("Done · 8 images")
    expect(row).to_contain_text(re.compile(r"\d+(\.\d)? (B|KB)"))
    expect(row).to_contain_text("finished")
    save_screenshot(page, "exports-new-at-top", full_page=False)
    export = Export.objects.get()
    assert export.options["annotations"] == "final" and export.size_bytes
    assert export.options["split"] == "project"

    # The same again: the same export, said so; then a new one all the same.
    page.get_by_role("button", name="Start export").click()
    expect(page.get_by_role("status")).to_contain_text(f"Export #{export.pk} has these options")
    expect(page.get_by_role("status")).to_be_in_viewport()
    assert Export.objects.count() == 1
    save_screenshot(page, "exports-reused", full_page=False)
    page.get_by_role("button", name="Build a new one anyway").click()
    expect(page.locator("#exports-body tr")).to_have_count(2, timeout=WAIT)
    expect(page.locator("#exports-body tr").first).to_have_attribute(
        "data-status", "done", timeout=WAIT
    )
    assert Export.objects.count() == 2
