"""Final labels that are probably wrong: ranked by confident learning, sent to review.

After a training with ``label_check_folds`` the worker predicts every final-labelled image
with a model that never trained on it (``worker.ml.cross_fit``) and hands the
probabilities here. cleanlab ranks them: ``find_label_issues`` (confident learning,
pruning by the estimated noise rate) flags the likely-wrong labels and
``get_label_quality_scores`` (the out-of-sample probability of the given label) scores
every one. The check's rows replace the project's previous ones at once; each flagged
image gets a review request with the reason ``model_disagrees`` and the model's view in
its detail.

A check goes stale as people decide: an image whose final label changed since, or that a
person decided (adjudicated or gold) after the check, is no longer "likely wrong".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from labeler.agreement.review_requests import review_requests_add
from labeler.annotations.models import (
    Annotation,
    FinalLabel,
    FinalLabelMethod,
    LabelChange,
    LabelChangeKind,
)
from labeler.predictions.models import LabelCheck, TrainingRun
from labeler.projects.models import Project

MODEL_DISAGREES = "model_disagrees"
BATCH = 2000


@dataclass(frozen=True)
class Ranking:
    """Per row: whether confident learning flags the given label, and its quality score."""

    flagged: npt.NDArray[np.bool_]
    quality: npt.NDArray[np.float64]


def label_issues_rank(labels: npt.ArrayLike, probabilities: npt.ArrayLike) -> Ranking:
    """cleanlab's verdict on labels (indexes into the columns; multi-label: multi-hot rows)
    given out-of-sample probabilities (N, L).

    Single-label: columns of labels no row carries are left out (and the rows
    renormalised): confident learning estimates a noise rate per given label, which an
    absent label has none of. Multi-label: each label is a yes-or-no question of its own
    (cleanlab's ``multi_label``), and a row's quality is its labels' aggregated.
    """
    y = np.asarray(labels)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(y) != len(p) or (y.ndim == 2 and y.shape != p.shape):
        raise ValueError("One probability row per label (or label set) is needed.")
    if len(y) == 0:
        return Ranking(np.zeros(0, dtype=bool), np.zeros(0))
    if y.ndim == 2:
        return _multi_label_rank(y, p)
    return _single_label_rank(y.astype(np.int64), p)


def _multi_label_rank(y: np.ndarray, p: np.ndarray) -> Ranking:
    # cleanlab comes with the "ml" extra.
    from cleanlab.multilabel_classification.filter import find_label_issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores

    sets = [np.flatnonzero(row > 0).tolist() for row in y]
    quality = get_label_quality_scores(sets, p)
    flagged = find_label_issues(sets, p, n_jobs=1)
    return Ranking(np.asarray(flagged, dtype=bool), np.asarray(quality, dtype=np.float64))


def _single_label_rank(y: np.ndarray, p: np.ndarray) -> Ranking:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    present = np.unique(y)
    column = np.full(p.shape[1], -1)
    column[present] = np.arange(len(present))
    kept = np.clip(p[:, present], 1e-12, None)
    kept /= kept.sum(1, keepdims=True)
    y_kept = column[y]
    quality = get_label_quality_scores(y_kept, kept)
    if len(present) < 2:  # one label only: nothing to confuse it with
        return Ranking(np.zeros(len(y), dtype=bool), np.asarray(quality, dtype=np.float64))
    flagged = find_label_issues(y_kept, kept, n_jobs=1)
    return Ranking(np.asarray(flagged, dtype=bool), np.asarray(quality, dtype=np.float64))


@transaction.atomic
def label_check_store(
    *,
    run_id: int,
    image_ids: Sequence[int],
    label_ids: Sequence[int],
    given: npt.ArrayLike,
    probabilities: npt.ArrayLike,
) -> int:
    """Rank a run's out-of-sample probabilities, keep them as the project's label check
    and send the flagged images to review; returns how many were flagged.

    ``given``: each image's label as an index into ``label_ids`` (the model's columns).
    A multi-label project's ``given`` is multi-hot rows; the labels the model gives are
    those at 0.5 or more. Images deleted meanwhile are skipped. Nothing is written when
    the run is gone.
    """
    run = TrainingRun.objects.select_related("project").filter(pk=run_id).first()
    if run is None:
        return 0
    project = run.project
    y = np.asarray(given)
    p = np.asarray(probabilities, dtype=np.float64)
    multi_label = y.ndim == 2
    ranking = label_issues_rank(y, p)
    ids = np.asarray(image_ids, dtype=np.int64)
    alive = set(
        FinalLabel.objects.filter(image__project=project).values_list("image_id", flat=True)
    )
    rows = []
    details: dict[int, dict[str, Any]] = {}
    for i, image_id in enumerate(ids.tolist()):
        if image_id not in alive:
            continue
        view = {str(label_id): round(float(p[i, k]), 6) for k, label_id in enumerate(label_ids)}
        if multi_label:
            given_id = top_id = None
            given_ids = [int(label_ids[k]) for k in np.flatnonzero(y[i] > 0).tolist()]
            predicted_ids = [int(label_ids[k]) for k in np.flatnonzero(p[i] >= 0.5).tolist()]
        else:
            given_id, top_id = int(label_ids[int(y[i])]), int(label_ids[int(np.argmax(p[i]))])
            given_ids, predicted_ids = [given_id], [top_id]
        flagged, quality = bool(ranking.flagged[i]), float(ranking.quality[i])
        rows.append(
            LabelCheck(
                project=project,
                image_id=image_id,
                run=run,
                given_label_id=given_id,
                predicted_label_id=top_id,
                given_label_ids=given_ids,
                predicted_label_ids=predicted_ids,
                probabilities=view,
                quality=quality,
                flagged=flagged,
            )
        )
        if flagged:
            details[image_id] = {
                "run": run.pk,
                "quality": round(quality, 6),
                "given_label": given_id,
                "predicted_label": top_id,
                "given_labels": given_ids,
                "predicted_labels": predicted_ids,
                "probabilities": view,
            }
    LabelCheck.objects.filter(project=project).delete()
    LabelCheck.objects.bulk_create(rows, batch_size=BATCH)
    if details:
        review_requests_add(project, list(details), reason=MODEL_DISAGREES, detail_by_image=details)
    return len(details)


def label_issues(project: Project) -> QuerySet[LabelCheck]:
    """The project's likely-wrong final labels, lowest quality first: flagged by the latest
    check, the final label unchanged since and no person's decision after it.

    Unchanged: a single-label check's label is still the final one; a multi-label
    check's final label set has not been set or cleared since (its label history)."""
    still_given = FinalLabel.labels.through.objects.filter(
        finallabel__image_id=OuterRef("image_id"), label_id=OuterRef("given_label_id")
    )
    set_since = LabelChange.objects.filter(
        image_id=OuterRef("image_id"),
        kind__in=[LabelChangeKind.FINAL_SET, LabelChangeKind.FINAL_CLEARED],
        created_at__gt=OuterRef("created_at"),
    )
    unchanged = (Q(given_label__isnull=False) & Exists(still_given)) | (
        Q(given_label__isnull=True) & ~Exists(set_since)
    )
    decided_since = FinalLabel.objects.filter(
        image_id=OuterRef("image_id"),
        method__in=[FinalLabelMethod.ADJUDICATED, FinalLabelMethod.GOLD],
        updated_at__gt=OuterRef("created_at"),
    )
    return (
        LabelCheck.objects.filter(project=project, flagged=True)
        .filter(unchanged & ~Exists(decided_since))
        .order_by("quality", "image_id")
    )


def likely_wrong_image_ids(project: Project) -> QuerySet[LabelCheck, int]:
    """Ids of the images whose final label is likely wrong (for filters: ``pk__in``)."""
    return label_issues(project).values_list("image_id", flat=True)


def label_check_for(image_ids: Sequence[int]) -> dict[int, LabelCheck]:
    """The latest check of each image that has one, in one query."""
    return {check.image_id: check for check in LabelCheck.objects.filter(image_id__in=image_ids)}


def annotators_labels(image_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Per image, each annotator's labels: ``[{"annotator": name, "labels": [ids]}]``."""
    through = Annotation.labels.through.objects.filter(annotation__image_id__in=list(image_ids))
    rows = through.values_list(
        "annotation__image_id", "annotation_id", "annotation__annotator__username", "label_id"
    ).order_by("annotation__image_id", "annotation_id", "label_id")
    by_annotation: dict[tuple[int, int], dict[str, Any]] = {}
    for image_id, annotation_id, username, label_id in rows:
        entry = by_annotation.setdefault(
            (image_id, annotation_id), {"annotator": username, "labels": []}
        )
        entry["labels"].append(label_id)
    out: dict[int, list[dict[str, Any]]] = {}
    for (image_id, _), entry in by_annotation.items():
        out.setdefault(image_id, []).append(entry)
    return out


__all__ = [
    "MODEL_DISAGREES",
    "Ranking",
    "annotators_labels",
    "label_check_for",
    "label_check_store",
    "label_issues",
    "label_issues_rank",
    "likely_wrong_image_ids",
]
