"""Fixtures: a real OpenID Connect provider for the single sign-on tests (one a run, started
on first use), and labeler pointed at it. A plugin of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc_provider.server import Provider, provider_running

CLIENT_ID = "labeler-test"
CLIENT_SECRET = "labeler-test-secret-" + "s" * 30
PASSWORD = "provider-pass-1"


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> Iterator[Provider]:
    with provider_running(tmp_path_factory.mktemp("oidc-provider")) as provider:
        yield provider


@pytest.fixture
def sso(settings, live_server, oidc_provider: Provider) -> Provider:
    """labeler's single sign-on configured for the provider, its client registered there."""
    oidc_provider.seed(
        client={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": f"{live_server.url}/sso/callback/",
        }
    )
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_ISSUER = oidc_provider.issuer
    settings.LABELER_OIDC_PROVIDER_NAME = "Test provider"
    return oidc_provider


def provider_user(provider: Provider, username: str, groups: list[str], **fields: str) -> None:
    """Make (or change) a user at the provider, in these groups."""
    provider.seed(
        users=[
            {
                "username": username,
                "password": PASSWORD,
                "email": fields.get("email", f"{username}@example.org"),
                "first_name": fields.get("first_name", username.title()),
                "last_name": fields.get("last_name", "Tester"),
                "groups": groups,
            }
        ]
    )
