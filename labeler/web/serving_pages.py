"""The prediction API's page for leads: its prediction tokens (issue, list, revoke) and
the predictions it served, filtered by version, label and confidence."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.predictions.selectors import model_versions_of
from labeler.projects.models import Project
from labeler.site_address import site_url
from labeler.web.pages import api_url, page_labels, page_project

ID_SLOT = 999999999  # replaced by the script with a token's id


@login_required
@require_GET
def prediction_api_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The page (leads and admins; others 403): the tokens and the served predictions
    arrive from the API, fetched by the page's script."""
    project = page_project(request, project_id, manage=True)
    context = {
        "project": project,
        "versions": model_versions_of(project),
        "predict_url": site_url(api_url(project, "predict")),
        "serving": _serving_data(project),
    }
    return render(request, "serving/prediction_api.html", context)


def _serving_data(project: Project) -> dict[str, Any]:
    """What prediction-api.js needs: the labels and where to ask."""
    return {
        "project": {"id": project.pk},
        "labels": page_labels(project),
        "urls": {
            "tokens": api_url(project, "predict-tokens"),
            "token": api_url(project, "predict-token", pk=ID_SLOT),
            "served": api_url(project, "served-predictions"),
            "models": reverse("models", args=[project.pk]),
        },
        "id_slot": ID_SLOT,
    }
