"""A project with a current version, a stored drift reference and served predictions,
all generated (no model): for the drift check's service, API, task and page tests."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from labeler.monitoring import services
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from labeler.serving.models import ServedPrediction
from tests.factories import ModelVersionFactory

DIM = 8


def draws(seed: int, n: int, *, shift: float = 0.0, mix=(1 / 3, 1 / 3, 1 / 3)):
    """n embeddings around three class centres, top probabilities and label indexes."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=mix)
    embeddings = np.eye(3, DIM)[labels] * 3 + rng.normal(shift, 1.0, (n, DIM))
    return embeddings, rng.beta(8, 2, n), labels


def with_reference(project: Project, n: int = 90) -> ModelVersion:
    """A current version of ``project`` whose reference holds n generated test images."""
    version = ModelVersionFactory(project=project)
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    embeddings, confidences, labels = draws(1, n)
    probabilities = np.full((n, 3), 0.0)
    probabilities[np.arange(n), labels] = confidences
    services.drift_reference_store(
        model_version_id=version.pk,
        image_ids=list(range(1, n + 1)),
        probabilities=probabilities,
        embeddings=embeddings,
        label_ids=label_ids,
    )
    return version


def serve(
    project: Project, version: ModelVersion, n: int, *, seed: int = 2, hours_ago: float = 0, **shift
) -> None:
    """Log n generated served predictions (``shift``: see ``draws``)."""
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    embeddings, confidences, labels = draws(seed, n, **shift)
    rows = ServedPrediction.objects.bulk_create(
        ServedPrediction(
            project=project,
            model_version=version,
            image_sha256=f"{seed:032x}{i:032x}",
            top_label_id=label_ids[int(k)],
            probability=float(p),
            probabilities={},
            embedding=e.astype("<f2").tobytes(),
        )
        for i, (e, p, k) in enumerate(zip(embeddings, confidences, labels, strict=True))
    )
    if hours_ago:
        then = timezone.now() - timedelta(hours=hours_ago)
        ServedPrediction.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=then)
