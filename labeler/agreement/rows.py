"""The consensus of every rated image of a project, as arrays, and which final labels are people's.

Reads shared by the final labels (services), the consensus endpoint and the review queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labeler.agreement.consensus import consensus as consensus_compute
from labeler.agreement.consensus import multi_label_majority
from labeler.agreement.ratings import Ratings, ratings_load
from labeler.annotations.models import FinalLabelMethod
from labeler.images.models import Image
from labeler.projects.models import OverlapMode, Project

HUMAN_DECISIONS = (FinalLabelMethod.ADJUDICATED, FinalLabelMethod.GOLD)
# Final labels settled outside consensus (a person's decision, a machine label a person
# confirmed, labels imported with their images): consensus never replaces them.
SETTLED = (*HUMAN_DECISIONS, FinalLabelMethod.MACHINE, FinalLabelMethod.IMPORTED)


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

    An image is eligible for a final label once ``overlap`` annotators labelled it; under
    adaptive overlap, once it has every annotator it asked for (it is complete).
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
    eligible = rated >= project.overlap
    if project.overlap_mode == OverlapMode.ADAPTIVE:
        waiting = Image.objects.filter(
            project=project, is_complete=False, annotation_count__gt=0
        ).values_list("id", flat=True)
        eligible &= ~np.isin(ratings.image_ids, np.fromiter(waiting, dtype=np.int64))
    return ConsensusRows(
        ratings=ratings,
        labels=labels,
        confidence=np.asarray(confidence, dtype=float),
        needs_review=np.asarray(needs_review, dtype=bool),
        eligible=eligible,
        unanimous=unanimous,
    )


def _unanimous_codes(codes: np.ndarray) -> np.ndarray:
    if codes.shape[1] == 0:  # nobody has labelled anything yet
        return np.zeros(codes.shape[0], dtype=bool)
    rated = codes >= 0
    high = np.where(rated, codes, -1).max(axis=1)
    low = np.where(rated, codes, np.iinfo(codes.dtype).max).min(axis=1)
    return rated.any(axis=1) & (high == low)


def _unanimous_sets(label_sets: np.ndarray) -> np.ndarray:
    rated = label_sets[:, :, 0] >= 0
    ones = np.where(rated[:, :, None], label_sets, 0).sum(axis=1)
    n = rated.sum(axis=1)[:, None]
    return (n[:, 0] > 0) & np.all((ones == 0) | (ones == n), axis=1)
