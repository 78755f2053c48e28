"""Agreement over time: the project's figures for each day or week, from the rating arrays.

An image belongs to the bucket of its latest rating: its agreement is known once its last
annotator has labelled it, so a week's figures are those of the images completed (so far)
that week, with every rating they have, whenever given. A rating's time is when its
annotation last changed. Days and weeks (Monday to Sunday) are those of the given time
zone. Every figure of every bucket comes from passes over the whole project's ratings that
key their sums by bucket (``metrics.group_sums``, ``metrics.pairs_by_group``), not from a
pass per bucket.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from labeler.agreement import metrics
from labeler.agreement.consensus import multi_label_majority
from labeler.agreement.metrics.counts import TIED
from labeler.agreement.metrics.figures import defined, undefined
from labeler.agreement.ratings import Ratings

Bucket = Literal["day", "week"]
BUCKETS: tuple[Bucket, ...] = ("day", "week")
# Up to this many days between the first and the last rating, points are days.
DAYS_UP_TO = 60
DAY = 86_400
NOT_TIMED = "no rating here recorded the time spent labelling"
NO_LABEL_DEFINED = "the figure is undefined for every label"

IntArray = npt.NDArray[np.int64]
# What metrics.pair_counts_with_groups gives: the whole project's pair counts, each group's.
Counted = tuple[metrics.PairCounts, list[metrics.PairCounts]]
Pace = tuple[float | None, str | None]  # (ratings per hour, None) or (None, why not)


@dataclass(frozen=True)
class AnnotatorPoint:
    """One annotator's figures over the images of one bucket (annotator is a column)."""

    annotator: int
    n_rated: int
    labels_per_hour: float | None
    labels_per_hour_reason: str | None
    agreement_with_others: metrics.Figure
    consensus_accuracy: metrics.Figure


@dataclass(frozen=True)
class Point:
    """The figures of the images whose latest rating falls in the bucket starting ``start``."""

    start: dt.date
    n_images: int
    n_annotations: int
    figures: dict[str, metrics.Figure]
    per_annotator: list[AnnotatorPoint]


@dataclass(frozen=True)
class OverTime:
    """The bucket size and one point per bucket, from the first to the last, gaps included."""

    bucket: Bucket
    points: list[Point]


def bucket_for(ratings: Ratings) -> Bucket:
    """'day' when the ratings span at most ``DAYS_UP_TO`` days, else 'week'."""
    # The rated cells' times gathered: masked reductions (where=) are several times slower.
    times = ratings.rated_at.reshape(-1)[np.flatnonzero(_rated(ratings))]
    if not times.size:
        return "day"
    return "week" if int(times.max() - times.min()) > DAYS_UP_TO * DAY else "day"


def bucket_index(seconds: IntArray, bucket: Bucket, zone: dt.tzinfo) -> IntArray:
    """The bucket of each unix time, as the local day number (since 1970-01-01) it starts on."""
    days = (seconds + _utc_offsets(seconds, zone)) // DAY
    if bucket == "week":
        # 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
        days = days - (days + 3) % 7
    return days.astype(np.int64)


@dataclass(frozen=True)
class Buckets:
    """Which bucket each image (row) is in: ``groups[i]``, 0 for the first, which starts on
    day ``first`` (local days since 1970-01-01); ``step`` days a bucket."""

    bucket: Bucket
    groups: IntArray
    n_groups: int
    first: int
    step: int


def buckets_of(ratings: Ratings, bucket: Bucket, zone: dt.tzinfo) -> Buckets:
    """Each image in the bucket of its latest rating (no bucket at all when none is rated)."""
    step = 7 if bucket == "week" else 1
    if not _rated(ratings).any():
        return Buckets(bucket, np.zeros(len(ratings.image_ids), np.int64), 0, 0, step)
    last = ratings.rated_at.max(axis=1)  # 0 where not rated, so the latest rating wins
    starts = bucket_index(last, bucket, zone)
    first = int(starts.min())
    groups = (starts - first) // step
    return Buckets(bucket, groups, int(groups.max()) + 1, first, step)


def over_time(
    ratings: Ratings,
    consensus: IntArray,
    bucket: Bucket,
    zone: dt.tzinfo,
) -> OverTime:
    """The figures of every bucket; ``consensus`` is one code per image (-1 none, ``TIED``
    its raters tied).

    For multi-label ratings ``consensus`` is ignored (each label's majority is used).
    """
    return over_time_of(ratings, consensus, buckets_of(ratings, bucket, zone))


def over_time_of(
    ratings: Ratings,
    consensus: IntArray | Future[IntArray],
    buckets: Buckets,
    counted: Future[Counted | None] | None = None,
    terms: metrics.Terms | None = None,
) -> OverTime:
    """``over_time`` in the given buckets. ``counted``, where given, is a future of
    ``metrics.pair_counts_with_groups`` in these buckets (None: not counted there), whose
    pair counts of each bucket are then not counted again, and ``terms`` are
    ``metrics.terms_of`` the codes. The futures are waited for once the figures that do not
    need them are done."""
    groups, n_groups, step = buckets.groups, buckets.n_groups, buckets.step
    if n_groups == 0:
        return OverTime(bucket=buckets.bucket, points=[])
    rated = _rated(ratings)
    pace = labels_per_hour(ratings.time_spent_ms, rated, groups, n_groups)
    n_images = np.bincount(groups, minlength=n_groups).tolist()
    n_annotations = np.bincount(groups, weights=rated.sum(axis=1), minlength=n_groups)
    if ratings.label_sets is None:
        figures, raw = _single_label_figures(
            ratings.codes, ratings.k, consensus, buckets, counted, terms
        )
    else:
        figures = _multi_label_figures(ratings.label_sets, groups, n_groups)
        raw = _multi_label_raw(ratings.label_sets, groups, n_groups)
    return OverTime(
        bucket=buckets.bucket,
        points=[
            Point(
                start=_date(buckets.first + group * step),
                n_images=n_images[group],
                n_annotations=int(n_annotations[group]),
                figures={name: values[group] for name, values in figures.items()},
                per_annotator=_annotators(raw[group], pace[group]),
            )
            for group in range(n_groups)
        ],
    )


def labels_per_hour(
    time_spent_ms: npt.NDArray[np.signedinteger[Any]],
    rated: npt.NDArray[np.bool_],
    groups: IntArray | None = None,
    n_groups: int = 1,
) -> list[list[Pace]]:
    """Each column's labelling pace in each group of rows: [group][column].

    A pace is (ratings per hour, None), or (None, the reason) when no rating has a time.
    Only ratings with a recorded time (``time_spent_ms`` > 0) count, in the numerator and
    the denominator alike, so ratings from clients that sent no time neither inflate nor
    deflate the pace. Without ``groups`` every row is in the one group.
    """
    size = rated.shape[1]
    if groups is None:
        groups = np.zeros(rated.shape[0], dtype=np.int64)
    cells = np.flatnonzero(rated & (time_spent_ms > 0))
    row = cells // size
    group = groups[row]
    key = (group * size + cells - row * size)[group >= 0]
    spent = time_spent_ms.reshape(-1)[cells][group >= 0]
    n_timed = np.bincount(key, minlength=n_groups * size).tolist()
    hours = (np.bincount(key, weights=spent, minlength=n_groups * size) / 3_600_000).tolist()
    paces: list[Pace] = [
        (n / h, None) if n else (None, NOT_TIMED) for n, h in zip(n_timed, hours, strict=True)
    ]
    return [paces[g * size : (g + 1) * size] for g in range(n_groups)]


def _single_label_figures(
    codes: IntArray,
    k: int,
    consensus: IntArray | Future[IntArray],
    buckets: Buckets,
    counted: Future[Counted | None] | None,
    terms: metrics.Terms | None,
) -> tuple[dict[str, list[metrics.Figure]], list[list[metrics.RawAgreement]]]:
    """Every bucket's project figures and each annotator's raw agreement, all at once."""
    groups, n_groups = buckets.groups, buckets.n_groups
    sums = metrics.group_sums(codes, k, groups, n_groups, terms)
    if isinstance(consensus, Future):
        consensus = consensus.result()
    found = None if counted is None else counted.result()
    counts = None if found is None else found[1]
    pairs = metrics.pairs_by_group(codes, k, consensus, groups, n_groups, counts)
    figures = {
        "cohen_kappa_mean": [metrics.cohen_kappa_mean(group.matrix) for group in pairs],
        "fleiss_kappa": metrics.fleiss_kappa_of(sums),
        "krippendorff_alpha": metrics.krippendorff_alpha_of(sums),
        "percent_agreement": metrics.percent_agreement_of(sums),
    }
    return figures, [group.annotators for group in pairs]


def _multi_label_figures(
    label_sets: npt.NDArray[np.int8], groups: IntArray, n_groups: int
) -> dict[str, list[metrics.Figure]]:
    """Every bucket's mean Jaccard and percent agreement (the mean over labels)."""
    per_label = [
        metrics.percent_agreement_of(metrics.group_sums(codes, 2, groups, n_groups))
        for codes in metrics.binary_matrices(label_sets)
    ]
    return {
        "jaccard": [metrics.mean_jaccard(label_sets[groups == g]) for g in range(n_groups)],
        "percent_agreement": [
            _mean_figure([figures[g] for figures in per_label]) for g in range(n_groups)
        ],
    }


def _multi_label_raw(
    label_sets: npt.NDArray[np.int8], groups: IntArray, n_groups: int
) -> list[list[metrics.RawAgreement]]:
    """Per bucket and annotator, the mean over labels of raw agreement (others, majority;
    a label whose raters tied counts as not agreeing)."""
    majority = multi_label_majority(label_sets).labels.astype(np.int64)
    rated = np.any(label_sets[:, :, 0] >= 0, axis=1, keepdims=True)
    majority = np.where(rated & (majority < 0), TIED, majority)
    by_label = [
        [
            group.annotators
            for group in metrics.pairs_by_group(codes, 2, majority[:, label], groups, n_groups)
        ]
        for label, codes in enumerate(metrics.binary_matrices(label_sets))
    ]
    return [
        [
            metrics.RawAgreement(
                n_rated=by_label[0][g][column].n_rated,
                with_others=_mean_figure([raw[g][column].with_others for raw in by_label]),
                with_reference=_mean_figure([raw[g][column].with_reference for raw in by_label]),
            )
            for column in range(label_sets.shape[1])
        ]
        for g in range(n_groups)
    ]


def _annotators(raw: list[metrics.RawAgreement], pace: list[Pace]) -> list[AnnotatorPoint]:
    """The bucket's figures of the annotators who rated any of its images, in column order."""
    return [
        AnnotatorPoint(
            annotator=column,
            n_rated=figures.n_rated,
            labels_per_hour=pace[column][0],
            labels_per_hour_reason=pace[column][1],
            agreement_with_others=figures.with_others,
            consensus_accuracy=figures.with_reference,
        )
        for column, figures in enumerate(raw)
        if figures.n_rated
    ]


def _mean_figure(figures: list[metrics.Figure]) -> metrics.Figure:
    """The plain mean of the defined figures; n_items is the largest of theirs."""
    values = [f.value for f in figures if f.value is not None]
    n_items = max((f.n_items for f in figures), default=0)
    if not values:
        reasons = {f.reason for f in figures if f.reason}
        return undefined(reasons.pop() if len(reasons) == 1 else NO_LABEL_DEFINED, n_items)
    return defined(sum(values) / len(values), n_items)


def _rated(ratings: Ratings) -> npt.NDArray[np.bool_]:
    if ratings.label_sets is not None:
        return ratings.label_sets[:, :, 0] >= 0
    return ratings.codes >= 0


def _utc_offsets(seconds: IntArray, zone: dt.tzinfo) -> IntArray:
    """The zone's UTC offset in seconds at each time, looked up once per distinct hour.

    Offsets change on the hour in every zone in use today, so the hour decides.
    """
    hours, inverse = np.unique(seconds // 3600, return_inverse=True)
    offsets = [
        _offset(dt.datetime.fromtimestamp(int(hour) * 3600, tz=zone)) for hour in hours.tolist()
    ]
    return np.asarray(offsets, dtype=np.int64)[inverse.reshape(-1)]


def _offset(moment: dt.datetime) -> int:
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)
