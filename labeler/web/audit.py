"""The audit trail's pages: the whole server's for admins, a project's for its leads."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.audit.models import Action
from labeler.audit.selectors import AuditFilter, audit_entries, audit_filter_parse
from labeler.errors import DomainError
from labeler.web.pages import page_project, page_user

PAGE_SIZE = 50


@login_required
@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    """Every entry of the server, newest first, with filters (admins only)."""
    if not page_user(request).is_staff:
        raise PermissionDenied("Only admins can read the whole server's audit trail.")
    api = reverse("api:audit")
    return _page(request, project=None, project_id=None, api_url=api)


@login_required
@require_GET
def project_audit_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's entries, newest first, with filters (its leads and admins)."""
    project = page_project(request, project_id, manage=True)
    api = reverse("api:project-audit", kwargs={"project_pk": project.pk})
    return _page(request, project=project, project_id=project.pk, api_url=api)


def _page(
    request: HttpRequest, *, project: Any, project_id: int | None, api_url: str
) -> HttpResponse:
    error = ""
    try:
        criteria = audit_filter_parse(
            request.GET, project_id=project_id, may_pick_project=project is None, also=("page",)
        )
    except DomainError as exc:
        error, criteria = exc.message, AuditFilter(project_id=project_id)
    paginator = Paginator(audit_entries(criteria), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "page": page,
        "actions": Action.choices,
        "values": request.GET,
        "error": error,
        "query": query.urlencode(),
        "export_url": api_url,
    }
    status = 400 if error else 200
    return render(request, "audit/audit.html", context, status=status)
