"""Reads about projects and who may do what in them."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import OuterRef, QuerySet, Subquery

from labeler.errors import NotFound
from labeler.projects.models import Membership, Project, Role

AnyUser = User | AnonymousUser


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
    if not user.is_authenticated:
        raise missing
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    projects = Project.objects.annotate(caller_role=Subquery(role))
    if not is_admin(user):
        projects = projects.filter(caller_role__isnull=False)
    project = projects.filter(pk=project_id).first()
    if project is None:
        raise missing
    setattr(project, _ROLE, (user.pk, getattr(project, "caller_role")))  # noqa: B009
    return project


def project_role(*, user: AnyUser, project: Project, fresh: bool = False) -> str | None:
    """The user's role in the project, or None for non-members.

    ``fresh`` reads it again even if it came with the project (after changing it).
    """
    if not user.is_authenticated:
        return None
    known = getattr(project, _ROLE, None)
    if known is not None and known[0] == user.pk and not fresh:
        return known[1]
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def can_manage(*, user: AnyUser, project: Project, role: str | None) -> bool:
    """Leads and admins manage members, images, settings and exports."""
    return is_admin(user) or role == Role.LEAD


def can_see_all_annotations(*, user: AnyUser, role: str | None) -> bool:
    """Leads, reviewers and admins see every annotator's labels; annotators only their own."""
    return is_admin(user) or role in (Role.LEAD, Role.REVIEWER)


def can_create_projects(user: AnyUser) -> bool:
    """Admins and users granted the add-project permission create projects."""
    return is_admin(user) or bool(user.is_authenticated and user.has_perm("projects.add_project"))
