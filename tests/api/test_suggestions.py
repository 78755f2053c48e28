"""The current model's suggestion with next/, and suggestions recorded on annotations."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.annotations.models import Annotation, Assignment
from labeler.images.models import Image
from labeler.predictions.models import MachineLabel, MachineLabelStatus, ModelVersion
from labeler.predictions.selectors import SUGGESTION_HELD_BACK
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
    assert body["suggestion_note"] == ""  # nothing held back: no model, nothing to say


def test_the_current_models_prediction_comes_with_the_image(project, annotator, image, model):
    """Single-label: the most probable label, its probability as confidence, all probabilities."""
    cat, dog, bird = (label_id(project, n) for n in ("cat", "dog", "bird"))
    predict(model, image, {str(cat): 0.2, str(dog): 0.7, str(bird): 0.1})
    body = next_body(project, annotator)
    assert body["suggestion_note"] == ""
    assert body["suggestion"] == {
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


# Recording the suggestion with the annotation: derived from what next/ handed out


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/annotations/"


def submit(url: str, user, payload: dict[str, Any]) -> Any:
    return client_for(user).post(url, payload, format="json")


@pytest.fixture
def suggested(project, annotator, image, model) -> dict[str, Any]:
    """next/ handed the image to the annotator with the model's suggestion: dog."""
    cat, dog = label_id(project, "cat"), label_id(project, "dog")
    predict(model, image, {str(cat): 0.1, str(dog): 0.9})
    suggestion = next_body(project, annotator)["suggestion"]
    assert suggestion["label_ids"] == [dog]
    return suggestion


def stored_suggestion(annotation: Annotation) -> tuple[Any, ...]:
    annotation.refresh_from_db()
    return (
        annotation.suggested_by_id,
        annotation.suggestion_shown,
        annotation.suggestion_accepted,
        annotation.suggestion_withheld,
    )


def test_taking_the_suggestion_is_recorded_from_the_lease(url, annotator, image, model, suggested):
    """The model and acceptance come from what next/ showed; the client need not say."""
    response = submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["suggested_by"], body["suggestion_shown"], body["suggestion_accepted"]) == (
        model.pk,
        True,
        True,
    )
    assert stored_suggestion(Annotation.objects.get()) == (model.pk, True, True, False)
    read = client_for(annotator).get(f"{url}{body['id']}/").json()
    assert (read["suggested_by"], read["suggestion_accepted"]) == (model.pk, True)


def test_the_clients_claims_are_not_trusted(url, annotator, image, model, suggested):
    """Labelling cat while dog was suggested is not acceptance, whatever the client sends."""
    response = submit(
        url,
        annotator,
        {
            "image": image.pk,
            "labels": ["cat"],
            "suggested_by": model.pk,
            "suggestion_accepted": True,
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["suggestion_accepted"] is False
    assert stored_suggestion(Annotation.objects.get()) == (model.pk, True, False, False)


def test_no_suggestion_handed_out_records_none(project, url, annotator, image):
    """Without a model, a client claiming acceptance of any model records nothing."""
    other = ModelVersionFactory(project=project, is_current=False)
    assert next_body(project, annotator)["suggestion"] is None
    response = submit(
        url,
        annotator,
        {"image": image.pk, "labels": ["dog"], "suggested_by": other.pk, "suggestion_accepted": 1},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["suggested_by"], body["suggestion_shown"], body["suggestion_accepted"]) == (
        None,
        False,
        False,
    )


def test_an_edit_is_the_annotators_own_call(url, annotator, image, model, suggested):
    """Changing an accepted label keeps the model that suggested and clears acceptance;
    changing it back to the suggestion later is no acceptance either."""
    submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    edited = submit(url, annotator, {"image": image.pk, "labels": ["cat"]})
    assert edited.status_code == 200, edited.content
    assert (edited.json()["suggested_by"], edited.json()["suggestion_accepted"]) == (
        model.pk,
        False,
    )
    back = submit(url, annotator, {"image": image.pk, "labels": ["dog"], "suggestion_accepted": 1})
    assert back.json()["suggestion_accepted"] is False


def test_an_image_handed_out_again_after_an_undo_records_the_new_suggestion(
    project, url, annotator, image, model, suggested
):
    """Undo, then next/ hands the image back with a newer model's suggestion: the new
    label's acceptance is judged against that one."""
    first = submit(url, annotator, {"image": image.pk, "labels": ["dog"]}).json()
    assert client_for(annotator).delete(f"{url}{first['id']}/").status_code == 204
    ModelVersion.objects.filter(pk=model.pk).update(is_current=False)
    newer = ModelVersionFactory(project=project, version=4)
    predict(newer, image, {str(label_id(project, "cat")): 0.8})
    assert next_body(project, annotator)["suggestion"]["model_version"] == newer.pk
    body = submit(url, annotator, {"image": image.pk, "labels": ["cat"]}).json()
    assert (body["suggested_by"], body["suggestion_accepted"]) == (newer.pk, True)


def test_the_same_labels_again_keep_the_recorded_suggestion(
    url, annotator, image, model, suggested
):
    """A retry with the same labels changes nothing, suggestion fields included."""
    first = submit(url, annotator, {"image": image.pk, "labels": ["dog"]}).json()
    again = submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    assert again.status_code == 200
    assert (again.json()["suggested_by"], again.json()["suggestion_accepted"]) == (model.pk, True)
    assert again.json()["updated_at"] == first["updated_at"]


def test_a_refused_edit_keeps_the_recorded_suggestion(url, annotator, image, model, suggested):
    """A bad edit leaves the stored suggestion fields as they were."""
    submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    response = submit(url, annotator, {"image": image.pk, "labels": ["fox"]})
    assert response.status_code == 400
    stored = Annotation.objects.get()
    assert stored_suggestion(stored) == (model.pk, True, True, False)
    assert list(stored.labels.values_list("name", flat=True)) == ["dog"]


# Suggestions held back on a share of images


def test_a_held_back_suggestion_is_not_shown_and_is_recorded(project, url, annotator, image, model):
    """With every suggestion held back, next/ shows none; the annotation says it was held."""
    project.suggestion_holdback = 1.0
    project.save()
    predict(model, image, {str(label_id(project, "dog")): 0.9})
    body = next_body(project, annotator)
    assert body["suggestion"] is None
    assert body["suggestion_note"].startswith(
        "No suggestion shown: some images are labelled without one"
    )
    response = submit(url, annotator, {"image": image.pk, "labels": ["dog"]})
    assert response.status_code == 201, response.content
    assert response.json()["suggestion_shown"] is False
    assert stored_suggestion(Annotation.objects.get()) == (None, False, False, True)


def test_the_holdback_share_is_kept_and_stable(project, annotator, make_images, model):
    """About the project's share of images come without their suggestion, the same ones
    every time they are handed out."""
    project.suggestion_holdback = 0.3
    project.save()
    images = make_images(project, 60)
    for image in images:
        predict(model, image, {str(label_id(project, "dog")): 0.9})
    shown: dict[int, bool] = {}
    client = client_for(annotator)
    url = f"/api/v1/projects/{project.pk}/next/"
    for _ in images:
        body = client.get(url, {"exclude": ",".join(map(str, shown))}).json()
        shown[body["image"]["id"]] = body["suggestion"] is not None
        others = ",".join(str(i) for i in shown if i != body["image"]["id"])
        again = client.get(url, {"exclude": others})
        assert again.json()["image"]["id"] == body["image"]["id"]
        assert (again.json()["suggestion"] is not None) == shown[body["image"]["id"]]
        Assignment.objects.filter(annotator=annotator).delete()
    withheld = sum(not value for value in shown.values())
    assert 8 <= withheld <= 30, withheld


def test_a_spot_check_looks_like_a_held_back_image(project, annotator, make_images, model):
    """A machine label checked blind and an ordinary image whose suggestion is held back
    come with the same answer: no suggestion, the same image fields."""
    project.suggestion_holdback = 1.0
    project.save()
    ordinary, spot = make_images(project, 2)
    for image in (ordinary, spot):
        predict(model, image, {str(label_id(project, "dog")): 0.9})
    MachineLabel.objects.create(
        project=project,
        image=spot,
        model_version=model,
        label_ids=[label_id(project, "dog")],
        confidence=0.9,
        status=MachineLabelStatus.CONFIRMED,
        spot_check=True,
    )
    client = client_for(annotator)
    first = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    second = client.get(
        f"/api/v1/projects/{project.pk}/next/", {"exclude": first["image"]["id"]}
    ).json()
    assert {first["image"]["id"], second["image"]["id"]} == {ordinary.pk, spot.pk}
    assert first["suggestion"] is None and second["suggestion"] is None
    assert first["image"].keys() == second["image"].keys()
    # Both say why in the same words: the note does not tell a spot check apart.
    assert first["suggestion_note"] == second["suggestion_note"] == SUGGESTION_HELD_BACK


def test_an_image_the_model_has_not_scored_has_no_note(project, annotator, image, model):
    """No prediction for the image: nothing is held back, so nothing is said."""
    project.suggestion_holdback = 1.0
    project.save()
    body = next_body(project, annotator)
    assert body["suggestion"] is None
    assert body["suggestion_note"] == ""
