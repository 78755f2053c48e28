"""The import page in Chromium: a lead checks a zip with a labels file that names its
annotators, gives one of them to a member, and imports; the report says what came in,
what went out, whose labels went where and what was not applied."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

import pytest

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 20_000  # ms
LABELS = "file,mia@x.org,tom\na.png,cat,dog\nb.png,dog,dog\nghost.png,cat,\n"


def dataset(tmp_path: Path) -> tuple[Path, Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.png", image_bytes(seed=1))
        archive.writestr("b.png", image_bytes(seed=2))
    (tmp_path / "set.zip").write_bytes(buffer.getvalue())
    (tmp_path / "people.csv").write_text(LABELS)
    return tmp_path / "set.zip", tmp_path / "people.csv"


def test_a_lead_checks_who_is_who_then_imports(live_server, page: Page, tmp_path, screenshot):
    project = ProjectFactory(name="Pets", labels=["cat", "dog"])
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    mia = UserFactory(username="mia", email="mia@x.org", email_verified=True)
    add_member(project, mia, Role.ANNOTATOR)
    add_member(project, UserFactory(username="tomas"), Role.ANNOTATOR)
    archive, labels = dataset(tmp_path)
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/projects/{project.pk}/import/")
    page.set_input_files("#id_archive", str(archive))
    page.select_option("#id_labels_format", "csv-annotators")
    page.set_input_files("#id_labels_file", str(labels))
    page.get_by_role("button", name="Check").click()

    expect(page.get_by_role("heading", name="Check before importing")).to_be_visible(timeout=WAIT)
    people = page.locator("#check-people")
    expect(people.locator('tr[data-key="mia@x.org"]')).to_contain_text("by e-mail: mia")
    expect(people.locator('tr[data-key="tom"]')).to_contain_text("a new inactive account")
    expect(page.get_by_label("mia@x.org")).to_have_value("mia")
    expect(page.get_by_label("tom")).to_have_value("new")
    expect(page.locator(".import-not-applied")).to_contain_text("ghost.png")
    expect(page.locator("#check-counts")).to_contain_text("5")  # annotations in
    screenshot("import-check")
    assert not Image.objects.exists()

    page.get_by_label("tom").select_option("tomas")
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("heading", name="Report")).to_be_visible(timeout=WAIT)
    expect(page.locator("#import-summary")).to_contain_text("2 created")
    expect(page.locator('#import-counts tr[data-counts="out"]')).to_contain_text("2 images (2 new)")
    expect(page.locator('#import-people tr[data-key="tom"]')).to_contain_text("tomas")
    expect(page.locator('#import-people tr[data-key="tom"]')).to_contain_text("chosen")
    expect(page.locator(".import-not-applied")).to_contain_text("ghost.png")
    screenshot("import-report")
    credited = set(Annotation.objects.values_list("annotator__username", "image__original_name"))
    assert credited == {("mia", "a.png"), ("mia", "b.png"), ("tomas", "a.png"), ("tomas", "b.png")}
