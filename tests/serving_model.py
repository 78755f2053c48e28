"""A model version with weights, made in a second (untrained: the tests of serving need an
answer, not a good one)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.serving.models import ServedPrediction
from tests.worker.ml.versions import seeded_network
from worker.ml import weights
from worker.ml.architectures import normalisation_for


def served_version(
    project: Project, *, number: int = 1, current: bool = True, multi_label: bool = False
) -> ModelVersion:
    """A small CNN over the project's labels, saved, as version ``number`` of the project."""
    label_ids = list(project.labels.order_by("pk").values_list("pk", flat=True))
    # The same weights, so the same answers, every run.
    model = seeded_network("small-cnn", len(label_ids), 3, 8, seed=number)
    meta = {
        "architecture": "small-cnn",
        "label_ids": label_ids,
        "thresholds": [0.5] * len(label_ids) if multi_label else None,
        "image_size": 8,
        "grayscale": False,
        "channels": 3,
        "normalisation": normalisation_for("small-cnn", 3),
        "multi_label": multi_label,
    }
    name = f"project-{project.pk}/served-{number}.pt"
    sha256 = weights.save(settings.LABELER_MODEL_DIR / name, model=model, meta=meta)
    return ModelVersion.objects.create(
        project=project,
        version=number,
        is_current=current,
        weights=name,
        weights_sha256=sha256,
    )


def served_logged(
    count: int, *, timeout: float = 20.0, **filters: Any
) -> QuerySet[ServedPrediction]:
    """The served predictions matching ``filters``, once ``count`` of them are written (the
    process that ran the model writes its log after answering)."""
    rows = ServedPrediction.objects.filter(**filters)
    deadline = time.monotonic() + timeout
    while rows.count() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows
