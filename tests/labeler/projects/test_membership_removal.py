"""A removal sticks (``projects.services``): a person a lead removed is not brought back by
an invitation made before the removal, by the join page under a new account with the
same address, by a share link under a new account with another address (the removal
revokes the open ones unless the lead keeps them), by an import or by a provider's group;
a lead's add, or an invitation made after the removal, brings them back on purpose."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from labeler.audit.models import Action, AuditEntry
from labeler.projects import services
from labeler.projects.invitations import invitation_create
from labeler.projects.models import Invitation, Membership, Role
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db

BASE = "http://testserver/"
PASSWORD = "a-long-secret-phrase"


@pytest.fixture
def team():
    project = ProjectFactory(name="Pets")
    lead = UserFactory(username="lead")
    add_member(project, lead, Role.LEAD)
    nora = UserFactory(username="nora", email="nora@example.org")
    return project, lead, nora


def link(project, lead, **kwargs) -> str:
    made = invitation_create(project=project, by=lead, base_url=BASE, **kwargs)
    return made.link.removeprefix("http://testserver")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def is_member(project, user) -> bool:
    return Membership.objects.filter(project=project, user=user).exists()


def remove(project, lead, user, *, keep_links: bool = False):
    """Removed as a lead removes a member: from the members page (ticking Keep for the
    share links with ``keep_links``); the page the lead is sent back to."""
    client = signed_in(lead)
    form = {"action": "remove", "user": str(user.pk)} | ({"keep_links": "1"} if keep_links else {})
    response = client.post(reverse("project-members", args=[project.pk]), form)
    assert response.status_code == 302 and not is_member(project, user)
    return client.get(response.url)


def sign_up(path: str, username: str, email: str):
    form = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    return Client().post(path, form)


def test_a_link_made_before_the_removal_does_not_bring_the_person_back(team):
    """The removed member opens a live link made before the removal (the lead kept the
    share links): a 403 page saying they were removed and must be invited again; they
    stay out."""
    project, lead, nora = team
    path = link(project, lead)
    signed_in(nora).post(path)
    assert is_member(project, nora)
    Invitation.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    remove(project, lead, nora, keep_links=True)
    client = signed_in(nora)
    for response in (client.get(path), client.post(path)):
        page = response.content.decode()
        assert response.status_code == 403, page
        assert "You were removed from this project" in page and "invite you again" in page
    assert not is_member(project, nora)


def test_an_old_link_makes_no_new_account_for_the_removed_address(team):
    """Signing up again under another username with the address the removed account had
    is refused too, by a link made before the removal (kept by the lead)."""
    project, lead, nora = team
    add_member(project, nora)
    path = link(project, lead)
    Invitation.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    remove(project, lead, nora, keep_links=True)
    response = sign_up(path, "nora2", "NORA@example.org")
    assert response.status_code == 403
    assert "You were removed from this project" in response.content.decode()
    assert not Membership.objects.filter(project=project, user__username="nora2").exists()


def test_a_new_invitation_or_a_lead_s_add_brings_them_back(team):
    """Inviting the person again after the removal works; so does a lead's add by hand."""
    project, lead, nora = team
    add_member(project, nora)
    remove(project, lead, nora)
    path = link(project, lead, email="nora@example.org")
    response = signed_in(nora).post(path)
    assert response.status_code == 302 and is_member(project, nora)
    remove(project, lead, nora)
    response = signed_in(lead).post(
        reverse("project-members", args=[project.pk]),
        {"action": "add", "username": "nora", "role": Role.ANNOTATOR},
    )
    assert response.status_code == 302 and is_member(project, nora)


def test_a_lead_s_add_clears_the_removal(team):
    """Once a lead adds the person back, the removal is forgotten: the project's routes
    treat them as any member again."""
    project, lead, nora = team
    add_member(project, nora)
    remove(project, lead, nora)
    assert project.removals.filter(user=nora).exists()
    services.membership_set(project=project, user=nora, role=Role.ANNOTATOR)
    assert not project.removals.exists()


@pytest.mark.parametrize("via", [services.IMPORT, services.SSO])
def test_imports_and_groups_do_not_bring_a_removed_person_back(team, via):
    """The routes that add people without a lead deciding it are refused for a person a
    lead removed, with a message naming them."""
    project, lead, nora = team
    add_member(project, nora)
    remove(project, lead, nora)
    with pytest.raises(services.MemberRemoved, match=re.escape("nora was removed from Pets")):
        services.membership_set(project=project, user=nora, role=Role.ANNOTATOR, via=via)
    assert not is_member(project, nora)


def test_a_group_taking_back_its_own_role_is_no_removal(team):
    """What a provider's group gave and took back it may give again: only a removal by
    hand sticks."""
    project, _, nora = team
    services.membership_set(project=project, user=nora, role=Role.ANNOTATOR, via=services.SSO)
    services.membership_remove(
        membership=Membership.objects.get(project=project, user=nora), via=services.SSO
    )
    services.membership_set(project=project, user=nora, role=Role.ANNOTATOR, via=services.SSO)
    assert is_member(project, nora)


def test_the_removal_revokes_the_open_share_links_a_new_account_could_take(team):
    """A share link takes any new account, so a removed person could come back under a new
    name and address: the removal revokes the project's open share links (each in the
    trail with the lead as its actor) and the page says so. Invitations by e-mail to
    others stay open; a link made after the removal works."""
    project, lead, nora = team
    path = link(project, lead)
    signed_in(nora).post(path)
    spare = link(project, lead, role=Role.REVIEWER)
    sam = link(project, lead, email="sam@example.org")
    used_up = invitation_create(project=project, by=lead, base_url=BASE, max_uses=1).invitation
    Invitation.objects.filter(pk=used_up.pk).update(uses=1)  # counted neither open nor revoked
    page = remove(project, lead, nora).content.decode()
    assert "The 2 open share links were revoked, since nora may have them." in page
    for old in (path, spare):
        response = sign_up(old, "someone-new", "new@example.net")
        assert response.status_code == 410, response.content.decode()[:300]
        assert "revoked" in response.content.decode()
    assert not Membership.objects.filter(project=project, user__username="someone-new").exists()
    revoked = AuditEntry.objects.filter(action=Action.INVITATION_REVOKED)
    assert revoked.count() == 2
    assert {entry.actor_id for entry in revoked} == {lead.pk}
    assert all(entry.details["because"] == "member removed" for entry in revoked)
    removal = AuditEntry.objects.get(action=Action.ROLE_REMOVED)
    assert removal.details == {"before": Role.ANNOTATOR, "after": None, "share_links_revoked": 2}
    assert Invitation.objects.get(email="sam@example.org").revoked_at is None
    response = sign_up(sam, "sam", "sam@example.org")
    assert response.status_code == 302
    assert Membership.objects.filter(project=project, user__username="sam").exists()
    response = sign_up(link(project, lead), "newcomer", "newcomer@example.net")
    assert response.status_code == 302
    assert Membership.objects.filter(project=project, user__username="newcomer").exists()


def test_a_lead_who_keeps_the_links_keeps_them_for_everyone_but_the_removed(team):
    """Kept: the link still lets newcomers in, and the removed person's own account is
    still refused; the page offers Keep only while share links are open."""
    project, lead, nora = team
    members_page = reverse("project-members", args=[project.pk])
    assert 'name="keep_links"' not in signed_in(lead).get(members_page).content.decode()
    path = link(project, lead)
    signed_in(nora).post(path)
    assert "Keep the open share link" in signed_in(lead).get(members_page).content.decode()
    page = remove(project, lead, nora, keep_links=True).content.decode()
    assert "nora was removed from the project." in page and "links were revoked" not in page
    assert "link was revoked" not in page
    assert signed_in(nora).post(path).status_code == 403
    assert sign_up(path, "newcomer", "newcomer@example.net").status_code == 302
    assert not AuditEntry.objects.filter(action=Action.INVITATION_REVOKED).exists()


def test_over_the_api_a_removal_revokes_the_links_unless_asked_to_keep_them(team):
    """DELETE on a member revokes the open share links; ``keep_links=true`` keeps them; any
    other value is a 400 that removes no one."""
    project, lead, nora = team
    client = APIClient()
    client.force_authenticate(lead)
    member = f"/api/v1/projects/{project.pk}/members/{nora.pk}/"
    add_member(project, nora)
    invitation_create(project=project, by=lead, base_url=BASE)
    response = client.delete(member + "?keep_links=maybe")
    assert response.status_code == 400 and "keep_links" in response.content.decode()
    assert is_member(project, nora)
    assert client.delete(member + "?keep_links=true").status_code == 204
    assert services.share_links_open(project).count() == 1
    add_member(project, nora)
    assert client.delete(member).status_code == 204
    assert not is_member(project, nora)
    assert services.share_links_open(project).count() == 0
