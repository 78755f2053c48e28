"""The audit page in Chromium: a lead logs in, changes a setting, and reads it back in the
project's audit trail, filtered; a screenshot lands in test-artifacts/audit-page.png."""

from __future__ import annotations

import pytest

from labeler.projects.models import Role
from labeler.projects.services import project_update
from tests.browser.conftest import login, save_screenshot
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_lead_reads_the_projects_audit_trail(live_server, page):
    lead = UserFactory(username="lina")
    project = ProjectFactory(name="Birds")
    add_member(project, lead, Role.LEAD)
    project_update(project=project, overlap=3)
    project_update(project=project, instructions="Count the wings.")
    login(page, live_server, "lina")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.click("#audit-link")
    page.wait_for_selector("table.audit")
    rows = page.locator("table.audit tbody tr")
    actions = [rows.nth(i).get_attribute("data-action") for i in range(rows.count())]
    # A login is the server's, not the project's: the project's page lists its changes only.
    assert actions == ["project_settings_changed", "project_settings_changed"]
    page.select_option("#action", "login")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("p.empty")
    assert page.locator("table.audit").count() == 0
    assert page.get_by_text("No entries match.").is_visible()
    page.select_option("#action", "project_settings_changed")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("table.audit")
    details = " ".join(page.locator("code.audit-details").all_inner_texts())
    assert '"overlap": 3' in details and "Count the wings." in details
    assert page.locator("#csv-download").get_attribute("href").endswith("export=csv")
    save_screenshot(page, "audit-page")
