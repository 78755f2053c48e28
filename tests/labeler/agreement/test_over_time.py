"""Agreement over time: images by their latest rating, day or week points, figures per point."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pytest

from labeler.agreement import metrics
from labeler.agreement.consensus import consensus_reference
from labeler.agreement.over_time import NOT_TIMED, bucket_index, labels_per_hour
from labeler.agreement.ratings import ratings_load
from labeler.agreement.selectors import agreement_compute
from labeler.annotations.models import Annotation
from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NAMES = ["cat", "dog", "bird"]


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def label(project, user, image, name, when: dt.datetime, spent: int | None = 1000) -> None:
    """Submit a label, then move its time to ``when`` (auto_now only allows it by update)."""
    annotation_submit(
        project=project, annotator=user, image_id=image.pk, labels=[name], time_spent_ms=spent
    )
    Annotation.objects.filter(image=image, annotator=user).update(updated_at=when)


@pytest.fixture
def three(project):
    project.overlap = 3
    project.save()
    users = [UserFactory() for _ in range(3)]
    for user in users:
        add_member(project, user)
    return users


def test_an_image_belongs_to_the_day_of_its_latest_rating(project, three, make_images):
    """Rated on the 1st and 3rd: the image counts on the 3rd, with both of its ratings."""
    early, late = make_images(project, 2)
    label(project, three[0], early, "cat", at("2025-03-01"))
    label(project, three[1], early, "cat", at("2025-03-01", 15))
    label(project, three[0], late, "dog", at("2025-03-01"))
    label(project, three[1], late, "dog", at("2025-03-03"))
    over_time = agreement_compute(project)["over_time"]
    assert over_time["bucket"] == "day"
    points = over_time["points"]
    assert [p["start"] for p in points] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert [(p["n_images"], p["n_annotations"]) for p in points] == [(1, 2), (0, 0), (1, 2)]
    gap = points[1]
    assert gap["fleiss_kappa"]["value"] is None and gap["fleiss_kappa"]["reason"]
    assert gap["per_annotator"] == []
    assert points[2]["percent_agreement"]["value"] == 1.0
    assert points[2]["percent_agreement"]["band"] is None


def test_points_are_days_up_to_sixty_days_and_weeks_from_monday_beyond(project, three, make_images):
    """A 60-day span gives days; 61 days gives weeks starting on Mondays."""
    first, second = make_images(project, 2)
    label(project, three[0], first, "cat", at("2025-01-01"))
    label(project, three[0], second, "cat", at("2025-03-02"))  # 60 days later
    assert agreement_compute(project)["over_time"]["bucket"] == "day"
    Annotation.objects.filter(image=second).update(updated_at=at("2025-03-03"))  # 61 days
    over_time = agreement_compute(project)["over_time"]
    assert over_time["bucket"] == "week"
    starts = [dt.date.fromisoformat(p["start"]) for p in over_time["points"]]
    assert starts[0] == dt.date(2024, 12, 30) and starts[-1] == dt.date(2025, 3, 3)
    assert all(start.weekday() == 0 for start in starts)
    assert len(starts) == 10  # every week in between, empty ones included


def test_the_bucket_can_be_chosen(project, three, make_images):
    """bucket='week' on a short project, 'day' on a long one; a bad value is refused."""
    (image,) = make_images(project, 1)
    label(project, three[0], image, "cat", at("2025-01-08"))  # a Wednesday
    week = agreement_compute(project, "week")["over_time"]
    assert week["bucket"] == "week" and [p["start"] for p in week["points"]] == ["2025-01-06"]
    with pytest.raises(ValueError):
        agreement_compute(project, "month")  # type: ignore[arg-type]


def test_a_points_figures_are_the_metrics_of_its_images(project, three, make_images):
    """Every figure of a point equals the metric functions on the images of that point."""
    images = make_images(project, 24)
    rng = np.random.default_rng(3)
    for number, image in enumerate(images):
        day = f"2025-05-0{1 + number % 3}"
        for column, user in enumerate(three):
            if rng.random() < 0.15 * column:
                continue  # some images have fewer ratings
            name = NAMES[rng.integers(3)] if rng.random() < 0.4 else NAMES[number % 3]
            label(
                project, user, image, name, at(day, 8 + column), spent=int(rng.integers(500, 5000))
            )
    report = agreement_compute(project)
    ratings = ratings_load(project)
    last_day = (ratings.rated_at.max(axis=1) // 86_400).astype(np.int64)
    consensus = consensus_reference(ratings.codes, ratings.k, "majority")  # ties: TIED
    ids = list(ratings.annotator_ids)
    checked = 0
    for point in report["over_time"]["points"]:
        day = dt.date.fromisoformat(point["start"]) - dt.date(1970, 1, 1)
        rows = np.flatnonzero(last_day == day.days)
        codes = ratings.codes[rows]
        assert point["n_images"] == rows.size
        assert point["n_annotations"] == int((codes >= 0).sum())
        expected = {
            "cohen_kappa_mean": metrics.cohen_kappa_mean(metrics.cohen_kappa_matrix(codes, 3)),
            "fleiss_kappa": metrics.fleiss_kappa(codes, 3),
            "krippendorff_alpha": metrics.krippendorff_alpha(codes, 3),
            "percent_agreement": metrics.percent_agreement(codes, 3),
        }
        for name, figure in expected.items():
            assert point[name]["value"] == pytest.approx(figure.value, abs=1e-12), name
            assert point[name]["n_items"] == figure.n_items
        per_annotator = metrics.per_annotator(codes, 3, consensus[rows])
        for row in point["per_annotator"]:
            figures = per_annotator[ids.index(row["annotator"])]
            assert row["n_rated"] == figures.n_rated
            for name in ("agreement_with_others", "consensus_accuracy"):
                figure = getattr(figures, name)
                assert row[name]["value"] == pytest.approx(figure.value, abs=1e-12), name
                assert row[name]["n_items"] == figure.n_items
            column = ids.index(row["annotator"])
            spent = ratings.time_spent_ms[rows, column]
            hours = spent[spent > 0].sum() / 3_600_000
            assert row["labels_per_hour"] == pytest.approx((spent > 0).sum() / hours)
            checked += 1
    assert checked >= 6


def test_labels_per_hour_counts_only_ratings_with_a_recorded_time() -> None:
    """Untimed ratings count in neither the labels nor the hours; none timed: a reason."""
    spent = np.array([[1_800_000, 0], [0, 0], [1_800_000, 0]])
    rated = np.array([[True, True], [True, False], [True, False]])
    (paces,) = labels_per_hour(spent, rated)
    assert paces[0] == (pytest.approx(2 / 1.0), None)
    assert paces[1] == (None, NOT_TIMED)
    groups = np.array([0, 1, 1])
    by_group = labels_per_hour(spent, rated, groups, 2)
    assert by_group[0][0][0] == pytest.approx(2.0) and by_group[1][0][0] == pytest.approx(2.0)


def test_the_report_gives_a_reason_when_no_time_was_recorded(project, three, make_images):
    """An annotator whose client sent no times has no pace, and says why."""
    (image,) = make_images(project, 1)
    label(project, three[0], image, "cat", at("2025-02-01"), spent=None)
    label(project, three[1], image, "cat", at("2025-02-01"), spent=1200)
    report = agreement_compute(project)
    by_id = {row["annotator"]: row for row in report["per_annotator"]}
    assert by_id[three[0].pk]["labels_per_hour"] is None
    assert by_id[three[0].pk]["labels_per_hour_reason"] == NOT_TIMED
    assert by_id[three[1].pk]["labels_per_hour"] == pytest.approx(3000.0)
    assert by_id[three[1].pk]["labels_per_hour_reason"] is None


def test_days_follow_the_time_zone() -> None:
    """23:30 UTC on 30 June is 1 July in Paris (summer time) but 30 June in UTC."""
    moment = int(dt.datetime(2025, 6, 30, 23, 30, tzinfo=UTC).timestamp())
    winter = int(dt.datetime(2025, 1, 30, 23, 30, tzinfo=UTC).timestamp())
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    days = bucket_index(np.array([moment, winter]), "day", paris)
    assert [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in days] == [
        dt.date(2025, 7, 1),
        dt.date(2025, 1, 31),
    ]
    assert bucket_index(np.array([moment]), "day", UTC).tolist() == [
        (dt.date(2025, 6, 30) - dt.date(1970, 1, 1)).days
    ]


def test_multi_label_points_carry_jaccard_and_mean_percent_agreement(lead, make_images):
    """Multi-label: Jaccard and percent agreement (the mean over labels), no kappas."""
    project = ProjectFactory(multi_label=True, overlap=2)
    add_member(project, lead, Role.LEAD)
    one, two = UserFactory(), UserFactory()
    for user in (one, two):
        add_member(project, user)
    first, second = make_images(project, 2)
    for user, image, names in [
        (one, first, ["cat", "dog"]),
        (two, first, ["cat"]),
        (one, second, ["bird"]),
        (two, second, ["bird"]),
    ]:
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=names)
        Annotation.objects.filter(image=image, annotator=user).update(updated_at=at("2025-04-02"))
    (point,) = agreement_compute(project)["over_time"]["points"]
    assert point["jaccard"]["value"] == pytest.approx((0.5 + 1.0) / 2)
    # Per label: cat agrees on both images, dog on one of two, bird on both.
    assert point["percent_agreement"]["value"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert "fleiss_kappa" not in point and "cohen_kappa_mean" not in point
    rows = {row["annotator"]: row for row in point["per_annotator"]}
    assert rows[one.pk]["agreement_with_others"]["value"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert rows[one.pk]["n_rated"] == 2


def test_a_project_without_labels_has_no_points(project):
    """Nothing rated: day buckets and no points, not an error."""
    assert agreement_compute(project)["over_time"] == {"bucket": "day", "points": []}
