"""The pages a person opens in a browser: log in, see one's projects, read the API docs."""

from __future__ import annotations

import pytest

from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_login_then_home_lists_only_my_projects(live_server, page, screenshot):
    """A member logs in through the form and sees their projects, not others'."""
    user = UserFactory(username="maria")
    mine = ProjectFactory(name="Street signs")
    add_member(mine, user, Role.LEAD)
    ProjectFactory(name="Somebody else's")

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Log in").first.click()
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", "correct-horse-battery")
    page.locator("form").get_by_role("button").click()
    page.wait_for_url(f"{live_server.url}/")

    assert page.get_by_text("Street signs").is_visible()
    assert page.get_by_text("Somebody else's").count() == 0
    assert page.get_by_text("maria").is_visible()
    screenshot("home")


def test_api_docs_render_offline(live_server, page, screenshot):
    """Swagger UI is served from our own static files and lists the endpoints."""
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector("text=/api/v1/projects/{project_pk}/next/", timeout=15_000)
    assert page.get_by_text("labeler API").first.is_visible()
    screenshot("api-docs", full_page=False)
