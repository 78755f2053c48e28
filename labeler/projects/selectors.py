"""Reads about projects and who may do what in them."""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from labeler.errors import NotFound, ValidationFailed
from labeler.projects.models import Invitation, Label, Membership, Project, Role
from labeler.raw_rows import raw_all, raw_first

AnyUser = User | AnonymousUser
MAX_ID = 2**63 - 1  # the largest id a row can have


def is_admin(user: AnyUser) -> bool:
    """Staff users administer every project."""
    return bool(user.is_authenticated and getattr(user, "is_staff", False))


def projects_visible_to(user: AnyUser) -> QuerySet[Project]:
    """Projects the user may see: all for admins, their own memberships otherwise."""
    if not user.is_authenticated:
        return Project.objects.none()
    if is_admin(user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


_ROLE = "_caller_role"  # (user id, role) read with the project by project_get_visible


def project_get_visible(*, user: AnyUser, project_id: int) -> Project:
    """The project with this id if the user may see it; NotFound otherwise.

    The user's role comes with it in the same query, for ``project_role`` to answer from.
    """
    missing = NotFound(f"Project {project_id} does not exist or you are not a member of it.")
    if not user.is_authenticated or not 0 < project_id <= MAX_ID:
        raise missing
    # Every project-scoped call starts here: one statement written once, as the ORM's
    # annotated subquery cost more to build than to run, read by labeler.raw_rows.
    project = raw_first(Project, _visible_statement(), [user.pk, project_id])
    role = getattr(project, "caller_role", None)
    if project is None or (role is None and not is_admin(user)):
        raise missing
    setattr(project, _ROLE, (user.pk, role))
    return project


@functools.cache
def _visible_sql(vendor: str) -> str:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    quote = connection.ops.quote_name
    versions = apps.get_model("predictions", "ModelVersion")._meta.db_table
    # The current model's id comes along: most calls then need no query to learn there
    # is none (see labeler.predictions.selectors.current_model).
    return (
        f"SELECT p.*, m.role AS caller_role, (SELECT v.id FROM {quote(versions)}"
        " v WHERE v.project_id = p.id AND v.is_current) AS current_model_id "
        f"FROM {quote(Project._meta.db_table)} p "
        f"LEFT JOIN {quote(Membership._meta.db_table)} m ON m.project_id = p.id "
        "AND m.user_id = %s WHERE p.id = %s"
    )


def _visible_statement() -> str:
    return _visible_sql(connection.vendor)


def project_name_of(project_id: int) -> str:
    """The project's name, or "" when there is no such project (the audit trail's lookup)."""
    return Project.objects.filter(pk=project_id).values_list("name", flat=True).first() or ""


def project_labels(project: Project) -> list[Label]:
    """The project's labels in their order, by one fixed statement (every submit reads them).

    The model's default ordering ("project", then "position") joins the projects table
    to sort by the project's own ordering; this needs neither the join nor the ORM.
    """
    table = connection.ops.quote_name(Label._meta.db_table)
    statement = f"SELECT * FROM {table} WHERE project_id = %s ORDER BY position, id"
    return raw_all(Label, statement, [project.pk])


def project_role(*, user: AnyUser, project: Project, fresh: bool = False) -> str | None:
    """The user's role in the project, or None for non-members.

    ``fresh`` reads it again even if it came with the project (after changing it).
    """
    if not user.is_authenticated:
        return None
    known = getattr(project, _ROLE, None)
    if known is not None and known[0] == user.pk and not fresh:
        return known[1]
    # One fixed statement: every prediction token's use reads its issuer's role afresh.
    with connection.cursor() as cursor:
        cursor.execute(_role_statement(connection.vendor), [project.pk, user.pk])
        row = cursor.fetchone()
    return None if row is None else str(row[0])


@functools.cache
def _role_statement(vendor: str) -> str:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    table = connection.ops.quote_name(Membership._meta.db_table)
    return f"SELECT role FROM {table} WHERE project_id = %s AND user_id = %s"


def can_manage(*, user: AnyUser, project: Project, role: str | None) -> bool:
    """Leads and admins manage members, images, settings and exports."""
    return is_admin(user) or role == Role.LEAD


def manages_now(*, user: AnyUser, project: Project) -> bool:
    """Whether the user manages the project at this moment (an admin, or one of its
    leads, read again rather than taken from what came with the project): what a
    credential a person made keeps needing (an invitation, a prediction token)."""
    if is_admin(user):
        return True
    role = project_role(user=user, project=project, fresh=True)
    return can_manage(user=user, project=project, role=role)


def can_see_all_annotations(*, user: AnyUser, role: str | None) -> bool:
    """Leads, reviewers and admins see every annotator's labels; annotators only their own."""
    return is_admin(user) or role in (Role.LEAD, Role.REVIEWER)


def can_create_projects(user: AnyUser) -> bool:
    """Admins and users granted the add-project permission create projects."""
    return is_admin(user) or bool(user.is_authenticated and user.has_perm("projects.add_project"))


def project_memberships(project: Project) -> QuerySet[Membership]:
    """The project's memberships with their users."""
    return project.memberships.select_related("user")


def project_membership(*, project: Project, user_id: int) -> Membership | None:
    """This user's membership of the project, with the user; None if they are no member."""
    return project_memberships(project).filter(user__pk=user_id).first()


def active_user_by_username(username: str) -> User | None:
    """The active user with this username; else the one whose name differs only in case.

    The case of a name is forgiven only when a single active account could be meant.
    """
    active = User.objects.filter(is_active=True)
    user = active.filter(username=username).first()
    if user is None:
        matches = list(active.filter(username__iexact=username)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


MAX_NAMED = 5  # usernames quoted in one refusal


def members_named(
    *, project: Project, usernames: Any, field: str = "annotators"
) -> dict[str, tuple[int, str]]:
    """The project's members by the names given: ``{username: (user id, role)}``.

    Raises ValidationFailed naming ``field`` for anything but a list of usernames, and
    naming the names that are no member of the project.
    """
    if not isinstance(usernames, list) or any(not isinstance(name, str) for name in usernames):
        raise ValidationFailed(f"'{field}' must be a list of usernames.", field=field)
    names = sorted(set(usernames))
    rows = Membership.objects.filter(project=project, user__username__in=names).values_list(
        "user__username", "user_id", "role"
    )
    found = {name: (user_id, role) for name, user_id, role in rows}
    missing = [name for name in names if name not in found]
    if missing:
        raise ValidationFailed(
            f"No member of this project is named {', '.join(map(repr, missing[:MAX_NAMED]))}.",
            field=field,
        )
    return found


def project_invitations_live(project: Project) -> QuerySet[Invitation]:
    """The project's invitations that can still be used: not revoked, expired or used up,
    and made by someone who may still invite people into it (an active admin or lead)."""
    maker_leads = Membership.objects.filter(
        project=project, user=OuterRef("created_by"), role=Role.LEAD
    )
    return (
        project.invitations.filter(revoked_at=None, expires_at__gt=timezone.now())
        .filter(Q(max_uses=None) | Q(uses__lt=F("max_uses")))
        .filter(created_by__is_active=True)
        .filter(Q(created_by__is_staff=True) | Exists(maker_leads))
        .select_related("created_by")
    )


def project_invitation(*, project: Project, invitation_id: int) -> Invitation | None:
    """One of the project's invitations by id, whatever its state; None if it has none such."""
    if not 0 < invitation_id <= MAX_ID:
        return None
    return project.invitations.select_related("project").filter(pk=invitation_id).first()
