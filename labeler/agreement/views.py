"""Quality pages for reviewers and leads: the agreement dashboard and the review queue."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.annotations.selectors import project_progress
from labeler.projects.models import Project
from labeler.projects.views import page_project


@login_required
@require_GET
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    """The lead's agreement dashboard: progress here, the figures fetched by the page's script."""
    project = page_project(request, project_id, oversee=True)
    progress = project_progress(project)
    context = {
        "project": project,
        "progress": progress,
        "percent_complete": progress.complete * 100 // progress.images if progress.images else 0,
        "dashboard": _dashboard_data(project, has_labels=progress.annotations > 0),
    }
    return render(request, "agreement/dashboard.html", context)


def _dashboard_data(project: Project, *, has_labels: bool) -> dict[str, Any]:
    """What the dashboard's script needs: the labels' names and colours, and where to ask."""
    return {
        "project": {"id": project.pk, "multi_label": project.multi_label},
        "has_labels": has_labels,
        "labels": [
            {"id": label.pk, "name": label.name, "color": label.color}
            for label in project.labels.order_by("position", "id")
        ],
        "urls": {
            "agreement": reverse("api:agreement", kwargs={"project_pk": project.pk}),
            "review_api": reverse("api:review", kwargs={"project_pk": project.pk}),
            "review_page": reverse("review", args=[project.pk]),
        },
    }


@login_required
@require_GET
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    """The review queue: disagreements and low-confidence consensus, decided by a person."""
    project = page_project(request, project_id, oversee=True)
    return render(request, "agreement/review.html", {"project": project})
