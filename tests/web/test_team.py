"""Accounts from the browser: the team page (admins), invitations, resets, deactivation,
and setting a password through Django's own views with the link from the e-mail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from labeler.projects import accounts
from labeler.projects.models import Membership, Role
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/password/[^/\s]+/[^/\s]+/)")


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def link_path(message: mail.EmailMessage) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def set_password(client: Client, path: str, password: str) -> Any:
    """Open the link (Django redirects to the set-password form) and post the password."""
    response = client.get(path, follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else path
    return client.post(form_path, {"new_password1": password, "new_password2": password})


def test_only_admins_open_the_team_page(lead):
    assert client_as(lead).get(reverse("team")).status_code == 403
    assert Client().get(reverse("team")).status_code == 302  # to the login page


def test_admin_invites_someone_who_sets_a_password_and_logs_in(admin_user):
    project = ProjectFactory(name="Birds")
    response = client_as(admin_user).post(
        reverse("team"),
        {
            "action": "invite",
            "username": "nora",
            "email": "nora@example.org",
            "first_name": "Nora",
            "project": project.pk,
            "role": Role.ANNOTATOR,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Invitation sent to nora@example.org." in response.content.decode()
    nora = User.objects.get(username="nora")
    assert not nora.has_usable_password() and nora.is_active
    assert Membership.objects.get(user=nora, project=project).role == Role.ANNOTATOR
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nora@example.org"]
    assert "Your username is nora" in mail.outbox[0].body

    anonymous = Client()
    done = set_password(anonymous, link_path(mail.outbox[0]), "a-long-secret-phrase")
    assert done.status_code == 302 and done["Location"] == reverse("password-reset-complete")
    assert anonymous.login(username="nora", password="a-long-secret-phrase")
    # The link works once.
    again = Client().get(link_path(mail.outbox[0]), follow=True)
    assert "This link no longer works" in again.content.decode()


def test_a_refused_invitation_says_why_and_keeps_nothing(admin_user):
    UserFactory(username="taken")
    response = client_as(admin_user).post(
        reverse("team"), {"action": "invite", "username": "Taken", "email": "t@example.org"}
    )
    assert response.status_code == 200
    assert "The username &#x27;Taken&#x27; is taken." in response.content.decode()
    bad = client_as(admin_user).post(
        reverse("team"), {"action": "invite", "username": "x y", "email": "nope"}
    )
    assert "Enter a valid email address." in bad.content.decode()
    assert mail.outbox == [] and User.objects.count() == 2


def test_a_weak_password_is_refused_beside_its_field(admin_user):
    user = accounts.account_create(username="omar", email="omar@example.org")
    sent = accounts.account_link_send(user=user, base_url="http://testserver/")
    response = set_password(Client(), sent.link.removeprefix("http://testserver"), "12345678")
    assert response.status_code == 200
    assert "This password is entirely numeric." in response.content.decode()
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_deactivated_accounts_cannot_log_in_and_come_back(admin_user, annotator):
    admin = client_as(admin_user)
    admin.post(reverse("team"), {"action": "deactivate", "user": annotator.pk})
    annotator.refresh_from_db()
    assert not annotator.is_active
    assert not Client().login(username=annotator.username, password="correct-horse-battery")
    # An admin cannot lock themselves out.
    page = admin.post(reverse("team"), {"action": "deactivate", "user": admin_user.pk}, follow=True)
    assert "You cannot deactivate your own account." in page.content.decode()
    admin.post(reverse("team"), {"action": "activate", "user": annotator.pk})
    assert Client().login(username=annotator.username, password="correct-horse-battery")


def test_a_session_ends_with_its_account(annotator):
    browser = client_as(annotator)
    assert browser.get(reverse("home")).context["user"] == annotator
    accounts.account_set_active(user=annotator, active=False, by=UserFactory(is_staff=True))
    assert browser.get(reverse("team")).status_code == 302  # logged out: to the login page


def test_admin_sends_a_reset_link_and_the_old_password_works_until_used(admin_user, annotator):
    annotator.email = "ann@example.org"
    annotator.save()
    client_as(admin_user).post(reverse("team"), {"action": "reset", "user": annotator.pk})
    assert mail.outbox[0].subject == "Your labeler password"
    annotator.refresh_from_db()
    assert annotator.check_password("correct-horse-battery")
    set_password(Client(), link_path(mail.outbox[0]), "brand-new-phrase-42")
    assert Client().login(username="ann1", password="brand-new-phrase-42")


def test_a_reset_without_an_address_says_so(admin_user, annotator):
    page = client_as(admin_user).post(
        reverse("team"), {"action": "reset", "user": annotator.pk}, follow=True
    )
    assert "ann1 has no e-mail address to send the link to." in page.content.decode()
    assert mail.outbox == []


def test_forgot_password_sends_a_link_only_to_a_known_active_address(annotator):
    assert 'href="/password-reset/"' in Client().get(reverse("login")).content.decode()
    annotator.email = "ann@example.org"
    annotator.save()
    unknown = Client().post(reverse("password-reset"), {"email": "who@example.org"})
    assert unknown.status_code == 302 and mail.outbox == []  # reveals nothing
    Client().post(reverse("password-reset"), {"email": "ann@example.org"})
    assert len(mail.outbox) == 1
    set_password(Client(), link_path(mail.outbox[0]), "forgotten-no-more-7")
    assert Client().login(username="ann1", password="forgotten-no-more-7")


@override_settings(LABELER_PASSWORD_RESETS_PER_HOUR=2)
def test_forgot_password_is_limited_per_address_asked_for_and_per_client(annotator):
    """A third request for one address within the hour is refused (429), whether or not
    an account has it, and sends nothing; other addresses go on until the client has
    asked ten times the limit."""
    annotator.email = "ann@example.org"
    annotator.save()
    client = Client()
    for email in ("ann@example.org", "Ann@Example.org "):
        assert client.post(reverse("password-reset"), {"email": email}).status_code == 302
    refused = client.post(reverse("password-reset"), {"email": "ann@example.org"})
    assert refused.status_code == 429
    assert "Too many password-reset links" in refused.content.decode()
    assert len(mail.outbox) == 2
    for n in range(17):
        answer = client.post(reverse("password-reset"), {"email": f"who{n % 9}@example.org"})
        assert answer.status_code == 302, n
    # 21 requests from this client: over ten times the limit of 2.
    last = client.post(reverse("password-reset"), {"email": "someone-new@example.org"})
    assert last.status_code == 429


def test_the_team_page_lists_status_and_projects(admin_user, project):
    accounts.account_create(username="invitee", email="i@example.org")
    page = client_as(admin_user).get(reverse("team")).content.decode()
    assert re.search(r'data-username="invitee".*?Invited', page, re.S)
    assert re.search(r'data-username="lead".*?' + re.escape(project.name), page, re.S)
