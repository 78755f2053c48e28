"""A project's near-duplicate distance on the settings page in Chromium."""

from __future__ import annotations

import pytest

from labeler.projects.models import Role
from tests.browser.test_lead import log_in
from tests.factories import ProjectFactory, UserFactory, add_member

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LABEL = "Near-duplicate distance (bits)"


def test_a_lead_sets_the_distance_and_sees_an_out_of_range_one_refused(
    live_server, page, screenshot, settings
):
    """The input starts empty with the server's distance as its placeholder; 12 bits is
    stopped by the page and, posted anyway, comes back beside the input unsaved; 3 is saved
    and shown on the next visit."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project = ProjectFactory(name="Digits")
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    settings_path = f"/projects/{project.pk}/settings/"
    log_in(page, live_server.url, "lena", settings_path)

    distance = page.get_by_label(LABEL)
    expect(distance).to_have_value("")
    expect(distance).to_have_attribute("placeholder", "7")
    expect(page.locator("#duplicate-distance-help")).to_contain_text(
        "Empty: the server's distance (7)"
    )

    page.get_by_text("Near-duplicates", exact=True).click()  # a folded section
    distance.fill("12")
    page.get_by_role("button", name="Save settings").click()
    assert distance.evaluate("input => input.validity.rangeOverflow")
    assert page.url == f"{live_server.url}{settings_path}"

    # A client without the page's own check: the server refuses it beside the input.
    distance.evaluate("input => input.removeAttribute('max')")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#duplicate-distance-error")
    expect(error).to_contain_text("whole number of bits from 0 to 11")
    expect(page.get_by_label(LABEL)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label(LABEL)).to_have_value("12")
    project.refresh_from_db()
    assert project.duplicate_distance is None
    screenshot("project-settings-duplicate-distance-error")

    page.get_by_label(LABEL).fill("3")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    project.refresh_from_db()
    assert project.duplicate_distance == 3
    page.goto(f"{live_server.url}{settings_path}")
    expect(page.get_by_label(LABEL)).to_have_value("3")
