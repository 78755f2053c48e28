"""Groups to roles (labeler.sso.roles), without a provider: what a login adds, what it
takes back, and what it leaves alone."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from labeler.projects.models import Membership, Role
from labeler.sso.models import STAFF, GroupRoleMapping, RoleGrant
from labeler.sso.roles import roles_sync, roles_wanted
from tests.factories import ProjectFactory, UserFactory, add_member

pytestmark = pytest.mark.django_db


def role(project, user) -> str | None:
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def test_highest_role_per_project_wins():
    """Two groups mapping one project: the higher role is given."""
    project = ProjectFactory()
    GroupRoleMapping.objects.create(group="a", project=project, role=Role.ANNOTATOR)
    GroupRoleMapping.objects.create(group="b", project=project, role=Role.LEAD)
    GroupRoleMapping.objects.create(group="c", project=None, role=STAFF)
    assert roles_wanted(["a", "b"]) == (False, {project.pk: Role.LEAD})
    assert roles_wanted(["c"]) == (True, {})


def test_hand_given_role_as_high_is_left_alone():
    """A membership given by hand at the mapped role or above is not the mapping's."""
    project, user = ProjectFactory(), UserFactory()
    add_member(project, user, Role.LEAD)
    GroupRoleMapping.objects.create(group="g", project=project, role=Role.REVIEWER)
    roles_sync(user=user, groups=["g"])
    roles_sync(user=user, groups=[])
    assert role(project, user) == Role.LEAD
    assert not RoleGrant.objects.exists()


def test_raised_role_restored_when_group_goes():
    """A group raising a hand-given role: the hand's role comes back without the group."""
    project, user = ProjectFactory(), UserFactory()
    add_member(project, UserFactory(), Role.LEAD)
    add_member(project, user, Role.ANNOTATOR)
    GroupRoleMapping.objects.create(group="g", project=project, role=Role.REVIEWER)
    roles_sync(user=user, groups=["g"])
    assert role(project, user) == Role.REVIEWER
    roles_sync(user=user, groups=[])
    assert role(project, user) == Role.ANNOTATOR


def test_role_changed_by_hand_is_the_hands():
    """A membership the mapping made and a lead changed since is kept when the group goes."""
    project, user = ProjectFactory(), UserFactory()
    GroupRoleMapping.objects.create(group="g", project=project, role=Role.ANNOTATOR)
    roles_sync(user=user, groups=["g"])
    Membership.objects.filter(project=project, user=user).update(role=Role.REVIEWER)
    roles_sync(user=user, groups=[])
    assert role(project, user) == Role.REVIEWER
    assert not RoleGrant.objects.exists()


def test_last_lead_is_kept_and_tried_again():
    """The project's only lead, given by the mapping, stays lead until another lead exists."""
    project, user = ProjectFactory(), UserFactory()
    GroupRoleMapping.objects.create(group="g", project=project, role=Role.LEAD)
    roles_sync(user=user, groups=["g"])
    roles_sync(user=user, groups=[])
    assert role(project, user) == Role.LEAD
    add_member(project, UserFactory(), Role.LEAD)
    roles_sync(user=user, groups=[])
    assert role(project, user) is None


def test_staff_by_hand_is_kept():
    """An admin made by hand stays one when a staff group is lost."""
    user = UserFactory(is_staff=True)
    GroupRoleMapping.objects.create(group="admins", project=None, role=STAFF)
    roles_sync(user=user, groups=["admins"])
    roles_sync(user=user, groups=[])
    user.refresh_from_db()
    assert user.is_staff


def test_mapping_needs_a_project_except_for_staff():
    """The database refuses a project role without a project, and staff with one."""
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupRoleMapping.objects.create(group="g", project=None, role=Role.LEAD)
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupRoleMapping.objects.create(group="g", project=ProjectFactory(), role=STAFF)


def test_staff_taken_away_by_hand_then_given_again():
    """An admin role the mapping gave, removed by hand: the group gives it again at the
    next login, and takes it back once the group goes."""
    user = UserFactory()
    GroupRoleMapping.objects.create(group="admins", project=None, role=STAFF)
    roles_sync(user=user, groups=["admins"])
    user.is_staff = False
    user.save()
    roles_sync(user=user, groups=["admins"])
    user.refresh_from_db()
    assert user.is_staff and RoleGrant.objects.filter(user=user).count() == 1
    roles_sync(user=user, groups=[])
    user.refresh_from_db()
    assert not user.is_staff and not RoleGrant.objects.exists()
