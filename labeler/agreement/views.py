"""Quality pages for reviewers and leads: the agreement dashboard and the review queue."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeler.projects.views import page_project


@login_required
@require_GET
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    """The lead's agreement dashboard."""
    project = page_project(request, project_id, oversee=True)
    return render(request, "agreement/dashboard.html", {"project": project})


@login_required
@require_GET
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    """The review queue: disagreements and low-confidence consensus, decided by a person."""
    project = page_project(request, project_id, oversee=True)
    return render(request, "agreement/review.html", {"project": project})
