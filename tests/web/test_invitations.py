"""Invitations from the browser: the members page makes and revokes them, and the join
page makes an account (or adds a signed-in one) and lands in the project."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeler.projects.invitations import invitation_create
from labeler.projects.models import Invitation, Membership, Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"
JOIN = re.compile(r"http://testserver(/join/[A-Za-z0-9_-]{43}/)")


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def members_url(project) -> str:
    return reverse("project-members", args=[project.pk])


def make_link(project, by, **kwargs) -> str:
    made = invitation_create(project=project, by=by, base_url="http://testserver/", **kwargs)
    return made.link.removeprefix("http://testserver")


def join_form(username="nora", email="nora@example.org", password=PASSWORD, again=None):
    return {
        "username": username,
        "email": email,
        "password1": password,
        "password2": password if again is None else again,
    }


def role_of(project, username) -> str | None:
    rows = Membership.objects.filter(project=project, user__username=username)
    return rows.values_list("role", flat=True).first()


def test_a_lead_makes_a_link_that_is_shown_once(project, lead):
    lead_client = client_as(lead)
    response = lead_client.post(
        members_url(project),
        {"action": "invite-link", "link-role": "annotator", "link-days": "7", "link-max_uses": "3"},
        follow=True,
    )
    page = response.content.decode()
    assert "Link made: whoever opens it joins as annotator." in page
    path = JOIN.search(page).group(1)
    invitation = Invitation.objects.get()
    assert (invitation.max_uses, invitation.role, invitation.created_by) == (3, "annotator", lead)
    assert f'id="invitation-{invitation.pk}"' in page
    again = lead_client.get(members_url(project)).content.decode()
    assert path not in again and "Anyone with the link" in again  # listed, link not shown


def test_a_lead_invites_by_e_mail_and_the_invitee_joins(project, lead):
    response = client_as(lead).post(
        members_url(project),
        {
            "action": "invite-email",
            "email-email": "nora@example.org",
            "email-role": "reviewer",
            "email-days": "1",
        },
        follow=True,
    )
    assert "Invitation sent to nora@example.org as reviewer." in response.content.decode()
    (message,) = mail.outbox
    path = JOIN.search(message.body).group(1)
    anonymous = Client()
    page = anonymous.get(path).content.decode()
    assert "nora@example.org" in page and 'name="email"' not in page  # the address is fixed
    done = anonymous.post(path, join_form(email="other@example.org"))
    assert done.status_code == 302 and done["Location"] == reverse(
        "project-detail", args=[project.pk]
    )
    assert User.objects.get(username="nora").email == "nora@example.org"
    assert role_of(project, "nora") == Role.REVIEWER
    assert anonymous.get(done["Location"]).status_code == 200  # signed in


def test_a_link_makes_an_account_that_lands_on_the_labelling_page(project, lead):
    path = make_link(project, lead)
    anonymous = Client()
    done = anonymous.post(path, join_form())
    assert done.status_code == 302 and done["Location"] == reverse("label", args=[project.pk])
    assert role_of(project, "nora") == Role.ANNOTATOR
    landed = anonymous.get(done["Location"])
    assert landed.status_code == 200
    assert "Welcome to Pets: you joined as annotator." in landed.content.decode()


@pytest.mark.parametrize(
    ("form", "field", "said"),
    [
        (join_form(password="12345678"), "password1", "entirely numeric"),
        (join_form(again="something-else-9"), "password2", "The two passwords differ."),
        (join_form(username="bad name!"), "username", "A username holds only"),
        (join_form(email="no-at-sign"), "email", "Enter a valid email address."),
        (join_form(username="ANN1"), "username", "is taken"),
    ],
)
def test_a_refused_join_form_says_why_and_makes_nothing(project, lead, form, field, said):
    path = make_link(project, lead)
    response = Client().post(path, form)
    assert response.status_code in (400, 409)
    page = response.content.decode()
    assert said in page and f'id="{field}-error"' in page
    assert User.objects.count() == 3  # lead, ann1, ann2


def test_a_signed_in_person_joins_in_one_click(project, lead, outsider):
    path = make_link(project, lead, role=Role.LEAD)
    client = client_as(outsider)
    page = client.get(path).content.decode()
    assert "Join Pets as lead" in page
    done = client.post(path)
    assert done["Location"] == reverse("project-detail", args=[project.pk])
    assert role_of(project, "outsider") == Role.LEAD


def test_a_member_is_not_demoted_by_a_weaker_link_and_is_told(project, lead, reviewer):
    path = make_link(project, lead, role=Role.ANNOTATOR)
    client = client_as(reviewer)
    page = client.get(path).content.decode()
    assert "You are in Pets already" in page and "would not replace your stronger role" in page
    done = client.post(path, follow=True)
    assert "weaker role does not replace it" in done.content.decode()
    assert role_of(project, "rev") == Role.REVIEWER


def test_an_invited_address_with_an_account_is_asked_to_log_in(project, lead):
    UserFactory(username="omar", email="omar@example.org", email_verified=True)
    path = make_link(project, lead, email="omar@example.org")
    response = Client().get(path)
    page = response.content.decode()
    login_next = f"{reverse('login')}?next={path}"
    assert "Log in to join" in page and login_next in page and 'name="password1"' not in page
    assert Client().post(path, join_form(username="omar2")).status_code == 200
    assert not User.objects.filter(username="omar2").exists()
    # Logging in with next= brings them back to the one-click join.
    client = Client()
    back = client.post(
        reverse("login"), {"username": "omar", "password": "correct-horse-battery", "next": path}
    )
    assert back["Location"] == path
    assert client.post(path)["Location"] == reverse("label", args=[project.pk])


def test_a_link_with_an_address_an_account_has_points_to_log_in(project, lead):
    UserFactory(username="omar", email="omar@example.org", email_verified=True)
    path = make_link(project, lead)
    response = Client().post(path, join_form(username="omar2", email="OMAR@example.org"))
    page = response.content.decode()
    assert response.status_code == 409 and "sign in to join" in page and "Log in to join" in page


def test_a_deactivated_invitee_cannot_join(project, lead):
    UserFactory(username="gone", email="gone@example.org", is_active=False, email_verified=True)
    path = make_link(project, lead, email="gone@example.org")
    response = Client().get(path)
    assert response.status_code == 403 and "is deactivated" in response.content.decode()


@pytest.mark.parametrize(
    ("change", "status", "heading"),
    [
        ({"revoked_at": timezone.now()}, 410, "This invitation was revoked"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, 410, "This invitation has expired"),
        ({"uses": 2}, 410, "This invitation is used up"),
    ],
)
def test_a_dead_link_says_which_way_it_died(project, lead, change, status, heading):
    path = make_link(project, lead, max_uses=2)
    Invitation.objects.update(**change)
    for client in (Client(), client_as(UserFactory(username="someone"))):
        for response in (client.get(path), client.post(path, join_form())):
            assert response.status_code == status
            assert heading in response.content.decode()
    assert role_of(project, "someone") is None and not User.objects.filter(username="nora")


def test_a_demoted_lead_s_link_no_longer_works_and_says_so(project, lead):
    """A lead who made a lead link and was then demoted cannot take the lead back by it."""
    second = UserFactory(username="second")
    add_member(project, second, Role.LEAD)
    path = make_link(project, second, role="lead")
    client_as(lead).post(
        members_url(project), {"action": "role", "user": str(second.pk), "role": "annotator"}
    )
    assert role_of(project, "second") == "annotator"
    for client in (client_as(second), Client()):
        for response in (client.get(path), client.post(path, join_form())):
            assert response.status_code == 410
            page = response.content.decode()
            assert "This invitation no longer works" in page and "can no longer invite" in page
    assert role_of(project, "second") == "annotator" and not User.objects.filter(username="nora")
    assert "Anyone with the link" not in client_as(lead).get(members_url(project)).content.decode()


def test_guessing_is_held_back_but_a_valid_link_still_works(project, lead, settings):
    """Wrong invitation links from one address are answered 429 past the limit, for the
    hour; a valid link opened from the same address is still accepted and joins (one
    person's typos do not lock out everyone behind that address)."""
    settings.LABELER_JOIN_MISSES_PER_HOUR = 3
    real = make_link(project, lead)
    client = Client()
    for n in range(3):
        response = client.get(f"/join/{'x' * 42}{n}/")
        assert response.status_code == 404
        assert "This invitation link is not known" in response.content.decode()
    refused = client.get(f"/join/{'y' * 43}/")
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert refused["Retry-After"] == "3600"
    assert client.get(real).status_code == 200
    joined = client.post(real, join_form())
    assert joined.status_code == 302 and role_of(project, "nora") == Role.ANNOTATOR
    assert client.get(f"/join/{'z' * 43}/").status_code == 429


def test_join_forms_from_one_client_are_counted(project, lead, settings):
    settings.LABELER_JOINS_PER_HOUR = 2
    path = make_link(project, lead)
    client = Client()
    assert client.post(path, join_form(password="1")).status_code == 400
    assert client.post(path, join_form(password="2")).status_code == 400
    assert client.post(path, join_form()).status_code == 429
    assert client.get(path).status_code == 200  # opening it is not a form sent
    assert not User.objects.filter(username="nora").exists()


def test_a_lead_revokes_an_invitation_from_the_members_page(project, lead):
    path = make_link(project, lead)
    invitation = Invitation.objects.get()
    response = client_as(lead).post(
        members_url(project),
        {"action": "revoke-invitation", "invitation": invitation.pk},
        follow=True,
    )
    assert "it was revoked" in response.content.decode()
    assert Client().get(path).status_code == 410


def test_revoking_another_project_s_invitation_does_nothing(project, lead):
    elsewhere = ProjectFactory(name="Birds")
    add_member(elsewhere, lead, Role.LEAD)
    make_link(elsewhere, lead)
    other = Invitation.objects.get()
    for raw in (str(other.pk), "x", "9" * 30):
        response = client_as(lead).post(
            members_url(project), {"action": "revoke-invitation", "invitation": raw}, follow=True
        )
        assert "That invitation does not exist (any more)." in response.content.decode()
    other.refresh_from_db()
    assert other.revoked_at is None


def test_only_leads_and_admins_invite_from_the_members_page(project, annotator, reviewer):
    for user in (annotator, reviewer):
        response = client_as(user).post(
            members_url(project), {"action": "invite-link", "link-role": "lead", "link-days": "7"}
        )
        assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_a_bad_invitation_form_says_what_is_wrong(project, lead):
    client = client_as(lead)
    bad_days = client.post(
        members_url(project), {"action": "invite-link", "link-role": "annotator", "link-days": "9"}
    )
    assert bad_days.status_code == 400 and "Select a valid choice" in bad_days.content.decode()
    bad_email = client.post(
        members_url(project),
        {
            "action": "invite-email",
            "email-email": "nope",
            "email-role": "annotator",
            "email-days": "7",
        },
    )
    assert bad_email.status_code == 400
    assert 'id="invite-email-error"' in bad_email.content.decode()
    for role in ("admin", "LEAD", " lead"):  # only the offered roles, exactly as offered
        crafted = client.post(
            members_url(project), {"action": "invite-link", "link-role": role, "link-days": "7"}
        )
        assert crafted.status_code == 400 and "Select a valid choice" in crafted.content.decode()
    assert not Invitation.objects.exists()
