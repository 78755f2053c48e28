"""The single sign-on pages without a provider: every failure a page with a 4xx or 502."""

from __future__ import annotations

import pytest
from django.contrib.auth.signals import user_login_failed

from tests.web.links import has_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(settings):
    settings.OIDC_RP_CLIENT_ID = "labeler"
    settings.OIDC_RP_CLIENT_SECRET = "secret"
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9/o"  # nothing listens there
    settings.OIDC_TIMEOUT = 2


@pytest.fixture
def failures():
    sent: list[dict] = []

    def failed(sender, credentials, **kwargs):
        sent.append(credentials)

    user_login_failed.connect(failed, weak=False)
    yield sent
    user_login_failed.disconnect(failed)


def test_provider_refusal_is_shown(client, configured, failures):
    """The provider sending the user back with an error: a 400 page saying so."""
    page = client.get("/sso/callback/", {"error": "access_denied", "error_description": "No <b>"})
    assert page.status_code == 400
    assert "The sign-in provider refused: No &lt;b&gt;" in page.content.decode()
    assert len(failures) == 1


def test_callback_without_a_sign_in_is_refused(client, configured, failures):
    """A callback this browser never started: 400, nobody logged in."""
    page = client.get("/sso/callback/", {"code": "c", "state": "s"})
    assert page.status_code == 400 and b"could not be verified" in page.content
    assert "_auth_user_id" not in client.session
    assert len(failures) == 1


def test_provider_down_at_the_start(client, configured):
    """The discovery document out of reach: a 502 page, not a 500."""
    page = client.get("/sso/login/")
    assert page.status_code == 502 and b"cannot be reached" in page.content


def test_login_page_offers_the_provider(client, configured, settings):
    """The button beside the local form; the form hidden only when asked."""
    settings.LABELER_OIDC_PROVIDER_NAME = "Acme ID"
    page = client.get("/login/").content.decode()
    assert "Sign in with Acme ID" in page and 'name="password"' in page
    settings.LABELER_OIDC_HIDE_LOCAL_LOGIN = True
    assert 'name="password"' not in client.get("/login/").content.decode()


def test_local_form_hidden_when_asked(client, configured, settings):
    """LABELER_OIDC_HIDE_LOCAL_LOGIN leaves only the button; ?local=1 shows the form."""
    settings.LABELER_OIDC_PROVIDER_NAME = "Test provider"
    settings.LABELER_OIDC_HIDE_LOCAL_LOGIN = True
    html = client.get("/login/").content.decode()
    assert has_link(html, "Sign in with Test provider")
    assert 'name="password"' not in html
    assert client.get("/login/?local=1").content.decode().count('name="password"') == 1
