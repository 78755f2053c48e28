"""The current model's suggestion with next/, and suggestions recorded on annotations."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.annotations.models import Annotation
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ModelVersionFactory, ProjectFactory, predict
from tests.rows import row_counts


def label_id(project: Project, name: str) -> int:
    return project.labels.get(name=name).pk


def next_body(project: Project, user) -> dict[str, Any]:
    response = client_for(user).get(f"/api/v1/projects/{project.pk}/next/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def image(project, make_images) -> Image:
    (image,) = make_images(project, 1)
    return image


@pytest.fixture
def model(project) -> ModelVersion:
    return ModelVersionFactory(project=project, version=3, metrics={})


def test_without_a_model_the_suggestion_is_null(project, annotator, image):
    """next/ always carries the key; null while the project has no model."""
    body = next_body(project, annotator)
    assert body["image"]["id"] == image.pk
    assert body["suggestion"] is None


def test_the_current_models_prediction_comes_with_the_image(project, annotator, image, model):
    """Single-label: the most probable label, its probability as confidence, all probabilities."""
    cat, dog, bird = (label_id(project, n) for n in ("cat", "dog", "bird"))
    predict(model, image, {str(cat): 0.2, str(dog): 0.7, str(bird): 0.1})
    assert next_body(project, annotator)["suggestion"] == {
        "model_version": model.pk,
        "version": 3,
        "label_ids": [dog],
        "confidence": 0.7,
        "probabilities": {str(cat): 0.2, str(dog): 0.7, str(bird): 0.1},
    }


def test_a_held_image_comes_back_with_its_suggestion(project, annotator, image, model):
    """Asking again for the held image shows the suggestion again."""
    predict(model, image, {str(label_id(project, "cat")): 0.9})
    first = next_body(project, annotator)["suggestion"]
    assert next_body(project, annotator)["suggestion"] == first


def test_multi_label_suggests_every_label_over_its_threshold(project, annotator, image):
    """Tuned thresholds per label, 0.5 for the rest; confidence is the least decisive call."""
    project.multi_label = True
    project.save()
    cat, dog, bird = (label_id(project, n) for n in ("cat", "dog", "bird"))
    model = ModelVersionFactory(project=project, metrics={"thresholds": {str(dog): 0.3}})
    predict(model, image, {str(cat): 0.8, str(dog): 0.35, str(bird): 0.1})
    suggestion = next_body(project, annotator)["suggestion"]
    assert suggestion["label_ids"] == sorted([cat, dog])
    assert suggestion["confidence"] == pytest.approx(0.65)


def test_only_the_current_model_suggests(project, annotator, image):
    """A trained model that is not current shows nothing."""
    model = ModelVersionFactory(project=project, is_current=False)
    predict(model, image, {str(label_id(project, "cat")): 0.9})
    assert next_body(project, annotator)["suggestion"] is None


def test_an_older_models_prediction_is_not_shown(project, annotator, image):
    """Only the current model's own prediction counts, not one left by an earlier model."""
    old = ModelVersionFactory(project=project, version=1, is_current=False)
    predict(old, image, {str(label_id(project, "cat")): 0.9})
    ModelVersionFactory(project=project, version=2)
    assert next_body(project, annotator)["suggestion"] is None


def test_another_projects_model_is_not_shown(project, annotator, image):
    """A current model of another project suggests nothing here."""
    other = ProjectFactory(name="Other")
    model = ModelVersionFactory(project=other)
    predict(model, image, {str(label_id(project, "cat")): 0.9})
    assert next_body(project, annotator)["suggestion"] is None


def test_showing_a_suggestion_writes_only_the_lease(project, annotator, image, model):
    """Reading the suggestion changes no model or prediction."""
    predict(model, image, {str(label_id(project, "cat")): 0.9})
    before = row_counts()
    next_body(project, annotator)
    after = row_counts()
    assert after.pop("annotations.Assignment") == before.pop("annotations.Assignment") + 1
    assert after == before


# Recording the suggestion with the annotation


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/annotations/"


def submit(url: str, user, payload: dict[str, Any]) -> Any:
    return client_for(user).post(url, payload, format="json")


def test_the_suggestion_is_stored_and_returned(url, annotator, image, model):
    """suggested_by and suggestion_accepted are kept and shown on the annotation."""
    response = submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["dog"],
            "suggested_by": model.pk,
            "suggestion_accepted": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["suggested_by"], body["suggestion_accepted"]) == (model.pk, True)
    stored = Annotation.objects.get()
    assert (stored.suggested_by_id, stored.suggestion_accepted) == (model.pk, True)
    read = client_for(annotator).get(f"{url}{body['id']}/").json()
    assert (read["suggested_by"], read["suggestion_accepted"]) == (model.pk, True)


def test_a_suggestion_shown_but_not_taken(url, annotator, image, model):
    """suggested_by alone records that a suggestion was on screen, not accepted."""
    response = submit(
        url, annotator, {"image": image.pk, "labels": ["dog"], "suggested_by": model.pk}
    )
    assert response.status_code == 201
    assert (response.json()["suggested_by"], response.json()["suggestion_accepted"]) == (
        model.pk,
        False,
    )


@pytest.mark.parametrize("suggested_by", ["missing", None])
def test_accepted_without_a_model_stays_false(url, annotator, image, suggested_by):
    """suggestion_accepted means nothing without the model that suggested."""
    payload: dict[str, Any] = {"image": image.pk, "labels": ["dog"], "suggestion_accepted": True}
    if suggested_by != "missing":
        payload["suggested_by"] = suggested_by
    response = submit(url, annotator, payload)
    assert response.status_code == 201, response.content
    assert (response.json()["suggested_by"], response.json()["suggestion_accepted"]) == (
        None,
        False,
    )
    assert Annotation.objects.get().suggestion_accepted is False


def test_no_suggestion_fields_default_to_none_and_false(url, annotator, image):
    """A plain submission records no suggestion."""
    body = submit(url, annotator, {"image": image.pk, "labels": ["dog"]}).json()
    assert (body["suggested_by"], body["suggestion_accepted"]) == (None, False)


def test_any_model_of_the_project_may_be_named(project, url, annotator, image):
    """A model that is no longer current (replaced meanwhile) is still recorded."""
    old = ModelVersionFactory(project=project, is_current=False)
    response = submit(
        url, annotator, {"image": image.pk, "labels": ["cat"], "suggested_by": old.pk}
    )
    assert response.status_code == 201, response.content
    assert response.json()["suggested_by"] == old.pk


def test_an_edit_recomputes_acceptance(project, url, annotator, image, model):
    """Changing the labels without taking a suggestion clears acceptance, keeping the model;
    accepting on a later edit sets it again."""
    submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["dog"],
            "suggested_by": model.pk,
            "suggestion_accepted": True,
        },
    )
    edited = submit(url, annotator, {"image": image.pk, "labels": ["cat"]})
    assert edited.status_code == 200, edited.content
    assert (edited.json()["suggested_by"], edited.json()["suggestion_accepted"]) == (
        model.pk,
        False,
    )
    again = submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["bird"],
            "suggested_by": model.pk,
            "suggestion_accepted": True,
        },
    )
    assert again.status_code == 200
    assert again.json()["suggestion_accepted"] is True


def test_accepting_on_an_edit_records_the_model_that_suggested(project, url, annotator, image):
    """An edit that takes a (newer) model's suggestion names that model, never none."""
    old = ModelVersionFactory(project=project, version=1, is_current=False)
    new = ModelVersionFactory(project=project, version=2)
    submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    edited = submit(
        url,
        annotator,
        {"image": image.pk, "labels": ["cat"], "suggested_by": new.pk, "suggestion_accepted": True},
    )
    assert (edited.json()["suggested_by"], edited.json()["suggestion_accepted"]) == (new.pk, True)
    submit(url, annotator, {"image": image.pk, "labels": ["bird"], "suggested_by": old.pk})
    stored = Annotation.objects.get()
    assert (stored.suggested_by_id, stored.suggestion_accepted) == (old.pk, False)


def test_the_same_labels_again_keep_the_recorded_suggestion(url, annotator, image, model):
    """A retry with the same labels changes nothing, suggestion fields included."""
    first = submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["dog"],
            "suggested_by": model.pk,
            "suggestion_accepted": True,
        },
    ).json()
    again = submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    assert again.status_code == 200
    assert (again.json()["suggested_by"], again.json()["suggestion_accepted"]) == (model.pk, True)
    assert again.json()["updated_at"] == first["updated_at"]


BAD = [
    pytest.param("{foreign}", "not a model of this project", id="another-projects-model"),
    pytest.param(10**9, "not a model of this project", id="no-such-model"),
    pytest.param(10**20, "not a model of this project", id="huge-id"),
    pytest.param("abc", "integer", id="text"),
    pytest.param(1.5, "integer", id="float"),
    pytest.param(True, "integer", id="bool"),
    pytest.param([1], "integer", id="list"),
]


@pytest.mark.parametrize("suggested_by, message", BAD)
def test_a_bad_suggested_by_is_refused(url, annotator, image, suggested_by, message):
    """400 naming suggested_by, with a message; no annotation is written."""
    if suggested_by == "{foreign}":
        suggested_by = ModelVersionFactory(project=ProjectFactory(name="Other")).pk
    before = row_counts()
    response = submit(
        url,
        annotator,
        {"image": image.pk, "labels": ["dog"], "suggested_by": suggested_by},
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["suggested_by"]
    assert message in body["detail"]
    assert row_counts() == before


@pytest.mark.parametrize("accepted", ["maybe", [True], {"yes": 1}, None])
def test_a_bad_suggestion_accepted_is_refused(url, annotator, image, model, accepted):
    """suggestion_accepted must be a boolean."""
    before = row_counts()
    response = submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["dog"],
            "suggested_by": model.pk,
            "suggestion_accepted": accepted,
        },
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["suggestion_accepted"]
    assert response.json()["code"] == "invalid"
    assert row_counts() == before


def test_a_refused_edit_keeps_the_recorded_suggestion(url, annotator, image, model):
    """A bad edit leaves the stored suggestion fields as they were."""
    submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["dog"],
            "suggested_by": model.pk,
            "suggestion_accepted": True,
        },
    )
    response = submit(url, annotator, {"image": image.pk, "labels": ["cat"], "suggested_by": "x"})
    assert response.status_code == 400
    stored = Annotation.objects.get()
    assert (stored.suggested_by_id, stored.suggestion_accepted) == (model.pk, True)
    assert list(stored.labels.values_list("name", flat=True)) == ["dog"]
