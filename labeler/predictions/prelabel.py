"""Pre-labelling: the current model predicts every unlabelled image, then orders the queue.

A pass is planned in chunks (``prelabel_plan``), each chunk's probabilities are stored
by ``predictions_store`` (an idempotent upsert, so a redelivered chunk is harmless), and
the chunk that completes the pass marks it done once and re-orders the queue by the
project's active-learning strategy (``queue_order_refresh``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from labeler import jobs
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.sampling import queue_order, uncertainty
from labeler.predictions.selectors import current_model
from labeler.projects.models import ActiveLearning, Project

QUEUE_TASK = "worker.tasks.queue_order_refresh"
WRITE_BATCH = 1000


@transaction.atomic
def prelabel_plan(*, model_version_id: int) -> list[list[int]]:
    """Start a pass of the version: the unlabelled images it has not predicted, in chunks.

    Only the current version pre-labels; for any other (or a gone one) nothing is
    planned. Sets ``prelabel_total``; a pass with nothing to predict is done at once.
    """
    version = ModelVersion.objects.select_for_update().filter(pk=model_version_id).first()
    if version is None or not version.is_current:
        return []
    todo = list(
        Image.objects.filter(project_id=version.project_id, final_label__isnull=True)
        .exclude(predictions__model_version=version)
        .order_by("-priority", "id")
        .values_list("pk", flat=True)
    )
    version.prelabel_total = len(todo)
    version.prelabel_started_at = timezone.now()
    version.prelabel_done_at = None
    version.save(update_fields=["prelabel_total", "prelabel_started_at", "prelabel_done_at"])
    if not todo:
        _prelabel_done(version)
        return []
    size = max(1, settings.LABELER_PRELABEL_CHUNK)
    return [todo[start : start + size] for start in range(0, len(todo), size)]


def prelabel_done_count(version: ModelVersion) -> int:
    """How many images of the version's latest pass have their prediction stored."""
    if version.prelabel_started_at is None:
        return 0
    if version.prelabel_done_at is not None:
        return version.prelabel_total  # a finished pass needs no count
    stored = Prediction.objects.filter(
        model_version=version, created_at__gte=version.prelabel_started_at
    ).count()
    return min(stored, version.prelabel_total)


@transaction.atomic
def predictions_store(
    *,
    model_version_id: int,
    image_ids: Sequence[int],
    probabilities: np.ndarray,
    label_ids: Sequence[int],
    undecodable_ids: Sequence[int] = (),
    gone: int = 0,
) -> int:
    """Store (or replace) the version's probabilities of these images; returns how many.

    ``probabilities`` rows follow ``image_ids``, columns ``label_ids``. Images that could
    not be decoded get an empty prediction (no suggestion, no queue rank) so the pass
    still completes; ``gone`` planned images were deleted meanwhile, and the pass stops
    waiting for them. Completes the pass when this was its last chunk.
    """
    version = ModelVersion.objects.select_related("project").filter(pk=model_version_id).first()
    if version is None:
        return 0
    wanted = [*image_ids, *undecodable_ids]
    alive = set(
        Image.objects.filter(pk__in=wanted, project_id=version.project_id).values_list(
            "pk", flat=True
        )
    )
    multi_label = version.project.multi_label
    matrix = np.asarray(probabilities, dtype=float).reshape(len(image_ids), len(label_ids))
    keys = [str(label_id) for label_id in label_ids]
    rows = [
        Prediction(
            image_id=image_id,
            model_version=version,
            probabilities=dict(zip(keys, values, strict=True)),
            confidence=_confidence(row, multi_label),
        )
        for image_id, row, values in zip(image_ids, matrix, matrix.tolist(), strict=True)
        if image_id in alive
    ]
    rows += [
        Prediction(image_id=i, model_version=version, probabilities={}, confidence=None)
        for i in undecodable_ids
        if i in alive
    ]
    Prediction.objects.bulk_create(
        rows,
        batch_size=WRITE_BATCH,
        update_conflicts=True,
        unique_fields=["image", "model_version"],
        update_fields=["probabilities", "confidence"],
    )
    gone += len(wanted) - len(alive)
    if gone:
        ModelVersion.objects.filter(pk=version.pk).update(
            prelabel_total=Greatest(F("prelabel_total") - gone, 0)
        )
    _prelabel_check_done(version)
    return len(rows)


def _confidence(row: np.ndarray, multi_label: bool) -> float:
    """As the suggestion's: the top probability, or the least decisive yes/no call."""
    if row.size == 0:
        return 0.0
    if not multi_label:
        return float(row.max())
    return float(np.maximum(row, 1.0 - row).min())


def _prelabel_check_done(version: ModelVersion) -> None:
    version.refresh_from_db(fields=["prelabel_total", "prelabel_started_at", "prelabel_done_at"])
    if version.prelabel_done_at is None and prelabel_done_count(version) >= version.prelabel_total:
        _prelabel_done(version)


def _prelabel_done(version: ModelVersion) -> None:
    # Conditional: of chunks finishing together, one marks the pass and re-orders the queue.
    marked = ModelVersion.objects.filter(pk=version.pk, prelabel_done_at__isnull=True).update(
        prelabel_done_at=timezone.now()
    )
    if marked:
        jobs.enqueue(QUEUE_TASK, version.project_id)


def queue_order_refresh(*, project: Project, seed: int | None = None) -> int:
    """Set the priority of the project's open images from the current model's uncertainty.

    Predicted images come first, ordered by the project's strategy with its random
    share interleaved; images without a prediction come after them (priority 0).
    Returns how many images were predicted.
    """
    model = current_model(project)
    open_ids = list(
        Image.objects.filter(project=project, is_complete=False).values_list("pk", flat=True)
    )
    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    stored = Prediction.objects.filter(model_version=model, image_id__in=open_ids)
    predicted = {
        image_id: probabilities
        for image_id, probabilities in stored.values_list("image_id", "probabilities")
        if probabilities  # an undecodable image's prediction is empty
    }
    ids = [i for i in open_ids if i in predicted]
    matrix = np.array(
        [[float(predicted[i].get(str(label_id), 0.0)) for label_id in label_ids] for i in ids],
        dtype=float,
    ).reshape(len(ids), len(label_ids))
    strategy = project.active_learning
    share = 1.0 if strategy == ActiveLearning.RANDOM else project.active_learning_random_share
    scores = uncertainty(matrix, strategy, project.multi_label)
    priorities = queue_order(scores, share, np.random.default_rng(seed))
    by_id = dict(zip(ids, priorities.tolist(), strict=True))
    with transaction.atomic():
        images = [Image(pk=i, priority=by_id.get(i, 0.0)) for i in open_ids]
        Image.objects.bulk_update(images, ["priority"], batch_size=WRITE_BATCH)
    return len(ids)
