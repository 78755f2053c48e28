"""What every project page shares: the project and caller it is about, and script data."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse

from labeler.errors import NotFound
from labeler.projects import selectors
from labeler.projects.models import Project


def page_project(
    request: HttpRequest, project_id: int, *, manage: bool = False, oversee: bool = False
) -> Project:
    """The project a page is about, checked as the API checks it.

    Non-members get 404 (ids reveal nothing); members lacking the lead role get 403
    when ``manage`` is asked for, and annotators get 403 when ``oversee`` is (pages that
    show every annotator's labels: reviewers, leads and admins only).
    """
    user = page_user(request)
    try:
        project = selectors.project_get_visible(user=user, project_id=project_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    role = selectors.project_role(user=user, project=project)
    if manage and not selectors.can_manage(user=user, project=project, role=role):
        raise PermissionDenied("Only the project's leads and admins can do this.")
    if oversee and not selectors.can_see_all_annotations(user=user, role=role):
        raise PermissionDenied("Only the project's reviewers, leads and admins can see this.")
    return project


def page_labels(project: Project) -> list[dict[str, Any]]:
    """The project's labels in order, as the pages' scripts read them."""
    return [
        {
            "id": label.pk,
            "name": label.name,
            "color": label.color,
            "hotkey": label.hotkey,
            "group": label.group,
        }
        for label in project.labels.order_by("position", "id")
    ]


def api_url(project: Project, name: str, **kwargs: int) -> str:
    """The address of one of the project's REST endpoints (``api:<name>``), for a script."""
    return reverse(f"api:{name}", kwargs={"project_pk": project.pk, **kwargs})


def page_user(request: HttpRequest) -> User:
    """The logged-in caller of a page."""
    user = request.user
    assert isinstance(user, User)  # pages are behind login_required
    return user
