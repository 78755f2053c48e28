"""A password link dies when its account is deactivated or its password changes.

Every route whose view makes or takes password links (Django's auth views, found in the
URL conf by their ``token_generator``) uses the one generator that binds a link to the
account's state (``accounts.password_link_tokens``); each way a link is made is tried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from labeler.projects import accounts
from tests.api.test_permission_matrix import routes
from tests.factories import UserFactory
from tests.web.test_team import link_path, set_password

pytestmark = pytest.mark.django_db

OLD, NEW = "correct-horse-battery", "a-new-long-phrase-9"


def _admin_reset(user: User) -> str:
    sent = accounts.account_link_send(user=user, base_url="http://testserver/", kind=accounts.RESET)
    return sent.link.removeprefix("http://testserver")


def _invitation(user: User) -> str:
    sent = accounts.account_link_send(
        user=user, base_url="http://testserver/", kind=accounts.INVITE
    )
    return sent.link.removeprefix("http://testserver")


def _forgotten(user: User) -> str:
    mail.outbox.clear()
    assert Client().post(reverse("password-reset"), {"email": user.email}).status_code == 302
    return link_path(mail.outbox[-1])


LINK_MAKERS: dict[str, Callable[[User], str]] = {
    "admin reset": _admin_reset,
    "invitation": _invitation,
    "forgot password": _forgotten,
}


def test_every_view_of_password_links_uses_the_one_generator():
    """A password view added later with Django's default generator fails here, by name."""
    views = {}
    for route in routes():
        cls = getattr(route.callback, "view_class", None)
        if cls is not None and hasattr(cls, "token_generator"):
            views[route.name] = cls.token_generator
    assert {"password-reset", "password-reset-confirm"} <= set(views)
    wrong = sorted(n for n, g in views.items() if g is not accounts.password_link_tokens)
    assert not wrong, f"password views with another token generator: {wrong}"


@pytest.fixture
def person(db) -> User:
    user = UserFactory(username="nora", email="nora@example.org")
    user.set_password(OLD)
    user.save()
    return user


@pytest.mark.parametrize("made_by", LINK_MAKERS)
def test_a_link_sent_before_deactivation_sets_no_password(person: User, made_by: str):
    """Opened while the account is deactivated, the link is a 400 that says why; the
    password stays as it was, so nothing is waiting for the account's reactivation."""
    path = LINK_MAKERS[made_by](person)
    admin = UserFactory(is_staff=True)
    accounts.account_set_active(user=person, active=False, by=admin)

    response: Any = set_password(Client(), path, NEW)

    assert response.status_code == 400
    assert "the account was deactivated" in response.content.decode()
    person.refresh_from_db()
    assert person.check_password(OLD) and not person.check_password(NEW)
    accounts.account_set_active(user=person, active=True, by=admin)
    assert not Client().login(username="nora", password=NEW)
    assert Client().login(username="nora", password=OLD)


@pytest.mark.parametrize("made_by", LINK_MAKERS)
def test_a_link_dies_when_the_password_changes(person: User, made_by: str):
    path = LINK_MAKERS[made_by](person)
    person.set_password("changed-by-its-owner-3")
    person.save()

    assert set_password(Client(), path, NEW).status_code == 400
    person.refresh_from_db()
    assert person.check_password("changed-by-its-owner-3")


@pytest.mark.parametrize("made_by", LINK_MAKERS)
def test_a_live_link_still_sets_the_password(person: User, made_by: str):
    done = set_password(Client(), LINK_MAKERS[made_by](person), NEW)
    assert done.status_code == 302
    assert Client().login(username="nora", password=NEW)


@pytest.mark.parametrize("made_by", LINK_MAKERS)
def test_a_link_sent_before_deactivation_stays_dead_once_the_account_is_reactivated(
    person: User, made_by: str
):
    """Reactivating the account revives no link sent before its deactivation; a new link
    works."""
    path = LINK_MAKERS[made_by](person)
    admin = UserFactory(is_staff=True)
    accounts.account_set_active(user=person, active=False, by=admin)
    accounts.account_set_active(user=person, active=True, by=admin)

    assert set_password(Client(), path, NEW).status_code == 400
    person.refresh_from_db()
    assert person.check_password(OLD)
    assert set_password(Client(), LINK_MAKERS[made_by](person), NEW).status_code == 302


def test_deactivating_in_the_admin_site_revokes_the_links_too(person: User):
    """The admin site's user form deactivates through the same service as the team page
    and the API, so its links die there as well."""
    path = _admin_reset(person)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    change = reverse("admin:auth_user_change", args=[person.pk])
    form = {
        "username": person.username,
        "email": person.email,
        "is_staff": "",
        "is_active": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    assert client.post(change, form).status_code == 302
    person.refresh_from_db()
    assert not person.is_active
    person.is_active = True
    person.save(update_fields=["is_active"])

    assert set_password(Client(), path, NEW).status_code == 400
