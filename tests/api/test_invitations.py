"""Invitations through /api/v1/projects/{id}/invitations/: leads list, make and revoke
them; the link is in the answer that makes it and nowhere after."""

from __future__ import annotations

import smtplib

import pytest
from django.core import mail
from django.test import Client

from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed, Invitation, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/invitations/"


def test_a_lead_makes_a_link_lists_it_and_revokes_it(project, lead, url):
    """POST answers 201 with the link; the list shows it without the link; DELETE revokes."""
    client = client_for(lead)
    made = client.post(
        url, {"role": "reviewer", "expires_in_days": 1, "max_uses": 5}, format="json"
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["kind"] == "link" and body["role"] == "reviewer" and body["max_uses"] == 5
    assert body["uses"] == 0 and body["created_by"] == "lead" and body["email"] == ""
    assert body["link"].startswith("http://testserver/join/")
    listed = client.get(url).json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert "link" not in listed[0] and body["link"].rsplit("/", 2)[1] not in str(listed)
    path = body["link"].removeprefix("http://testserver")
    assert Client().get(path).status_code == 200
    assert client.delete(f"{url}{body['id']}/").status_code == 204
    assert client.get(url).json()["results"] == []
    assert Client().get(path).status_code == 410
    assert client.delete(f"{url}{body['id']}/").status_code == 204  # again: nothing changes


def test_an_e_mail_invitation_is_sent(project, lead, url):
    made = client_for(lead).post(
        url, {"role": "annotator", "email": "nora@example.org"}, format="json"
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["kind"], body["role"], body["max_uses"]) == ("email", "annotator", 1)
    (message,) = mail.outbox
    assert message.to == ["nora@example.org"] and body["link"] in message.body


def test_an_admin_invites_into_any_project(project, admin_user, url):
    made = client_for(admin_user).post(url, {"role": "lead"}, format="json")
    assert made.status_code == 201 and made.json()["created_by"] == "admin"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"role": "owner"}, "role"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 31}, "expires_in_days"),
        ({"expires_in_days": "soon"}, "expires_in_days"),
        ({"max_uses": 0}, "max_uses"),
        ({"max_uses": 1001}, "max_uses"),
        ({"email": "nora@example.org", "max_uses": 2}, "max_uses"),
        ({"email": 42}, "email"),
        ({}, "role"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(project, lead, url, payload, field):
    body = payload if field == "role" else {"role": "annotator", **payload}
    response = client_for(lead).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Invitation.objects.exists() and mail.outbox == []


def test_a_member_s_address_is_a_409(project, lead, annotator, url):
    annotator.email = "ann1@example.org"
    annotator.save()
    addresses.email_mark_verified(user=annotator, how=AddressConfirmed.ADMIN)
    response = client_for(lead).post(
        url, {"role": "reviewer", "email": "ann1@example.org"}, format="json"
    )
    assert response.status_code == 409 and "member already" in response.json()["detail"]


def test_a_mail_server_refusal_is_a_503_keeping_nothing(project, lead, url, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("labeler.projects.mail.send_mail", refuse)
    response = client_for(lead).post(
        url, {"role": "annotator", "email": "nora@example.org"}, format="json"
    )
    assert response.status_code == 503 and response.json()["code"] == "mail_failed"
    assert "could not be sent" in response.json()["detail"]
    assert not Invitation.objects.exists()


def test_annotators_and_reviewers_get_403(project, annotator, reviewer, lead, url):
    made = client_for(lead).post(url, {"role": "annotator"}, format="json").json()
    for user in (annotator, reviewer):
        client = client_for(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"role": "lead"}, format="json").status_code == 403
        assert client.delete(f"{url}{made['id']}/").status_code == 403
    assert Invitation.objects.filter(revoked_at=None).count() == 1


def test_another_project_is_a_404(project, url):
    other_lead = UserFactory(username="other-lead")
    add_member(ProjectFactory(name="Birds"), other_lead, Role.LEAD)
    client = client_for(other_lead)
    assert client.get(url).status_code == 404
    assert client.post(url, {"role": "lead"}, format="json").status_code == 404
    assert not Invitation.objects.exists()


def test_revoking_another_project_s_invitation_is_a_404(project, lead, url):
    elsewhere = ProjectFactory(name="Birds")
    add_member(elsewhere, lead, Role.LEAD)
    theirs = (
        client_for(lead)
        .post(f"/api/v1/projects/{elsewhere.pk}/invitations/", {"role": "annotator"}, format="json")
        .json()
    )
    for pk in (theirs["id"], 2**63, 10**30):
        assert client_for(lead).delete(f"{url}{pk}/").status_code == 404
    assert Invitation.objects.get(pk=theirs["id"]).revoked_at is None


def test_unknown_fields_and_anonymous_callers_are_refused(project, lead, url):
    assert client_for(lead).post(url, {"rol": "lead"}, format="json").status_code == 400
    assert Client().get(url).status_code in (401, 403)
