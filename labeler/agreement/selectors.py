"""The agreement report of a project: every figure, from one query and array operations.

Reports are cached under a watermark of the project's annotations (count, last change,
last id) and final labels, so page views reuse a report until a label changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Count, Max

from labeler.agreement import metrics
from labeler.agreement.consensus import consensus
from labeler.agreement.ratings import Ratings, ratings_load
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.projects.models import Project

CACHE_SECONDS = 24 * 3600


CHANCE_CORRECTED = {"kappa_with_others", "consensus_kappa", "gold_kappa"}


def figure_json(figure: metrics.Figure, *, kappa: bool = True) -> dict[str, Any]:
    """A figure as the API shows it; kappa-like ones carry their Landis & Koch band."""
    return {**asdict(figure), "band": metrics.kappa_band(figure.value) if kappa else None}


def _watermark(project: Project) -> str:
    annotations = Annotation.objects.filter(project=project).aggregate(
        n=Count("id"), last=Max("updated_at"), top=Max("id")
    )
    finals = FinalLabel.objects.filter(image__project=project).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    parts = (annotations["n"], annotations["last"], annotations["top"], finals["n"], finals["last"])
    return ":".join(str(part) for part in parts)


def agreement_report(project: Project) -> dict[str, Any]:
    """The project's agreement figures, cached until its labels change."""
    mark = hashlib.sha256(f"{project.consensus_method}:{_watermark(project)}".encode()).hexdigest()
    key = f"agreement:{project.pk}:{mark}"
    report = cache.get(key)
    if report is None:
        report = agreement_compute(project)
        cache.set(key, report, CACHE_SECONDS)
    return report


def agreement_compute(project: Project) -> dict[str, Any]:
    """Every figure of the report (single-label projects and each label of multi-label ones)."""
    ratings = ratings_load(project)
    names = dict(User.objects.filter(pk__in=ratings.annotator_ids).values_list("pk", "username"))
    report: dict[str, Any] = {
        "project": project.pk,
        "multi_label": project.multi_label,
        "n_images": len(ratings.image_ids),
        "n_annotations": int((_rated(ratings)).sum()),
        "annotators": [
            {"id": int(a), "username": names.get(int(a), "")} for a in ratings.annotator_ids
        ],
        "labels": ratings.label_ids,
    }
    if ratings.label_sets is not None:
        report.update(_multi_label(ratings))
    else:
        report.update(_single_label(project, ratings))
    return report


def _rated(ratings: Ratings) -> np.ndarray:
    if ratings.label_sets is not None:
        return ratings.label_sets[:, :, 0] >= 0
    return ratings.codes >= 0


def _single_label(project: Project, ratings: Ratings) -> dict[str, Any]:
    codes, k = ratings.codes, ratings.k
    matrix = metrics.cohen_kappa_matrix(codes, k)
    ids = ratings.annotator_ids
    consensus = _consensus_codes(project, ratings)
    gold = _gold_codes(project, ratings)
    return {
        "cohen_kappa": {
            "mean": figure_json(metrics.cohen_kappa_mean(matrix)),
            "pairs": [
                {
                    "annotators": [int(ids[i]), int(ids[j])],
                    "agreement": _num(matrix.agreement[i, j]),
                    **figure_json(fig),
                }
                for i, j, fig in matrix.pairs()
            ],
        },
        "fleiss_kappa": figure_json(
            metrics.with_ci(metrics.fleiss_kappa(codes, k), metrics.fleiss_kappa, codes, k)
        ),
        "krippendorff_alpha": figure_json(metrics.krippendorff_alpha(codes, k)),
        "percent_agreement": figure_json(metrics.percent_agreement(codes, k), kappa=False),
        "per_label": [
            {
                "label": ratings.label_ids[f.category],
                "n_ratings": f.n_ratings,
                "kappa": figure_json(f.kappa),
                "specific_agreement": figure_json(f.specific_agreement, kappa=False),
            }
            for f in metrics.per_label(codes, k)
        ],
        "confusion": metrics.confusion_matrix(codes, k).tolist(),
        "per_annotator": [
            {
                "annotator": int(ids[f.annotator]),
                "n_rated": f.n_rated,
                "labels_per_hour": _per_hour(ratings, f.annotator),
                **{
                    name: figure_json(getattr(f, name), kappa=name in CHANCE_CORRECTED)
                    for name in (
                        "kappa_with_others",
                        "agreement_with_others",
                        "consensus_accuracy",
                        "consensus_kappa",
                        "gold_accuracy",
                        "gold_kappa",
                    )
                },
            }
            for f in metrics.per_annotator(codes, k, consensus, gold)
        ],
    }


def _multi_label(ratings: Ratings) -> dict[str, Any]:
    assert ratings.label_sets is not None
    per_label = []
    for index, codes in enumerate(metrics.binary_matrices(ratings.label_sets)):
        per_label.append(
            {
                "label": ratings.label_ids[index],
                "fleiss_kappa": figure_json(metrics.fleiss_kappa(codes, 2)),
                "krippendorff_alpha": figure_json(metrics.krippendorff_alpha(codes, 2)),
                "percent_agreement": figure_json(metrics.percent_agreement(codes, 2), kappa=False),
            }
        )
    return {
        "jaccard": figure_json(metrics.mean_jaccard(ratings.label_sets), kappa=False),
        "per_label": per_label,
    }


def _consensus_codes(project: Project, ratings: Ratings) -> np.ndarray:
    return consensus(ratings.codes, ratings.k, project.consensus_method).labels


def _gold_codes(project: Project, ratings: Ratings) -> np.ndarray:
    gold = np.full(len(ratings.image_ids), -1, dtype=np.int64)
    position = {label_id: i for i, label_id in enumerate(ratings.label_ids)}
    rows = {int(image_id): row for row, image_id in enumerate(ratings.image_ids)}
    finals = FinalLabel.objects.filter(
        image__project=project, method=FinalLabelMethod.GOLD
    ).values_list("image_id", "labels")
    for image_id, label_id in finals:
        if image_id in rows and label_id in position:
            gold[rows[image_id]] = position[label_id]
    return gold


def _per_hour(ratings: Ratings, column: int) -> float | None:
    spent = ratings.time_spent_ms[:, column]
    rated = ratings.codes[:, column] >= 0
    total_ms = int(spent[rated].sum())
    if total_ms <= 0:
        return None
    return float(rated.sum()) / (total_ms / 3_600_000)


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
