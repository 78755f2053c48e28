"""An address is trusted once it is confirmed (``projects.addresses``): by its owner's
link, by the identity provider, or by the admin who set it (never by taking an
invitation: its maker saw its link too). Until then it matches nobody in an import,
owns no invitation and blocks no one's sign-up."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from labeler.audit.models import AuditEntry
from labeler.imports.planning.people import EMAIL, people_match
from labeler.imports.reading.records import Person
from labeler.projects.invitations import invitation_create
from labeler.projects.models import Membership, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

BASE = "http://testserver/"
PASSWORD = "a-long-secret-phrase"
CONFIRM = re.compile(r"http://testserver(/email/confirm/[^/\s]+/)")


@pytest.fixture
def team():
    project = ProjectFactory(name="Pets")
    lead = UserFactory(username="lead", is_staff=True)
    add_member(project, lead, Role.LEAD)
    return project, lead


def link(project, lead, **kwargs) -> str:
    made = invitation_create(project=project, by=lead, base_url=BASE, **kwargs)
    return made.link.removeprefix("http://testserver")


def join(path, username, email) -> Client:
    client = Client()
    form = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(path, form)
    assert response.status_code == 302, response.content.decode()
    return client


def matched(project, email):
    [match] = people_match(project=project, people=[Person("ls:1", email=email)])
    return match


def test_a_squatted_address_matches_nobody_and_blocks_no_one(team):
    """Mallory joins by a link with Carol's address first: Carol's imported labels do not
    go to Mallory, and Carol, invited later by e-mail, makes her own account (she is not
    told to sign in to Mallory's), which the invitation confirms as hers."""
    project, lead = team
    join(link(project, lead), "mallory", "carol@example.org")
    mallory = User.objects.get(username="mallory")
    assert mallory.email == "carol@example.org"
    match = matched(project, "Carol@example.org")
    assert match.user_id != mallory.pk and match.how != EMAIL
    path = link(project, lead, email="carol@example.org")
    response = Client().get(path)
    assert response.status_code == 200 and 'name="password1"' in response.content.decode()
    mail.outbox.clear()
    client = join(path, "carol", "")
    carol = User.objects.get(username="carol")
    assert Membership.objects.filter(project=project, user=carol).exists()
    assert matched(project, "carol@EXAMPLE.org").user_id is None  # not by the join itself
    [confirmation] = mail.outbox
    assert client.post(CONFIRM.search(confirmation.body).group(1)).status_code == 200
    match = matched(project, "carol@EXAMPLE.org")
    assert (match.how, match.user_id) == (EMAIL, carol.pk)


def test_a_lead_who_takes_her_own_invitation_by_email_confirms_nothing(team):
    """Mallory, lead of another project, invites Victor's address there and takes the
    link herself (the invitation's link is shown to the lead who makes it): the address
    stays unconfirmed, so Victor's imported labels in Pets do not go to her account, and
    Victor, invited later by e-mail, makes his own account and confirms it."""
    project, lead = team
    elsewhere, mallory = ProjectFactory(name="Other"), UserFactory(username="mallory")
    add_member(elsewhere, mallory, Role.LEAD)
    join(link(elsewhere, mallory, email="victor@corp.example"), "victor", "")
    taken = User.objects.get(username="victor")
    add_member(project, taken)  # she gets into Pets too, by any of its share links
    assert taken.email == "victor@corp.example"
    assert matched(project, "victor@corp.example").user_id != taken.pk
    assert not AuditEntry.objects.filter(action="email_verified").exists()
    invited = link(project, lead, email="victor@corp.example")
    mail.outbox.clear()
    client = join(invited, "victor-real", "")
    [confirmation] = mail.outbox
    assert client.post(CONFIRM.search(confirmation.body).group(1)).status_code == 200
    victor = User.objects.get(username="victor-real")
    assert (matched(project, "victor@corp.example").user_id) == victor.pk


def test_the_typed_address_is_confirmed_by_the_link_mailed_to_it(team):
    """A link join mails a confirmation link through the configured backend; once its
    owner opens it and confirms, the address matches them, and blocks the next sign-up
    with it. A second account that typed the same address cannot confirm it too."""
    project, lead = team
    mail.outbox.clear()
    client = join(link(project, lead), "nora", "nora@example.org")
    second = join(link(project, lead), "nora2", "NORA@example.org")  # unconfirmed: no block
    first_mail, second_mail = mail.outbox
    assert first_mail.to == ["nora@example.org"] and "Confirm" in first_mail.subject
    confirm = CONFIRM.search(first_mail.body).group(1)
    nora = User.objects.get(username="nora")
    assert matched(project, "nora@example.org").user_id is None
    assert "Confirm my address" in client.get(confirm).content.decode()  # a GET confirms nothing
    assert matched(project, "nora@example.org").user_id is None
    done = client.post(confirm)
    assert done.status_code == 200 and "is now the confirmed address" in done.content.decode()
    assert matched(project, "nora@example.org").user_id == nora.pk
    entry = AuditEntry.objects.filter(action="email_verified").get()
    assert entry.details == {"email": "nora@example.org", "how": "owner"}
    again = second.post(CONFIRM.search(second_mail.body).group(1))
    assert again.status_code == 400 and "another account" in again.content.decode()
    form = {"username": "nora3", "email": "nora@example.org"}
    refused = Client().post(
        link(project, lead), form | {"password1": PASSWORD, "password2": PASSWORD}
    )
    assert refused.status_code == 409 and "sign in to join" in refused.content.decode()


def test_a_person_asks_for_a_new_confirmation_link():
    """The address page says whether the address is confirmed and mails a new link."""
    user = UserFactory(username="zoe", email="zoe@example.org")
    client = Client()
    client.force_login(user)
    assert "is not confirmed yet" in client.get(reverse("email-address")).content.decode()
    mail.outbox.clear()
    client.post(reverse("email-address"))
    client.post(CONFIRM.search(mail.outbox[0].body).group(1))
    assert "is confirmed as yours" in client.get(reverse("email-address")).content.decode()


def test_a_rest_client_reads_whether_its_address_is_confirmed_and_asks_for_a_link():
    """`users/me/` says whether the caller's address is confirmed; `me/send-confirmation/`
    mails the same link as the address page (400 naming the field without an address)."""
    user = UserFactory(username="zoe", email="zoe@example.org")
    api = client_for(user)
    assert api.get("/api/v1/users/me/").json()["email_confirmed"] is False
    mail.outbox.clear()
    sent = api.post("/api/v1/users/me/send-confirmation/")
    assert (sent.status_code, sent.json()) == (202, {"sent_to": "zoe@example.org"})
    [message] = mail.outbox
    assert message.to == ["zoe@example.org"]
    browser = Client()
    browser.force_login(user)
    browser.post(CONFIRM.search(message.body).group(1))
    assert api.get("/api/v1/users/me/").json()["email_confirmed"] is True
    nobody = client_for(UserFactory(username="ned", email=""))
    refused = nobody.post("/api/v1/users/me/send-confirmation/")
    assert refused.status_code == 400 and "no e-mail address" in refused.content.decode()
    assert len(mail.outbox) == 1


def test_a_link_for_an_address_the_account_no_longer_has_confirms_nothing():
    user = UserFactory(username="zoe", email="zoe@example.org")
    client = Client()
    client.force_login(user)
    mail.outbox.clear()
    client.post(reverse("email-address"))
    User.objects.filter(pk=user.pk).update(email="other@example.org")
    response = client.post(CONFIRM.search(mail.outbox[0].body).group(1))
    assert response.status_code == 400 and "no longer has" in response.content.decode()


def test_an_address_an_admin_sets_is_confirmed_and_audited():
    """Set on the admin site's account form, the address is confirmed by that admin, in
    the audit trail; one another account confirmed is refused there and left unchanged."""
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    user = UserFactory(username="zoe", email="")
    client = Client()
    client.force_login(admin)
    url = reverse("admin:auth_user_change", args=[user.pk])
    form = {
        "username": "zoe",
        "email": "zoe@example.org",
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action="email_verified").get()
    assert (entry.actor_name, entry.details["how"]) == ("root", "admin")
    other = UserFactory(username="yan", email="")
    client.post(reverse("admin:auth_user_change", args=[other.pk]), form | {"username": "yan"})
    other.refresh_from_db()
    assert other.email == ""


def test_the_owner_of_an_address_typed_into_anothers_sign_up_confirms_nothing(team):
    """Mallory signs up with Carol's address; the confirmation mail goes to Carol. Opening
    it signed out asks her to sign in; signed in as her own account, it is refused: only
    the account that asked confirms, so Carol's click never hands Mallory her address."""
    project, lead = team
    mail.outbox.clear()
    join(link(project, lead), "mallory", "carol@example.org")
    [confirmation] = mail.outbox
    path = CONFIRM.search(confirmation.body).group(1)
    signed_out = Client().post(path)
    assert signed_out.status_code == 302 and "/login/" in signed_out["Location"]
    carol = Client()
    carol.force_login(UserFactory(username="carol"))
    assert "mallory" not in carol.get(path).content.decode()
    refused = carol.post(path)
    assert refused.status_code == 403 and "another account" in refused.content.decode()
    assert matched(project, "carol@example.org").user_id is None
    assert not AuditEntry.objects.filter(action="email_verified").exists()
