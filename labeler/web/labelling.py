"""The labelling page: one image at a time, the keyboard first."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeler.annotations.selectors import label_use
from labeler.projects import selectors as project_selectors
from labeler.projects.models import Project
from labeler.web.pages import api_url, page_labels, page_project, page_user

IMAGE_ID_SLOT = 999999999  # replaced by the script with each image's id


@login_required
@require_GET
def label(request: HttpRequest, project_id: int) -> HttpResponse:
    """The labelling workspace; the page's script talks to the REST API."""
    project = page_project(request, project_id)
    user = page_user(request)
    role = project_selectors.project_role(user=user, project=project)
    context = {
        "project": project,
        "workspace": _workspace(project, user.pk),
        # The finish screen offers the review queue to those who may open it.
        "can_review": project_selectors.can_see_all_annotations(user=user, role=role),
    }
    return render(request, "annotations/label.html", context)


def _workspace(project: Project, user_id: int) -> dict[str, Any]:
    """What the script needs: the project's rules, its labels and the API's addresses."""
    api = partial(api_url, project)
    return {
        "project": {
            "id": project.pk,
            "multi_label": project.multi_label,
            "suggestion_preselect": project.suggestion_preselect,
            "grid_mode": project.grid_mode,
            "grid_size": project.grid_size,
        },
        "user": user_id,
        "instructions": _instructions_seen_key(project, user_id),
        "labels": page_labels(project),
        # The caller's most used labels first: the label picker's "Frequent" strip.
        "label_use": label_use(project=project, user_id=user_id),
        "urls": {
            "next": api("next-image"),
            "page": api("next-page"),
            "annotations": api("annotation-list"),
            "annotation": api("annotation-detail", pk=IMAGE_ID_SLOT),
            "skips": api("skip-list"),
            "skip": api("skip-detail", pk=IMAGE_ID_SLOT),
            "progress": api("progress"),
            "history": api("history"),
        },
        "slot": str(IMAGE_ID_SLOT),
    }


def _instructions_seen_key(project: Project, user_id: int) -> str:
    """The browser's note that this person has seen this project's instructions ("" when
    there are none to show): the page opens them the first time, and again once they change.

    Kept in the browser (localStorage) rather than on the server: it only saves a click,
    and the Instructions button opens them at any time.
    """
    text = project.instructions.strip()
    if not text:
        return ""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"labeler:instructions-seen:{project.pk}:{user_id}:{digest}"
