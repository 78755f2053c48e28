"""Annotators' time and throughput per period: what a team pays and coaches by.

For each annotator and day, week or month (of the current time zone): the labels they
gave (an annotation counts in the period of its last change), their active time, labels
per hour, how often they agree with the consensus, and their accuracy on gold images.

Active time is the time the labelling page recorded on each image (``time_spent_ms``),
each image's time capped at ``LABELER_ACTIVE_TIME_CAP_SECONDS``: time beyond it is an
idle gap (a coffee break with the page open), not work. Labels per hour count only the
labels with a recorded time, over those labels' active time, so clients that send no
time neither inflate nor deflate it. Agreement with the consensus counts only images
labelled by at least two people (one person's label is its own consensus), and an image
whose labellers tied (no consensus) counts as not agreeing, its count shown apart; every
figure carries the number of labels it stands on, so a rate from three images is shown
as what it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from labeler.agreement.consensus import consensus_reference, multi_label_majority
from labeler.agreement.metrics.counts import TIED
from labeler.agreement.over_time import bucket_index
from labeler.agreement.ratings import Ratings, ratings_load
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.errors import ValidationFailed
from labeler.projects.models import Project

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# Below this many labels a rate is shown faint, with its n: it may be chance.
FEW = 10

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ThroughputRow:
    """One annotator's figures over one period."""

    period_start: dt.date
    annotator_id: int
    username: str
    labels: int
    timed_labels: int
    active_seconds: float
    labels_per_hour: float | None
    consensus_n: int
    consensus_agreed: int
    consensus_ties: int
    gold_n: int
    gold_correct: int

    @property
    def active_minutes(self) -> float:
        return self.active_seconds / 60

    @property
    def consensus_rate(self) -> float | None:
        return self.consensus_agreed / self.consensus_n if self.consensus_n else None

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_n if self.gold_n else None


@dataclass(frozen=True)
class References:
    """What each rating is compared with: per image, whether a reference exists, and
    whether each annotator's rating matches it (images x annotators)."""

    known: BoolArray
    matches: BoolArray
    # Per image: known, yet with no consensus (its raters tied); None for gold.
    tied: BoolArray | None = None


def period_index(seconds: IntArray, period: Period, zone: dt.tzinfo) -> IntArray:
    """Each unix time's period, as the local day number (since 1970-01-01) it starts on."""
    if period != "month":
        return bucket_index(seconds, period, zone)
    days = bucket_index(seconds, "day", zone)
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def throughput_rows(
    ratings: Ratings,
    consensus_ref: References,
    gold_ref: References,
    *,
    period: Period,
    zone: dt.tzinfo,
    cap_ms: int,
) -> list[tuple[int, int, list[float]]]:
    """(period start day, annotator column, figures) for each annotator active in a period.

    The figures, in order: labels, timed labels, active ms, consensus n, consensus agreed,
    consensus ties, gold n, gold correct. Pure: arrays in, numbers out.
    """
    rated = _rated(ratings)
    rows, cols = np.nonzero(rated)
    if rows.size == 0:
        return []
    starts = period_index(ratings.rated_at[rows, cols], period, zone)
    days, group = np.unique(starts, return_inverse=True)
    size = rated.shape[1]
    key = group.reshape(-1) * size + cols
    # Widened: the ratings hold int32, and a cap set beyond its range (about 24.8 days,
    # "no cap") would not compare with it.
    spent = ratings.time_spent_ms[rows, cols].astype(np.int64)
    timed = spent > 0
    in_consensus = consensus_ref.known[rows]
    tied = consensus_ref.tied
    on_gold = gold_ref.known[rows]
    columns = [
        np.ones(rows.size),
        timed,
        np.minimum(spent, cap_ms) * timed,
        in_consensus,
        in_consensus & consensus_ref.matches[rows, cols],
        np.zeros(rows.size) if tied is None else in_consensus & tied[rows],
        on_gold,
        on_gold & gold_ref.matches[rows, cols],
    ]
    length = len(days) * size
    sums = np.stack([np.bincount(key, weights=c, minlength=length) for c in columns], axis=1)
    active = np.flatnonzero(sums[:, 0])
    return [(int(days[k // size]), int(k % size), sums[k].tolist()) for k in active.tolist()]


def consensus_references(project: Project, ratings: Ratings) -> References:
    """The consensus of each image labelled by two or more people, and who matches it.

    An image whose labellers tied (on any label, multi-label) has no consensus, and no
    rating of it matches: it is known and tied.
    """
    rated = _rated(ratings)
    shared = rated.sum(axis=1) >= 2
    if ratings.label_sets is not None:
        majority = multi_label_majority(ratings.label_sets).labels
        tied = shared & (majority < 0).any(axis=1)
        matches = (ratings.label_sets == majority[:, None, :]).all(axis=2)
        return References(known=shared, matches=matches & rated, tied=tied)
    codes = consensus_reference(ratings.codes, ratings.k, project.consensus_method)
    matches = (ratings.codes == codes[:, None]) & rated
    return References(known=shared, matches=matches, tied=shared & (codes == TIED))


def gold_references(ratings: Ratings) -> References:
    """Each gold image's labels (set by a lead), and who gave exactly them."""
    n_images, k = len(ratings.image_ids), ratings.k
    gold = np.zeros((n_images, max(k, 1)), dtype=np.int8)
    known = np.zeros(n_images, dtype=bool)
    pairs = np.array(
        list(
            FinalLabel.objects.filter(
                method=FinalLabelMethod.GOLD, labels__pk__in=ratings.label_ids
            )
            .order_by()
            .values_list("image_id", "labels")
        ),
        dtype=np.int64,
    ).reshape(-1, 2)
    rows = _positions(ratings.image_ids, pairs[:, 0])
    labels = _positions(np.asarray(ratings.label_ids, dtype=np.int64), pairs[:, 1])
    ok = (rows >= 0) & (labels >= 0)
    gold[rows[ok], labels[ok]] = 1
    known[rows[ok]] = True
    if ratings.label_sets is not None:
        matches = (ratings.label_sets == gold[:, None, :k]).all(axis=2)
    else:  # one gold label per image: compare codes, not label sets
        code = np.where(known, gold.argmax(axis=1), -1)
        matches = ratings.codes == code[:, None]
    return References(known=known, matches=matches & _rated(ratings))


def annotator_throughput(
    project: Project,
    *,
    period: str = "week",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[ThroughputRow]:
    """Every annotator's figures per period, newest period first, then by username.

    ``since`` and ``until`` (inclusive) keep the periods that start within them.
    Raises ValidationFailed for an unknown period or a range that ends before it starts.
    """
    if period not in PERIODS:
        raise ValidationFailed(
            f"period must be one of {', '.join(PERIODS)}, not {period!r}.", field="period"
        )
    if since and until and until < since:
        raise ValidationFailed("The range ends before it starts.", field="until")
    ratings = ratings_load(project)
    raw = throughput_rows(
        ratings,
        consensus_references(project, ratings),
        gold_references(ratings),
        period=period,
        zone=timezone.get_current_timezone(),
        cap_ms=settings.LABELER_ACTIVE_TIME_CAP_SECONDS * 1000,
    )
    ids = [int(a) for a in ratings.annotator_ids]
    names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
    rows = [_row(day, ids[col], names.get(ids[col], ""), figures) for day, col, figures in raw]
    rows = [r for r in rows if (not since or r.period_start >= since)]
    rows = [r for r in rows if (not until or r.period_start <= until)]
    rows.sort(key=lambda r: (-r.period_start.toordinal(), r.username.casefold()))
    return rows


def _row(day: int, annotator_id: int, username: str, figures: list[float]) -> ThroughputRow:
    labels, timed, active_ms, c_n, c_ok, c_tied, g_n, g_ok = figures
    hours = active_ms / 3_600_000
    return ThroughputRow(
        period_start=dt.date(1970, 1, 1) + dt.timedelta(days=day),
        annotator_id=annotator_id,
        username=username,
        labels=int(labels),
        timed_labels=int(timed),
        active_seconds=round(active_ms / 1000, 1),
        labels_per_hour=round(timed / hours, 1) if hours > 0 else None,
        consensus_n=int(c_n),
        consensus_agreed=int(c_ok),
        consensus_ties=int(c_tied),
        gold_n=int(g_n),
        gold_correct=int(g_ok),
    )


def _rated(ratings: Ratings) -> BoolArray:
    if ratings.label_sets is not None:
        return ratings.label_sets[:, :, 0] >= 0
    return ratings.codes >= 0


def _positions(ids: IntArray, wanted: IntArray) -> IntArray:
    """The index of each wanted id in ``ids``, -1 where it is not there."""
    if ids.size == 0 or wanted.size == 0:
        return np.full(wanted.size, -1, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    found = np.searchsorted(ids[order], wanted).clip(0, ids.size - 1)
    return np.where(ids[order][found] == wanted, order[found], -1)
