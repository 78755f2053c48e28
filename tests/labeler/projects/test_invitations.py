"""Invitations into a project: who may make them, what their links let in, and when not."""

from __future__ import annotations

import hashlib
import smtplib
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeler.audit.models import Action, AuditEntry
from labeler.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from labeler.projects import accounts, addresses, selectors, services
from labeler.projects.invitations import (
    InvitationUnusable,
    invitation_accept,
    invitation_create,
    invitation_find,
    invitation_join,
    invitation_revoke,
)
from labeler.projects.mail import MailFailed
from labeler.projects.models import AddressConfirmed, Invitation, Membership, Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

BASE = "http://testserver/"
PASSWORD = "a-long-secret-phrase"


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def make_link(project, by, **kwargs):
    made = invitation_create(project=project, by=by, base_url=BASE, **kwargs)
    return made.invitation, token_of(made.link)


def role_of(project, user) -> str | None:
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def join(token: str, username: str = "nora", email: str = "nora@example.org"):
    return invitation_join(token=token, username=username, email=email, password=PASSWORD)


def test_only_the_hash_of_the_token_is_stored(project, lead):
    """The link's token appears nowhere in the database: the row holds its SHA-256."""
    invitation, token = make_link(project, lead)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Invitation._meta.db_table}")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert not any(token in value for value in stored)
    assert len(token) == 43


def test_a_link_makes_an_account_that_joins_with_the_role(project, lead):
    """Joining by a link makes an active account with the password, in the project."""
    invitation, token = make_link(project, lead, role=Role.REVIEWER)
    joined = join(token)
    nora = User.objects.get(username="nora")
    assert joined.created and joined.membership.user == nora
    assert nora.is_active and nora.check_password(PASSWORD) and nora.email == "nora@example.org"
    assert role_of(project, nora) == Role.REVIEWER
    invitation.refresh_from_db()
    assert invitation.uses == 1


def test_an_expired_link_says_so(project, lead):
    invitation, token = make_link(project, lead, days=1)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    with pytest.raises(InvitationUnusable) as refused:
        join(token)
    assert refused.value.details["reason"] == "expired" and "expired" in refused.value.message
    assert not User.objects.filter(username="nora").exists()


def test_a_revoked_link_says_so_and_lets_no_one_in(project, lead):
    invitation, token = make_link(project, lead)
    invitation_revoke(invitation=invitation, by=lead)
    with pytest.raises(InvitationUnusable) as refused:
        join(token)
    assert refused.value.details["reason"] == "revoked"
    assert "revoked" in refused.value.message
    assert not selectors.project_invitations_live(project).exists()


def test_a_link_lets_in_at_most_max_uses_people(project, lead):
    invitation, token = make_link(project, lead, max_uses=2)
    join(token, "one", "one@example.org")
    join(token, "two", "two@example.org")
    with pytest.raises(InvitationUnusable) as refused:
        join(token, "three", "three@example.org")
    assert refused.value.details["reason"] == "used_up"
    assert not User.objects.filter(username="three").exists()
    invitation.refresh_from_db()
    assert invitation.uses == 2


def _demote(project, maker):
    services.membership_set(project=project, user=maker, role=Role.ANNOTATOR)


def _remove(project, maker):
    membership = Membership.objects.get(project=project, user=maker)
    services.membership_remove(membership=membership, keep_links=True)  # the maker alone


def _deactivate(project, maker):
    User.objects.filter(pk=maker.pk).update(is_active=False)


def _delete(project, maker):
    User.objects.filter(pk=maker.pk).delete()


@pytest.mark.parametrize("lose_rights", [_demote, _remove, _deactivate, _delete])
def test_an_invitation_dies_once_its_maker_may_no_longer_invite(project, lead, lose_rights):
    """A lead who is demoted, removed, deactivated or deleted cannot come back as lead, nor
    bring anyone in, by a link made while they led the project; it is no longer listed."""
    second = UserFactory(username="second", email="second@example.org")
    add_member(project, second, Role.LEAD)
    _, token = make_link(project, second, role=Role.LEAD)
    _, by_mail = make_link(project, second, role=Role.LEAD, email="new@example.org")
    lose_rights(project, second)
    leads = set(Membership.objects.filter(project=project, role=Role.LEAD))
    for each in (token, by_mail):
        with pytest.raises(InvitationUnusable) as refused:
            invitation_find(each)
        assert refused.value.details["reason"] == "maker_lost_rights"
        assert "can no longer invite" in refused.value.message
    if User.objects.filter(pk=second.pk, is_active=True).exists():
        with pytest.raises(InvitationUnusable):
            invitation_accept(token=token, user=second)
    with pytest.raises(InvitationUnusable):
        join(token)
    assert set(Membership.objects.filter(project=project, role=Role.LEAD)) == leads
    assert not User.objects.filter(username="nora").exists()
    assert not selectors.project_invitations_live(project).exists()


def test_an_admin_s_invitation_dies_when_they_are_no_longer_one(project, admin_user, lead):
    _, token = make_link(project, admin_user, role=Role.LEAD)
    kept, _ = make_link(project, lead)
    assert invitation_find(token)
    User.objects.filter(pk=admin_user.pk).update(is_staff=False)
    with pytest.raises(InvitationUnusable):
        invitation_find(token)
    assert list(selectors.project_invitations_live(project)) == [kept]


def test_a_project_name_with_a_line_break_still_mails_one_line_subject(project, lead):
    """A name is free text (a line break can be stored): the subject header stays one
    line and carries no header of its own, and nobody else is mailed."""
    project.name = "Pets\nBcc: someone@example.net"
    project.save(update_fields=["name"])
    invitation_create(project=project, by=lead, base_url=BASE, email="nora@example.org")
    (message,) = mail.outbox
    assert message.subject == "You are invited to Pets Bcc: someone@example.net on labeler"
    assert message.recipients() == ["nora@example.org"]
    assert "\nBcc" not in message.message().as_string().split("\n\n", 1)[0]


def test_an_unknown_or_malformed_token_is_not_found(project, lead):
    _, token = make_link(project, lead)
    for wrong in ("x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"), "short", "é" * 43):
        with pytest.raises(NotFound):
            invitation_find(wrong)


def test_an_e_mail_invitation_is_sent_and_fixes_the_address(project, lead):
    """The e-mail holds the link; joining takes the invited address whatever is typed."""
    made = invitation_create(
        project=project, by=lead, base_url=BASE, email="nora@example.org", role=Role.LEAD
    )
    (message,) = mail.outbox
    assert message.to == ["nora@example.org"] and made.link in message.body
    assert "Pets" in message.subject and "as lead" in message.body
    join(token_of(made.link), email="someone-else@example.org")
    nora = User.objects.get(username="nora")
    assert nora.email == "nora@example.org" and role_of(project, nora) == Role.LEAD
    with pytest.raises(InvitationUnusable):  # used once
        join(token_of(made.link), "nora2")


def test_a_mail_server_refusal_keeps_no_invitation(project, lead, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPException("relay denied")

    monkeypatch.setattr("labeler.projects.mail.send_mail", refuse)
    with pytest.raises(MailFailed) as failed:
        invitation_create(project=project, by=lead, base_url=BASE, email="nora@example.org")
    assert failed.value.status_code == 503 and "relay denied" in failed.value.message
    assert not Invitation.objects.exists()


def test_an_address_an_account_has_asks_to_sign_in_instead(project, lead):
    """Joining with an e-mail address an account has makes no second account."""
    UserFactory(username="omar", email="Omar@Example.org", email_verified=True)
    _, token = make_link(project, lead)
    with pytest.raises(Conflict) as refused:
        join(token, "omar2", "omar@example.org")
    assert refused.value.details["sign_in"] and refused.value.field == "email"
    assert not User.objects.filter(username="omar2").exists()


def test_an_existing_account_joins_by_signing_in(project, lead):
    omar = UserFactory(username="omar", email="omar@example.org", email_verified=True)
    made = invitation_create(project=project, by=lead, base_url=BASE, email="omar@example.org")
    joined = invitation_accept(token=token_of(made.link), user=omar)
    assert joined.created and role_of(project, omar) == Role.ANNOTATOR


def test_an_e_mail_invitation_is_not_for_another_account(project, lead, outsider):
    made = invitation_create(project=project, by=lead, base_url=BASE, email="nora@example.org")
    with pytest.raises(PermissionDenied, match=r"nora@example\.org"):
        invitation_accept(token=token_of(made.link), user=outsider)
    assert role_of(project, outsider) is None


def test_a_deactivated_account_cannot_join(project, lead, outsider, admin_user):
    _, token = make_link(project, lead)
    accounts.account_set_active(user=outsider, active=False, by=admin_user)
    with pytest.raises(PermissionDenied, match="deactivated"):
        invitation_accept(token=token, user=outsider)
    UserFactory(username="gone", email="gone@example.org", is_active=False, email_verified=True)
    with pytest.raises(PermissionDenied, match="deactivated"):
        join(token, "gone2", "gone@example.org")
    assert not Membership.objects.filter(user__username__in=["outsider", "gone2"]).exists()


def test_accepting_a_weaker_role_demotes_no_one(project, lead, reviewer):
    """A reviewer who opens an annotator's link stays a reviewer; the link is not used."""
    invitation, token = make_link(project, lead, role=Role.ANNOTATOR)
    joined = invitation_accept(token=token, user=reviewer)
    assert joined.role_kept and not joined.created
    assert role_of(project, reviewer) == Role.REVIEWER
    invitation.refresh_from_db()
    assert invitation.uses == 0


def test_accepting_a_stronger_role_raises_a_member(project, lead, annotator):
    _, token = make_link(project, lead, role=Role.REVIEWER)
    joined = invitation_accept(token=token, user=annotator)
    assert not joined.created and not joined.role_kept
    assert role_of(project, annotator) == Role.REVIEWER


def test_a_lead_of_another_project_cannot_invite_here(project):
    elsewhere = ProjectFactory(name="Birds")
    other_lead = UserFactory(username="other-lead")
    add_member(elsewhere, other_lead, Role.LEAD)
    with pytest.raises(PermissionDenied):
        make_link(project, other_lead)
    invitation, _ = make_link(elsewhere, other_lead)
    assert invitation.project == elsewhere


def test_an_annotator_or_reviewer_cannot_invite_or_revoke(project, lead, annotator, reviewer):
    invitation, _ = make_link(project, lead)
    for user in (annotator, reviewer):
        with pytest.raises(PermissionDenied):
            make_link(project, user)
        with pytest.raises(PermissionDenied):
            invitation_revoke(invitation=invitation, by=user)
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_an_admin_invites_into_any_project(project, admin_user):
    invitation, _ = make_link(project, admin_user, role=Role.LEAD)
    assert invitation.created_by == admin_user


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"role": "owner"}, "role"),
        ({"days": 0}, "expires_in_days"),
        ({"days": 31}, "expires_in_days"),
        ({"days": True}, "expires_in_days"),
        ({"max_uses": 0}, "max_uses"),
        ({"max_uses": 1001}, "max_uses"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "nora@example.org", "max_uses": 3}, "max_uses"),
    ],
)
def test_bad_input_is_refused_naming_the_field(project, lead, kwargs, field):
    with pytest.raises(ValidationFailed) as refused:
        make_link(project, lead, **kwargs)
    assert refused.value.field == field
    assert not Invitation.objects.exists() and mail.outbox == []


def test_inviting_a_member_s_address_is_a_conflict(project, lead, annotator):
    annotator.email = "ann1@example.org"
    annotator.save()
    addresses.email_mark_verified(user=annotator, how=AddressConfirmed.ADMIN)
    with pytest.raises(Conflict, match="member already"):
        make_link(project, lead, email="ANN1@example.org")


def test_inviting_an_address_again_replaces_the_pending_invitation(project, lead):
    """The earlier invitation is revoked, in the trail as the new one's reason; one that
    had expired already is left as it was, not revoked again in the trail."""
    expired, _ = make_link(project, lead, email="nora@example.org")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    first, first_token = make_link(project, lead, email="nora@example.org")
    second, _ = make_link(project, lead, email="nora@example.org")
    expired.refresh_from_db()
    assert expired.revoked_at is None
    assert list(selectors.project_invitations_live(project)) == [second]
    with pytest.raises(InvitationUnusable):
        invitation_find(first_token)
    [revoked] = AuditEntry.objects.filter(action=Action.INVITATION_REVOKED)
    assert (revoked.actor_id, revoked.target_id) == (lead.pk, str(first.pk))
    assert revoked.details == {"role": first.role, "because": "invited again"}


def test_a_weak_password_or_taken_username_keeps_nothing(project, lead, annotator):
    invitation, token = make_link(project, lead)
    with pytest.raises(ValidationFailed) as weak:
        invitation_join(token=token, username="nora", email="nora@example.org", password="12345678")
    assert weak.value.field == "password" and "numeric" in weak.value.message
    with pytest.raises(Conflict) as taken:
        join(token, username="ANN1")
    assert taken.value.field == "username"
    assert not User.objects.filter(username="nora").exists()
    invitation.refresh_from_db()
    assert invitation.uses == 0


def test_the_admin_site_shows_invitations_without_their_hashes(project, lead, admin_user):
    invitation, token = make_link(project, lead, email="nora@example.org")
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("admin:projects_project_change", args=[project.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "nora@example.org" in text
    assert invitation.token_hash not in text and token not in text
