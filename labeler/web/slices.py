"""The slice report's page for reviewers and leads: where the data is labelled worse, and
where the model is worse, cut by metadata, tag, annotator and source."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.annotations.selectors import project_progress
from labeler.predictions.selectors import model_versions_of
from labeler.projects.models import Project
from labeler.web.pages import api_url, page_labels, page_project


@login_required
@require_GET
def slices_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The page: the figures arrive with the report, fetched by the page's script (with
    the ``version`` the page was opened with, a model version's id)."""
    project = page_project(request, project_id, oversee=True)
    context = {
        "project": project,
        "progress": project_progress(project),
        "versions": model_versions_of(project),
        "chosen_version": request.GET.get("version", ""),
        "slices": _slices_data(project),
    }
    return render(request, "slices/slices.html", context)


def _slices_data(project: Project) -> dict[str, Any]:
    """What slices.js needs: the labels' names and colours, and where to ask."""
    report = api_url(project, "slices")
    download = api_url(project, "slices-download")
    return {
        "project": {"id": project.pk, "multi_label": project.multi_label},
        "labels": page_labels(project),
        "urls": {
            "report": report,
            "csv": f"{download}?file=csv",
            "json": f"{download}?file=json",
            "images": reverse("images-browse", args=[project.pk]),
        },
    }
