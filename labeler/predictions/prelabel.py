"""Pre-labelling: the current model predicts every unlabelled image, then orders the queue.

A pass is planned in chunks (``prelabel_plan``), each chunk's probabilities are stored
by ``predictions_store`` (idempotent: a redelivered chunk replaces its own rows), and
the chunk that completes the pass marks it done once and re-orders the queue by the
project's active-learning strategy (``queue_order_refresh``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from labeler import jobs
from labeler.images import queue_state
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.sampling import queue_order, uncertainty
from labeler.predictions.selectors import current_model
from labeler.projects.models import ActiveLearning, Project
from labeler.task_names import Task

WRITE_BATCH = 1000


@transaction.atomic
def prelabel_plan(*, model_version_id: int) -> list[list[int]]:
    """Start a pass of the version: the unlabelled images it has not predicted, in chunks.

    Only the current version pre-labels; for any other (or a gone one) nothing is
    planned. Sets ``prelabel_total``; a pass with nothing to predict is done at once. A
    pass still under way is continued: its total counts what it stored already.
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
    if version.prelabel_started_at is not None and version.prelabel_done_at is None:
        # A pass under way planned again (its dispatch delivered again after its worker
        # died while sending the chunks, or new images): it goes on, what it stored counted.
        version.prelabel_total = version.prelabel_done + len(todo)
    else:
        version.prelabel_total = len(todo)
        version.prelabel_done = 0
        version.prelabel_started_at = timezone.now()
    version.prelabel_done_at = None
    version.save(
        update_fields=["prelabel_total", "prelabel_done", "prelabel_started_at", "prelabel_done_at"]
    )
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
    return min(version.prelabel_done, version.prelabel_total)


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

    The version's row is locked while its pass's count moves, so chunks stored at once
    by several workers count each image once, and a chunk delivered twice counts nothing
    the second time (its predictions are replaced, not added).
    """
    version = (
        ModelVersion.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(pk=model_version_id)
        .first()
    )
    if version is None:
        return 0
    wanted = [*image_ids, *undecodable_ids]
    seen = _planned_images(version, wanted)
    matrix = np.asarray(probabilities, dtype=float).reshape(len(image_ids), len(label_ids))
    matrix = np.nan_to_num(matrix, nan=0.0, posinf=1.0, neginf=0.0)  # JSON has no NaN
    as_json = _probabilities_template(label_ids)
    confidences = _confidences(matrix, version.project.multi_label).tolist()
    rows = [
        (image_id, as_json % tuple(values), confidence)
        for image_id, values, confidence in zip(
            image_ids, matrix.tolist(), confidences, strict=True
        )
        if image_id in seen
    ]
    rows += [(i, "{}", None) for i in undecodable_ids if i in seen]
    # The version's row lock keeps ``seen`` true until commit: no other chunk of this
    # version can store these images meanwhile, so the new rows can go in as they are.
    fresh = [row for row in rows if not seen[row[0]]]
    _predictions_insert(version.pk, fresh)
    _predictions_upsert(version.pk, [row for row in rows if seen[row[0]]])
    version.prelabel_done += len(fresh)
    version.prelabel_total = max(version.prelabel_total - gone - (len(wanted) - len(seen)), 0)
    version.save(update_fields=["prelabel_done", "prelabel_total"])
    if (
        version.prelabel_started_at is not None
        and version.prelabel_done_at is None
        and version.prelabel_done >= version.prelabel_total
    ):
        _prelabel_done(version)
    return len(rows)


def _probabilities_template(label_ids: Sequence[int]) -> str:
    """A %-template of {"label id": probability} JSON text, one %.7g per label.

    Seven significant digits keep what the model's float32 holds, in a quarter of the
    time ``json.dumps`` takes (a few microseconds a row, at thousands of rows a second).
    """
    pairs = ", ".join(f"{json.dumps(str(label_id))}: %.7g" for label_id in label_ids)
    return "{" + pairs + "}"


def _predictions_insert(version_id: int, rows: list[tuple[int, str, float | None]]) -> None:
    """New predictions: by COPY on PostgreSQL, a third to a half of an upsert's cost per
    row there (no statement to build, bind and parse); by the upsert elsewhere."""
    if connection.vendor != "postgresql":
        _predictions_upsert(version_id, rows)
        return
    if not rows:
        return
    now = timezone.now().isoformat()
    # COPY's text format: tab-separated, \N for NULL. The JSON holds digits, quotes,
    # commas, colons, spaces and braces only (see _probabilities_template).
    null = "\\N"
    text = "".join(
        f"{image_id}\t{version_id}\t{probabilities}\t"
        f"{null if confidence is None else repr(confidence)}\t{now}\n"
        for image_id, probabilities, confidence in rows
    )
    table = connection.ops.quote_name(Prediction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} (image_id, model_version_id, probabilities, confidence, created_at) "
            "FROM STDIN",
            io.StringIO(text),
        )


def _predictions_upsert(version_id: int, rows: list[tuple[int, str, float | None]]) -> None:
    """One INSERT ... ON CONFLICT per batch: the ORM's bulk_create costs ~100 us a row in
    Python building model instances, several times the small model's forward pass."""
    table = connection.ops.quote_name(Prediction._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start : start + WRITE_BATCH]
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(batch))
        params: list[Any] = []
        for image_id, text, confidence in batch:
            params += [image_id, version_id, text, confidence, now]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} "
                "(image_id, model_version_id, probabilities, confidence, created_at) "
                f"VALUES {values} ON CONFLICT (image_id, model_version_id) DO UPDATE SET "
                "probabilities = excluded.probabilities, confidence = excluded.confidence",
                params,
            )


def _planned_images(version: ModelVersion, image_ids: Sequence[int]) -> dict[int, bool]:
    """Of these images, those still in the version's project: whether it predicted each.

    Plain SQL: at a thousand ids per chunk the ORM's lookup building costs milliseconds.
    """
    if not image_ids:
        return {}
    image = connection.ops.quote_name(Image._meta.db_table)
    prediction = connection.ops.quote_name(Prediction._meta.db_table)
    marks = ", ".join(["%s"] * len(image_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id, EXISTS (SELECT 1 FROM {prediction} p WHERE p.image_id = i.id "
            f"AND p.model_version_id = %s) FROM {image} i "
            f"WHERE i.project_id = %s AND i.id IN ({marks})",
            [version.pk, version.project_id, *image_ids],
        )
        return {image_id: bool(stored) for image_id, stored in cursor.fetchall()}


def _confidences(matrix: np.ndarray, multi_label: bool) -> np.ndarray:
    """As the suggestions': each row's top probability, or its least decisive yes/no call."""
    if matrix.shape[1] == 0:
        return np.zeros(matrix.shape[0])
    if not multi_label:
        return matrix.max(axis=1)
    return np.maximum(matrix, 1.0 - matrix).min(axis=1)


def _prelabel_done(version: ModelVersion) -> None:
    # Conditional: of chunks finishing together, one marks the pass and re-orders the queue.
    marked = ModelVersion.objects.filter(pk=version.pk, prelabel_done_at__isnull=True).update(
        prelabel_done_at=timezone.now()
    )
    if marked:
        jobs.enqueue(Task.QUEUE_ORDER_REFRESH, version.project_id)


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
        queue_state.images_priorities_set(priorities={i: by_id.get(i, 0.0) for i in open_ids})
    return len(ids)
