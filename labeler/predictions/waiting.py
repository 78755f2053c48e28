"""What waits on a lead in the model's part of their projects, in two queries for them all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count

from labeler.predictions.models import (
    ACTIVE_RUN_STATUSES,
    MachineLabel,
    MachineLabelStatus,
    TrainingRun,
)


@dataclass(frozen=True)
class ModelWaits:
    """A project's machine labels waiting for a person, and its training if one is on."""

    machine_labels_pending: int = 0
    training: str = ""  # "queued", "running" or "" (none)


def model_waits(project_ids: Iterable[int]) -> dict[int, ModelWaits]:
    """Each project's ``ModelWaits`` (projects with nothing waiting are left out)."""
    ids = list(project_ids)
    pending = dict(
        MachineLabel.objects.filter(project_id__in=ids, status=MachineLabelStatus.PENDING)
        .order_by()
        .values("project_id")
        .annotate(n=Count("id"))
        .values_list("project_id", "n")
    )
    runs: dict[int, str] = {}
    active = TrainingRun.objects.filter(project_id__in=ids, status__in=ACTIVE_RUN_STATUSES)
    for project_id, status in active.order_by("created_at").values_list("project_id", "status"):
        runs[project_id] = "running" if "running" in (status, runs.get(project_id)) else status
    return {
        pk: ModelWaits(machine_labels_pending=pending.get(pk, 0), training=runs.get(pk, ""))
        for pk in set(pending) | set(runs)
    }
