"""Invitations, reset links and deactivation through /api/v1/users/ (admins only)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.conftest import client_for

URL = "/api/v1/users/"
User = get_user_model()

pytestmark = pytest.mark.django_db


def test_an_admin_invites_by_email(admin_user):
    response = client_for(admin_user).post(
        f"{URL}invite/", {"username": "vera", "email": "vera@example.org"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["is_active"] is True
    assert not User.objects.get(username="vera").has_usable_password()
    assert mail.outbox[0].to == ["vera@example.org"]
    assert "http://testserver/password/" in mail.outbox[0].body


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "vera"}, "email"),
        ({"username": "vera", "email": "not-an-address"}, "email"),
        ({"username": "bad name!", "email": "v@example.org"}, "username"),
        ({"email": "v@example.org"}, "username"),
    ],
)
def test_a_bad_invitation_names_its_field_and_sends_nothing(admin_user, payload, field):
    response = client_for(admin_user).post(f"{URL}invite/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in str(response.json())
    assert mail.outbox == [] and not User.objects.filter(email__startswith="v").exists()


def test_a_taken_username_is_a_conflict(admin_user, annotator):
    response = client_for(admin_user).post(
        f"{URL}invite/", {"username": "ANN1", "email": "a@example.org"}, format="json"
    )
    assert response.status_code == 409
    assert "taken" in response.json()["detail"]


def test_others_cannot_invite_nor_deactivate(lead, annotator):
    client = client_for(lead)
    assert (
        client.post(f"{URL}invite/", {"username": "x", "email": "x@example.org"}).status_code == 403
    )
    assert client.post(f"{URL}{annotator.pk}/deactivate/").status_code == 403


def test_deactivation_ends_api_access_and_reactivation_restores_it(admin_user, annotator):
    own = client_for(annotator)
    assert own.get(f"{URL}me/").status_code == 200
    response = client_for(admin_user).post(f"{URL}{annotator.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert own.get(f"{URL}me/").status_code == 401
    assert client_for(admin_user).post(f"{URL}{annotator.pk}/activate/").json()["is_active"]
    assert own.get(f"{URL}me/").status_code == 200


def test_an_admin_cannot_deactivate_themselves(admin_user):
    response = client_for(admin_user).post(f"{URL}{admin_user.pk}/deactivate/")
    assert response.status_code == 400
    assert response.json()["detail"] == "You cannot deactivate your own account."


def test_reset_and_invitation_links_are_sent_to_the_address(admin_user, annotator):
    client = client_for(admin_user)
    assert client.post(f"{URL}{annotator.pk}/send-password-reset/").status_code == 400
    annotator.email = "ann@example.org"
    annotator.save()
    response = client.post(f"{URL}{annotator.pk}/send-password-reset/")
    assert response.status_code == 202 and response.json() == {"sent_to": "ann@example.org"}
    assert client.post(f"{URL}{annotator.pk}/send-invitation/").status_code == 202
    assert [m.subject for m in mail.outbox] == [
        "Your labeler password",
        "You are invited to labeler",
    ]
    assert client.post(f"{URL}99999999999999999999/send-invitation/").status_code == 404


def test_a_failing_mail_server_is_a_503_and_keeps_no_account(admin_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    response = client_for(admin_user).post(
        f"{URL}invite/", {"username": "vera", "email": "vera@example.org"}, format="json"
    )
    assert response.status_code == 503
    assert "could not be sent" in response.json()["detail"]
    assert not User.objects.filter(username="vera").exists()


def test_anonymous_callers_are_refused():
    assert APIClient().post(f"{URL}invite/", {}).status_code == 401


def test_a_username_in_any_script_is_taken_and_documented_as_taken(admin_user):
    """Django takes letters of any script in a username; the schema says so rather than
    giving a pattern whose ASCII-only \\w documents them as refused (the fuzzer's find)."""
    response = client_for(admin_user).post(
        f"{URL}invite/", {"username": "¼José", "email": "jose@example.org"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "¼José"
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for name in ("User", "UserRequest"):
        username = schema["components"]["schemas"][name]["properties"]["username"]
        assert "pattern" not in username and username["maxLength"] == 150
