"""REST: an image's heat map by a model version, made by the worker once and kept."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from labeler import flows
from labeler.images.delivery.explanation_files import explanations_folder
from labeler.predictions.explanations import FAILED_SECONDS
from tests.factories import ProjectFactory, UserFactory, add_member, predict
from tests.worker.ml.versions import version_with_weights
from worker import explain_jobs


def url(project, image, **query):
    base = f"/api/v1/projects/{project.pk}/images/{image.pk}/explanation/"
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def image(project, make_images):
    [one] = make_images(project, 1)
    return one


@pytest.fixture
def version(project):
    return version_with_weights(project)


def explained(client, address, capture):
    """Ask, let the worker run (in-process here), ask again."""
    with capture(execute=True):
        first = client.get(address)
    assert first.status_code == 202, first.content
    second = client.get(address)
    assert second.status_code == 200, second.content
    return first.json(), second.json()


def test_the_top_label_is_made_then_served_with_its_probability(
    api_as, lead, project, image, version, django_capture_on_commit_callbacks
):
    client = api_as(lead)
    pending, ready = explained(client, url(project, image), django_capture_on_commit_callbacks)

    assert pending["status"] == "computing" and pending["poll_after"] == 1
    assert pending["overlay_url"] is None and pending["label"] is None
    kept = default_storage.open(
        explanations_folder(project_id=project.pk, image_file=image.file.name)
        + f"v{version.pk}.json"
    )
    probabilities = {int(k): p for k, p in json.load(kept)["probabilities"].items()}
    top = max(probabilities, key=probabilities.get)
    assert ready["status"] == "ready" and ready["version"] == 1
    assert ready["label"] == top and ready["probability"] == pytest.approx(probabilities[top])
    assert ready["label_name"] == project.labels.get(pk=top).name
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    served = client.get(ready["overlay_url"])
    assert served.status_code == 200
    with PILImage.open(io.BytesIO(b"".join(served.streaming_content))) as png:
        assert png.format == "PNG" and png.size == (image.width, image.height)


def test_a_second_request_is_served_from_storage_without_the_worker(
    api_as, lead, project, image, version, django_capture_on_commit_callbacks, settings, tmp_path
):
    client = api_as(lead)
    _, ready = explained(client, url(project, image), django_capture_on_commit_callbacks)
    (tmp_path / "models" / version.weights).unlink()  # nothing could compute it again

    with django_capture_on_commit_callbacks() as sent:
        again = client.get(url(project, image))

    assert again.status_code == 200 and not sent
    assert again.json()["label"] == ready["label"]


def test_a_stored_prediction_names_the_top_label_at_once(
    api_as, reviewer, project, image, version, django_capture_on_commit_callbacks
):
    cat = project.labels.get(name="cat").pk
    predict(version, image, {str(cat): 0.9, str(project.labels.get(name="dog").pk): 0.1})
    client = api_as(reviewer)
    pending, ready = explained(client, url(project, image), django_capture_on_commit_callbacks)

    assert pending["label"] == cat and pending["probability"] == pytest.approx(0.9)
    assert ready["label"] == cat and ready["overlay_url"]


def test_a_chosen_label_of_a_named_version(
    api_as, admin_user, project, image, version, django_capture_on_commit_callbacks
):
    version_with_weights(project, version=2, is_current=False, seed=1)
    dog = project.labels.get(name="dog").pk
    address = url(project, image, label=dog, version=2)
    _, ready = explained(api_as(admin_user), address, django_capture_on_commit_callbacks)

    assert ready["label"] == dog and ready["version"] == 2
    assert 0 <= ready["probability"] <= 1


def test_a_sent_request_is_not_sent_again_while_the_worker_makes_it(
    api_as, lead, project, image, version, django_capture_on_commit_callbacks
):
    client = api_as(lead)
    with django_capture_on_commit_callbacks() as sent:
        assert client.get(url(project, image)).status_code == 202
        assert client.get(url(project, image)).status_code == 202
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ({"version": 7}, 404, "Model version 7 does not exist"),
        ({"label": 999999}, 404, "Label 999999 is not a label"),
        ({"label": "cat"}, 400, "valid integer"),
        ({"version": 0}, 400, "greater than or equal to 1"),
        ({"label": 2**64}, 400, "less than or equal to"),
    ],
)
def test_unknown_versions_and_labels_are_refused_by_name(
    api_as, lead, project, image, version, query, status, words
):
    answer = api_as(lead).get(url(project, image, **query))
    assert answer.status_code == status
    assert words in json.dumps(answer.json())


def test_a_label_added_after_training_has_no_output(api_as, lead, project, image, version):
    new = project.labels.create(name="fox", color="#123456", position=9)
    answer = api_as(lead).get(url(project, image, label=new.pk))
    assert answer.status_code == 400
    assert "trained without label" in answer.json()["detail"]


def test_no_current_model_is_a_conflict(api_as, lead, project, image):
    answer = api_as(lead).get(url(project, image))
    assert answer.status_code == 409 and "No model version is current" in answer.json()["detail"]


def test_an_image_of_another_project_is_not_found(api_as, lead, project, make_images, version):
    elsewhere = ProjectFactory(name="Other", labels=["a", "b"])
    [foreign] = make_images(elsewhere, 1)
    answer = api_as(lead).get(url(project, foreign))
    assert answer.status_code == 404 and "not in this project" in answer.json()["detail"]


def test_annotators_never_get_one_even_when_shown_suggestions(
    api_as, annotator, outsider, project, image, version
):
    """Blind labelling: the annotator sees no suggestion held back from them here, nor the
    model's reasons; someone outside the project does not learn it exists."""
    project.suggestion_holdback = 0
    project.save()
    answer = api_as(annotator).get(url(project, image))
    assert answer.status_code == 403 and "leads, reviewers and admins" in answer.json()["detail"]
    assert api_as(outsider).get(url(project, image)).status_code == 404


def test_an_image_that_cannot_be_decoded_says_so(
    api_as, lead, project, image, version, django_capture_on_commit_callbacks
):
    with default_storage.open(image.file.name, "wb") as handle:
        handle.write(b"not an image")
    client = api_as(lead)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url(project, image)).status_code == 202
    answer = client.get(url(project, image))
    assert answer.status_code == 409 and "could not be made" in answer.json()["detail"]


def test_an_unforeseen_failure_is_kept_too_so_polling_sends_no_more_work(
    api_as, lead, project, image, version, monkeypatch, django_capture_on_commit_callbacks
):
    """A failure outside the decoding and label errors (the GPU out of memory) is kept as
    theirs are: the page's poll then reads a 409 instead of queueing the same work again."""

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(explain_jobs, "_render", out_of_memory)
    client = api_as(lead)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(url(project, image)).status_code == 202
    with django_capture_on_commit_callbacks() as again:
        answer = client.get(url(project, image))
    assert answer.status_code == 409 and "CUDA out of memory" in answer.json()["detail"]
    assert not again


def test_deleting_the_project_deletes_its_heat_maps(
    api_as, lead, project, image, version, django_capture_on_commit_callbacks
):
    explained(api_as(lead), url(project, image), django_capture_on_commit_callbacks)
    folder = explanations_folder(project_id=project.pk, image_file=image.file.name)
    assert default_storage.listdir(folder)[1]

    with django_capture_on_commit_callbacks(execute=True):
        flows.project_delete(project=project)

    assert not default_storage.exists(folder.rstrip("/"))


def test_a_reviewer_of_another_project_gets_nothing(api_as, project, image, version):
    stranger = UserFactory(username="elsewhere")
    add_member(ProjectFactory(name="Theirs"), stranger, "reviewer")
    assert api_as(stranger).get(url(project, image)).status_code == 404


def test_a_failure_is_tried_again_once_it_is_old(
    api_as, lead, project, image, version, django_capture_on_commit_callbacks
):
    original = default_storage.open(image.file.name, "rb").read()
    with default_storage.open(image.file.name, "wb") as handle:
        handle.write(b"not an image")
    client = api_as(lead)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url(project, image))
    assert client.get(url(project, image)).status_code == 409
    folder = explanations_folder(project_id=project.pk, image_file=image.file.name)
    [note] = [name for name in default_storage.listdir(folder)[1] if name.endswith(".failed")]
    old = time.time() - FAILED_SECONDS - 5
    os.utime(default_storage.path(folder + note), (old, old))
    with default_storage.open(image.file.name, "wb") as handle:
        handle.write(original)  # mended

    pending, ready = explained(client, url(project, image), django_capture_on_commit_callbacks)
    assert pending["status"] == "computing" and ready["status"] == "ready"
