"""A label check stored: flagged images in review, in the browser's filter and over REST."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import transaction

from labeler.agreement.final_writes import final_labels_written
from labeler.agreement.models import ReviewRequest
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.browse.filters import images_filtered
from labeler.errors import ValidationFailed
from labeler.predictions.label_check import (
    MODEL_DISAGREES,
    label_check_store,
    likely_wrong_image_ids,
)
from labeler.predictions.models import LabelCheck, TrainingRun
from labeler.projects.models import Role
from tests.factories import ProjectFactory, add_member


@pytest.fixture
def checked(project, make_images):
    """20 images with final labels cat/dog; the model, out of sample, calls image 3 a dog
    though its final label is cat."""
    cat, dog = (project.labels.get(name=n).pk for n in ("cat", "dog"))
    images = make_images(project, 20)
    given = np.array([i % 2 for i in range(20)])
    for image, g in zip(images, given, strict=True):
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.IMPORTED)
        final.labels.set([(cat, dog)[g]])
    p = np.where(given[:, None] == np.arange(2), 0.95, 0.05)
    p[2] = [0.03, 0.97]  # image 3 (index 2): labelled cat, a dog to the model
    run = TrainingRun.objects.create(project=project, status="succeeded", config={})
    flagged = label_check_store(
        run_id=run.pk,
        image_ids=[image.pk for image in images],
        label_ids=[cat, dog],
        given=given,
        probabilities=p,
    )
    return images, flagged, cat, dog


@pytest.mark.django_db
def test_the_flagged_image_is_stored_and_sent_to_review(project, checked):
    images, flagged, cat, dog = checked
    assert flagged == 1
    assert LabelCheck.objects.filter(project=project).count() == 20
    check = LabelCheck.objects.get(flagged=True)
    assert check.image_id == images[2].pk
    assert (check.given_label_id, check.predicted_label_id) == (cat, dog)
    assert check.probabilities == {str(cat): 0.03, str(dog): 0.97}
    request = ReviewRequest.objects.get(reason=MODEL_DISAGREES)
    assert request.image_id == images[2].pk and request.detail["predicted_label"] == dog


@pytest.mark.django_db
def test_the_browser_filters_likely_wrong_labels(project, lead, checked):
    images, _, _cat, dog = checked

    def ids(value: str) -> set[int]:
        chosen = images_filtered(project, {"likely_wrong": [value]}, user=lead)
        return set(chosen.values_list("pk", flat=True))

    assert ids("true") == {images[2].pk}
    assert len(ids("false")) == 19
    with pytest.raises(ValidationFailed):
        ids("perhaps")
    # A person's decision after the check: no longer likely wrong.
    final = FinalLabel.objects.get(image=images[2])
    final.method = FinalLabelMethod.ADJUDICATED
    final.save()
    final.labels.set([dog])
    assert ids("true") == set()


@pytest.mark.django_db
def test_rest_lists_the_likely_wrong_labels(api_as, project, lead, annotator, checked):
    images, _, cat, dog = checked
    url = f"/api/v1/projects/{project.pk}/label-issues/"
    response = api_as(lead).get(url)
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert row["image"] == images[2].pk
    assert (row["given_label"], row["predicted_label"]) == (cat, dog)
    assert row["probabilities"] == {str(cat): 0.03, str(dog): 0.97}
    assert row["annotators"] == [] and 0 <= row["quality"] < 0.5
    assert api_as(annotator).get(url).status_code == 403


@pytest.mark.django_db
def test_a_new_check_replaces_the_last(project, checked):
    images, _, cat, dog = checked
    run = TrainingRun.objects.create(project=project, status="succeeded", config={})
    ids = [image.pk for image in images]
    given = np.array([i % 2 for i in range(20)])
    p = np.where(given[:, None] == np.arange(2), 0.9, 0.1)
    assert (
        label_check_store(
            run_id=run.pk, image_ids=ids, label_ids=[cat, dog], given=given, probabilities=p
        )
        == 0
    )
    assert LabelCheck.objects.filter(project=project).count() == 20
    assert not LabelCheck.objects.filter(flagged=True).exists()
    assert set(LabelCheck.objects.values_list("run", flat=True)) == {run.pk}


@pytest.mark.django_db
def test_a_multi_label_check_is_stored_listed_and_goes_stale_when_the_set_changes(
    api_as, lead, make_images
):
    """Label sets over cat, dog, bird: image 5 is labelled {cat} but, to a model that never
    saw it, is a dog and a bird. Flagged, stored with both sets, sent to review and
    listed; once its final label set is changed (the label history says so) it is not."""
    project = ProjectFactory(name="Scenes", multi_label=True, labels=["cat", "dog", "bird"])
    add_member(project, lead, Role.LEAD)
    ids = [label.pk for label in project.labels.order_by("position")]
    images = make_images(project, 30)
    rng = np.random.default_rng(5)
    truth = (rng.random((30, 3)) < 0.4).astype(np.int64)
    truth[5] = [0, 1, 1]
    given = truth.copy()
    given[5] = [1, 0, 0]
    for image, row in zip(images, given, strict=True):
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.CONSENSUS)
        final.labels.set([ids[k] for k in np.flatnonzero(row)])
    p = np.clip(np.where(truth == 1, 0.9, 0.08) + rng.normal(0, 0.03, truth.shape), 0.01, 0.99)
    run = TrainingRun.objects.create(project=project, status="succeeded", config={})
    flagged = label_check_store(
        run_id=run.pk,
        image_ids=[image.pk for image in images],
        label_ids=ids,
        given=given,
        probabilities=p,
    )

    assert flagged >= 1
    check = LabelCheck.objects.get(image=images[5])
    assert check.flagged and check.given_label_id is None and check.predicted_label_id is None
    assert (check.given_label_ids, check.predicted_label_ids) == ([ids[0]], [ids[1], ids[2]])
    request = ReviewRequest.objects.get(reason=MODEL_DISAGREES, image=images[5])
    assert request.detail["given_labels"] == [ids[0]]
    assert request.detail["predicted_labels"] == [ids[1], ids[2]]
    listed = api_as(lead).get(f"/api/v1/projects/{project.pk}/label-issues/").json()["results"]
    mine = next(row for row in listed if row["image"] == images[5].pk)
    assert (mine["given_labels"], mine["predicted_labels"]) == ([ids[0]], [ids[1], ids[2]])

    final = FinalLabel.objects.get(image=images[5])
    with (
        transaction.atomic(),
        final_labels_written(project=project, image_ids=[images[5].pk]) as write,
    ):
        write.set_one(
            images[5].pk,
            [ids[1], ids[2]],
            method=final.method,
            confidence=final.confidence,
            decided_by=final.decided_by,
        )
    assert images[5].pk not in set(likely_wrong_image_ids(project))
    assert set(likely_wrong_image_ids(project)) == set(
        LabelCheck.objects.filter(flagged=True)
        .exclude(image=images[5])
        .values_list("image_id", flat=True)
    )
