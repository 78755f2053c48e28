"""User accounts through /api/v1/users/: admins create and list them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import client_for
from tests.rows import row_counts

URL = "/api/v1/users/"


def test_an_admin_creates_a_user_who_can_log_in(admin_user):
    """The new account answers without its password, and the password works."""
    response = client_for(admin_user).post(
        URL, {"username": "dora", "password": "s3cret-pass-99"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert "password" not in response.json()
    assert get_user_model().objects.get(username="dora").check_password("s3cret-pass-99")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "dora"}, "password"),
        ({"username": "dora", "password": "123"}, "password"),
        ({"username": "dora", "password": "password"}, "password"),
        ({"password": "s3cret-pass-99"}, "username"),
        ({"username": "admin", "password": "s3cret-pass-99"}, "username"),
        ({"username": "bad name!", "password": "s3cret-pass-99"}, "username"),
        ({"username": "dora", "password": "s3cret-pass-99", "email": "nope"}, "email"),
    ],
)
def test_bad_accounts_are_refused(admin_user, payload, field):
    """Weak passwords, taken or malformed usernames answer 400 naming the field."""
    before = row_counts()
    response = client_for(admin_user).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert response.json()["detail"].startswith(f"{field}:")
    assert row_counts() == before


def test_a_non_admin_cannot_make_themselves_staff(annotator):
    """Creating accounts, staff or not, is for admins only."""
    before = row_counts()
    response = client_for(annotator).post(
        URL, {"username": "boss", "password": "s3cret-pass-99", "is_staff": True}, format="json"
    )
    assert response.status_code == 403
    assert row_counts() == before
