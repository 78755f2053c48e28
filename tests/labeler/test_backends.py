"""The authentication backend: the session's user by one plain statement, Django's rules."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user
from django.test import Client

from labeler.http.backends import UserBackend
from tests.factories import UserFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def test_a_session_reads_its_user_in_one_statement(django_assert_num_queries):
    user = UserFactory(username="ann")
    with django_assert_num_queries(1):
        found = UserBackend().get_user(str(user.pk))
    assert found == user and found.username == "ann" and found.password == user.password


@pytest.mark.parametrize("user_id", ["abc", None, "0", "-3", str(2**63), "999999"])
def test_odd_or_unknown_ids_find_no_one(user_id):
    assert UserBackend().get_user(user_id) is None


def test_an_inactive_user_is_logged_out():
    user = UserFactory(is_active=False)
    assert UserBackend().get_user(user.pk) is None


def test_logging_in_and_out_through_the_site():
    """Login checks the password as Django does; a changed password ends other sessions."""
    user = UserFactory(username="lead")
    user.set_password("a long passphrase")
    user.save()
    client = Client()
    assert client.login(username="lead", password="wrong") is False
    assert client.login(username="lead", password="a long passphrase") is True
    assert get_user(client).pk == user.pk  # type: ignore[arg-type]
    user.set_password("another long passphrase")
    user.save()
    assert not get_user(client).is_authenticated  # type: ignore[arg-type]
