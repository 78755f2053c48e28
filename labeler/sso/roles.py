"""The provider's groups turned into roles at each login, through the projects' services.

What the mapping gives is added; what it gave before and the groups no longer give is
taken back. A role given by hand is never taken: a membership the mapping did not make
stays as it is, except that a group may raise it (the hand-given role comes back when the
group goes), and a membership changed by hand since the mapping set it is the hand's. A
person a lead removed from a project is not brought back by a group (``projects.services``
refuses it) until a lead adds them again or they take an invitation made since.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from labeler.errors import DomainError
from labeler.projects import accounts, services
from labeler.projects.models import Membership, Project, Role
from labeler.sso.models import STAFF, GroupRoleMapping, RoleGrant

logger = logging.getLogger(__name__)

RANK: dict[str, int] = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.LEAD: 3}


def roles_wanted(groups: Iterable[str]) -> tuple[bool, dict[int, str]]:
    """Whether these groups make a server admin, and the highest role they give per project."""
    mappings = GroupRoleMapping.objects.filter(group__in=set(groups)).values_list(
        "project_id", "role"
    )
    staff, roles = False, dict[int, str]()
    for project_id, role in mappings:
        if role == STAFF:
            staff = True
        elif RANK[role] > RANK.get(roles.get(project_id, ""), 0):
            roles[project_id] = role
    return staff, roles


@transaction.atomic
def roles_sync(*, user: User, groups: Iterable[str]) -> None:
    """Give ``user`` the roles their groups map to and take back those the groups dropped."""
    staff, wanted = roles_wanted(groups)
    # The user's grants locked (not their projects: membership changes lock those), so
    # that two logins of one user at once apply one after the other.
    locked = RoleGrant.objects.select_for_update(of=("self",)).select_related("project")
    grants = {g.project_id: g for g in locked.filter(user=user)}
    _staff_sync(user, staff, grants.pop(None, None))
    for project in Project.objects.filter(pk__in=wanted.keys()):
        _role_give(user, project, wanted[project.pk], grants.pop(project.pk, None))
    for grant in grants.values():
        _role_take_back(user, grant)


def _staff_sync(user: User, wanted: bool, grant: RoleGrant | None) -> None:
    if grant is not None and not user.is_staff:
        grant.delete()  # taken away by hand since the mapping gave it
        grant = None
    if wanted and not user.is_staff:
        accounts.account_set_staff(user=user, staff=True)
        RoleGrant.objects.create(user=user, project=None, role=STAFF)
    elif not wanted and grant is not None:
        accounts.account_set_staff(user=user, staff=False)
        grant.delete()


def _role_give(user: User, project: Project, role: str, grant: RoleGrant | None) -> None:
    membership = Membership.objects.filter(project=project, user=user).first()
    if grant is not None and (membership is None or membership.role != grant.role):
        grant.delete()  # removed or changed by hand since the mapping set it: the hand's now
        grant = None
    if grant is not None:
        previous = grant.previous_role
        if previous and RANK[previous] >= RANK[role]:  # the group no longer raises it
            _role_take_back(user, grant)
            return
    elif membership is None:
        previous = ""
    elif RANK[membership.role] < RANK[role]:
        previous = membership.role  # given by hand, raised by the group
    else:
        return  # given by hand, as high or higher: not the mapping's to change
    if (membership is None or membership.role != role) and not _membership_set(user, project, role):
        return
    RoleGrant.objects.update_or_create(
        user=user, project=project, defaults={"role": role, "previous_role": previous}
    )


def _role_take_back(user: User, grant: RoleGrant) -> None:
    membership = Membership.objects.filter(project=grant.project, user=user).first()
    if membership is not None and membership.role == grant.role:
        try:
            if grant.previous_role:
                services.membership_set(
                    project=membership.project,
                    user=user,
                    role=grant.previous_role,
                    via=services.SSO,
                )
            else:
                services.membership_remove(membership=membership, via=services.SSO)
        except DomainError as exc:  # the project's last lead: kept, tried again next login
            logger.warning("SSO could not take back %s from %s: %s", grant, user, exc)
            return
    grant.delete()


def _membership_set(user: User, project: Project, role: str) -> bool:
    try:
        services.membership_set(project=project, user=user, role=role, via=services.SSO)
    except DomainError as exc:  # lowering the last lead, or removed by hand: left as it is
        logger.warning("SSO could not make %s %s in %s: %s", user, role, project, exc)
        return False
    return True
