"""The slice report of a project with planted slices: the corrupted camera is flagged as
labelled worse, the clean ones are not; figures agree with the metrics on the same ratings;
the report is cached until the labels change. A model version scored on test images that
fails on one camera is flagged there."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from sklearn.metrics import accuracy_score, f1_score

from labeler.agreement import metrics
from labeler.agreement.final_labels import final_labels_current
from labeler.agreement.ratings import ratings_load
from labeler.annotations.models import FinalLabel
from labeler.annotations.submit import annotation_record
from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create, field_update
from labeler.images.catalogue.services import images_describe
from labeler.images.models import Image
from labeler.predictions.selectors import version_test_outputs
from labeler.slices.dimensions import number_ranges
from labeler.slices.report import slice_compute, slice_report, slice_report_current
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, add_member
from tests.labeler.slices.planted import CAMERAS, planted_model, planted_project

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


@pytest.fixture
def planted():
    return planted_project(seed=0)


def dimension(report, key):
    return next(d for d in report["dimensions"] if d["key"] == key)


def slice_of(report, key, name):
    return next(s for s in dimension(report, key)["slices"] if s["name"] == name)


def test_the_corrupted_camera_is_flagged_and_the_clean_ones_are_not(planted):
    """Only BrokenCam is labelled worse, by a kappa far below the rest's, with its words."""
    report = slice_compute(planted.project)
    cameras = {s["name"]: s for s in dimension(report, "camera")["slices"]}
    assert set(cameras) == set(CAMERAS)
    broken = cameras["BrokenCam"]["labels"]
    assert broken["test"]["flagged"] and broken["test"]["p_adjusted"] < 0.001
    assert broken["kappa"]["value"] < broken["rest_kappa"]["value"] - 0.4
    assert broken["test"]["words"].startswith("κ ") and "lower" in broken["test"]["words"]
    for name in ("CleanCam", "OtherCam"):
        assert cameras[name]["labels"]["test"]["tested"]
        assert not cameras[name]["labels"]["test"]["flagged"]
    worse = [f for f in report["flags"] if f["question"] == "labels"]
    assert [(f["dimension"], f["name"]) for f in worse] == [("camera", "BrokenCam")]
    assert report["settings"]["correction"] == "Holm"


def test_figures_are_the_metrics_on_the_slices_own_ratings(planted):
    """A slice's kappa is fleiss_kappa on its images' rows, its counts are its final labels,
    and a camera's slices partition the final labels."""
    report = slice_compute(planted.project)
    ratings = ratings_load(planted.project)
    broken_ids = [image.pk for image in planted.images["BrokenCam"]]
    rows = np.isin(ratings.image_ids, broken_ids)
    expected = metrics.fleiss_kappa(ratings.codes[rows], ratings.k)
    found = slice_of(report, "camera", "BrokenCam")["labels"]["kappa"]
    assert found["value"] == pytest.approx(expected.value) and found["n_items"] == 60
    assert report["overall"]["kappa"]["value"] == pytest.approx(
        metrics.fleiss_kappa(ratings.codes, ratings.k).value
    )
    totals = np.sum([s["counts"] for s in dimension(report, "camera")["slices"]], axis=0)
    assert totals.tolist() == report["overall"]["counts"]
    assert sum(report["overall"]["counts"]) == report["overall"]["n_final"] > 0
    assert report["overall"]["n_images"] == 180


def test_every_dimension_cuts_the_images(planted):
    """Tags, capture months, annotators (by username) and sources, with Images page filters."""
    report = slice_compute(planted.project)
    night = slice_of(report, "tag", "night")
    assert night["n_images"] == 90 and night["browse"] == {"tag": "night"}
    months = {s["name"]: s for s in dimension(report, "capture_month")["slices"]}
    assert set(months) == {"March 2026", "April 2026"}
    assert months["March 2026"]["browse"] == {
        "captured_after": "2026-03-01",
        "captured_before": "2026-04-01",
    }
    annotators = {s["name"]: s for s in dimension(report, "annotator")["slices"]}
    assert set(annotators) == {user.username for user in planted.annotators}
    assert all(s["n_images"] == 180 for s in annotators.values())
    # Every image is uploaded: one slice holding everything, with no rest to compare.
    (source,) = dimension(report, "source")["slices"]
    assert source["name"] == "Uploaded" and not source["labels"]["test"]["tested"]
    assert "no rest" in source["labels"]["test"]["reason"]


def test_the_report_is_cached_until_a_label_changes(planted, django_assert_max_num_queries):
    """A second read is a cache hit (the recent report) or a few watermark queries (the
    current one); a new label gives a new current report, while readers of the recent
    one keep theirs for its five minutes."""
    first = slice_report(planted.project)
    with django_assert_max_num_queries(2):  # which version is current, the fields
        assert slice_report(planted.project) == first
    with django_assert_max_num_queries(8):
        assert slice_report_current(planted.project) == first
    image = planted.images["CleanCam"][0]
    annotation_record(
        project=planted.project, annotator=planted.lead, image_id=image.pk, labels=["bird"]
    )
    assert slice_report(planted.project) == first  # within the recent report's minutes
    fresh = slice_report_current(planted.project)
    names = {s["name"] for s in dimension(fresh, "annotator")["slices"]}
    assert planted.lead.username in names and fresh["generated_at"] != first["generated_at"]


def test_a_model_promoted_since_the_recent_report_is_in_the_next_one(planted):
    """The recent report of "the current version" is not served once another version is
    current: the page would say there is no model after one was trained."""
    before = slice_report(planted.project)
    assert before["model"]["version"] is None
    version = planted_model(planted, fails_on="OtherCam")
    after = slice_report(planted.project)
    assert after["model"]["version"]["id"] == version.pk


def test_a_field_added_or_renamed_since_the_recent_report_is_in_the_next_one(planted):
    """A slice's link names the field: a report naming a renamed field would link to a
    filter that now refuses it."""
    project = planted.project
    slice_report(project)
    field = field_create(project=project, name="site", kind="choice", choices=["north"])
    assert "field:site" in {d["key"] for d in slice_report(project)["dimensions"]}
    field_update(field=field, name="ward")
    keys = {d["key"] for d in slice_report(project)["dimensions"]}
    assert "field:ward" in keys and "field:site" not in keys


def test_a_project_without_labels_has_a_report_that_says_so():
    """No images, no labels: counts of zero, undefined figures with reasons, no flags."""
    project = ProjectFactory(labels=["yes", "no"])
    report = slice_compute(project)
    assert report["overall"]["counts"] == [0, 0]
    assert report["overall"]["imbalance"]["words"] == "No final labels yet."
    assert report["overall"]["kappa"]["value"] is None and report["overall"]["kappa"]["reason"]
    assert report["flags"] == [] and all(not d["slices"] for d in report["dimensions"])


def test_the_report_reads_in_a_bounded_number_of_queries(planted):
    """Queries do not grow with the images or the slices."""
    with CaptureQueriesContext(connection) as queries:
        slice_compute(planted.project)
    assert len(queries) <= 16


def test_the_camera_the_model_fails_on_is_flagged_and_the_others_are_not(planted):
    """On the current version's test images: OtherCam's accuracy is lower beyond chance;
    figures are scikit-learn's on the slice's test images, with intervals and n."""
    version = planted_model(planted, fails_on="OtherCam")
    report = slice_compute(planted.project)
    assert report["model"]["version"] == {"id": version.pk, "version": 1, "is_current": True}
    assert report["model"]["n_test"] == 90
    cameras = {s["name"]: s["model"] for s in dimension(report, "camera")["slices"]}
    assert cameras["OtherCam"]["test"]["flagged"]
    assert "points lower" in cameras["OtherCam"]["test"]["words"]
    for name in ("CleanCam", "BrokenCam"):
        assert cameras[name]["test"]["tested"] and not cameras[name]["test"]["flagged"]
    outputs = version_test_outputs(version)
    rows = [i for i, pk in enumerate(outputs.image_ids) if pk in ids(planted, "OtherCam")]
    predicted = outputs.probabilities[rows].argmax(axis=1)
    other = cameras["OtherCam"]
    assert other["n_test"] == 30
    truth = outputs.y_true[rows]
    assert other["accuracy"]["value"] == pytest.approx(accuracy_score(truth, predicted))
    assert other["macro_f1"]["value"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert other["accuracy"]["ci_low"] < other["accuracy"]["value"] < other["accuracy"]["ci_high"]
    assert other["macro_f1"]["ci_low"] is not None and other["rest_accuracy"]["n_items"] == 60
    assert ("camera", "OtherCam", "model") in {
        (f["dimension"], f["name"], f["question"]) for f in report["flags"]
    }


def test_a_chosen_version_and_one_never_scored_on_test_images(planted):
    """An older version is read when asked for; a version without test outputs says why."""
    failing = planted_model(planted, fails_on="CleanCam", current=False)
    planted_model(planted, fails_on="OtherCam", seed=1)
    chosen = slice_compute(planted.project, version=failing)
    assert chosen["model"]["version"]["id"] == failing.pk
    flagged = {f["name"] for f in chosen["flags"] if f["question"] == "model"}
    assert "CleanCam" in flagged and "OtherCam" not in flagged
    unscored = ModelVersionFactory(project=planted.project, version=9, is_current=False)
    report = slice_compute(planted.project, version=unscored)
    assert report["model"]["version"] is None
    assert "v9 was not scored on held-out test images" in report["model"]["reason"]
    assert all(s["model"] is None for d in report["dimensions"] for s in d["slices"])


def ids(planted, camera):
    return {image.pk for image in planted.images[camera]}


def test_a_multi_label_project_counts_images_per_label_and_pools_decisions():
    """Counts are images carrying each label; the kappa pools every yes/no decision, its n
    counting images; the mix is tested label by label."""
    project = ProjectFactory(
        name="Tags", overlap=2, multi_label=True, labels=["sky", "sea", "land"]
    )
    annotators = [UserFactory(username=f"multi-{i}") for i in range(2)]
    for user in annotators:
        add_member(project, user)
    rng = np.random.default_rng(4)
    images = Image.objects.bulk_create(
        Image(project=project, file=f"m/{i}.png", original_name=f"{i}.png", width=8, height=8,
              sha256=f"{i:064d}", format="PNG", size_bytes=10, camera=("A", "B")[i % 2])
        for i in range(100)
    )  # fmt: skip
    for image in images:
        often = 0.8 if image.camera == "A" else 0.15
        truth = [name for name in ("sky", "sea") if rng.random() < often]
        for user in annotators:
            given = [n for n in ("sky", "sea") if (n in truth) != (rng.random() < 0.1)]
            annotation_record(
                project=project, annotator=user, image_id=image.pk, labels=given or ["land"]
            )
    final_labels_current(project=project)
    report = slice_compute(project)
    ratings = ratings_load(project)
    pooled = np.concatenate(metrics.binary_matrices(ratings.label_sets))
    assert report["overall"]["kappa"]["value"] == pytest.approx(
        metrics.fleiss_kappa(pooled, 2).value
    )
    assert report["overall"]["kappa"]["n_items"] == 100
    finals = FinalLabel.objects.filter(image__project=project)
    assert report["overall"]["n_final"] == finals.count() > 0
    sky = finals.filter(labels__name="sky").count()
    assert report["overall"]["counts"][0] == sky
    camera_a = slice_of(report, "camera", "A")
    assert camera_a["mix"]["method"] == "Fisher's exact test per label, Bonferroni over the labels"
    assert camera_a["mix"]["flagged"]
    assert camera_a["labels"]["final_agreement"]["value"] is not None


def _describe(project, images, **body):
    fields = {f.name: f for f in project.metadata_fields.all()}
    description = description_read(body, fields=fields)
    images_describe(project=project, image_ids=[i.pk for i in images], description=description)


def test_origin_and_the_projects_own_fields_cut_the_images_and_find_the_corrupted_site(planted):
    """Origin is a dimension; each project field is one: a choice field by value (the site
    whose images are BrokenCam's is labelled worse), a date field by month, a number field
    in ranges of about as many images; images without a value make a slice of their own.
    Each slice names the Images page's filters that show it."""
    project = planted.project
    field_create(project=project, name="site", kind="choice", choices=["north", "south"])
    field_create(project=project, name="visit", kind="date")
    field_create(project=project, name="age", kind="number")
    broken, clean = planted.images["BrokenCam"], planted.images["CleanCam"]
    _describe(project, broken, origin="ward B", fields={"site": "north", "visit": "2026-05-02"})
    _describe(project, clean, origin="ward A", fields={"site": "south", "visit": "2026-06-30"})
    for age, image in enumerate([*broken, *clean]):
        _describe(project, [image], fields={"age": age})

    report = slice_compute(project)

    origins = {s["name"]: s["n_images"] for s in dimension(report, "origin")["slices"]}
    assert origins == {"ward A": 60, "ward B": 60, "No origin": 60}
    sites = {s["name"]: s for s in dimension(report, "field:site")["slices"]}
    assert {name: s["n_images"] for name, s in sites.items()} == {
        "north": 60, "south": 60, "No site": 60,
    }  # fmt: skip
    assert sites["north"]["browse"] == {"field": "site:north"}
    assert ("field:site", "north") in {(f["dimension"], f["name"]) for f in report["flags"]}
    assert not sites["south"]["labels"]["test"]["flagged"]
    months = {s["name"]: s for s in dimension(report, "field:visit")["slices"]}
    assert months["May 2026"]["n_images"] == 60
    assert months["June 2026"]["browse"] == {
        "field_min": "visit:2026-06-01",
        "field_max": "visit:2026-06-30",
    }
    ages = [s for s in dimension(report, "field:age")["slices"] if s["value"]]
    assert [s["n_images"] for s in ages] == [24] * 5
    assert ages[0]["name"] == "0 to 23" and ages[0]["browse"] == {
        "field_min": "age:0",
        "field_max": "age:23",
    }


def test_number_ranges_keep_equal_values_together():
    """Quantile ranges of the distinct values: a value many images share is one range's."""
    ids = np.arange(10, dtype=np.int64)
    numbers = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5], dtype=float)
    found = number_ranges(ids, numbers)
    assert sum(v.image_ids.size for v in found) == 10
    (ones,) = [v for v in found if 0 in v.image_ids]
    assert set(ones.image_ids.tolist()) >= {0, 1, 2, 3, 4, 5}
    assert all(v.value.count("..") == 1 for v in found)


def test_a_number_ranges_value_holds_its_ends_exactly():
    """The ends are as stored, so the range filters of a slice's link hold its images: they
    were rounded to 6 digits (1.2345678 became 1.23457, and its image fell outside)."""
    numbers = np.array([1.2345678, 2.3456749, 123456.78, 1e-7, 7.0])
    found = number_ranges(np.arange(5, dtype=np.int64), numbers)
    ends = {float(end) for v in found for end in v.value.split("..")}
    assert ends == set(numbers.tolist())
    assert "1.23457 to 1.23457" in {v.name for v in found}  # rounded for reading only
