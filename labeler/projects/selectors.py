"""Reads about projects and who may do what in them."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

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


def project_get_visible(*, user: AnyUser, project_id: int) -> Project:
    """The project with this id if the user may see it; NotFound otherwise."""
    project = projects_visible_to(user).filter(pk=project_id).first()
    if project is None:
        raise NotFound(f"Project {project_id} does not exist or you are not a member of it.")
    return project


def project_role(*, user: AnyUser, project: Project) -> str | None:
    """The user's role in the project, or None for non-members."""
    if not user.is_authenticated:
        return None
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
