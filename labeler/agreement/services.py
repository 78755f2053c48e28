"""Writes about quality: consensus final labels, adjudication and gold images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import transaction

from labeler.agreement.consensus import consensus as consensus_compute
from labeler.agreement.consensus import multi_label_majority
from labeler.agreement.ratings import Ratings, ratings_load
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.annotations.services import labels_resolve
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Label, Project

HUMAN_DECISIONS = (FinalLabelMethod.ADJUDICATED, FinalLabelMethod.GOLD)


@dataclass(frozen=True)
class ConsensusRows:
    """The consensus of every rated image: label indexes (sets for multi-label) and more."""

    ratings: Ratings
    labels: list[list[int]]  # per image row: label indexes, empty when undecided
    confidence: np.ndarray
    needs_review: np.ndarray
    eligible: np.ndarray  # rated by enough annotators for a final label
    unanimous: np.ndarray


def consensus_rows(project: Project, method: str | None = None) -> ConsensusRows:
    """The consensus of the project's rated images by ``method`` (the project's by default).

    An image is eligible for a final label once ``overlap`` annotators labelled it.
    """
    ratings = ratings_load(project)
    method = method or project.consensus_method
    if ratings.label_sets is not None:
        multi = multi_label_majority(ratings.label_sets)
        labels = [[int(i) for i in np.flatnonzero(row == 1)] for row in multi.labels]
        confidence, needs_review = multi.confidence, multi.needs_review
        rated = (ratings.label_sets[:, :, 0] >= 0).sum(axis=1)
        unanimous = _unanimous_sets(ratings.label_sets)
    else:
        result = consensus_compute(ratings.codes, ratings.k, method)
        labels = [[int(v)] if v >= 0 else [] for v in result.labels]
        confidence, needs_review = result.confidence, result.needs_review
        rated = (ratings.codes >= 0).sum(axis=1)
        unanimous = _unanimous_codes(ratings.codes)
    return ConsensusRows(
        ratings=ratings,
        labels=labels,
        confidence=np.asarray(confidence, dtype=float),
        needs_review=np.asarray(needs_review, dtype=bool),
        eligible=rated >= project.overlap,
        unanimous=unanimous,
    )


def _unanimous_codes(codes: np.ndarray) -> np.ndarray:
    rated = codes >= 0
    high = np.where(rated, codes, -1).max(axis=1)
    low = np.where(rated, codes, np.iinfo(codes.dtype).max).min(axis=1)
    return rated.any(axis=1) & (high == low)


def _unanimous_sets(label_sets: np.ndarray) -> np.ndarray:
    rated = label_sets[:, :, 0] >= 0
    ones = np.where(rated[:, :, None], label_sets, 0).sum(axis=1)
    n = rated.sum(axis=1)[:, None]
    return (n[:, 0] > 0) & np.all((ones == 0) | (ones == n), axis=1)


@transaction.atomic
def final_labels_refresh(*, project: Project) -> int:
    """Write consensus final labels for eligible images that need no review.

    Adjudicated and gold final labels are people's decisions and are left alone;
    consensus labels of images that now need review are removed. Returns how many
    consensus final labels the project holds afterwards.
    """
    rows = consensus_rows(project)
    label_ids = rows.ratings.label_ids
    decided = rows.eligible & ~rows.needs_review & (rows.confidence >= project.review_threshold)
    decided &= np.array([bool(labels) for labels in rows.labels], dtype=bool)
    human = set(
        FinalLabel.objects.filter(image__project=project, method__in=HUMAN_DECISIONS).values_list(
            "image_id", flat=True
        )
    )
    FinalLabel.objects.filter(image__project=project, method=FinalLabelMethod.CONSENSUS).delete()
    chosen = [
        (int(image_id), [label_ids[i] for i in rows.labels[row]], float(rows.confidence[row]))
        for row, image_id in enumerate(rows.ratings.image_ids)
        if decided[row] and int(image_id) not in human
    ]
    finals = FinalLabel.objects.bulk_create(
        FinalLabel(image_id=image_id, method=FinalLabelMethod.CONSENSUS, confidence=confidence)
        for image_id, _, confidence in chosen
    )
    through = FinalLabel.labels.through
    through.objects.bulk_create(
        through(finallabel_id=final.pk, label_id=label_id)
        for final, (_, labels, _) in zip(finals, chosen, strict=True)
        for label_id in labels
    )
    return len(finals)


@transaction.atomic
def image_decide(
    *, project: Project, image_id: Any, labels: Any, decided_by: User, method: str
) -> FinalLabel:
    """Record a person's final label for an image: adjudicated (review) or gold."""
    if method not in HUMAN_DECISIONS:
        raise ValidationFailed(f"Unknown decision {method!r}.", field="method")
    chosen: list[Label] = labels_resolve(project=project, raw_labels=labels)
    image = _image(project, image_id)
    final, _ = FinalLabel.objects.update_or_create(
        image=image, defaults={"method": method, "confidence": 1.0, "decided_by": decided_by}
    )
    final.labels.set(chosen)
    return final


@transaction.atomic
def image_gold_clear(*, project: Project, image_id: Any) -> None:
    """Stop using an image as gold; consensus decides its label again."""
    image = _image(project, image_id)
    FinalLabel.objects.filter(image=image, method=FinalLabelMethod.GOLD).delete()


def _image(project: Project, image_id: Any) -> Image:
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise ValidationFailed("'image' must be an image id.", field="image")
    image = Image.objects.filter(pk=image_id, project=project).first()
    if image is None:
        raise ValidationFailed(f"Image {image_id} is not an image of this project.", field="image")
    return image
