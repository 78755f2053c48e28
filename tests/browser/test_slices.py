"""The slices page in Chromium: label counts with the imbalance in words, the flagged
slices (a camera labelled worse, a camera the model fails on), each dimension's table, and
the downloads."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.labeler.slices.planted import planted_model, planted_project

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CAMERAS = ("Canon EOS 80D", "Pixel 7", "Nikon D750")  # clean, corrupted labels, other


def test_the_lead_finds_the_slices_labelled_worse_and_predicted_worse(
    live_server, page, screenshot
):
    """Both planted cameras are flagged with their effect in words; the clean one is not;
    the annotators' table names them; the CSV link carries the chosen model version."""
    planted = planted_project(seed=2, name="Field photos", cameras=CAMERAS)
    version = planted_model(planted, fails_on="Nikon D750")
    login(page, live_server, planted.lead.username)
    page.goto(f"{live_server.url}/projects/{planted.project.pk}/slices/?by=camera")
    expect(page.locator("#slices-report")).to_have_attribute("data-state", "ready", timeout=20_000)

    expect(page.locator("#imbalance")).to_contain_text("the rarest label")
    expect(page.locator("#label-bars g.bar")).to_have_count(3)
    flags = page.locator("#flags li")
    labelled = flags.and_(page.locator("[data-question=labels]"))
    expect(labelled).to_have_count(1)
    expect(labelled).to_have_attribute("data-name", "Pixel 7")
    expect(labelled).to_contain_text("lower")
    predicted = flags.and_(page.locator("[data-question=model]"))
    expect(predicted).to_have_attribute("data-name", "Nikon D750")
    expect(predicted).to_contain_text("points lower")

    table = page.locator("#slices-data-table")
    expect(table).to_have_attribute("data-dimension", "camera")
    expect(table.locator("tr[data-name='Pixel 7']")).to_have_class("flagged")
    expect(table.locator("tr[data-name='Nikon D750']")).to_have_class("flagged")
    expect(table.locator("tr[data-name='Canon EOS 80D'] .flag-badge")).to_have_count(0)
    expect(page.locator("#model-note")).to_contain_text(f"Model v{version.version}")
    screenshot("slices")

    page.locator("#dimension-switch button[data-dimension=annotator]").click()
    expect(page.locator("#slices-data-table")).to_have_attribute("data-dimension", "annotator")
    for user in planted.annotators:
        expect(page.locator(f"#slices-data-table tr[data-name='{user.username}']")).to_have_count(1)
    assert "by=annotator" in page.url

    page.select_option("#version-select", str(version.pk))
    expect(page.locator("#slices-report")).to_have_attribute("data-state", "ready", timeout=20_000)
    href = page.locator("#download-csv").get_attribute("href")
    assert f"version={version.pk}" in href and "file=csv" in href
    with page.expect_download() as download:
        page.locator("#download-csv").click()
    assert download.value.suggested_filename == f"slices-project-{planted.project.pk}.csv"
