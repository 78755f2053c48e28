"""Quality pages for reviewers and leads: the agreement dashboard and the review queue."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.annotations.selectors import ProjectProgress, label_use, project_progress
from labeler.projects import selectors as project_selectors
from labeler.projects.models import Project
from labeler.web.annotator_gate import annotator_gate_context
from labeler.web.labelling import IMAGE_ID_SLOT
from labeler.web.pages import api_url, page_labels, page_project, page_user
from labeler.words import counted


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
        **annotator_gate_context(project, page_user(request)),
        "can_manage": project_selectors.can_manage(
            user=page_user(request),
            project=project,
            role=project_selectors.project_role(user=page_user(request), project=project),
        ),
    }
    return render(request, "agreement/dashboard.html", context)


def _dashboard_data(project: Project, *, has_labels: bool) -> dict[str, Any]:
    """What the dashboard's script needs: the labels' names and colours, and where to ask."""
    return {
        "project": {"id": project.pk, "multi_label": project.multi_label},
        "has_labels": has_labels,
        "labels": page_labels(project),
        "urls": {
            "agreement": api_url(project, "agreement"),
            "review_api": api_url(project, "review"),
            "review_page": reverse("review", args=[project.pk]),
        },
    }


@login_required
@require_GET
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    """The review queue: disagreements and low-confidence consensus, decided by a person."""
    project = page_project(request, project_id, oversee=True)
    user = page_user(request)
    role = project_selectors.project_role(user=user, project=project)
    can_gold = project_selectors.can_manage(user=user, project=project, role=role)
    data = _review_data(project, role=role or "admin", can_gold=can_gold)
    data["label_use"] = label_use(project=project, user_id=user.pk)
    data["empty"] = review_empty_state(project, project_progress(project))
    context = {"project": project, "can_gold": can_gold, "review": data}
    return render(request, "agreement/review.html", context)


def review_empty_state(project: Project, progress: ProjectProgress) -> dict[str, str]:
    """What an empty review queue says: why nothing is waiting, and the next step.

    An empty queue means different things on a new project and a finished one: nothing to
    label, nothing labelled, no image labelled by enough annotators yet, or every image
    labelled so far settled. Each gets its own title, so that no one reads "all agreed"
    where nobody has labelled anything.
    """
    overlap = project.overlap
    who = f"the {overlap} annotators who label it" if overlap > 1 else "its annotator"
    comes = (
        f"An image comes here when {who} disagree, when their consensus is below "
        f"{round(project.review_threshold * 100)}%, or when someone asks for a review."
    )
    label_link = {"link": reverse("label", args=[project.pk]), "link_text": "Label images"}
    if progress.images == 0:
        return {
            "state": "no-images",
            "title": "No images yet — nothing to review",
            "text": f"{comes} Upload images first.",
            "link": reverse("project-upload", args=[project.pk]),
            "link_text": "Upload images",
        }
    if progress.annotations == 0:
        images = _count(progress.images, "image")
        return {
            "state": "no-labels",
            "title": "Nothing labelled yet — nothing to review",
            "text": f"None of the {images} has a label yet. {comes}",
            **label_link,
        }
    if progress.complete == 0:
        return {
            "state": "not-complete",
            "title": f"No image has reached {_count(overlap, 'annotator')} yet",
            "text": (
                f"{_count(progress.annotations, 'label')} so far. An image is reviewed once "
                f"{_count(overlap, 'annotator')} have labelled it: the missing votes often "
                "settle a split."
            ),
            **label_link,
        }
    waiting = progress.images - progress.complete
    settled = (
        "The one fully labelled image is agreed on or decided."
        if progress.complete == 1
        else f"All {progress.complete} fully labelled images are agreed on or decided."
    )
    rest = f" {_count(waiting, 'image')} still {'waits' if waiting == 1 else 'wait'} for labels."
    return {
        "state": "settled",
        "title": "Nothing to review",
        "text": (
            f"{settled}{rest if waiting else ''} New disagreements show up here as annotators "
            "label."
        ),
        "link": reverse("agreement-dashboard", args=[project.pk]),
        "link_text": "Agreement dashboard",
    }


def _count(n: int, word: str) -> str:
    return counted(n, word)


def _review_data(project: Project, *, role: str, can_gold: bool) -> dict[str, Any]:
    """What the review page's script needs: the labels, the caller's powers and the API."""
    api = partial(api_url, project)
    return {
        "project": {
            "id": project.pk,
            "multi_label": project.multi_label,
            "review_threshold": project.review_threshold,
            "grid_size": project.grid_size,  # a page of the review grid
        },
        "role": role,
        "can_gold": can_gold,
        "labels": page_labels(project),
        "urls": {
            "queue": api("review"),
            "item": api("review-detail", image_id=IMAGE_ID_SLOT),
            "decisions": api("decisions"),
            "decisions_batch": api("decisions-batch"),
            "decision": api("decision-detail", image_id=IMAGE_ID_SLOT),
            "history": api("image-history", image_id=IMAGE_ID_SLOT),
            "dashboard": reverse("agreement-dashboard", args=[project.pk]),
        },
        "slot": str(IMAGE_ID_SLOT),
    }
