"""The agreement report of a project: every figure, from one query and array operations.

Reports are cached under a watermark of the project's annotations (count, last change,
last id) and final labels, so page views reuse a report until a label changes. The
report's ``over_time`` holds the figures per day or week (see ``over_time``).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db.models import Count, Max
from django.utils import timezone

from labeler import cache_keys
from labeler.agreement import metrics
from labeler.agreement.consensus import consensus_reference
from labeler.agreement.needs_help import needs_help, rules
from labeler.agreement.over_time import (
    BUCKETS,
    Bucket,
    Buckets,
    Counted,
    OverTime,
    Pace,
    bucket_for,
    buckets_of,
    labels_per_hour,
    over_time_of,
)
from labeler.agreement.ratings import Ratings, ratings_load
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.cached import cached
from labeler.projects.models import Project

CACHE_SECONDS = 24 * 3600
# Part of the cache key: a report computed by an older version of this module (other
# fields) is not served once the module changes.
REPORT_VERSION = 3


CHANCE_CORRECTED = {"kappa_with_others", "consensus_kappa", "gold_kappa"}
OVER_TIME_CHANCE_CORRECTED = {"cohen_kappa_mean", "fleiss_kappa", "krippendorff_alpha"}


def figure_json(figure: metrics.Figure, *, kappa: bool = True) -> dict[str, Any]:
    """A figure as the API shows it; kappa-like ones carry their Landis & Koch band."""
    # Spelled out rather than dataclasses.asdict, which deep-copies: reports hold thousands.
    return {
        "value": figure.value,
        "reason": figure.reason,
        "n_items": figure.n_items,
        "ci_low": figure.ci_low,
        "ci_high": figure.ci_high,
        "band": metrics.kappa_band(figure.value) if kappa else None,
    }


def _watermark(project: Project) -> str:
    """A string that changes whenever the project's annotations or final labels change.

    The newest annotation id comes from its own query (a backward scan of the primary
    key that stops at the project's newest annotation), and final labels are found
    through their labels, which belong to the project, rather than through its images.
    """
    annotations = Annotation.objects.filter(project=project)
    counts = annotations.aggregate(n=Count("id"), last=Max("updated_at"))
    top = annotations.order_by("-id").values_list("id", flat=True).first()
    finals = FinalLabel.objects.filter(labels__project=project).aggregate(
        n=Count("id"), last=Max("updated_at")
    )
    parts = (counts["n"], counts["last"], top, finals["n"], finals["last"])
    return ":".join(str(part) for part in parts)


def agreement_report(project: Project, bucket: Bucket | None = None) -> dict[str, Any]:
    """The project's agreement figures, cached until its labels change.

    ``bucket`` ("day" or "week") sets the points of ``over_time``; by default days when the
    ratings span at most 60 days, else weeks.
    """
    settings = (
        f"{REPORT_VERSION}:{project.consensus_method}:{bucket or 'auto'}:"
        f"{timezone.get_current_timezone()}"
    )
    mark = hashlib.sha256(f"{settings}:{_watermark(project)}".encode()).hexdigest()
    key = cache_keys.agreement_report(project.pk, mark)
    return cached(key, lambda: agreement_compute(project, bucket), CACHE_SECONDS)


def agreement_compute(project: Project, bucket: Bucket | None = None) -> dict[str, Any]:
    """Every figure of the report (single-label projects and each label of multi-label ones)."""
    if bucket is not None and bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, not {bucket!r}.")
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
        "needs_help_rules": rules(),
    }
    buckets = buckets_of(ratings, bucket or bucket_for(ratings), timezone.get_current_timezone())

    # Numpy releases the GIL in its array loops, so the consensus and the count of every
    # pair of ratings (for the whole project and each bucket at once), then the over-time
    # figures (none of them touches the database), run on two more threads while this one
    # computes the project's figures. The figures that need the consensus wait for it
    # last: Dawid-Skene's takes as long as the rest of the work of one thread.
    with ThreadPoolExecutor(max_workers=2) as pool:
        labels = pool.submit(_consensus_codes, project, ratings)
        counted = pool.submit(_pair_counts, ratings, buckets)
        if ratings.label_sets is not None:
            points = pool.submit(over_time_of, ratings, labels, buckets, counted)
            report.update(_multi_label(ratings))
        else:
            # Each image's category counts, and the distinct terms made of them, serve
            # Fleiss, alpha, raw agreement and the per-label figures, their bootstrap, the
            # confusion matrix and the same figures week by week: counted once, here.
            counts = metrics.dense_counts(ratings.codes, ratings.k)
            terms = metrics.terms_of(ratings.codes, ratings.k, counts)
            points = pool.submit(over_time_of, ratings, labels, buckets, counted, terms)
            shared = _Shared(counts, terms, labels, counted)
            report.update(_single_label(project, ratings, shared))
        report["over_time"] = _over_time_json(points.result(), ratings.annotator_ids)
    return report


def _pair_counts(ratings: Ratings, buckets: Buckets) -> Counted | None:
    """The single-label ratings' pair counts over the project and in each bucket."""
    if ratings.label_sets is not None or buckets.n_groups == 0:
        return None
    return metrics.pair_counts_with_groups(
        ratings.codes, ratings.k, buckets.groups, buckets.n_groups
    )


def _rated(ratings: Ratings) -> np.ndarray:
    if ratings.label_sets is not None:
        return ratings.label_sets[:, :, 0] >= 0
    return ratings.codes >= 0


@dataclass(frozen=True)
class _Shared:
    """What the single-label figures share with the rest of the report."""

    counts: np.ndarray | None  # metrics.dense_counts
    terms: metrics.Terms
    consensus: Future[np.ndarray]
    pairs: Future[Counted | None]


def _single_label(project: Project, ratings: Ratings, shared: _Shared) -> dict[str, Any]:
    codes, k = ratings.codes, ratings.k
    gold = _gold_codes(project, ratings)
    sums = metrics.tally(codes, k, shared.counts)
    pooled = metrics.GroupSums.of(sums)
    (fleiss,) = metrics.fleiss_kappa_of(pooled)
    interval = metrics.with_ci(fleiss, metrics.fleiss_kappa, codes, k, terms=shared.terms)
    report = {
        "fleiss_kappa": figure_json(interval),
        "krippendorff_alpha": figure_json(metrics.krippendorff_alpha_of(pooled)[0]),
        "percent_agreement": figure_json(metrics.percent_agreement_of(pooled)[0], kappa=False),
        "per_label": [
            {
                "label": ratings.label_ids[f.category],
                "n_ratings": f.n_ratings,
                "kappa": figure_json(f.kappa),
                "specific_agreement": figure_json(f.specific_agreement, kappa=False),
            }
            for f in metrics.per_label_of(sums)
        ],
        "confusion": metrics.confusion_matrix(codes, k, shared.counts).tolist(),
    }
    # Before waiting for the consensus, which Dawid-Skene's makes the longest wait.
    (pace,) = labels_per_hour(ratings.time_spent_ms, codes >= 0)
    counted = shared.pairs.result()
    whole = None if counted is None else counted[0]
    consensus = shared.consensus.result()
    matrix, annotators = metrics.annotator_figures(codes, k, consensus, gold, whole)
    return {
        "cohen_kappa": {
            "mean": figure_json(metrics.cohen_kappa_mean(matrix)),
            "pairs": _pairs_json(matrix, ratings.annotator_ids),
        },
        **report,
        "per_annotator": needs_help(_per_annotator_json(ratings, annotators, pace)),
    }


def _pairs_json(matrix: metrics.PairMatrix, ids: np.ndarray) -> list[dict[str, Any]]:
    return [
        {
            "annotators": [int(ids[i]), int(ids[j])],
            "agreement": _num(matrix.agreement[i, j]),
            **figure_json(fig),
        }
        for i, j, fig in matrix.pairs()
    ]


def _per_annotator_json(
    ratings: Ratings, figures: list[metrics.AnnotatorFigures], pace: list[Pace]
) -> list[dict[str, Any]]:
    ids = ratings.annotator_ids
    return [
        {
            "annotator": int(ids[f.annotator]),
            "n_rated": f.n_rated,
            "labels_per_hour": pace[f.annotator][0],
            "labels_per_hour_reason": pace[f.annotator][1],
            # Of consensus_accuracy's n_items, the images whose raters tied (not agreeing).
            "consensus_ties": f.consensus_ties,
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
        for f in figures
    ]


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
    """Each image's consensus label index by the project's method (-1: none, multi-label;
    ``TIED``: its raters tied, which counts as not agreeing)."""
    if ratings.label_sets is not None:  # over time, each label's majority is used instead
        return np.full(len(ratings.image_ids), -1, dtype=np.int64)
    return consensus_reference(ratings.codes, ratings.k, project.consensus_method)


def _gold_codes(project: Project, ratings: Ratings) -> np.ndarray:
    """Each image row's gold label index, -1 where it has none."""
    gold = np.full(len(ratings.image_ids), -1, dtype=np.int64)
    finals = (
        # Through the labels (the project's), not the images: no scan of the images table.
        FinalLabel.objects.filter(method=FinalLabelMethod.GOLD, labels__project=project)
        .order_by()
        .values_list("image_id", "labels")
    )
    pairs = np.array(list(finals), dtype=np.int64).reshape(-1, 2)
    rows = _positions(ratings.image_ids, pairs[:, 0])
    labels = _positions(np.asarray(ratings.label_ids, dtype=np.int64), pairs[:, 1])
    known = (rows >= 0) & (labels >= 0)
    gold[rows[known]] = labels[known]
    return gold


def _positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The index of each wanted id in ``ids``, -1 where it is not there."""
    if ids.size == 0:
        return np.full(wanted.size, -1, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    found = np.searchsorted(ids[order], wanted).clip(0, ids.size - 1)
    return np.where(ids[order][found] == wanted, order[found], -1)


def _over_time_json(result: OverTime, ids: np.ndarray) -> dict[str, Any]:
    """The points of ``over_time`` as the API shows them, figures as everywhere else."""
    return {
        "bucket": result.bucket,
        "points": [
            {
                "start": point.start.isoformat(),
                "n_images": point.n_images,
                "n_annotations": point.n_annotations,
                **{
                    name: figure_json(figure, kappa=name in OVER_TIME_CHANCE_CORRECTED)
                    for name, figure in point.figures.items()
                },
                "per_annotator": [
                    {
                        "annotator": int(ids[row.annotator]),
                        "n_rated": row.n_rated,
                        "labels_per_hour": row.labels_per_hour,
                        "labels_per_hour_reason": row.labels_per_hour_reason,
                        "agreement_with_others": figure_json(
                            row.agreement_with_others, kappa=False
                        ),
                        "consensus_accuracy": figure_json(row.consensus_accuracy, kappa=False),
                    }
                    for row in point.per_annotator
                ],
            }
            for point in result.points
        ],
    }


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
