"""The project's erasure reports: who asked, when, why, and what went (leads and admins)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeler.erasure.selectors import erasures_of
from labeler.web.pages import page_project

SHOWN = 200


@login_required
@require_GET
def erasures_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The newest erasure reports of the project (the API lists them all)."""
    project = page_project(request, project_id, manage=True)
    context = {"project": project, "reports": list(erasures_of(project=project)[:SHOWN])}
    return render(request, "images/erasures.html", context)
