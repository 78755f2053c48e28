"""The pages a person opens in a browser: log in and out, see one's projects, the API docs."""

from __future__ import annotations

import pytest

from labeler.projects.models import Role
from tests.browser.conftest import login
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

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
    page.fill("input[name=password]", "wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("That username and password")
    page.fill("input[name=password]", "correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    assert page.get_by_text("Street signs").is_visible()
    assert page.get_by_text("Somebody else's").count() == 0
    assert page.get_by_text("maria").is_visible()


def test_home_shows_my_progress_and_logout_ends_the_session(
    live_server, page, make_images, screenshot
):
    """Each project card says how many images I labelled and how many are left for me."""
    user = UserFactory(username="maria")
    other = UserFactory(username="other")
    project = ProjectFactory(name="Street signs", overlap=2)
    add_member(project, user)
    add_member(project, other)
    images = make_images(project, 5)
    annotation_submit(project=project, annotator=user, image_id=images[0].pk, labels=["cat"])
    annotation_submit(project=project, annotator=other, image_id=images[1].pk, labels=["dog"])
    login(page, live_server, "maria")

    card = page.locator(f".project-card[data-project-id='{project.pk}']")
    assert card.locator(".mine-labelled").inner_text() == "1"
    assert card.locator(".mine-remaining").inner_text() == "4"
    assert "0 of 5 images complete" in card.inner_text()
    screenshot("home")
    card.get_by_role("link", name="Label").click()
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/label/")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    assert page.url.startswith(f"{live_server.url}/login/")


def test_api_docs_render_offline(live_server, page, screenshot):
    """Swagger UI is served from our own static files and lists the endpoints."""
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector("text=/api/v1/projects/{project_pk}/next/", timeout=15_000)
    assert page.get_by_text("labeler API").first.is_visible()
    screenshot("api-docs", full_page=False)
