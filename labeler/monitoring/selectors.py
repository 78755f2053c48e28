"""Reads of the drift check: the served predictions of a window, a version's reference,
the checks kept, and the Models page's drift state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from labeler.monitoring.models import DriftCheck, DriftReference
from labeler.monitoring.statistics import Sample
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.serving.models import ServedPrediction

EMBEDDING_DTYPE = np.dtype("<f2")
CONFIDENCE_DTYPE = np.dtype("<f4")
# The newest served predictions a check reads at most: the statistics draw their cap from
# these, and a busy project's window is never read whole.
SERVED_READ_LIMIT = 5000
# The checks the Models page draws and the API lists, newest first.
CHECKS_SHOWN = 200


def drift_window_start(project: Project, now: datetime | None = None) -> datetime:
    """When the project's drift window opens (``drift_window_hours`` before ``now``)."""
    return (now or timezone.now()) - timedelta(hours=project.drift_window_hours)


def served_count(project: Project, version: ModelVersion, since: datetime) -> int:
    """How many predictions the version served for the project since ``since``."""
    return ServedPrediction.objects.filter(
        project=project, model_version=version, created_at__gte=since
    ).count()


def served_sample(
    project: Project, version: ModelVersion, since: datetime, *, dimension: int
) -> Sample:
    """The newest (at most ``SERVED_READ_LIMIT``) predictions the version served since
    ``since``; a row whose embedding is missing or of another size gets a row of NaN."""
    rows = list(
        ServedPrediction.objects.filter(
            project=project, model_version=version, created_at__gte=since
        )
        .order_by("-created_at", "-pk")
        .values_list("embedding", "probability", "top_label_id")[:SERVED_READ_LIMIT]
    )
    embeddings = np.full((len(rows), dimension), np.nan, dtype=np.float32)
    for i, (raw, _, _) in enumerate(rows):
        vector = np.frombuffer(bytes(raw), dtype=EMBEDDING_DTYPE) if raw else None
        if vector is not None and vector.size == dimension:
            embeddings[i] = vector
    return Sample(
        embeddings=embeddings,
        confidences=np.array([p for _, p, _ in rows], dtype=np.float64),
        labels=np.array([-1 if label is None else label for _, _, label in rows], dtype=np.int64),
    )


def drift_reference(version: ModelVersion) -> DriftReference | None:
    """The version's stored reference, if computed."""
    return DriftReference.objects.filter(model_version=version).first()


def reference_sample(reference: DriftReference) -> Sample:
    """The arrays a stored reference holds."""
    n = len(reference.image_ids)
    embeddings = np.frombuffer(bytes(reference.embeddings), dtype=EMBEDDING_DTYPE)
    return Sample(
        embeddings=embeddings.reshape(n, reference.dimension).astype(np.float32),
        confidences=np.frombuffer(bytes(reference.confidences), dtype=CONFIDENCE_DTYPE).astype(
            np.float64
        ),
        labels=np.array(reference.top_label_ids, dtype=np.int64),
    )


def drift_checks(project: Project, *, limit: int = CHECKS_SHOWN) -> list[DriftCheck]:
    """The project's newest checks, newest first."""
    return list(DriftCheck.objects.filter(project=project).order_by("-created_at", "-pk")[:limit])


def projects_due_for_drift(now: datetime | None = None) -> list[int]:
    """Projects whose current version served at least ``drift_minimum_count`` predictions
    in the project's window (each project's own settings)."""
    now = now or timezone.now()
    candidates = Project.objects.filter(model_versions__is_current=True).distinct()
    due = []
    for project in candidates:
        since = drift_window_start(project, now)
        counted = ServedPrediction.objects.filter(
            project=project, model_version__is_current=True, created_at__gte=since
        ).count()
        if counted >= project.drift_minimum_count:
            due.append(project.pk)
    return due


def drift_state(project: Project) -> dict[str, Any]:
    """What the Models page shows: the newest check (its alarm and reason) and every
    shown check's p-values over time, oldest first, with the false-alarm rate."""
    checks = drift_checks(project)
    latest = checks[0] if checks else None
    return {
        "latest": None if latest is None else check_data(latest),
        "rate": project.drift_false_alarm_rate,
        "series": [check_data(check) for check in reversed(checks)],
    }


def check_data(check: DriftCheck) -> dict[str, Any]:
    """One check as plain data (the page's and the API's)."""
    return {
        "id": check.pk,
        "created_at": check.created_at.isoformat(),
        "model_version": check.model_version_id,
        "window_start": check.window_start.isoformat(),
        "window_end": check.window_end.isoformat(),
        "n_recent": check.n_recent,
        "n_reference": check.n_reference,
        "tests": {
            "embeddings": {"statistic": check.embedding_statistic, "p_value": check.embedding_p},
            "confidence": {"statistic": check.confidence_statistic, "p_value": check.confidence_p},
            "labels": {"statistic": check.labels_statistic, "p_value": check.labels_p},
        },
        "false_alarm_rate": check.false_alarm_rate,
        "rejected": list(check.rejected),
        "alarm": check.alarm,
        "reason": check.reason,
    }
