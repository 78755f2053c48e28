"""The browsable API (DRF's HTML pages) in Chromium under the site's Content-Security-Policy.

DRF's own templates carry an inline <style>, inline style attributes and an onclick
handler; ours (templates/rest_framework/) do without. The page fixture fails the test on
any CSP violation, on every page it opened, the documents DRF's script writes included.
"""

from __future__ import annotations

import pytest

from labeler.projects.models import Project
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_log_in_use_the_buttons_and_forms_and_log_out(live_server, page, screenshot):
    """Log in from the API page, GET and OPTIONS it, create a project with the raw-data
    form, and log out: all under the CSP, the pages styled as DRF means them to be."""
    UserFactory(username="ada", is_staff=True)
    url = f"{live_server.url}/api/v1/projects/"
    page.goto(url)
    assert page.locator(".response-info").get_by_text("HTTP 401 Unauthorized").is_visible()

    page.get_by_role("link", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/api/v1/auth/login/?next=/api/v1/projects/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)
    assert page.locator(".response-info").get_by_text("HTTP 200 OK").is_visible()
    filters = page.get_by_role("button", name="Filters")
    assert filters.evaluate("button => getComputedStyle(button).float") == "right"
    screenshot("browsable-api")

    page.get_by_role("button", name="OPTIONS").click()
    page.locator(".request-info").get_by_text("OPTIONS").wait_for()
    assert page.locator(".response-info").get_by_text('"name": "Project List"').is_visible()
    page.get_by_role("link", name="GET", exact=True).click()
    page.locator(".request-info").get_by_text("GET").wait_for()

    page.get_by_role("link", name="Raw data").click()
    page.fill("#id__content", '{"name": "Birds", "labels": ["crow", "gull"]}')
    page.locator("#post-generic-content-form").get_by_role("button", name="POST").click()
    page.locator(".response-info").get_by_text("HTTP 201 Created").wait_for()
    screenshot("browsable-api-created")
    assert list(Project.objects.values_list("name", flat=True)) == ["Birds"]

    page.get_by_role("link", name="ada").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(url)
    assert page.locator(".response-info").get_by_text("HTTP 401 Unauthorized").is_visible()
    assert page.get_by_role("link", name="Log in").is_visible()
