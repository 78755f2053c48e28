"""Single sign-on in Chromium: the login page's button, the provider's form, and back in."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from labeler.projects.models import Membership, Role
from labeler.sso.models import GroupRoleMapping
from tests.factories import ProjectFactory
from tests.oidc_provider.fixtures import PASSWORD, provider_user

pytestmark = pytest.mark.slow


def test_sign_in_with_the_provider(sso, live_server, page: Page):
    """From labeler's login page through the provider's form to the projects page, with
    the role the user's group maps to."""
    project = ProjectFactory(name="Birds")
    GroupRoleMapping.objects.create(group="birders", project=project, role=Role.ANNOTATOR)
    provider_user(sso, "hedy", ["birders"])

    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign in with Test provider").click()
    page.fill("input[name=username]", "hedy")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in at provider").click()

    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_text("Birds").first).to_be_visible()
    user = User.objects.get(username="hedy")
    assert Membership.objects.get(project=project, user=user).role == Role.ANNOTATOR
