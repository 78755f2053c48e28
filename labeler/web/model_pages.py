"""Model pages for leads and reviewers: training and model versions, and machine review."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from labeler.agreement.final_labels import final_label_count
from labeler.annotations.selectors import label_use
from labeler.monitoring.selectors import drift_state
from labeler.predictions.selectors import current_model
from labeler.projects import selectors as project_selectors
from labeler.projects.models import Project
from labeler.web.forms import ARCHITECTURE_CHOICES
from labeler.web.pages import api_url, page_labels, page_project, page_user

ID_SLOT = 999999999  # replaced by the scripts with a run's or a version's id


@login_required
@require_GET
def models_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Train, follow the training live, compare and promote model versions.

    Leads act; reviewers see the same figures read-only; annotators get 403.
    """
    project = page_project(request, project_id, oversee=True)
    user = page_user(request)
    role = project_selectors.project_role(user=user, project=project)
    can_manage = project_selectors.can_manage(user=user, project=project, role=role)
    context = {
        "project": project,
        "can_manage": can_manage,
        "architectures": ARCHITECTURE_CHOICES,
        "default_architecture": str(project.training.get("architecture") or "auto"),
        "final_labels": final_label_count(project),
        "active_learning": project.get_active_learning_display().lower(),
        "random_percent": _percent(project.active_learning_random_share),
        "check_percent": _percent(project.machine_check_rate),
        "models": _models_data(project, can_manage=can_manage),
        "drift": _drift_data(project),
        "drift_percent": f"{project.drift_false_alarm_rate * 100:g}",
    }
    return render(request, "models/models.html", context)


def _drift_data(project: Project) -> dict[str, Any]:
    """What drift.js needs: the checks (``monitoring.selectors.drift_state``) and where to ask."""
    return {**drift_state(project), "url": reverse("api:drift-checks", args=[project.pk])}


def _models_data(project: Project, *, can_manage: bool) -> dict[str, Any]:
    """What models.js needs: the labels, the caller's powers and where to ask."""
    api = partial(api_url, project)
    return {
        "project": {"id": project.pk, "multi_label": project.multi_label},
        "can_manage": can_manage,
        "labels": page_labels(project),
        "architectures": dict(ARCHITECTURE_CHOICES),  # the names the pages give them
        "urls": {
            "train": api("train"),
            "runs": api("training-runs"),
            "run": reverse("api:training-run", args=[ID_SLOT]),
            "cancel": reverse("api:training-run-cancel", args=[ID_SLOT]),
            "versions": api("model-versions"),
            "promote": reverse("api:model-version-promote", args=[ID_SLOT]),
            "machine_stats": api("machine-labels-stats"),
        },
        "slot": str(ID_SLOT),
    }


@login_required
@require_GET
def machine_review(request: HttpRequest, project_id: int) -> HttpResponse:
    """Confirm the current model's surest labels in bulk, correcting the wrong ones."""
    project = page_project(request, project_id, oversee=True)
    context = {
        "project": project,
        "labels": project.labels.order_by("position", "id"),
        "current": current_model(project),
        "check_percent": _percent(project.machine_check_rate),
        "review": _machine_review_data(project, page_user(request).pk),
    }
    return render(request, "models/machine_review.html", context)


def _machine_review_data(project: Project, user_id: int) -> dict[str, Any]:
    """What machine-review.js needs: the labels (the caller's most used first in the
    picker) and the machine-label endpoints."""
    api = partial(api_url, project)
    return {
        "project": {"id": project.pk, "multi_label": project.multi_label},
        "labels": page_labels(project),
        "label_use": label_use(project=project, user_id=user_id),
        "urls": {
            "send": api("machine-labels-send"),
            "pending": api("machine-labels"),
            "review": api("machine-labels-review"),
            "image_file": api("image-file", pk=ID_SLOT),
            "image_thumbnail": api("image-thumbnail", pk=ID_SLOT),
        },
        "slot": str(ID_SLOT),
    }


def _percent(share: float) -> str:
    """A share from 0 to 1 as a percentage without trailing zeros: 0.1 -> "10"."""
    return f"{share * 100:.1f}".rstrip("0").rstrip(".")
