"""Adaptive overlap on the project settings page in Chromium."""

from __future__ import annotations

import pytest

from labeler.projects.models import Role
from tests.browser.test_lead import log_in
from tests.factories import ProjectFactory, UserFactory, add_member

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_lead_turns_adaptive_overlap_on_and_sees_a_contradiction_explained(
    live_server, page, screenshot
):
    """The settings page shows fixed overlap with its adaptive bounds; a maximum below the
    overlap comes back beside its input, and a sound one is saved."""
    project = ProjectFactory(name="Digits", overlap=2)
    add_member(project, UserFactory(username="lena"), Role.LEAD)
    log_in(page, live_server.url, "lena", f"/projects/{project.pk}/settings/")
    page.get_by_text("More people where they disagree").click()  # a folded section

    expect(page.get_by_role("radio", name="Fixed")).to_be_checked()
    expect(page.get_by_label("Adaptive: at most (annotators)")).to_have_value("5")
    expect(page.get_by_label("Adaptive: more below (% confidence)")).to_have_value("95.0")

    page.get_by_role("radio", name="Adaptive").check()
    page.get_by_label("Adaptive: at most (annotators)").fill("1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#overlap-max-error")).to_contain_text("may not be below the overlap (2)")
    expect(page.get_by_role("radio", name="Adaptive")).to_be_checked()
    project.refresh_from_db()
    assert project.overlap_mode == "fixed"

    page.get_by_label("Adaptive: at most (annotators)").fill("4")
    page.get_by_label("Adaptive: more below (% confidence)").fill("90")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    project.refresh_from_db()
    assert (project.overlap_mode, project.overlap_max, project.adaptive_confidence) == (
        "adaptive",
        4,
        0.9,
    )
    page.goto(f"{live_server.url}/projects/{project.pk}/settings/")
    page.get_by_text("More people where they disagree").click()
    expect(page.get_by_role("radio", name="Adaptive")).to_be_checked()
    screenshot("project-settings-adaptive-overlap")
