"""Writes a project's lead starts: a training run, a promotion, a pre-label pass.

The run's own life (claimed, progressing, finished) is in ``runs``; the pre-label pass
in ``prelabel``; machine labels in ``machine_labels``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from labeler import jobs
from labeler.agreement.services import final_labels_refresh
from labeler.errors import Conflict, ValidationFailed
from labeler.images.duplicates.groups import duplicate_groups_settled_check
from labeler.predictions.dataset import training_set, training_set_check
from labeler.predictions.models import ModelVersion, TrainingRun
from labeler.predictions.promotion import model_version_promote
from labeler.predictions.runs import (
    training_run_active,
    training_run_create,
    training_runs_reap,
)
from labeler.predictions.selectors import current_model
from labeler.predictions.training_config import training_config_clean
from labeler.projects.models import Project
from labeler.task_names import Task

__all__ = ["model_version_promote", "prelabel_start", "training_config_merge", "training_start"]


def training_config_merge(base: dict[str, Any], overrides: Any) -> dict[str, Any]:
    """The project's overrides with a request's on top (``augment`` merged key by key)."""
    if overrides is None:
        return dict(base)
    if not isinstance(overrides, dict):
        raise ValidationFailed("'config' must be an object of training settings.", field="config")
    merged = {**base, **overrides}
    if isinstance(base.get("augment"), dict) and isinstance(overrides.get("augment"), dict):
        merged["augment"] = {**base["augment"], **overrides["augment"]}
    return merged


def training_start(
    *, project: Project, requested_by: User | None = None, overrides: Any = None
) -> TrainingRun:
    """Queue a training run on the project's final labels.

    Final labels are brought up to date first, so a project with overlap 1 trains on
    the annotations given a moment ago. Refuses (Conflict, with the active run's id)
    while a run is active, (Conflict, with how many) while the worker is still hashing
    images for their near-duplicate groups, which the split keeps on one side, and
    (ValidationFailed) without 2 labels of 2 images each. A run whose worker went quiet
    is failed first, as ``beat`` would (which the embedded default does not run), so it
    never blocks the project for good.
    """
    training_runs_reap(project)
    active = training_run_active(project)
    if active is not None:
        raise Conflict(
            f"Training run {active.pk} is already {active.status} for this project.",
            run=active.pk,
        )
    config = training_config_clean(training_config_merge(project.training or {}, overrides))
    duplicate_groups_settled_check(project=project)
    with transaction.atomic():
        final_labels_refresh(project=project)
        data = training_set(project)
        training_set_check(data)
        return training_run_create(
            project=project, config=config, label_count=len(data), requested_by=requested_by
        )


@transaction.atomic
def prelabel_start(*, project: Project) -> ModelVersion:
    """Run a pre-label pass with the current model (new images, a changed queue)."""
    model = current_model(project)
    if model is None:
        raise Conflict("The project has no current model yet: train one first.", field="model")
    jobs.enqueue(Task.PRELABEL_DISPATCH, model.pk)
    return model
