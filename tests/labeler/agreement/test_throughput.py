"""Annotators' time and throughput per period: labels, capped active time, pace, agreement
with the consensus (shared images only) and gold accuracy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from labeler.agreement.services import image_decide
from labeler.agreement.throughput import annotator_throughput, period_index
from labeler.annotations.models import Annotation
from labeler.errors import ValidationFailed
from labeler.projects.models import Role
from tests.factories import ProjectFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def label(project, user, image, name, ms=None):
    annotation, _ = annotation_submit(
        project=project, annotator=user, image_id=image.pk, labels=[name], time_spent_ms=ms
    )
    return annotation


def move(annotation, when: dt.datetime) -> None:
    Annotation.objects.filter(pk=annotation.pk).update(updated_at=when)


def by_user(rows):
    return {(r.username, r.period_start.isoformat()): r for r in rows}


def test_periods_start_on_the_day_the_monday_and_the_first_of_the_month():
    moment = int(dt.datetime(2026, 3, 19, 15, 0, tzinfo=UTC).timestamp())  # a Thursday
    seconds = np.array([moment], dtype=np.int64)
    starts = {p: period_index(seconds, p, UTC)[0] for p in ("day", "week", "month")}
    day = dt.date(1970, 1, 1)
    assert {p: (day + dt.timedelta(days=int(v))).isoformat() for p, v in starts.items()} == {
        "day": "2026-03-19",
        "week": "2026-03-16",
        "month": "2026-03-01",
    }


def test_active_time_caps_idle_gaps_and_pace_counts_timed_labels_only(
    project, annotator, make_images, settings
):
    settings.LABELER_ACTIVE_TIME_CAP_SECONDS = 60
    images = make_images(project, 4)
    # 30 s, 45 s, a 20-minute gap (capped to 60 s), and one label without a time.
    for image, ms in zip(images, [30_000, 45_000, 1_200_000, None], strict=True):
        label(project, annotator, image, "cat", ms)
    (row,) = annotator_throughput(project, period="day")
    assert (row.labels, row.timed_labels, row.active_seconds) == (4, 3, 135.0)
    assert row.labels_per_hour == pytest.approx(3 / (135 / 3600), abs=0.1)


def test_a_cap_beyond_the_ratings_int32_times_caps_nothing(
    project, annotator, make_images, settings
):
    """A cap of 30 days (more milliseconds than an int32 holds) keeps every time whole."""
    settings.LABELER_ACTIVE_TIME_CAP_SECONDS = 30 * 24 * 3600
    images = make_images(project, 2)
    for image, ms in zip(images, [30_000, 3_600_000], strict=True):
        label(project, annotator, image, "cat", ms)
    (row,) = annotator_throughput(project, period="day")
    assert row.active_seconds == 3_630.0


def test_agreement_counts_shared_images_and_gold_accuracy_counts_gold_ones(
    project, lead, annotator, annotator2, make_images
):
    shared_agreed, shared_split, alone, gold = make_images(project, 4)
    for user in (annotator, annotator2):
        label(project, user, shared_agreed, "dog")
    label(project, annotator, shared_split, "cat")
    label(project, annotator2, shared_split, "bird")
    label(project, annotator, alone, "cat")  # one person: its own consensus, not counted
    label(project, annotator, gold, "cat")
    label(project, annotator2, gold, "dog")
    image_decide(project=project, image_id=gold.pk, labels=["dog"], decided_by=lead, method="gold")
    rows = {r.username: r for r in annotator_throughput(project, period="month")}
    one, two = rows["ann1"], rows["ann2"]
    assert one.labels == 4 and two.labels == 3
    # Agreed image: both match. Split image and gold image: a tie, no consensus (majority
    # vote), so neither agrees there: counted, as ties, not left out.
    assert (one.consensus_n, one.consensus_agreed, one.consensus_ties) == (3, 1, 2)
    assert (two.consensus_n, two.consensus_agreed, two.consensus_ties) == (3, 1, 2)
    assert (one.gold_n, one.gold_correct, one.gold_accuracy) == (1, 0, 0.0)
    assert (two.gold_n, two.gold_correct, two.gold_accuracy) == (1, 1, 1.0)


def test_rows_per_period_newest_first_and_a_range_keeps_its_periods(
    project, annotator, annotator2, make_images
):
    a, b, c = make_images(project, 3)
    move(label(project, annotator, a, "cat", 10_000), dt.datetime(2026, 1, 5, 10, tzinfo=UTC))
    move(label(project, annotator, b, "cat", 10_000), dt.datetime(2026, 1, 20, 10, tzinfo=UTC))
    move(label(project, annotator2, c, "dog", 10_000), dt.datetime(2026, 1, 21, 10, tzinfo=UTC))
    rows = annotator_throughput(project, period="week")
    assert [(r.period_start.isoformat(), r.username, r.labels) for r in rows] == [
        ("2026-01-19", "ann1", 1),
        ("2026-01-19", "ann2", 1),
        ("2026-01-05", "ann1", 1),
    ]
    monthly = annotator_throughput(project, period="month")
    assert [(r.username, r.labels) for r in monthly] == [("ann1", 2), ("ann2", 1)]
    kept = annotator_throughput(project, period="week", since=dt.date(2026, 1, 10))
    assert {r.period_start for r in kept} == {dt.date(2026, 1, 19)}


def test_a_project_without_labels_has_no_rows(project):
    assert annotator_throughput(project, period="day") == []


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"period": "year"}, "period"),
        ({"since": dt.date(2026, 2, 1), "until": dt.date(2026, 1, 1)}, "until"),
    ],
)
def test_bad_periods_and_ranges_are_refused(project, kwargs, field):
    with pytest.raises(ValidationFailed) as refused:
        annotator_throughput(project, **kwargs)
    assert refused.value.field == field


def test_multi_label_agreement_is_on_the_whole_set(annotator, annotator2, lead, make_images):
    project = ProjectFactory(multi_label=True, overlap=2)
    for user, role in (
        (annotator, Role.ANNOTATOR),
        (annotator2, Role.ANNOTATOR),
        (lead, Role.LEAD),
    ):
        add_member(project, user, role)
    same, differ = make_images(project, 2)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=same.pk, labels=["cat", "dog"])
    annotation_submit(project=project, annotator=annotator, image_id=differ.pk, labels=["cat"])
    annotation_submit(project=project, annotator=annotator2, image_id=differ.pk, labels=["dog"])
    image_decide(
        project=project, image_id=same.pk, labels=["cat", "dog"], decided_by=lead, method="gold"
    )
    rows = {r.username: r for r in annotator_throughput(project, period="day")}
    # The differing image ties on both labels: no consensus there, and no agreement.
    ann1 = rows["ann1"]
    assert (ann1.consensus_n, ann1.consensus_agreed, ann1.consensus_ties) == (2, 1, 1)
    assert (rows["ann2"].gold_n, rows["ann2"].gold_correct) == (1, 1)
