"""A removal sticks (``projects.services``): a person a lead removed is not brought back by
an invitation made before the removal, by the join page under a new account with the
same address, by an import or by a provider's group; a lead's add, or an invitation made
after the removal, brings them back on purpose."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

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


def remove(project, lead, user) -> None:
    """Removed as a lead removes a member: from the members page."""
    response = signed_in(lead).post(
        reverse("project-members", args=[project.pk]), {"action": "remove", "user": str(user.pk)}
    )
    assert response.status_code == 302 and not is_member(project, user)


def test_a_link_made_before_the_removal_does_not_bring_the_person_back(team):
    """The removed member opens a live link made before the removal: a 403 page saying
    they were removed and must be invited again; they stay out."""
    project, lead, nora = team
    path = link(project, lead)
    signed_in(nora).post(path)
    assert is_member(project, nora)
    Invitation.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    remove(project, lead, nora)
    client = signed_in(nora)
    for response in (client.get(path), client.post(path)):
        page = response.content.decode()
        assert response.status_code == 403, page
        assert "You were removed from this project" in page and "invite you again" in page
    assert not is_member(project, nora)


def test_an_old_link_makes_no_new_account_for_the_removed_address(team):
    """Signing up again under another username with the address the removed account had
    is refused too, by a link made before the removal."""
    project, lead, nora = team
    add_member(project, nora)
    path = link(project, lead)
    Invitation.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    remove(project, lead, nora)
    form = {"username": "nora2", "email": "NORA@example.org"}
    form |= {"password1": PASSWORD, "password2": PASSWORD}
    response = Client().post(path, form)
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
