"""The label check after a training: a planted wrong label is flagged, listed and reviewed."""

from __future__ import annotations

import pytest

from labeler.agreement.models import ReviewRequest
from labeler.annotations.models import FinalLabel
from labeler.predictions.label_check import MODEL_DISAGREES, likely_wrong_image_ids
from labeler.predictions.models import LabelCheck, ModelVersion
from labeler.projects.models import Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.worker.ml_project import CLASSES, FAST_TRAINING, colour_png, ingest

pytestmark = pytest.mark.slow

PURE = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
# The planted image is the reddest red.
REDDEST = (1.3, 0.0, 0.0)
# Confident learning counts a label wrong only where the model is as sure of the other
# label as it is, on average, of that label's own images. On clean images of pure colours
# every fold model is nearly sure of every image, so whether the planted red comes out
# surer than the average red was down to the sums' rounding, the thread count and the
# images' ids (a red labelled blue, given red 0.99917 against a threshold of 0.99931, was
# not flagged). Real data is never that clean: here two greens are labelled red as well, so the
# threshold of red is an average that some wrong labels pull down (0.70-0.82 over twenty
# seeds and layouts tried), far below what the fold models give the planted red
# (0.97-1.00).
GREENS_LABELLED_RED = 2


def colours(colour: tuple[float, float, float], k: int, count: int) -> list[bytes]:
    """``count`` images of the ``k``-th colour, ``colour``; the first red one the reddest."""
    return [
        colour_png(REDDEST if (k == 0 and i == 0) else colour, 100 * k + i) for i in range(count)
    ]


def given_label(name: str, i: int) -> str:
    """The label the annotator gives the ``i``-th image of colour ``name``: the first red
    blue (the planted one), the first greens red, the rest their own colour."""
    if name == "red" and i == 0:
        return "blue"
    if name == "green" and i < GREENS_LABELLED_RED:
        return "red"
    return name


@pytest.mark.django_db
def test_a_planted_wrong_label_is_flagged_listed_and_sent_to_review(
    django_capture_on_commit_callbacks,
):
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    training = {**FAST_TRAINING, "label_check_folds": 4, "epochs": 20, "patience": 20}
    project = ProjectFactory(
        name="Colours", labels=list(CLASSES), training=training, retrain_after=0, gold_rate=0.0
    )
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    planted, wrong = None, set()
    for k, name in enumerate(CLASSES):
        images = ingest(project, colours(PURE[k], k, 10), name)
        for i, image in enumerate(images):
            given = given_label(name, i)
            planted = image if (name, given) == ("red", "blue") else planted
            wrong |= {image.pk} if given != name else set()
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[given]
            )
    assert planted is not None
    api = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/projects/{project.pk}/train/", {}, format="json")
    assert response.status_code == 202, response.content

    version = ModelVersion.objects.get(project=project)
    summary = version.metrics["label_check"]
    assert summary["folds"] == 4 and summary["images"] == 30 and summary["cpu_seconds"] > 0
    # Every final-labelled image is checked; the planted one is flagged.
    checks = {c.image_id: c for c in LabelCheck.objects.filter(project=project)}
    assert set(checks) == set(FinalLabel.objects.values_list("image_id", flat=True))
    blue, red = (project.labels.get(name=n).pk for n in ("blue", "red"))
    mine = checks[planted.pk]
    assert mine.flagged and mine.given_label_id == blue and mine.predicted_label_id == red
    assert mine.probabilities[str(red)] > mine.probabilities[str(blue)]
    # Of the images labelled right, none scores as low as the planted one.
    assert mine.quality < min(c.quality for pk, c in checks.items() if pk not in wrong)
    assert planted.pk in set(likely_wrong_image_ids(project))

    # In the review queue with the model's view.
    request = ReviewRequest.objects.get(image=planted, reason=MODEL_DISAGREES)
    assert request.resolved_at is None
    assert request.detail["given_label"] == blue and request.detail["predicted_label"] == red
    assert set(request.detail["probabilities"]) == {
        str(pk) for pk in project.labels.values_list("pk", flat=True)
    }

    # Over REST, with the annotator's label beside the model's view.
    listed = api.get(f"/api/v1/projects/{project.pk}/label-issues/").json()["results"]
    row = next(r for r in listed if r["image"] == planted.pk)
    assert row["given_label"] == blue and row["predicted_label"] == red
    assert row["annotators"] == [{"annotator": "ann", "labels": [blue]}]
    assert row["probabilities"][str(red)] > 0.5
    assert (
        client_for(annotator).get(f"/api/v1/projects/{project.pk}/label-issues/").status_code == 403
    )


@pytest.mark.django_db
def test_no_check_with_folds_off(django_capture_on_commit_callbacks):
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project = ProjectFactory(
        labels=list(CLASSES),
        training={**FAST_TRAINING, "label_check_folds": 0},
        retrain_after=0,
        gold_rate=0.0,
    )
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    for k, name in enumerate(CLASSES):
        for image in ingest(project, [colour_png(PURE[k], 7 * k + i) for i in range(4)], name):
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[name]
            )
    with django_capture_on_commit_callbacks(execute=True):
        client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}, format="json")
    assert "label_check" not in ModelVersion.objects.get(project=project).metrics
    assert not LabelCheck.objects.exists()


@pytest.mark.django_db
def test_a_multi_label_projects_planted_wrong_label_set_is_flagged(
    django_capture_on_commit_callbacks,
):
    """Colours labelled by the primaries they hold: pure ones by one, yellow (red and
    green) by two. One red image is labelled {blue}: the multi-label fold models, which
    never saw it, give it red, and the check flags it with both sets."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    # Each fold model learns four colour sets from 30 images. At its default of half the
    # run's epochs, whether the planted image's fold model is sure of red depends on the
    # sums' rounding: at 8 threads and seed 1 it gave red 0.78 and blue 0.41, not flagged.
    # At 20 epochs every seed and thread count tried gives red 0.98 or more.
    training = {
        **FAST_TRAINING,
        "label_check_folds": 4,
        "label_check_epochs": 20,
        "epochs": 20,
        "patience": 20,
    }
    project = ProjectFactory(
        name="Primaries",
        labels=list(CLASSES),
        multi_label=True,
        training=training,
        retrain_after=0,
        gold_rate=0.0,
    )
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    kinds = [(PURE[0], ["red"]), (PURE[1], ["green"]), (PURE[2], ["blue"])]
    kinds.append(((1.0, 1.0, 0.0), ["red", "green"]))
    planted = None
    for k, (colour, names) in enumerate(kinds):
        images = ingest(project, colours(colour, k, 10), f"c{k}")
        for i, image in enumerate(images):
            given = ["blue"] if (k == 0 and i == 0) else names
            planted = image if given != names else planted
            annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=given)
    assert planted is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}, format="json")
    assert response.status_code == 202, response.content

    version = ModelVersion.objects.get(project=project)
    assert version.metrics["label_check"]["images"] == 40
    checks = {c.image_id: c for c in LabelCheck.objects.filter(project=project)}
    assert len(checks) == 40
    red, blue = (project.labels.get(name=n).pk for n in ("red", "blue"))
    mine = checks[planted.pk]
    assert mine.flagged and mine.given_label_ids == [blue] and red in mine.predicted_label_ids
    assert mine.given_label_id is None
    assert mine.quality == min(c.quality for c in checks.values())
    assert planted.pk in set(likely_wrong_image_ids(project))
    assert ReviewRequest.objects.filter(image=planted, reason=MODEL_DISAGREES).exists()
